"""Live video over RTSP with real clients: PyAV's RTSP client (FFmpeg's demuxer, which Home
Assistant's stream component uses) over TCP and UDP with Digest, Debian's ffprobe, and a plain
socket client for what a viewer sees when the device reboots or a fault hits the stream.

The picture's frame counter is read back from the decoded frames (frames.read_counter): it moves
with the stream's timestamps, 15 counts per second of device time.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import struct
import subprocess

import av
import pytest

from emulator.control.journal import describe
from emulator.media import frames
from emulator.media.video import split_annex_b

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def decode(url: str, transport: str, count: int) -> list[tuple[float, int, int, int]]:
    """(time, width, height, counter) of the first `count` pictures FFmpeg decodes."""
    out = []
    with av.open(url, options={"rtsp_transport": transport}, timeout=20) as container:
        for frame in container.decode(video=0):
            if frame.time is None:
                continue
            out.append((frame.time, frame.width, frame.height, frames.read_counter(frame.to_image())))
            if len(out) == count:
                break
    return out


def with_credentials(emu, user: str = "admin", password: str = "2n") -> str:
    return emu.rtsp_url.replace("rtsp://", f"rtsp://{user}:{password}@")


@pytest.mark.parametrize("transport", ["tcp", "udp"])
async def test_pyav_plays_the_test_card_with_digest_at_the_requested_size_and_rate(make_emulator, transport):
    emu = await make_emulator(rtsp_port=0)  # the verso profile: Digest, admin/2n
    pictures = await asyncio.to_thread(decode, with_credentials(emu) + "?width=320&height=240&fps=5", transport, 8)
    assert {(w, h) for _, w, h, _ in pictures} == {(320, 240)}
    times = [t for t, *_ in pictures]
    steps = [round((b - a) * 5, 6) for a, b in zip(times, times[1:], strict=False)]
    assert all(step >= 1 and step == int(step) for step in steps)  # whole frames of 1/5 s apart
    counters = [c for *_, c in pictures]
    assert counters == sorted(counters) and counters[-1] > counters[0]
    # The counter counts 1/15 s of device time: it moved as far as the timestamps did.
    assert abs((counters[-1] - counters[0]) - (times[-1] - times[0]) * 15) <= 1
    journal = emu.journal.find("rtsp", event="play")
    assert journal and journal[0]["transport"] == transport and journal[0]["account"] == "admin"
    assert journal[0]["stream"] == "internal 320x240 5fps"


async def test_wrong_credentials_get_401(make_emulator):
    emu = await make_emulator(rtsp_port=0)
    with pytest.raises(av.error.HTTPUnauthorizedError):
        await asyncio.to_thread(decode, with_credentials(emu, password="wrong"), "tcp", 1)


@pytest.mark.skipif(shutil.which("ffprobe") is None, reason="needs Debian's ffmpeg (apt-get install ffmpeg)")
async def test_ffprobe_reads_h264_and_g711(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="basic")
    command = ["ffprobe", "-v", "error", "-rtsp_transport", "tcp", "-show_streams", "-of", "json",
               with_credentials(emu) + "?width=640&height=360"]
    process = await asyncio.create_subprocess_exec(*command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    streams = {s["codec_type"]: s for s in json.loads(out)["streams"]}
    assert streams["video"]["codec_name"] == "h264" and "Baseline" in streams["video"]["profile"]
    assert (streams["video"]["width"], streams["video"]["height"]) == (640, 360)
    assert streams["audio"]["codec_name"] == "pcm_mulaw" and streams["audio"]["sample_rate"] == "8000"


# -- a plain socket client ------------------------------------------------------------------


class Viewer:
    """RTSP over TCP by hand: OPTIONS, DESCRIBE, SETUP (interleaved), PLAY; then RTP."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, url: str):
        self.reader, self.writer, self.url = reader, writer, url
        self.cseq = 0

    @classmethod
    async def open(cls, emu, query: str = "") -> Viewer:
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.ports["rtsp"])
        return cls(reader, writer, emu.rtsp_url + query)

    async def request(self, method: str, url: str | None = None, **headers: str) -> tuple[int, dict[str, str], bytes]:
        self.cseq += 1
        head = f"{method} {url or self.url} RTSP/1.0\r\nCSeq: {self.cseq}\r\n"
        head += "".join(f"{k.replace('_', '-')}: {v}\r\n" for k, v in headers.items())
        self.writer.write(head.encode() + b"\r\n")
        while True:
            first = await self.reader.readexactly(1)
            if first == b"$":  # RTP before the reply
                size = struct.unpack("!xH", await self.reader.readexactly(3))[0]
                await self.reader.readexactly(size)
                continue
            text = (first + await self.reader.readuntil(b"\r\n\r\n")).decode()
            break
        status = int(text.split(" ", 2)[1])
        fields = {}
        for line in text.split("\r\n")[1:]:
            name, _, value = line.partition(": ")
            fields[name.lower()] = value
        body = await self.reader.readexactly(int(fields.get("content-length", "0")))
        assert fields["cseq"] == str(self.cseq)
        return status, fields, body

    async def play(self) -> str:
        assert (await self.request("DESCRIBE"))[0] == 200
        status, fields, _ = await self.request("SETUP", self.url + "/trackID=0",
                                               Transport="RTP/AVP/TCP;unicast;interleaved=0-1")
        assert status == 200
        session = fields["session"].split(";")[0]
        assert (await self.request("PLAY", Session=session))[0] == 200
        return session

    async def packet(self) -> tuple[int, bytes]:
        """The next interleaved packet: (channel, RTP packet); EOF when the server closes."""
        head = await self.reader.readexactly(4)
        assert head[:1] == b"$"
        channel, size = struct.unpack("!xBH", head)
        return channel, await self.reader.readexactly(size)

    async def key_frame(self) -> int:
        """Read until a picture starts with SPS (what an IDR from this server does); its timestamp."""
        while True:
            channel, packet = await self.packet()
            if channel == 0 and packet[12] & 0x1F == 7:
                return struct.unpack("!I", packet[4:8])[0]

    async def ended(self) -> bool:
        """True once the server closes the connection (packets until then are read and dropped)."""
        try:
            while True:
                await self.packet()
        except (asyncio.IncompleteReadError, ConnectionError):
            return True

    def close(self) -> None:
        self.writer.close()


