"""The RTSP state machine alone (emulator/media/rtsp.py `Rtsp`), without sockets: requests in,
responses out, on a virtual clock. The media side is a recorder of which sessions watch which
stream; the SDP's parameter sets come from the real encoder.

What real clients do over the network is in test_rtsp.py.
"""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from emulator.api.auth import Authenticator, parse_params
from emulator.device import profile as profiles
from emulator.device.clock import VirtualClock
from emulator.device.device import Device, Options
from emulator.device.security import Account, Service
from emulator.media import rtsp, video
from emulator.media.rtsp import Connection, Request, Rtsp, parse_request, split_url

URL = "rtsp://127.0.0.1:554/h264_stream"


class Media:
    """Records what the state machine asks of the streams."""

    has_audio = True

    def __init__(self):
        self.watching: dict[object, video.StreamKey] = {}
        self.keys = 0

    def watch(self, key, viewer):
        self.watching[viewer] = key

    def leave(self, key, viewer):
        self.watching.pop(viewer, None)

    def want_key(self, key):
        self.keys += 1


class Conn(Connection):
    def __init__(self):
        super().__init__(("127.0.0.1", 50000), ("127.0.0.1", 554))
        self.sent: list[bytes] = []
        self.closed = False

    def write(self, data):
        self.sent.append(data)

    def close(self):
        self.closed = True


class Journal(list):
    def add(self, **fields):
        self.append(fields)


