"""slow_body: send the reply's body in `chunk` byte pieces, `interval_ms` apart."""

from __future__ import annotations

import asyncio

from aiohttp import web

from emulator.control.faults.base import FaultError, RequestFault


class SlowBody(RequestFault):
    kind = "slow_body"
    params = {"chunk": (int, 16), "interval_ms": (float, 200.0)}

    def check(self) -> None:
        if self.values["chunk"] < 1 or self.values["interval_ms"] < 0:
            raise FaultError("chunk: at least 1; interval_ms: not negative")

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not isinstance(reply, web.Response) or not isinstance(reply.body, bytes):
            return reply
        body = reply.body
        stream = web.StreamResponse(status=reply.status, headers=reply.headers)
        stream.content_length = len(body)
        await stream.prepare(request)
        step = self.values["chunk"]
        for start in range(0, len(body), step):
            await stream.write(body[start:start + step])
            await asyncio.sleep(self.values["interval_ms"] / 1000)
        await stream.write_eof()
        return stream