async def test_a_new_viewer_starts_with_a_key_frame_with_its_parameter_sets(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none")
    first = await Viewer.open(emu, "?width=320&height=240&fps=10")
    await first.play()
    await first.key_frame()
    second = await Viewer.open(emu, "?width=320&height=240&fps=10")
    await second.play()
    channel, packet = await second.packet()  # the very first packet the joining viewer gets
    assert channel == 0 and packet[12] & 0x1F == 7  # SPS: a fresh IDR follows
    sps = packet[12:]
    status, _, sdp = await second.request("DESCRIBE")
    assert split_annex_b(b"\x00\x00\x01" + sps)[0].hex().upper()[2:8] in sdp.decode()  # profile-level-id
    assert len(emu.rtsp.video.streams) == 1  # one encoder for both viewers
    first.close()
    second.close()


async def test_the_stream_stops_when_its_last_viewer_leaves(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none")
    viewer = await Viewer.open(emu)
    session = await viewer.play()
    await viewer.key_frame()
    assert (await viewer.request("TEARDOWN", Session=session))[0] == 200
    stream = next(iter(emu.rtsp.video.streams.values()), None)
    if stream is not None:
        await stream.task
    assert not emu.rtsp.video.streams
    viewer.close()


async def test_a_reboot_drops_the_rtsp_sessions(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none", clock="virtual")
    viewer = await Viewer.open(emu)
    await viewer.play()
    await viewer.key_frame()
    emu.device.restart()
    assert await viewer.ended()
    assert emu.journal.find("rtsp", event="end")[0]["reason"] == "reboot"
    emu.clock.advance(emu.profile.timing.restart_seconds)
    again = await Viewer.open(emu)  # back up: it streams again
    await again.play()
    await again.key_frame()
    again.close()


async def test_the_stream_fault_cuts_playing_sessions(make_emulator, make_client):
    emu = await make_emulator(rtsp_port=0, auth="none")
    viewer = await Viewer.open(emu)
    await viewer.play()
    await viewer.key_frame()
    reply = await make_client(emu).post("/_emulator/faults", json={"kind": "stream", "mode": "cut", "times": 1})
    assert reply.status == 201, reply.body
    assert await viewer.ended()
    assert emu.journal.find("rtsp", event="end")[0]["reason"] == "fault"
    assert not emu.faults.list()  # applied once: it recovered
    again = await Viewer.open(emu)
    await again.play()
    await again.key_frame()
    again.close()


async def test_the_stream_fault_stalls_for_device_seconds_then_resumes_with_a_key_frame(make_emulator, make_client):
    emu = await make_emulator(rtsp_port=0, auth="none", clock="virtual")
    viewer = await Viewer.open(emu, "?fps=10")
    await viewer.play()
    await viewer.key_frame()
    reply = await make_client(emu).post("/_emulator/faults", json={"kind": "stream", "mode": "stall", "seconds": 5})
    assert reply.status == 201, reply.body
    session = next(iter(emu.rtsp.sessions.values()))
    while session.dropped < 2:
        await asyncio.sleep(0.05)
    sent = session.pictures
    while session.dropped < 5:  # the stream goes on; this viewer gets none of it
        await asyncio.sleep(0.05)
    assert session.pictures == sent
    emu.clock.advance(5)
    await viewer.key_frame()  # after the stall: a clean picture first
    assert session.pictures > sent
    viewer.close()


async def test_unknown_paths_are_404_and_options_answers_without_credentials(make_emulator):
    emu = await make_emulator(rtsp_port=0)
    viewer = await Viewer.open(emu)
    status, fields, _ = await viewer.request("OPTIONS")
    assert status == 200 and "DESCRIBE" in fields["public"] and fields["server"] == emu.server_header
    # The path is checked first, as the API checks its paths before credentials.
    assert (await viewer.request("DESCRIBE", emu.urls["rtsp"] + "/h263_stream"))[0] == 404
    assert (await viewer.request("DESCRIBE"))[0] == 401
    viewer.close()
    refused = emu.journal.find("rtsp", event="refused")[-1]
    assert (refused["status"], refused["reason"]) == (401, "no credentials")
    assert describe(refused).startswith("rtsp refused method=DESCRIBE ")  # the pytest plugin's report line


async def test_garbage_on_the_rtsp_port_is_400_and_the_connection_closes(make_emulator):
    emu = await make_emulator(rtsp_port=0)
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.ports["rtsp"])
    writer.write(b"\x16\x03\x01 this is not rtsp\r\n\r\n")
    assert (await reader.read()).startswith(b"RTSP/1.0 400 Bad Request\r\n")
    writer.close()


async def test_system_caps_says_the_rtsp_server_is_active_when_it_runs(make_emulator, make_client):
    on = await make_emulator(rtsp_port=0)
    off = await make_emulator()
    assert (await make_client(on).get("/api/system/caps")).json["result"]["options"]["rtspServer"] == "active,licensed"
    assert (await make_client(off).get("/api/system/caps")).json["result"]["options"]["rtspServer"] == \
        "inactive,licensed"
    assert on.urls["rtsp"].startswith("rtsp://127.0.0.1:") and "rtsp" not in off.urls


async def test_a_model_without_a_camera_has_no_rtsp_listener(make_emulator):
    emu = await make_emulator(rtsp_port=0, profile="access-unit")
    assert "rtsp" not in emu.ports


def test_the_command_line_listens_for_rtsp_on_8554_unless_told():
    from emulator.cli import parse_args, settings_from

    def rtsp_port(argv, **environ):
        return settings_from(parse_args(argv, environ)).rtsp_port

    assert rtsp_port([]) == 8554
    assert rtsp_port(["--rtsp-port", "0"]) == 0
    assert rtsp_port(["--no-rtsp"]) is None
    assert rtsp_port([], HELIOS_RTSP_PORT="554") == 554
    assert rtsp_port([], HELIOS_NO_RTSP="1") is None


# -- silent connections ----------------------------------------------------------------------

SHORT = {"header_timeout": 0.3, "idle_timeout": 0.5}  # seconds (the defaults are 10 and 75)


async def closed_soon(viewer: Viewer) -> bool:
    """Whether the server closes the connection within 10 s (a bound for a busy machine, not a
    measurement)."""
    try:
        return await asyncio.wait_for(viewer.ended(), 10)
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"OPTIONS rtsp://127.0.0.1/h264_stream RTSP/1.0\r\nCSeq: 1\r\n"],
                         ids=["nothing", "half a request"])