class Machine:
    """A device on a virtual clock and its RTSP state machine, and one client connection."""

    def __init__(self, auth: str = "none", accounts=None):
        self.clock = VirtualClock()
        self.device = Device(profiles.load("verso"), self.clock, Options(auth=auth, accounts=accounts))
        self.device.boot()
        self.auth = Authenticator(self.clock, "HTTP API", "MD5", 300, lambda n: b"\x01" * n)
        self.media = Media()
        self.journal = Journal()
        self.rtsp = Rtsp(self.device, self.auth, self.media, lambda: "HIP2.50", journal=self.journal.add)
        self.conn = Conn()
        self.cseq = 0

    def send(self, method: str, url: str = URL, conn: Conn | None = None, **headers: str) -> tuple[int, dict, str]:
        self.cseq += 1
        head = f"{method} {url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n" + "".join(
            f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        raw = self.rtsp.respond(parse_request(head.rstrip().encode()), conn or self.conn).decode()
        status_line, _, rest = raw.partition("\r\n")
        head_text, _, body = rest.partition("\r\n\r\n")
        fields: dict[str, list[str]] = {}
        for line in head_text.split("\r\n"):
            name, _, value = line.partition(": ")
            fields.setdefault(name.lower(), []).append(value)
        assert fields["cseq"] == [str(self.cseq)]
        return int(status_line.split()[1]), fields, body

    def session(self, transport: str = "RTP/AVP/TCP;unicast;interleaved=0-1", url: str = URL) -> str:
        status, fields, _ = self.send("SETUP", url + "/trackID=0", Transport=transport)
        assert status == 200, status
        return fields["session"][0].split(";")[0]


def digest(challenge: str, method: str, uri: str, user: str = "admin", password: str = "2n", nc: int = 1) -> str:
    fields = parse_params(challenge.partition(" ")[2])
    md5 = lambda text: hashlib.md5(text.encode()).hexdigest()  # noqa: E731
    ha1 = md5(f"{user}:{fields['realm']}:{password}")
    answer = md5(f"{ha1}:{fields['nonce']}:{nc:08x}:abc:auth:{md5(f'{method}:{uri}')}")
    return (f'Digest username="{user}", realm="{fields["realm"]}", nonce="{fields["nonce"]}", uri="{uri}", '
            f'response="{answer}", qop=auth, nc={nc:08x}, cnonce="abc", opaque="{fields["opaque"]}"')


# -- messages ------------------------------------------------------------------------------


def test_a_request_head_parses_into_method_url_version_and_headers():
    request = parse_request(b"DESCRIBE rtsp://h/h264_stream RTSP/1.0\r\nCSeq: 2\r\nAccept: application/sdp")
    assert (request.method, request.url, request.version) == ("DESCRIBE", "rtsp://h/h264_stream", "RTSP/1.0")
    assert request.header("cseq") == "2" and request.header("ACCEPT") == "application/sdp"


@pytest.mark.parametrize("head", [b"GARBAGE", b"PLAY rtsp://h/x RTSP/1.0\r\nno colon here", b"\xff\xfe x y"])
def test_garbage_is_a_bad_request(head):
    with pytest.raises(rtsp.BadRequest):
        parse_request(head)


@pytest.mark.parametrize("url, expected", [
    ("rtsp://h:554/h264_stream", ("/h264_stream", {}, None)),
    ("rtsp://h:554/h264_stream/trackID=1", ("/h264_stream", {}, 1)),
    ("rtsp://h/h264_stream?width=320&height=240/trackID=0", ("/h264_stream", {"width": "320", "height": "240"}, 0)),
    ("rtsp://h/h264_stream/", ("/h264_stream", {}, None)),
])
def test_a_track_control_appended_to_the_described_url_is_split_off(url, expected):
    assert split_url(url) == expected


def test_rtp_cuts_a_big_nal_unit_into_fu_a_fragments_and_marks_the_end_of_the_picture():
    rtp = video.Rtp(96)
    sps, idr = b"\x67" + b"s" * 10, b"\x65" + bytes(range(256)) * 12  # 3,073 bytes: three fragments
    packets = rtp.h264([sps, idr], 9000)
    assert packets[0][12:] == sps and not packets[0][1] & 0x80
    fragments = packets[1:]
    assert len(fragments) == 3
    assert [p[12] for p in fragments] == [0x60 | 28] * 3  # NRI of the IDR, type FU-A
    assert [p[13] for p in fragments] == [0x80 | 5, 5, 0x40 | 5]  # start, middle, end; type 5
    assert b"".join(p[14:] for p in fragments) == idr[1:]
    assert [bool(p[1] & 0x80) for p in packets] == [False, False, False, True]
    seqs = [int.from_bytes(p[2:4], "big") for p in packets]
    assert [(s - seqs[0]) % 65536 for s in seqs] == [0, 1, 2, 3]
    assert len({p[4:8] for p in packets}) == 1  # one timestamp for the picture


# -- the state machine ----------------------------------------------------------------------


def test_options_needs_no_credentials_and_lists_the_methods():
    m = Machine(auth="digest")
    status, fields, _ = m.send("OPTIONS")
    assert status == 200
    assert set(fields["public"][0].split(", ")) == set(rtsp.METHODS)
    assert fields["server"] == ["HIP2.50"]


def test_describe_answers_sdp_with_parameter_sets_and_both_tracks():
    m = Machine()
    status, fields, body = m.send("DESCRIBE", URL + "?width=320&height=240&fps=5", Accept="application/sdp")
    assert status == 200 and fields["content-type"] == ["application/sdp"]
    assert fields["content-base"] == [URL + "?width=320&height=240&fps=5/"]
    assert int(fields["content-length"][0]) == len(body.encode())
    fmtp = re.search(r"a=fmtp:96 (.*)", body).group(1).strip()
    params = dict(p.split("=", 1) for p in fmtp.split(";"))
    assert params["packetization-mode"] == "1"
    sps, pps = (base64.b64decode(x) for x in params["sprop-parameter-sets"].split(","))
    assert sps[0] & 0x1F == 7 and pps[0] & 0x1F == 8
    assert params["profile-level-id"] == sps[1:4].hex().upper()
    assert sps[1] == 66  # Baseline profile
    assert "a=rtpmap:96 H264/90000" in body and "a=control:trackID=0" in body
    assert "m=audio 0 RTP/AVP 0" in body and "a=rtpmap:0 PCMU/8000" in body  # the Verso has a microphone


@pytest.mark.parametrize("url, status", [
    ("rtsp://h/mpeg4_stream", 404),
    ("rtsp://h/", 404),
    (URL + "?width=333&height=222", 400),  # not a listed size
    (URL + "?fps=31", 400),
    (URL + "?source=rear", 400),
    (URL + "?width=640", 400),
])
def test_unknown_streams_are_404_and_bad_parameters_400(url, status):
    assert Machine().send("DESCRIBE", url)[0] == status


def test_setup_play_pause_teardown_walk_the_session_through_its_states():
    m = Machine()
    session = m.session()
    assert m.rtsp.sessions[session].state == "ready" and not m.media.watching
    status, fields, _ = m.send("SETUP", URL + "/trackID=1", Session=session,
                               Transport="RTP/AVP/TCP;unicast;interleaved=2-3")
    assert status == 200 and fields["transport"] == ["RTP/AVP/TCP;unicast;interleaved=2-3"]
    status, fields, _ = m.send("PLAY", URL, Session=session)
    assert status == 200 and fields["session"] == [f"{session};timeout=60"]
    viewer = m.rtsp.sessions[session]
    assert m.media.watching == {viewer: video.StreamKey("internal", 640, 480, 15)}
    assert m.send("PAUSE", URL, Session=session)[0] == 200
    assert viewer.state == "ready" and not m.media.watching
    assert m.send("PLAY", URL, Session=session)[0] == 200 and viewer.state == "playing"
    assert m.send("TEARDOWN", URL, Session=session)[0] == 200
    assert not m.rtsp.sessions and not m.media.watching
    assert [e["event"] for e in m.journal] == ["play", "end"]
    assert m.journal[-1]["reason"] == "teardown"


def test_requests_out_of_order_get_the_rtsp_status_for_it():
    m = Machine()
    assert m.send("PLAY", URL)[0] == 454  # no session
    assert m.send("PLAY", URL, Session="0123456789abcdef")[0] == 454
    session = m.session()
    assert m.send("SETUP", URL + "/trackID=0", Session=session, Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 200
    assert m.send("SETUP", URL + "?fps=5/trackID=0", Session=session,
                  Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 459  # another stream in the same session
    assert m.send("SETUP", URL + "/trackID=7", Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 404
    assert m.send("RECORD", URL, Session=session)[0] == 405
    assert m.send("FLY", URL)[0] == 501


def test_transports_the_server_cannot_do_are_461():
    m = Machine()
    assert m.send("SETUP", URL + "/trackID=0", Transport="RTP/AVP;multicast;port=5000-5001")[0] == 461
    assert m.send("SETUP", URL + "/trackID=0", Transport="RTP/AVP;unicast;client_port=5000-5001")[0] == 461  # no UDP
    m.rtsp.udp, m.rtsp.udp_ports = object(), (6000, 6001)
    status, fields, _ = m.send("SETUP", URL + "/trackID=0",
                               Transport="RTP/AVP/UDP;multicast, RTP/AVP;unicast;client_port=5000-5001")
    assert status == 200
    assert fields["transport"] == ["RTP/AVP;unicast;client_port=5000-5001;server_port=6000-6001"]


def test_wrong_version_or_no_cseq_is_refused():
    m = Machine()
    raw = m.rtsp.respond(Request("OPTIONS", URL, "RTSP/2.0", {"cseq": "1"}), m.conn)
    assert raw.startswith(b"RTSP/1.0 505 ")
    raw = m.rtsp.respond(Request("OPTIONS", URL, "RTSP/1.0", {}), m.conn)
    assert raw.startswith(b"RTSP/1.0 400 ")


def test_a_silent_session_times_out_and_keep_alives_hold_it():
    m = Machine()
    session = m.session()
    m.send("PLAY", URL, Session=session)
    m.clock.advance(40)
    assert m.send("GET_PARAMETER", URL, Session=session)[0] == 200  # FFmpeg's keep-alive
    m.clock.advance(40)
    assert session in m.rtsp.sessions  # 80 s old, 40 s silent
    m.clock.advance(21)
    assert session not in m.rtsp.sessions and not m.media.watching
    assert m.journal[-1]["event"] == "end" and m.journal[-1]["reason"] == "timeout"


def test_a_closed_connection_ends_its_sessions():
    m = Machine()
    session = m.session()
    m.send("PLAY", URL, Session=session)
    m.rtsp.connection_lost(m.conn)
    assert not m.rtsp.sessions and m.journal[-1]["reason"] == "closed"


def test_sessions_are_bounded():
    m = Machine()
    for _ in range(rtsp.MAX_SESSIONS):
        m.session()
    assert m.send("SETUP", URL + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 453


def test_digest_over_rtsp_hashes_the_rtsp_method_and_uri():
    m = Machine(auth="digest")
    status, fields, _ = m.send("DESCRIBE")
    assert status == 401
    challenge = fields["www-authenticate"][0]
    assert challenge.startswith('Digest realm="HTTP API", qop="auth"')
    assert m.send("DESCRIBE", Authorization=digest(challenge, "DESCRIBE", URL))[0] == 200
    # The same answer for another method does not pass: HA2 has the method in it.
    assert m.send("SETUP", URL, Authorization=digest(challenge, "DESCRIBE", URL, nc=2),
                  Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 401
    assert m.send("SETUP", URL, Authorization=digest(challenge, "SETUP", URL, nc=3),
                  Transport="RTP/AVP/TCP;interleaved=0-1")[0] == 200
    assert m.send("DESCRIBE", Authorization=digest(challenge, "DESCRIBE", URL, password="wrong", nc=4))[0] == 401


def test_basic_service_takes_basic_and_refuses_accounts_without_the_camera_privilege():
    accounts = (Account("admin", "2n", frozenset({"camera"})), Account("door", "pw", frozenset({"switch-control"})))
    m = Machine(auth="basic", accounts=accounts)
    status, fields, _ = m.send("DESCRIBE")
    assert status == 401 and fields["www-authenticate"] == ['Basic realm="HTTP API"']
    ok = "Basic " + base64.b64encode(b"admin:2n").decode()
    assert m.send("DESCRIBE", Authorization=ok)[0] == 200
    door = "Basic " + base64.b64encode(b"door:pw").decode()
    assert m.send("DESCRIBE", Authorization=door)[0] == 403


def test_a_refused_request_says_why_in_the_journal():
    accounts = (Account("admin", "2n", frozenset({"camera"})), Account("door", "pw", frozenset({"switch-control"})))
    m = Machine(auth="basic", accounts=accounts)
    m.send("DESCRIBE")
    m.send("DESCRIBE", Authorization="Basic " + base64.b64encode(b"admin:wrong").decode())
    m.send("DESCRIBE", Authorization="Basic " + base64.b64encode(b"door:pw").decode())
    refused = [e for e in m.journal if e["event"] == "refused"]
    assert [e["status"] for e in refused] == [401, 401, 403]
    assert refused[0]["reason"] == "no credentials"
    assert "password" in refused[1]["reason"]
    assert refused[2]["reason"] == "missing privilege: 'door' lacks camera"


def test_a_disabled_camera_service_streams_nothing():
    m = Machine()
    m.device.security.services["camera"] = Service(enabled=False, transport="http", auth="none")
    assert m.send("DESCRIBE")[0] == 403


def test_a_viewer_whose_socket_falls_behind_loses_pictures_up_to_the_next_key_frame():
    m = Machine()
    session = m.session()
    m.send("PLAY", URL, Session=session)
    viewer = m.rtsp.sessions[session]
    key, delta = video.Picture([b"\x80key"], [], True), video.Picture([b"\x80delta"], [], False)
    viewer.offer(delta)  # a joining viewer waits for a key frame
    viewer.offer(key)
    viewer.offer(delta)
    assert len(m.conn.sent) == 2 and m.conn.sent[0] == b"$\x00\x00\x04\x80key"
    m.conn.buffered = lambda: rtsp.MAX_BUFFERED + 1  # the client stopped reading
    viewer.offer(delta)
    viewer.offer(key)
    assert len(m.conn.sent) == 2 and viewer.dropped == 2  # nothing more queued for it
    m.conn.buffered = lambda: 0  # it reads again: from the next key frame on
    viewer.offer(delta)
    viewer.offer(key)
    assert len(m.conn.sent) == 3 and m.conn.sent[-1].endswith(b"key")


def test_the_audio_track_is_silence_and_a_tone_while_noise_is_in():
    from emulator.media.camera import Camera

    device = Machine().device
    media = video.Video(Camera(device))
    quiet = media._sound(7, 15)
    assert len(quiet) == 533 and set(quiet) == {video.SILENCE}  # 8,000 samples a second over 15 pictures
    device.set_noise(True)
    loud = media._sound(7, 15) + media._sound(8, 15)
    assert len(set(loud)) > 10
    assert loud[:40] == loud[20:60]  # 400 Hz: a period of 20 samples, unbroken across packets
