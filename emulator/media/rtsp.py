"""The device's RTSP server (RFC 2326): live H.264 of its cameras, as integrations take it.

Home Assistant, Homebridge and NVRs open `rtsp://host:554/h264_stream` (2N's documented address;
the emulator listens on --rtsp-port, 8554 by default). Three parts, in this one module:

- messages: `parse_request` and `Response`, RTSP/1.0 text;
- `Rtsp`, the protocol state machine, without sockets: OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE,
  GET_PARAMETER/SET_PARAMETER (keep-alive), TEARDOWN; sessions with a timeout on the device
  clock; the camera service's authentication (None/Basic/Digest, the camera privilege) through the
  API's Authenticator, where Digest hashes the RTSP method and the rtsp:// uri;
- `RtspServer`, the network: a TCP listener for requests and RTP interleaved in it ($ frames), and
  a pair of UDP sockets for RTP/RTCP to clients that ask for UDP. As on the HTTP listeners, a
  connection has `header_timeout` seconds (real time) from connecting, or from a request's first
  byte, to complete that request, and one without a playing session is closed after `idle_timeout`
  seconds of silence; a playing session keeps its connection, for as long as the session lives.

The pictures come from video.py: one encoder per (source, size, fps), shared by every session.

Stream addresses (query parameters are the emulator's, named as camera/snapshot's):
  /h264_stream[?source=internal|external][&width=W&height=H][&fps=1..30]
Defaults: the profile's default source, 640x480 (or the camera's first listed size), 15 fps. A size
the camera does not list is 400, unless the profile sets lenient_resolution (the nearest one).
Anything else is 404, as on a device.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from emulator.api.auth import Authenticator, Unauthorized
from emulator.api.camera import resolution
from emulator.device.security import Privilege
from emulator.errors import ApiError
from emulator.media import video
from emulator.media.video import Picture, StreamKey, TooManyStreams

if TYPE_CHECKING:
    from emulator.device.device import Device

log = logging.getLogger("emulator.rtsp")

STREAM_PATH = "/h264_stream"
DEFAULT_SIZE = (640, 480)
DEFAULT_FPS = 15
MAX_FPS = 30
SESSION_TIMEOUT = 60  # seconds without a request or RTCP before a session ends (RFC 2326 12.37)
MAX_SESSIONS = 128
MAX_CONNECTIONS = 256
MAX_HEAD = 8192  # bytes of one request's head; past that: 400 and close
MAX_BODY = 8192
MAX_BUFFERED = 512 * 1024  # bytes waiting in a viewer's socket: past that, its pictures are dropped
METHODS = ("OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "GET_PARAMETER", "SET_PARAMETER", "TEARDOWN")
REASONS = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 453: "Not Enough Bandwidth", 454: "Session Not Found",
           455: "Method Not Valid in This State", 459: "Aggregate Operation Not Allowed",
           461: "Unsupported Transport", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable", 505: "RTSP Version Not Supported"}


# -- messages --------------------------------------------------------------------------------


class BadRequest(Exception):
    """A message that is no RTSP request (400; the connection closes)."""


@dataclass
class Request:
    method: str
    url: str
    version: str
    headers: dict[str, str]  # names lower-case
    body: bytes = b""

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)


@dataclass
class Response:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = False  # close the connection after sending it
    reason: str | None = None  # why it was refused, in words: for the journal, never sent

    def render(self, cseq: str, server: str) -> bytes:
        lines = [f"RTSP/1.0 {self.status} {REASONS.get(self.status, 'Error')}"]
        if cseq:
            lines.append(f"CSeq: {cseq}")
        lines.append(f"Server: {server}")
        lines += [f"{k}: {v}" for k, v in self.headers]
        if self.body or self.status == 200 and any(k == "Content-Type" for k, _ in self.headers):
            lines.append(f"Content-Length: {len(self.body)}")
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body


def parse_request(head: bytes) -> Request:
    """The request line and headers (the head without its blank line)."""
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("not UTF-8") from None
    first, *rest = text.split("\r\n")
    parts = first.split(" ")
    if len(parts) != 3 or not parts[0].isalpha() and "_" not in parts[0]:
        raise BadRequest(f"bad request line {first[:80]!r}")
    headers = {}
    for line in rest:
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise BadRequest(f"bad header {line[:80]!r}")
        headers[name.strip().lower()] = value.strip()
    return Request(parts[0], parts[1], parts[2], headers)


def split_url(url: str) -> tuple[str, dict[str, str], int | None]:
    """Path, query parameters and track of a request URL. Clients append a track's control
    ("trackID=N") to the URL they described, query string and all: `/h264_stream?fps=5/trackID=0`."""
    parts = urlsplit(url)
    path, query, track = parts.path, parts.query, None
    for text in (query, path) if query else (path,):
        head, sep, tail = text.rpartition("/trackID=")
        if sep and tail.isdigit():
            track = int(tail)
            if text is query:
                query = head
            else:
                path = head
            break
    return path.rstrip("/") or "/", dict(parse_qsl(query)), track


# -- sessions --------------------------------------------------------------------------------


class Connection:
    """One client's control connection, as the state machine sees it (the network part is
    RtspServer's): where it comes from, how to write to it, its sessions."""

    def __init__(self, peer: tuple[str, int], local: tuple[str, int]):
        self.peer = peer
        self.local = local
        self.sessions: set[Session] = set()

    def write(self, data: bytes) -> None:
        raise NotImplementedError

    def buffered(self) -> int:
        return 0

    def close(self) -> None:
        raise NotImplementedError

    def session_ended(self) -> None:
        """One of its sessions ended (TEARDOWN, its timeout, its stream stopped): it may idle now."""