async def test_a_connection_that_sends_no_whole_request_is_closed_at_the_header_timeout(make_emulator, sent):
    emu = await make_emulator(rtsp_port=0, auth="none", header_timeout=0.3, idle_timeout=60)
    viewer = await Viewer.open(emu)
    viewer.writer.write(sent)
    assert await closed_soon(viewer)
    viewer.close()


async def test_a_connection_with_a_session_it_never_plays_is_closed_at_the_idle_timeout(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none", header_timeout=60, idle_timeout=0.5)
    viewer = await Viewer.open(emu)
    assert (await viewer.request("DESCRIBE"))[0] == 200
    status, _, _ = await viewer.request("SETUP", viewer.url + "/trackID=0", Transport="RTP/AVP/TCP;interleaved=0-1")
    assert status == 200
    assert await closed_soon(viewer)
    assert not emu.rtsp.sessions  # its session ended with it
    viewer.close()


async def test_a_playing_session_outlives_the_idle_timeout_and_its_connection_idles_after_pause(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none", **SHORT)
    viewer = await Viewer.open(emu, "?fps=10")
    session = await viewer.play()
    until = asyncio.get_running_loop().time() + 3 * SHORT["idle_timeout"]
    while asyncio.get_running_loop().time() < until:  # silent but playing: the stream goes on
        await viewer.packet()
    assert (await viewer.request("PAUSE", Session=session))[0] == 200
    assert await closed_soon(viewer)
    viewer.close()


async def test_a_connection_whose_session_timed_out_is_closed_at_the_idle_timeout(make_emulator):
    emu = await make_emulator(rtsp_port=0, auth="none", clock="virtual", header_timeout=60, idle_timeout=0.5)
    viewer = await Viewer.open(emu)
    await viewer.play()
    await viewer.key_frame()
    emu.clock.advance(60)  # the RTSP session timeout, in device time
    assert not emu.rtsp.sessions
    assert emu.journal.find("rtsp", event="end")[0]["reason"] == "timeout"
    assert await closed_soon(viewer)
    viewer.close()
