"""events: subscription channels drop, duplicate or delay events (optionally only the named ones).

`times` counts events hit; `probability` and `seed` pick which.
"""

from __future__ import annotations

from emulator.control.faults.base import Fault, FaultError, Param

MODES = ("drop", "duplicate", "delay")


class Events(Fault):
    kind = "events"
    scope = "events"
    params = {"mode": Param(str, "drop", "drop: channels never get the event; duplicate: they get it twice; "
                            "delay: they get it `seconds` late", MODES),
              "events": Param(list, None, "the event types hit (\"KeyPressed\", ...); every type when left out"),
              "seconds": Param(float, 1.0, "the delay of mode delay, in device seconds")}

    def check(self) -> None:
        if self.values["seconds"] < 0:
            raise FaultError("seconds: not negative")

    def hits_event(self, name: str) -> bool:
        names = self.values["events"]
        return (names is None or name in names) and self.roll()

    def deliveries(self) -> list[float]:
        """Delays (device seconds) at which the event reaches the channels: [] drops it."""
        mode = self.values["mode"]
        if mode == "drop":
            return []
        if mode == "duplicate":
            return [0.0, 0.0]
        return [self.values["seconds"]]
