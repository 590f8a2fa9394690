"""reboot: the device restarts now and refuses its API for `seconds` (a device fault: it acts
once, when added). Connections drop, waiting pulls end, channels and calls are gone; it comes
back with a fresh boot (uptime 0, event ids from 1)."""

from __future__ import annotations

from emulator.control.faults.base import DeviceFault, FaultError, Param


class Reboot(DeviceFault):
    kind = "reboot"
    params = {"seconds": Param(float, None, "how long the device is down, 0 to 3600; the profile's "
                               "restart_seconds when not given")}

    def check(self) -> None:
        seconds = self.values["seconds"]
        if seconds is not None and not 0 <= seconds <= 3600:
            raise FaultError("seconds: between 0 and 3600 (default: the profile's restart time)")

    def act(self, emulator) -> None:
        emulator.device.restart(offline=self.values["seconds"])
