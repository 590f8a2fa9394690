"""Live video of the device's cameras: the test card, encoded to H.264 once and shared as RTP.

One `MediaStream` per (source, size, fps) renders the same test card as the snapshots (frames.py:
same clock, moving bar, frame counter, motion figure), encodes it with libx264 (FFmpeg, from the
PyAV wheels) and cuts each picture into RTP packets (RFC 6184: single NAL unit packets, FU-A for
larger ones) once, whatever the number of viewers; each viewer only gets the bytes written to its
socket. The stream starts with its first viewer and stops with its last.

A joining viewer (or one resuming after a pause, a stall or a congested socket) waits for a key
frame, and asks for one: the encoder then makes the next picture an IDR with SPS and PPS in front,
so a new viewer has a picture within one frame. Key frames also come every `KEY_INTERVAL` seconds.

RTP timestamps (90 kHz) follow the device clock: frames sit on the stream's fps grid of device
time, and a frame that comes late skips grid points instead of bunching up. On a virtual clock,
which stands still until advanced, the timestamps move one frame per frame sent.

Where the profile has a microphone, an audio track (G.711 PCMU, 8 kHz) goes with the picture:
silence, and a 400 Hz tone while noise is "in" (the control plane's `noise` action).
"""

from __future__ import annotations

import asyncio
import base64
import logging
import math
import secrets
import struct
from dataclasses import dataclass, field
from fractions import Fraction
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Protocol

from emulator.media import frames

if TYPE_CHECKING:
    from emulator.media.camera import Camera

log = logging.getLogger("emulator.video")

CLOCK_RATE = 90_000  # RTP clock of video (RFC 6184)
AUDIO_RATE = 8_000  # G.711
VIDEO_PT = 96  # dynamic payload type of H.264 in the SDP
AUDIO_PT = 0  # PCMU's static payload type
MAX_PAYLOAD = 1400  # RTP payload per packet: fits a 1500-byte Ethernet frame with IP/UDP/RTP headers
KEY_INTERVAL = 2.0  # seconds between scheduled key frames
MAX_STREAMS = 8  # distinct (source, size, fps) encoded at once; each costs a core's few percent


class TooManyStreams(Exception):
    """Every encoder slot is busy (RTSP answers 453 Not Enough Bandwidth)."""


@dataclass(frozen=True)
class StreamKey:
    source: str
    width: int
    height: int
    fps: int


@dataclass
class Picture:
    """One encoded picture, cut into RTP packets (complete, headers included)."""

    video: list[bytes]
    audio: list[bytes]
    key: bool
    framed: dict[tuple[int, int], bytes] = field(default_factory=dict)  # (track, channel) -> $-framed bytes


class Viewer(Protocol):
    """What a stream sends to: an RTSP session (rtsp.py)."""

    def offer(self, picture: Picture) -> None:
        """Take the picture (or drop it: a viewer waiting for a key frame, or a slow one)."""
        ...

    def stream_ended(self) -> None:
        """The stream stopped (the device went down, or the encoder failed)."""
        ...


# -- H.264 -----------------------------------------------------------------------------------


def _codec(width: int, height: int, fps: int, global_header: bool = False) -> Any:
    import av  # FFmpeg is loaded with the first stream, not at every start
    from av.codec.context import Flags

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, CLOCK_RATE)
    codec.framerate = Fraction(fps)
    codec.gop_size = max(int(KEY_INTERVAL * fps), 1)
    # Baseline profile (what 2N documents for its streams), no B-frames, no delay: one picture in,
    # one access unit out; SPS and PPS repeated in front of every IDR for viewers that join late.
    codec.options = {"preset": "ultrafast", "tune": "zerolatency", "profile": "baseline", "repeat-headers": "1"}
    if global_header:
        codec.flags |= Flags.global_header
    codec.open()
    return codec


@lru_cache(maxsize=64)
def parameter_sets(width: int, height: int, fps: int) -> tuple[bytes, bytes]:
    """SPS and PPS of the stream's encoder (what the SDP announces): an encoder opened with global
    headers puts exactly the in-band ones in its extradata, without encoding a picture."""
    nals = split_annex_b(_codec(width, height, fps, global_header=True).extradata)
    sps = next(n for n in nals if n[0] & 0x1F == 7)
    pps = next(n for n in nals if n[0] & 0x1F == 8)
    return sps, pps