@dataclass
class Track:
    """Where one track (0 video, 1 audio) of a session goes: interleaved channel, or UDP ports."""

    channel: int | None = None  # RTP over the RTSP connection on this channel (RTCP on channel + 1)
    address: tuple[str, int] | None = None  # RTP over UDP to this address


class Session:
    """One client's view of one stream (RFC 2326 states: Ready after SETUP, Playing after PLAY)."""

    def __init__(self, rtsp: Rtsp, session_id: str, path: str, key: StreamKey, connection: Connection,
                 account: str | None):
        self.rtsp = rtsp
        self.id = session_id
        self.path = path
        self.key = key
        self.connection = connection
        self.account = account
        self.tracks: dict[int, Track] = {}
        self.state = "ready"
        self.waiting_key = True
        self.stalled_until = 0.0
        self.pictures = 0  # pictures sent
        self.dropped = 0  # pictures dropped (congested socket, stall)
        self.started_at: float | None = None
        self._timer: Any = None

    @property
    def transport(self) -> str:
        return "tcp" if any(t.channel is not None for t in self.tracks.values()) else "udp"

    def offer(self, picture: Picture) -> None:
        """A picture of the stream (video.Viewer): sent, or dropped for a congested socket or a
        stall; after a drop the session waits for a key frame, so a viewer never sees a broken one."""
        if self.stalled_until and self.rtsp.clock.monotonic() < self.stalled_until:
            self.dropped += 1
            self.waiting_key = True
            return
        if self.stalled_until:
            self.stalled_until = 0.0
            self.rtsp.video.want_key(self.key)  # the stall is over: a clean picture at once
        if self.waiting_key and not picture.key:
            return
        conn = self.connection
        udp = self.rtsp.udp
        if (conn.buffered() if self.transport == "tcp" else udp.buffered() if udp else 0) > MAX_BUFFERED:
            self.dropped += 1
            self.waiting_key = True  # the next scheduled key frame
            return
        self.waiting_key = False
        self.pictures += 1
        for number, packets in ((0, picture.video), (1, picture.audio)):
            track = self.tracks.get(number)
            if track is None or not packets:
                continue
            if track.channel is not None:
                conn.write(interleaved(picture, number, track.channel, packets))
            elif udp is not None and track.address is not None:
                for packet in packets:
                    udp.sendto(packet, track.address)

    def stream_ended(self) -> None:
        """The stream stopped under the session (the device went down): the session ends."""
        self.rtsp.end(self, "stream")

    def touch(self) -> None:
        """The client is alive: the session's timeout starts again."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = self.rtsp.clock.call_later(SESSION_TIMEOUT, self.rtsp.end, self, "timeout")

    def stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def interleaved(picture: Picture, track: int, channel: int, packets: list[bytes]) -> bytes:
    """The packets of a track framed for RTP over RTSP ($, channel, length; RFC 2326 10.12),
    built once per picture and channel, however many sessions it goes to."""
    cache = picture.framed
    key = (track, channel)
    data = cache.get(key)
    if data is None:
        data = cache[key] = b"".join(struct.pack("!cBH", b"$", channel, len(p)) + p for p in packets)
    return data


# -- the state machine -----------------------------------------------------------------------


class Rtsp:
    """RTSP requests in, responses out; sessions, authentication, the streams they watch."""

    def __init__(self, device: Device, auth: Authenticator, media: video.Video, server: Callable[[], str],
                 journal: Callable[..., Any] | None = None, faults: Any = None):
        self.device = device
        self.clock = device.clock
        self.auth = auth
        self.video = media
        self.server = server  # the Server header (HIP<swVersion>)
        self.journal = journal or (lambda **fields: None)
        self.faults = faults  # emulator.control.faults.Faults, or None
        self.sessions: dict[str, Session] = {}
        self.udp: Any = None  # the UDP sender (RtspServer's), when it has one
        self.udp_ports: tuple[int, int] | None = None

    # -- requests ------------------------------------------------------------------------

    def respond(self, request: Request, conn: Connection) -> bytes:
        """The bytes to send for one request (its CSeq echoed)."""
        cseq = request.header("CSeq")
        try:
            response = self.handle(request, conn)
        except Exception:
            log.exception("RTSP %s %s failed", request.method, request.url)
            response = Response(500)
        if response.status != 200 and request.method != "TEARDOWN":
            self.journal(event="refused", method=request.method, url=request.url, status=response.status,
                         client=conn.peer[0], **({"reason": response.reason} if response.reason else {}))
        return response.render(cseq, self.server())

    def handle(self, request: Request, conn: Connection) -> Response:
        if request.version != "RTSP/1.0":
            return Response(505)
        if not request.header("CSeq"):
            return Response(400)
        method = request.method
        if method not in METHODS:
            status = 405 if method in ("ANNOUNCE", "RECORD", "REDIRECT") else 501
            return Response(status, [("Allow" if status == 405 else "Public", ", ".join(METHODS))])
        if method == "OPTIONS":  # no credentials needed: savek-cc probes the server with it
            return Response(200, [("Public", ", ".join(METHODS))])
        path, params, track = split_url(request.url)
        if path != STREAM_PATH:
            return Response(404)
        denied, account = self._authenticate(request, path, conn)
        if denied is not None:
            return denied
        session = None
        if request.header("Session"):
            session = self.sessions.get(request.header("Session").partition(";")[0].strip())
            if session is None:
                return Response(454)
            session.touch()
        if method == "DESCRIBE":
            return self._describe(request, path, params, conn)
        if method == "SETUP":
            return self._setup(request, path, params, track, session, conn, account)
        if session is None:
            if method in ("GET_PARAMETER", "SET_PARAMETER"):
                return Response(200)  # a keep-alive of the connection
            return Response(454)
        headers = [("Session", self._session_header(session))]
        if method == "PLAY":
            return self._play(session, request, headers)
        if method == "PAUSE":
            if session.state == "playing":
                session.state = "ready"
                self.video.leave(session.key, session)
            return Response(200, headers)
        if method == "TEARDOWN":
            self.end(session, "teardown")
            return Response(200)
        return Response(200, headers)  # GET_PARAMETER / SET_PARAMETER: keep-alive

    def _authenticate(self, request: Request, path: str, conn: Connection) -> tuple[Response | None, str | None]:
        """The camera service's authentication and the camera privilege (as camera/snapshot)."""
        service = self.device.security.service("camera")
        if not service.enabled:
            return Response(403, reason="the camera service is disabled"), None
        if service.auth == "none":
            return None, None
        try:
            account = self.auth.authenticate(request.header("Authorization") or None, service.auth, request.method,
                                             path, self.device.security, conn.peer[0])
        except Unauthorized as err:
            return self._challenge(service.auth, err.stale, err.reason), None
        except ApiError as err:  # Basic to a Digest service (2N code 8): RTSP can only challenge again
            return self._challenge(service.auth, False, err.reason), None
        if Privilege.CAMERA.value not in account.privileges:
            return Response(403, reason=f"missing privilege: {account.name!r} lacks camera"), None
        return None, account.name

    def _challenge(self, scheme: str, stale: bool, reason: str) -> Response:
        return Response(401, [("WWW-Authenticate", c) for c in self.auth.challenges(scheme, stale)], reason=reason)

    def stream_key(self, params: dict[str, str]) -> StreamKey | None:
        """The stream a URL's parameters ask for; None when they are not valid."""
        camera = self.device.profile.camera
        if camera is None:
            return None
        source = params.get("source") or camera.default_source
        try:
            width = int(params.get("width", 0))
            height = int(params.get("height", 0))
            fps = int(params.get("fps", DEFAULT_FPS))
        except ValueError:
            return None
        if source not in camera.sources or not 1 <= fps <= MAX_FPS or (width > 0) != (height > 0):
            return None
        if width:
            try:
                size = resolution(camera, width, height)
            except ApiError:
                return None
            width, height = size.width, size.height
        else:
            listed = [(r.width, r.height) for r in camera.resolutions]
            width, height = DEFAULT_SIZE if DEFAULT_SIZE in listed else listed[0]
        return StreamKey(source, width, height, fps)

    def _describe(self, request: Request, path: str, params: dict[str, str], conn: Connection) -> Response:
        key = self.stream_key(params)
        if key is None:
            return Response(400)
        base = request.url.split("/trackID=")[0].rstrip("/") + "/"
        return Response(200, [("Content-Type", "application/sdp"), ("Content-Base", base)],
                        self.sdp(key, conn.local[0]).encode())

    def sdp(self, key: StreamKey, address: str) -> str:
        family = "IP6" if ":" in address else "IP4"
        lines = [
            "v=0",
            f"o=- {secrets.randbits(32)} 1 IN {family} {address}",
            f"s={self.device.identity.device_name}",
            f"c=IN {family} {'::' if family == 'IP6' else '0.0.0.0'}",
            "t=0 0",
            "a=control:*",
            "a=range:npt=now-",
            f"m=video 0 RTP/AVP {video.VIDEO_PT}",
            f"a=rtpmap:{video.VIDEO_PT} H264/{video.CLOCK_RATE}",
            f"a=fmtp:{video.VIDEO_PT} {video.fmtp(key.width, key.height, key.fps)}",
            f"a=framerate:{key.fps}",
            f"a=x-dimensions:{key.width},{key.height}",
            "a=control:trackID=0",
        ]
        if self.video.has_audio:
            lines += [f"m=audio 0 RTP/AVP {video.AUDIO_PT}", f"a=rtpmap:{video.AUDIO_PT} PCMU/{video.AUDIO_RATE}",
                      "a=control:trackID=1"]
        return "\r\n".join(lines) + "\r\n"

    def _setup(self, request: Request, path: str, params: dict[str, str], track: int | None,
               session: Session | None, conn: Connection, account: str | None) -> Response:
        key = self.stream_key(params)
        if key is None:
            return Response(400)
        number = 0 if track is None else track
        if number not in ((0, 1) if self.video.has_audio else (0,)):
            return Response(404)
        if session is not None and (session.key != key or session.state == "playing"):
            return Response(459 if session.key != key else 455)
        chosen = self._transport(request.header("Transport"), conn)
        if chosen is None:
            return Response(461)
        spec, destination = chosen
        if session is None:
            if len(self.sessions) >= MAX_SESSIONS:
                return Response(453)
            session = Session(self, secrets.token_hex(8), path, key, conn, account)
            self.sessions[session.id] = session
            conn.sessions.add(session)
            session.touch()
        session.tracks[number] = destination
        return Response(200, [("Session", self._session_header(session)), ("Transport", spec)])

    def _transport(self, header: str, conn: Connection) -> tuple[str, Track] | None:
        """The first of the client's transports the server can do: RTP over the connection
        (interleaved) or unicast UDP (client_port)."""
        for option in header.split(","):
            fields = [f.strip() for f in option.split(";")]
            profile, rest = fields[0].upper(), fields[1:]
            values = dict(f.partition("=")[::2] for f in rest)
            if "multicast" in rest or not profile.startswith("RTP/AVP"):
                continue
            if profile == "RTP/AVP/TCP" or "interleaved" in values:
                try:
                    first = int(values.get("interleaved", "0").split("-")[0])
                except ValueError:
                    continue
                if not 0 <= first <= 254:
                    continue
                return f"RTP/AVP/TCP;unicast;interleaved={first}-{first + 1}", Track(channel=first)
            if "client_port" in values and self.udp is not None and self.udp_ports is not None:
                try:
                    rtp = int(values["client_port"].split("-")[0])
                except ValueError:
                    continue
                if not 0 < rtp < 65535:
                    continue
                server = f"{self.udp_ports[0]}-{self.udp_ports[1]}"
                return (f"RTP/AVP;unicast;client_port={rtp}-{rtp + 1};server_port={server}",
                        Track(address=(conn.peer[0], rtp)))
        return None

    def _play(self, session: Session, request: Request, headers: list[tuple[str, str]]) -> Response:
        if 0 not in session.tracks:
            return Response(455, headers)
        if session.state != "playing":
            try:
                self.video.watch(session.key, session)
            except TooManyStreams:
                return Response(453, headers)
            session.state = "playing"
            session.waiting_key = True
            if session.started_at is None:
                session.started_at = self.clock.monotonic()
                self.journal(event="play", session=session.id, path=session.path, stream=_describe_key(session.key),
                             account=session.account, transport=session.transport, client=session.connection.peer[0])
            if self.faults is not None:
                for fault in self.faults.for_stream(session.path):
                    self.strike(session, fault)
        return Response(200, headers + [("Range", "npt=now-")])

    def _session_header(self, session: Session) -> str:
        return f"{session.id};timeout={SESSION_TIMEOUT}"

    # -- ends ----------------------------------------------------------------------------

    def end(self, session: Session, reason: str) -> None:
        """The session is over: no more pictures, its stream may stop, the journal says why."""
        if self.sessions.pop(session.id, None) is None:
            return
        session.stop_timer()
        session.connection.sessions.discard(session)
        session.connection.session_ended()
        self.video.leave(session.key, session)
        if session.started_at is not None:
            self.journal(event="end", session=session.id, path=session.path, reason=reason, pictures=session.pictures,
                         dropped=session.dropped, seconds=round(self.clock.monotonic() - session.started_at, 3))

    def connection_lost(self, conn: Connection, reason: str = "closed") -> None:
        for session in list(conn.sessions):
            self.end(session, reason)

    def strike(self, session: Session, fault: Any) -> None:
        """A stream fault hits a playing session: it stalls (no pictures for `seconds`) or is cut
        (its connection closes)."""
        if fault.values["mode"] == "stall":
            session.stalled_until = self.clock.monotonic() + fault.values["seconds"]
        else:
            conn = session.connection
            self.connection_lost(conn, "fault")
            conn.close()

    def fault_added(self, fault: Any) -> None:
        """A stream fault came into force: it hits the sessions playing now (and, through
        `_play`, those that start playing while it lasts)."""
        for session in list(self.sessions.values()):
            if session.state == "playing" and session.id in self.sessions:
                for hit in self.faults.for_stream(session.path, fault):
                    self.strike(session, hit)


