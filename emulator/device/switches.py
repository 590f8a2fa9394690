"""Switches 1-4: monostable (auto-off after switchOnDuration) or bistable, lock and hold.

Every change of a switch's active state emits SwitchStateChanged, and an OutputChanged for the
port the switch drives. On current firmware it names its `originator`; when an access point opened
the switch it also carries that access point and its session, linking it to the credential that
opened it: `{"ap": 0, "session": 1, "switch": 1, "state": true, "originator": "ap"}` (a recording
of a real device).
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.device.clock import Timer, Timers
from emulator.device.events import EventLog
from emulator.device.io import Ports
from emulator.device.profile import SwitchSettings
from emulator.errors import failed, invalid

ACTIONS_2_15 = ("on", "off", "trigger")
ACTIONS_CURRENT = ACTIONS_2_15 + ("lock", "unlock", "hold", "release")


@dataclass
class SwitchConfig:
    """The switch's settings (Hardware / Switches in the web interface); round-trips in /api/config."""

    enabled: bool
    mode: str
    duration: int
    type: str
    output: str
    codes: list[str]

    @classmethod
    def from_profile(cls, s: SwitchSettings) -> SwitchConfig:
        return cls(s.enabled, s.mode, s.duration, s.type, s.output, list(s.codes))


class Switch:
    def __init__(self, number: int, config: SwitchConfig, bank: Switches):
        self.number = number
        self.config = config
        self._bank = bank
        self.active = False
        self.locked = False
        self.held = False
        self.hold_timeout = 0  # seconds the current hold lasts; 0 = until released
        self._off_timer: Timer | None = None
        self._hold_timer: Timer | None = None
        self._originator = "api"  # who activated it; the auto-off is theirs too
        self._access: tuple[int, int] | None = None  # (ap, session) of an access point's activation

    # -- what the API and the physical world do --------------------------------------------

    def on(self, originator: str = "api", access: tuple[int, int] | None = None) -> None:
        """Activate; `access` = (access point, session) when an access point opens the switch."""
        self._refuse_if_locked()
        self._originator, self._access = originator, access
        self._set(True, originator, access)
        if self.config.mode == "monostable" and not self.held:
            # Re-activating a monostable switch restarts its timer.
            self._cancel(self._off_timer)
            self._off_timer = self._bank.timers.later(self.config.duration, self._auto_off)

    def off(self, originator: str = "api") -> None:
        self._cancel(self._off_timer)
        self._off_timer = None
        if not self.held:
            self._set(False, originator)

    def trigger(self, originator: str = "api") -> None:
        """Activate a monostable switch; toggle a bistable one (manual 5.4.3 of newer firmware)."""
        if self.config.mode == "bistable" and self.active:
            self.off(originator)
        else:
            self.on(originator)

    def lock(self, originator: str = "api") -> None:
        """Locked: held inactive, nothing may activate it. Lock beats hold."""
        self.locked = True
        self._cancel(self._off_timer)
        self._off_timer = None
        self._set(False, originator)

    def unlock(self, originator: str = "api") -> None:
        self.locked = False
        if self.held:
            self._set(True, originator)

    def hold(self, timeout: int = 0, originator: str = "api") -> None:
        """Held: kept active until released (or for `timeout` seconds)."""
        self.held = True
        self.hold_timeout = timeout
        self._cancel(self._off_timer)
        self._off_timer = None
        self._cancel(self._hold_timer)
        self._hold_timer = self._bank.timers.later(timeout, self.release, "api") if timeout else None
        if not self.locked:
            self._set(True, originator)

    def release(self, originator: str = "api") -> None:
        self.held = False
        self.hold_timeout = 0
        self._cancel(self._hold_timer)
        self._hold_timer = None
        self._set(False, originator)

    def act(self, action: str, timeout: int = 0, originator: str = "api") -> None:
        if not self.config.enabled:
            raise invalid("switch")
        if action == "hold":
            self.hold(timeout, originator)
        else:
            getattr(self, action)(originator)

    # -- internals -------------------------------------------------------------------------

    def _refuse_if_locked(self) -> None:
        if self.locked:
            raise failed("switch is locked")

    def _auto_off(self) -> None:
        self._off_timer = None
        if not self.held:
            self._set(False, self._originator, self._access)

    def _set(self, state: bool, originator: str, access: tuple[int, int] | None = None) -> None:
        if self.active == state:
            return
        self.active = state
        if self._bank.originators:
            params: dict = {"ap": access[0], "session": access[1]} if access is not None else {}
            params.update(switch=self.number, state=state, originator=originator)
        else:
            params = {"switch": self.number, "state": state}
        self._bank.events.emit("SwitchStateChanged", **params)
        if self.config.output:
            self._bank.ports.drive(self.config.output, state)

    @staticmethod
    def _cancel(timer: Timer | None) -> None:
        if timer is not None:
            timer.cancel()


class Switches:
    def __init__(self, configs: list[SwitchConfig], events: EventLog, ports: Ports, timers: Timers,
                 originators: bool):
        self.events = events
        self.ports = ports
        self.timers = timers
        self.originators = originators  # newer firmware names who changed the switch
        self._switches = [Switch(i + 1, c, self) for i, c in enumerate(configs)]

    def __iter__(self):
        return iter(self._switches)

    def __len__(self) -> int:
        return len(self._switches)

    def get(self, number: int) -> Switch:
        if not 1 <= number <= len(self._switches):
            raise invalid("switch")
        return self._switches[number - 1]

    def by_code(self, code: str) -> Switch | None:
        for switch in self._switches:
            if switch.config.enabled and code in switch.config.codes:
                return switch
        return None