def fmtp(width: int, height: int, fps: int) -> str:
    """The SDP format parameters of the H.264 track (RFC 6184 section 8.1)."""
    sps, pps = parameter_sets(width, height, fps)
    sprop = ",".join(base64.b64encode(n).decode() for n in (sps, pps))
    return f"packetization-mode=1;profile-level-id={sps[1:4].hex().upper()};sprop-parameter-sets={sprop}"


def split_annex_b(data: bytes) -> list[bytes]:
    """NAL units of an Annex B byte stream (start codes 00 00 01 or 00 00 00 01 removed)."""
    out = []
    for chunk in data.split(b"\x00\x00\x01"):
        chunk = chunk.rstrip(b"\x00")  # the first zero of a 4-byte start code (no NAL ends in 00)
        if chunk:
            out.append(chunk)
    return out


class Encoder:
    """libx264 for one stream; its methods run in a worker thread."""

    def __init__(self, key: StreamKey):
        self.key = key
        self.codec = _codec(key.width, key.height, key.fps)

    def encode(self, scene: frames.Scene, pts: int, force_key: bool) -> tuple[list[bytes], bool]:
        import av

        rgba = frames.render(scene).convert("RGBA").tobytes()
        frame = av.VideoFrame.from_bytes(rgba, scene.width, scene.height, "rgba")
        frame.pts = pts
        if force_key:
            frame.pict_type = av.video.frame.PictureType.I
        nals: list[bytes] = []
        key = False
        for packet in self.codec.encode(frame):
            nals += split_annex_b(bytes(packet))
            key = key or packet.is_keyframe
        return nals, key


# -- RTP (RFC 3550, RFC 6184) ---------------------------------------------------------------


class Rtp:
    """Sequence numbers, SSRC and timestamp base of one track (random starts, RFC 3550 5.1)."""

    def __init__(self, payload_type: int):
        self.payload_type = payload_type
        self.ssrc = secrets.randbits(32)
        self.seq = secrets.randbits(16)
        self.base = secrets.randbits(32)

    def packet(self, payload: bytes, timestamp: int, marker: bool) -> bytes:
        header = struct.pack("!BBHII", 0x80, self.payload_type | (0x80 if marker else 0), self.seq,
                             (self.base + timestamp) & 0xFFFFFFFF, self.ssrc)
        self.seq = (self.seq + 1) & 0xFFFF
        return header + payload

    def h264(self, nals: list[bytes], timestamp: int) -> list[bytes]:
        """An access unit: one packet per small NAL unit, FU-A fragments of the big ones; the
        marker bit on the last packet of the picture."""
        out = []
        for i, nal in enumerate(nals):
            last = i == len(nals) - 1
            if len(nal) <= MAX_PAYLOAD:
                out.append(self.packet(nal, timestamp, last))
                continue
            indicator = nal[0] & 0xE0 | 28  # F and NRI of the NAL unit, type 28 = FU-A
            kind = nal[0] & 0x1F
            body = memoryview(nal)[1:]
            step = MAX_PAYLOAD - 2
            for start in range(0, len(body), step):
                end = start + step >= len(body)
                header = kind | (0x80 if start == 0 else 0) | (0x40 if end else 0)
                out.append(self.packet(bytes((indicator, header)) + body[start:start + step], timestamp,
                                       last and end))
        return out


def _mulaw(sample: int) -> int:
    """One 16-bit sample as G.711 mu-law (ITU-T G.711, the usual bias-and-segment form)."""
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), 32635) + 0x84
    exponent = max(magnitude.bit_length() - 8, 0)
    mantissa = magnitude >> (exponent + 3) & 0x0F
    return ~(sign | exponent << 4 | mantissa) & 0xFF


# 400 Hz at 8 kHz is 20 samples a period, so any run of samples is a slice of this repeated.
TONE = bytes(_mulaw(round(8000 * math.sin(2 * math.pi * i / 20))) for i in range(20))
SILENCE = _mulaw(0)


