"""I/O service: io/caps, io/status, io/ctrl."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import TEXT, Raw
from emulator.device.io import Port


def _selected(call: Call) -> list[Port]:
    name = call.params.get("port")
    ports = call.device.ports
    return list(ports) if name is None else [ports.get(name)]


def caps(call: Call) -> dict:
    return {"ports": [{"port": p.name, "type": p.type} for p in _selected(call)]}


def status(call: Call) -> dict:
    # state is the integer 0/1 (events carry booleans).
    return {"ports": [{"port": p.name, "state": int(p.state)} for p in _selected(call)]}


def ctrl(call: Call) -> Raw | None:
    params = call.params
    port = params.required("port")
    action = params.choice("action", ("on", "off"), required=True)
    call.device.ports.set_output(port, action == "on")
    response = params.get("response")
    return None if response is None else Raw(response.encode(), TEXT)
