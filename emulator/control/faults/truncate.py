"""truncate: announce the whole body (Content-Length) but send only `fraction` of it, then close."""

from __future__ import annotations

from aiohttp import web

from emulator.api.dispatch import drop
from emulator.control.faults.base import FaultError, RequestFault


class Truncate(RequestFault):
    kind = "truncate"
    params = {"fraction": (float, 0.5)}

    def check(self) -> None:
        if not 0 <= self.values["fraction"] < 1:
            raise FaultError("fraction: from 0 up to (not including) 1")

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not isinstance(reply, web.Response) or not isinstance(reply.body, bytes):
            return reply
        body = reply.body
        stream = web.StreamResponse(status=reply.status, headers=reply.headers)
        stream.content_length = len(body)
        await stream.prepare(request)
        await stream.write(body[:int(len(body) * self.values["fraction"])])
        return drop(request)
