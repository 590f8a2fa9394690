"""slow_body: send the reply's body in `chunk` byte pieces, `interval_ms` apart."""

from __future__ import annotations

import asyncio

from emulator.control.faults.base import FaultError, Param, RequestFault, send_by_hand


class SlowBody(RequestFault):
    kind = "slow_body"
    params = {"chunk": Param(int, 16, "bytes per piece"),
              "interval_ms": Param(float, 200.0, "milliseconds between pieces")}

    def check(self) -> None:
        if self.values["chunk"] < 1 or self.values["interval_ms"] < 0:
            raise FaultError("chunk: at least 1; interval_ms: not negative")

    async def apply(self, request, respond, emulator):
        reply = await respond()
        started = await send_by_hand(request, reply)
        if started is None:
            return reply
        stream, body = started
        step = self.values["chunk"]
        for start in range(0, len(body), step):
            await stream.write(body[start:start + step])
            await asyncio.sleep(self.values["interval_ms"] / 1000)
        await stream.write_eof()
        return stream
