"""JPEG frames of the device's cameras, encoded once and shared.

Frames live on a 15 Hz grid of device time: every client that wants (source, size) within the
same 1/15 s gets the same bytes from one encode, however many MJPEG viewers are watching. Encoding
runs in a worker thread (Pillow releases the GIL), so the event loop keeps serving long-polls.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import TYPE_CHECKING

from emulator.media import frames

if TYPE_CHECKING:
    from emulator.device.device import Device

GRID_HZ = 15  # the device's top MJPEG rate; no client can see two frames within one grid step
CACHE_FRAMES = 64


class Camera:
    def __init__(self, device: Device):
        self.device = device
        self._frames: OrderedDict[tuple, asyncio.Future[bytes]] = OrderedDict()
        self.encodes = 0  # how many frames were rendered and encoded (a benchmark figure)

    async def jpeg(self, source: str, width: int, height: int) -> bytes:
        device = self.device
        now = device.now()
        tick = int(now * GRID_HZ)
        key = (source, width, height, tick, device.motion, device.identity.device_name)
        future = self._frames.get(key)
        if future is None:
            scene = self.scene(source, width, height, tick / GRID_HZ, device.clock.monotonic())
            loop = asyncio.get_running_loop()
            future = asyncio.ensure_future(loop.run_in_executor(None, frames.jpeg, scene))
            self._frames[key] = future
            self.encodes += 1
            while len(self._frames) > CACHE_FRAMES:
                self._frames.popitem(last=False)
        # shield: a client that goes away must not cancel the encode other clients wait for.
        return await asyncio.shield(future)

    def scene(self, source: str, width: int, height: int, when: float, monotonic: float) -> frames.Scene:
        """What the camera sees at device wall time `when` (`monotonic` on the device's clock, for
        the frame counter: 1/15 s steps since boot). Snapshots, MJPEG and RTSP all show this."""
        device = self.device
        return frames.Scene(
            device_name=device.identity.device_name, source=source, width=width, height=height,
            when=when, tz_shift=device.events.tz_shift, frame=max(int((monotonic - device.boot_at) * GRID_HZ), 0),
            motion=device.motion,
            still=device.profile.camera.stills.get(source, "") if device.profile.camera else "",
        )
