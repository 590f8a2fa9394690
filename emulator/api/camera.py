"""Camera service: camera/caps and camera/snapshot (one JPEG, or an MJPEG stream with fps)."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from aiohttp import web

from emulator.api.call import Call
from emulator.api.replies import JPEG, Raw, Stream
from emulator.device import levels
from emulator.device.profile import Camera, Resolution
from emulator.errors import invalid

if TYPE_CHECKING:
    from emulator.app import Emulator

BOUNDARY = "HeliosMjpegBoundary"
MAX_FPS = 15


def caps(call: Call) -> dict:
    camera = call.device.profile.camera
    return {"jpegResolution": [{"width": r.width, "height": r.height} for r in camera.resolutions],
            "sources": [{"source": s} for s in camera.sources]}


def resolution(camera: Camera, width: int, height: int) -> Resolution:
    """The listed size asked for; 12 naming width or height when it is not listed, unless the
    profile is lenient, in which case the nearest listed size."""
    wanted = Resolution(width, height)
    if wanted in camera.resolutions:
        return wanted
    if camera.lenient_resolution:
        return min(camera.resolutions, key=lambda r: (abs(r.width * r.height - width * height), r.width))
    if not any(r.width == width for r in camera.resolutions):
        raise invalid("width")
    raise invalid("height")


def source(call: Call) -> str:
    camera = call.device.profile.camera
    name = call.params.get("source") or camera.default_source
    if name not in camera.sources:
        raise invalid("source")
    return name


async def snapshot(call: Call) -> Raw | web.StreamResponse:
    params = call.params
    camera = call.device.profile.camera
    width = params.int("width", required=True, lo=1, hi=10000)
    height = params.int("height", required=True, lo=1, hi=10000)
    size = resolution(camera, width, height)
    name = source(call)
    fps = params.int("fps", 0, hi=2**32 - 1)
    if fps > MAX_FPS:
        raise invalid("fps")
    if call.at_least(levels.CURRENT):
        params.int("time", 0, lo=-30, hi=0)  # frames from memory; accepted, checked
    if fps == 0:
        return Raw(await call.emulator.camera.jpeg(name, size.width, size.height), JPEG)
    return await _stream(call, name, size, fps)


async def _stream(call: Call, name: str, size: Resolution, fps: int) -> web.StreamResponse:
    return await mjpeg(call.request, call.emulator, name, size, fps, call.server)


async def mjpeg(request: web.BaseRequest, emulator: Emulator, name: str, size: Resolution, fps: int,
                server: str) -> Stream:
    """Server push: one complete JPEG part per frame at `fps`, until the client goes away (or the
    device does). The API's camera/snapshot and the front panel's camera both use it."""
    response = Stream(headers={
        "Server": server, "Content-Type": f"multipart/x-mixed-replace; boundary={BOUNDARY}",
        "Cache-Control": "no-cache", "Connection": "close"})
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    period = 1.0 / fps
    due = loop.time()
    device = emulator.device
    try:
        while device.online:
            frame = await emulator.camera.jpeg(name, size.width, size.height)
            head = f"--{BOUNDARY}\r\nContent-Type: {JPEG}\r\nContent-Length: {len(frame)}\r\n\r\n"
            await response.write(head.encode() + frame + b"\r\n")
            due = max(due + period, loop.time())
            await asyncio.sleep(due - loop.time())
    except ConnectionError:
        response.abandoned = True  # the viewer left
    return response
