"""truncate: announce the whole body (Content-Length) but send only `fraction` of it, then close."""

from __future__ import annotations

from emulator.api.dispatch import drop
from emulator.control.faults.base import FaultError, Param, RequestFault, send_by_hand


class Truncate(RequestFault):
    kind = "truncate"
    params = {"fraction": Param(float, 0.5, "the part of the body that is sent, from 0 up to (not including) 1")}

    def check(self) -> None:
        if not 0 <= self.values["fraction"] < 1:
            raise FaultError("fraction: from 0 up to (not including) 1")

    async def apply(self, request, respond, emulator):
        reply = await respond()
        started = await send_by_hand(request, reply)
        if started is None:
            return reply
        stream, body = started
        await stream.write(body[:int(len(body) * self.values["fraction"])])
        return drop(request)