def _describe_key(key: StreamKey) -> str:
    return f"{key.source} {key.width}x{key.height} {key.fps}fps"


# -- the network -----------------------------------------------------------------------------


class _Control(asyncio.Protocol, Connection):
    """One TCP connection: RTSP requests, and interleaved RTCP from the client ($ frames)."""

    def __init__(self, server: RtspServer):
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.pending: Request | None = None  # a request whose body has not all arrived
        self._timer: asyncio.TimerHandle | None = None  # when it is closed unless it speaks
        self._waiting = ""  # what the timer waits for: "request" (a complete one), "idle", "" (none)
        Connection.__init__(self, ("", 0), ("", 0))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        peer = transport.get_extra_info("peername") or ("", 0)
        local = transport.get_extra_info("sockname") or ("", 0)
        self.peer, self.local = (peer[0], peer[1]), (local[0], local[1])
        server = self.server
        if not server.rtsp.device.online or len(server.connections) >= MAX_CONNECTIONS:
            transport.close()  # a device that is down (or full) takes no connection
            return
        server.connections.add(self)
        self._wait("request", server.header_timeout)  # its first request, from connecting

    def connection_lost(self, exc: Exception | None) -> None:
        self._wait("", 0)
        self.server.connections.discard(self)
        self.server.rtsp.connection_lost(self)

    def _wait(self, what: str, seconds: float) -> None:
        """(Re)start the timer that closes the connection unless `what` happens in time."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._waiting = what
        if what:
            self._timer = asyncio.get_running_loop().call_later(seconds, self._timed_out)

    def _rearm(self, handled: bool = False) -> None:
        """After bytes came in (`handled`: a message among them), or a session ended: a request
        begun must be completed within the header timeout of its first byte; otherwise silence
        is allowed for the idle timeout, or for as long as a session plays (the session's own
        timeout governs it then)."""
        if self.transport is None or self.transport.is_closing():
            return
        if self.buffer or self.pending is not None:
            if handled or self._waiting != "request":  # the first bytes of a new request: its clock starts
                self._wait("request", self.server.header_timeout)
        elif any(session.state == "playing" for session in self.sessions):
            self._wait("", 0)
        else:
            self._wait("idle", self.server.idle_timeout)

    def _timed_out(self) -> None:
        self._timer = None
        reason = "idle" if self._waiting == "idle" else "incomplete request"
        log.debug("RTSP from %s: %s, closing the connection", self.peer[0], reason)
        self.close()
        self.server.rtsp.connection_lost(self, reason)  # its sessions end saying why

    def session_ended(self) -> None:
        self._rearm()

    def write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        handled = False
        try:
            while self._next():
                handled = True
        except BadRequest as err:
            log.debug("RTSP from %s: %s", self.peer[0], err)
            self.write(Response(400).render("", self.server.rtsp.server()))
            self.buffer.clear()
            self.close()
            return
        self._rearm(handled)

    def _next(self) -> bool:
        """Handle one message from the buffer; False when it needs more bytes."""
        buf = self.buffer
        if self.transport is None or self.transport.is_closing():
            buf.clear()
            return False
        if self.pending is not None:
            request = self.pending
            length = int(request.header("Content-Length", "0"))
            if len(buf) < length:
                return False
            request.body = bytes(buf[:length])
            del buf[:length]
            self.pending = None
            self._answer(request)
            return True
        if not buf:
            return False
        if buf[0] == 0x24:  # "$": RTCP (or anything) the client sends in the connection
            if len(buf) < 4:
                return False
            size = 4 + (buf[2] << 8 | buf[3])
            if len(buf) < size:
                return False
            del buf[:size]
            for session in self.sessions:
                session.touch()  # receiver reports are keep-alives
            return True
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD:
                raise BadRequest("request head too long")
            return False
        request = parse_request(bytes(buf[:end]))
        del buf[:end + 4]
        try:
            length = int(request.header("Content-Length", "0"))
        except ValueError:
            raise BadRequest("bad Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise BadRequest("body too big")
        if length:
            self.pending = request
            return True
        self._answer(request)
        return True

    def _answer(self, request: Request) -> None:
        self.write(self.server.rtsp.respond(request, self))


class _Udp(asyncio.DatagramProtocol):
    """The server's RTP (or RTCP) socket: sends to UDP viewers; what clients send to it (RTCP
    receiver reports, NAT punches) keeps their sessions alive."""

    def __init__(self, rtsp: Rtsp):
        self.rtsp = rtsp
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        host = addr[0]
        for session in self.rtsp.sessions.values():
            if any(t.address is not None and t.address[0] == host for t in session.tracks.values()):
                session.touch()

    def error_received(self, exc: Exception) -> None:
        pass  # ICMP port unreachable from a viewer that left: its session times out

    def sendto(self, data: bytes, addr: tuple[str, int]) -> None:
        if self.transport is not None:
            self.transport.sendto(data, addr)

    def buffered(self) -> int:
        return self.transport.get_write_buffer_size() if self.transport is not None else 0


class RtspServer:
    """The listener: TCP for RTSP (and interleaved RTP), a UDP pair for RTP/RTCP over UDP."""

    def __init__(self, rtsp: Rtsp, header_timeout: float, idle_timeout: float):
        self.rtsp = rtsp
        self.header_timeout = header_timeout  # seconds to complete a request (Settings.header_timeout)
        self.idle_timeout = idle_timeout  # seconds of silence without a playing session (Settings.idle_timeout)
        self.connections: set[_Control] = set()
        self._server: asyncio.base_events.Server | None = None
        self._udp: list[asyncio.DatagramTransport] = []
        self.port = 0

    async def start(self, host: str, port: int) -> int:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: _Control(self), host, port, reuse_address=True)
        self.port = self._server.sockets[0].getsockname()[1]
        family = self._server.sockets[0].family
        ports = []
        for _ in range(2):  # RTP and RTCP
            transport, protocol = await loop.create_datagram_endpoint(
                lambda: _Udp(self.rtsp), local_addr=(host, 0), family=family)
            self._udp.append(transport)
            ports.append(transport.get_extra_info("sockname")[1])
            if len(ports) == 1:
                self.rtsp.udp = protocol
        self.rtsp.udp_ports = (ports[0], ports[1])
        return self.port

    def drop_all(self, reason: str) -> None:
        """Every connection closes and every session ends (a reboot, the emulator stopping)."""
        for conn in list(self.connections):
            self.rtsp.connection_lost(conn, reason)
            conn.close()
        for session in list(self.rtsp.sessions.values()):
            self.rtsp.end(session, reason)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        self.drop_all("stopped")
        await self.rtsp.video.stop()
        for transport in self._udp:
            transport.close()
        self._udp.clear()
        self.rtsp.udp = None
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None
