"""hang: accept the request and never answer; the connection closes when the client gives up
(or after `seconds`, so nothing waits forever)."""

from __future__ import annotations

import asyncio

from emulator.api.dispatch import drop
from emulator.control.faults.base import FaultError, Param, RequestFault

POLL = 0.05


class Hang(RequestFault):
    kind = "hang"
    params = {"seconds": Param(float, 600.0, "close the connection after this long at the latest (0 to 86400)")}

    def check(self) -> None:
        if not 0 < self.values["seconds"] <= 86400:
            raise FaultError("seconds: between 0 and 86400")

    async def apply(self, request, respond, emulator):
        loop = asyncio.get_running_loop()
        until = loop.time() + self.values["seconds"]
        while request.transport is not None and not request.transport.is_closing() and loop.time() < until:
            await asyncio.sleep(POLL)
        return drop(request)
