"""Logic inputs and outputs (ports): relay1, output1, led_secured, input1, tamper, ..."""

from __future__ import annotations

from collections.abc import Callable

from emulator.device.events import EventLog
from emulator.device.profile import PortSettings
from emulator.errors import invalid


class Port:
    __slots__ = ("name", "type", "state")

    def __init__(self, name: str, type_: str):
        self.name = name
        self.type = type_
        self.state = False

    @property
    def is_output(self) -> bool:
        return self.type == "output"


class Ports:
    """The device's ports, in the order io/caps lists them. Changes emit Input/OutputChanged."""

    def __init__(self, settings: tuple[PortSettings, ...], events: EventLog):
        self.events = events
        self._ports = {s.port: Port(s.port, s.type) for s in settings}
        # Called after an input changes, with (port, state): door monitoring and tamper hook in here.
        self.input_watchers: list[Callable[[Port], None]] = []

    def __iter__(self):
        return iter(self._ports.values())

    def __contains__(self, name: str) -> bool:
        return name in self._ports

    def get(self, name: str) -> Port:
        """A port by name; an unknown name is the client's invalid `port` parameter."""
        port = self._ports.get(name)
        if port is None:
            raise invalid("port")
        return port

    def set_output(self, name: str, state: bool) -> None:
        port = self.get(name)
        if not port.is_output:
            raise invalid("port")
        self._change(port, state, "OutputChanged")

    def set_input(self, name: str, state: bool) -> None:
        """Physical input change (a door contact, a button wired to input1, the tamper contact)."""
        port = self.get(name)
        if port.is_output:
            raise invalid("port")
        if self._change(port, state, "InputChanged"):
            for watcher in self.input_watchers:
                watcher(port)

    def drive(self, name: str, state: bool) -> None:
        """An output driven by a switch: same event as io/ctrl."""
        self._change(self._ports[name], state, "OutputChanged")

    def _change(self, port: Port, state: bool, event: str) -> bool:
        if port.state == state:
            return False
        port.state = state
        self.events.emit(event, port=port.name, state=state)
        return True

    def reset(self) -> None:
        for port in self._ports.values():
            port.state = False
