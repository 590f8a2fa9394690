"""camera/snapshot with fps: the MJPEG server push Home Assistant and py2n-intercom open.

Each part must be a complete JPEG with its own `Content-Type: image/jpeg` and an exact
`Content-Length`; the Content-Type must contain `multipart/` (savek-cc checks it); fps 1..15 only
(16 and more -> 12 fps); a viewer that leaves leaves nothing behind; and many viewers cost about
as much as one (frames are encoded once per source, size and frame time).
"""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import pytest
from PIL import Image

from emulator.device.clock import VirtualClock

PREFIX = "multipart/x-mixed-replace; boundary="


class Part:
    def __init__(self, headers: dict[str, str], body: bytes, at: float):
        self.headers = headers
        self.body = body
        self.at = at  # time.monotonic() when the part was complete

    def image(self) -> Image.Image:
        image = Image.open(io.BytesIO(self.body))
        assert image.format == "JPEG"
        image.load()
        return image


async def read_part(resp: aiohttp.ClientResponse, boundary: str) -> Part:
    """One part, read strictly: delimiter line, headers, exactly Content-Length bytes, CRLF."""
    line = await resp.content.readline()
    while line == b"\r\n":  # a CRLF before the delimiter is allowed by RFC 2046
        line = await resp.content.readline()
    assert line == f"--{boundary}\r\n".encode(), line[:100]
    headers: dict[str, str] = {}
    while (line := await resp.content.readline()) != b"\r\n":
        assert line.endswith(b"\r\n"), line[:100]
        name, _, value = line.decode("ascii").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await resp.content.readexactly(int(headers["content-length"]))
    assert await resp.content.readexactly(2) == b"\r\n"
    return Part(headers, body, time.monotonic())


def boundary_of(resp: aiohttp.ClientResponse) -> str:
    ctype = resp.headers["Content-Type"]
    assert ctype.startswith(PREFIX), ctype
    boundary = ctype[len(PREFIX):].strip('"')
    assert boundary and " " not in boundary
    return boundary


async def open_stream(client, **params) -> aiohttp.ClientResponse:
    resp = await client.session.get(client.base + "/api/camera/snapshot",
                                    params={k: str(v) for k, v in params.items()})
    assert resp.status == 200
    return resp


async def read_parts(client, count: int, **params) -> tuple[list[Part], float]:
    started = time.monotonic()
    resp = await open_stream(client, **params)
    try:
        boundary = boundary_of(resp)
        parts = [await asyncio.wait_for(read_part(resp, boundary), 10) for _ in range(count)]
    finally:
        resp.close()
    return parts, started


async def test_fps_gives_a_multipart_stream_of_complete_jpegs(api):
    parts, started = await read_parts(api, 5, width=320, height=240, fps=5)
    for part in parts:
        assert part.headers["content-type"] == "image/jpeg"
        assert int(part.headers["content-length"]) == len(part.body)
        assert part.body.startswith(b"\xff\xd8") and part.body.endswith(b"\xff\xd9")
        assert part.image().size == (320, 240)
    # 5 frames at 5 fps: the first at once, then one every 0.2 s (loose bounds: CI is noisy).
    assert 0.5 <= parts[-1].at - started <= 3.0
    # A live picture: the frames change.
    assert parts[0].body != parts[-1].body


async def test_stream_headers(api):
    resp = await open_stream(api, width=640, height=360, fps=2)
    try:
        boundary = boundary_of(resp)
        assert resp.headers["Server"].startswith("HIP")
        part = await asyncio.wait_for(read_part(resp, boundary), 10)
        assert part.image().size == (640, 360)
    finally:
        resp.close()


@pytest.mark.parametrize("source", ["internal", "external"])
async def test_stream_of_each_source(api, source):
    parts, _ = await read_parts(api, 2, width=160, height=120, fps=15, source=source)
    assert all(p.image().size == (160, 120) for p in parts)


async def test_fps_1_is_paced(api):
    parts, started = await read_parts(api, 2, width=176, height=144, fps=1)
    assert all(p.image().size == (176, 144) for p in parts)
    assert parts[1].at - parts[0].at >= 0.6  # one a second, not as fast as possible


async def test_fps_15_is_the_top_rate(api):
    parts, started = await read_parts(api, 10, width=160, height=120, fps=15)
    # 10 frames at 15 fps take about 0.6 s; not much faster than that.
    assert parts[-1].at - started >= 0.4
    assert all(p.image().size == (160, 120) for p in parts)


@pytest.mark.parametrize("fps", [16, 25, 1000])
async def test_fps_above_15_is_invalid(api, fps):
    reply = await api.get("/api/camera/snapshot", width=640, height=480, fps=fps)
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert reply.error == {"code": 12, "param": "fps", "description": "invalid parameter value"}


