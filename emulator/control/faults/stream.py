"""stream: live RTSP streams stall (no pictures for `seconds` of device time, then a key frame)
or are cut (the RTSP connection closes), as a camera on a bad network does.

It hits the sessions playing when it is added and those that start playing while it is in force;
`path` is a glob on the stream's path (default every stream), `times` counts sessions hit.
"""

from __future__ import annotations

from emulator.control.faults.base import Fault, FaultError, Param

MODES = ("stall", "cut")


class Stream(Fault):
    kind = "stream"
    scope = "stream"
    default_path = "/*"
    params = {"mode": Param(str, "stall", "stall: no pictures for `seconds`, then a key frame; cut: the RTSP "
                            "connection closes", MODES),
              "seconds": Param(float, 5.0, "how long a stall lasts, in device seconds (0 to 86400)")}

    def check(self) -> None:
        if not 0 < self.values["seconds"] <= 86400:
            raise FaultError("seconds: between 0 and 86400")