# -- streams ---------------------------------------------------------------------------------


@dataclass(eq=False)
class MediaStream:
    key: StreamKey
    audio: bool
    viewers: set[Viewer] = field(default_factory=set)
    want_key: bool = True
    task: asyncio.Task | None = None
    pictures: int = 0


class Video:
    """Every live stream of one device's cameras."""

    def __init__(self, camera: Camera):
        self.camera = camera
        self.device = camera.device
        self.streams: dict[StreamKey, MediaStream] = {}

    @property
    def has_audio(self) -> bool:
        return self.device.profile.hardware.microphone

    def watch(self, key: StreamKey, viewer: Viewer) -> MediaStream:
        """Start sending `key` to the viewer (from the next key frame, which it asks for)."""
        stream = self.streams.get(key)
        if stream is None:
            if len(self.streams) >= MAX_STREAMS:
                raise TooManyStreams
            stream = self.streams[key] = MediaStream(key, self.has_audio)
            stream.task = asyncio.get_running_loop().create_task(self._run(stream), name=f"video {key}")
        stream.viewers.add(viewer)
        stream.want_key = True
        return stream

    def leave(self, key: StreamKey, viewer: Viewer) -> None:
        stream = self.streams.get(key)
        if stream is not None:
            stream.viewers.discard(viewer)  # the stream's loop ends when it sees nobody left

    def want_key(self, key: StreamKey) -> None:
        """The next picture of the stream is a key frame (a viewer resumes after a stall)."""
        stream = self.streams.get(key)
        if stream is not None:
            stream.want_key = True

    async def stop(self) -> None:
        tasks = [s.task for s in self.streams.values() if s.task is not None]
        for stream in self.streams.values():
            stream.viewers.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self.streams.clear()

    async def _run(self, stream: MediaStream) -> None:
        key = stream.key
        device, clock = self.device, self.device.clock
        loop = asyncio.get_running_loop()
        period = 1.0 / key.fps
        video, audio = Rtp(VIDEO_PT), Rtp(AUDIO_PT)
        encoder = None
        index = None  # the frame's place on the stream's grid of device time
        last_key_at = -math.inf
        try:
            encoder = await loop.run_in_executor(None, Encoder, key)
            while stream.viewers and device.online:
                mono = clock.monotonic()
                grid = round(mono * key.fps)
                index = grid if index is None or not clock.virtual and grid > index else index + 1
                pts = index * CLOCK_RATE // key.fps
                force = stream.want_key or mono - last_key_at >= KEY_INTERVAL
                stream.want_key = False
                # The picture of the grid point (on a virtual clock: of the time it stands at).
                at = mono if clock.virtual else index / key.fps
                scene = self.camera.scene(key.source, key.width, key.height, device.now() + at - mono, at)
                nals, is_key = await loop.run_in_executor(None, encoder.encode, scene, pts, force)
                if is_key:
                    last_key_at = mono
                picture = Picture(video.h264(nals, pts), [], is_key)
                if stream.audio:
                    picture.audio = [audio.packet(self._sound(index, key.fps), index * AUDIO_RATE // key.fps,
                                                  False)]
                stream.pictures += 1
                for viewer in list(stream.viewers):
                    viewer.offer(picture)
                # The next grid point on a real clock; one period later on a virtual one.
                delay = period if clock.virtual else (index + 1) / key.fps - clock.monotonic()
                await asyncio.sleep(max(delay, 0.0))
        except Exception:
            log.exception("the video stream %s failed", key)
        finally:
            if self.streams.get(key) is stream:
                del self.streams[key]
            for viewer in list(stream.viewers):
                viewer.stream_ended()

    def _sound(self, index: int, fps: int) -> bytes:
        """The audio between this frame and the next: a tone while noise is in, else silence."""
        start, end = index * AUDIO_RATE // fps, (index + 1) * AUDIO_RATE // fps
        if not self.device.noise:
            return bytes((SILENCE,)) * (end - start)
        phase = start % len(TONE)
        return (TONE * ((end - start) // len(TONE) + 2))[phase:phase + end - start]