async def test_fps_0_is_a_single_picture(api):
    reply = await api.get("/api/camera/snapshot", width=640, height=480, fps=0)
    assert reply.content_type == "image/jpeg"
    assert Image.open(io.BytesIO(reply.body)).size == (640, 480)


async def test_a_stream_with_bad_parameters_is_a_json_error_not_a_stream(api):
    for params, code, param in [({"width": 80, "height": 80}, 12, "width"),
                                ({"width": 640}, 11, "height"),
                                ({"width": 640, "height": 480, "source": "front"}, 12, "source")]:
        reply = await api.get("/api/camera/snapshot", fps=10, **params)
        assert (reply.status, reply.content_type) == (200, "application/json")
        assert reply.error["code"] == code and reply.error["param"] == param


async def test_a_stream_needs_credentials(emu, make_client):
    # savek-cc sends one unauthenticated MJPEG probe: it must get the challenge, not frames.
    reply = await make_client(emu, user=None).get("/api/camera/snapshot", width=640, height=480, fps=10)
    assert reply.status == 401
    assert "WWW-Authenticate" in reply.headers


async def test_motion_shows_in_the_stream(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())  # device time stands still: the frame only changes with motion
    api = make_client(emu)
    resp = await open_stream(api, width=320, height=240, fps=15)
    try:
        boundary = boundary_of(resp)
        quiet = await asyncio.wait_for(read_part(resp, boundary), 10)
        emu.device.set_motion(True)
        # Within a few frames the figure is there.
        for _ in range(10):
            part = await asyncio.wait_for(read_part(resp, boundary), 10)
            if part.body != quiet.body:
                break
        assert part.body != quiet.body
    finally:
        resp.close()


async def test_a_restart_ends_the_stream(api):
    resp = await open_stream(api, width=320, height=240, fps=5)
    try:
        boundary = boundary_of(resp)
        await asyncio.wait_for(read_part(resp, boundary), 10)
        assert (await api.get("/api/system/restart")).json == {"success": True}

        async def drain() -> None:
            while await resp.content.readany():
                pass

        # The device goes down: the stream ends (cut off, as a rebooting device's connection is).
        with pytest.raises((aiohttp.ClientPayloadError, aiohttp.ClientConnectionError)):
            await asyncio.wait_for(drain(), 5)
    finally:
        resp.close()


async def test_a_viewer_that_leaves_leaves_nothing_behind(make_emulator, make_client):
    emu = await make_emulator()
    api = make_client(emu)
    await asyncio.sleep(0.1)
    before = len(asyncio.all_tasks())  # no connection yet: the test and the emulator's own tasks

    resp = await open_stream(api, width=320, height=240, fps=10)
    boundary = boundary_of(resp)
    for _ in range(3):
        await asyncio.wait_for(read_part(resp, boundary), 10)
    assert len(asyncio.all_tasks()) > before  # the server is serving the stream
    resp.close()

    # The server notices at its next frame, at most 0.1 s later; allow plenty.
    deadline = time.monotonic() + 3
    while len(asyncio.all_tasks()) > before and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert len(asyncio.all_tasks()) <= before, asyncio.all_tasks()

    # And nothing keeps rendering frames for nobody.
    encodes = emu.camera.encodes
    await asyncio.sleep(0.5)
    assert emu.camera.encodes == encodes

    # The device still serves the next viewer.
    parts, _ = await read_parts(api, 2, width=320, height=240, fps=10)
    assert len(parts) == 2


async def test_many_viewers_share_one_encode_per_frame(make_emulator, make_client):
    emu = await make_emulator()
    api = make_client(emu)
    viewers = 20
    seconds = 1.0
    start_encodes = emu.camera.encodes
    started = time.monotonic()
    responses = await asyncio.gather(*(open_stream(api, width=320, height=240, fps=10) for _ in range(viewers)))
    counts = [0] * viewers

    async def watch(i: int, resp: aiohttp.ClientResponse) -> None:
        boundary = boundary_of(resp)
        while time.monotonic() - started < seconds:
            part = await asyncio.wait_for(read_part(resp, boundary), 10)
            assert int(part.headers["content-length"]) == len(part.body)
            counts[i] += 1

    try:
        await asyncio.gather(*(watch(i, resp) for i, resp in enumerate(responses)))
    finally:
        for resp in responses:
            resp.close()
    elapsed = time.monotonic() - started
    encodes = emu.camera.encodes - start_encodes

    assert all(count >= 3 for count in counts), counts  # every viewer was served
    # Frames live on a 15 Hz grid and each is encoded once, whoever watches: at most 15 a
    # second (plus a frame or two at the edges), where 20 separate viewers would need ~200.
    assert encodes <= 15 * elapsed + 3, (encodes, elapsed, counts)
    assert encodes < sum(counts) / 4, (encodes, counts)
