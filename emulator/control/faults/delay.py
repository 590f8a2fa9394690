"""delay: answer late: `ms` milliseconds, plus up to `jitter_ms` more (seeded)."""

from __future__ import annotations

import asyncio

from emulator.control.faults.base import FaultError, Param, RequestFault


class Delay(RequestFault):
    kind = "delay"
    params = {"ms": Param(float, 1000.0, "milliseconds before the reply"),
              "jitter_ms": Param(float, 0.0, "up to this many milliseconds more, drawn at random (seeded)")}

    def check(self) -> None:
        if self.values["ms"] < 0 or self.values["jitter_ms"] < 0:
            raise FaultError("ms, jitter_ms: must not be negative")

    async def apply(self, request, respond, emulator):
        extra = self._rng.uniform(0, self.values["jitter_ms"]) if self.values["jitter_ms"] else 0.0
        await asyncio.sleep((self.values["ms"] + extra) / 1000)
        return await respond()
