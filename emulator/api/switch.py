"""Switch service: switch/caps, switch/status, switch/ctrl."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import TEXT, Raw
from emulator.device import levels
from emulator.device.switches import ACTIONS_2_15, ACTIONS_CURRENT, Switch


def _selected(call: Call) -> list[Switch]:
    number = call.params.int("switch", None, lo=0, hi=99)
    switches = call.device.switches
    return list(switches) if number is None else [switches.get(number)]


def caps(call: Call) -> dict:
    out = []
    for switch in _selected(call):
        c = switch.config
        if not c.enabled:
            # Disabled switches carry only their number and enabled (py2n relies on it).
            out.append({"switch": switch.number, "enabled": False})
            continue
        entry = {"switch": switch.number, "enabled": True, "mode": c.mode}
        if c.mode == "monostable":
            entry["switchOnDuration"] = c.duration
        entry["type"] = c.type
        out.append(entry)
    return {"switches": out}


def status(call: Call) -> dict:
    current = call.at_least(levels.CURRENT)
    hold_timeout = call.at_least(levels.HOLD_TIMEOUT)
    out = []
    for switch in _selected(call):
        entry = {"switch": switch.number, "active": switch.active}
        if current:
            entry["locked"] = switch.locked
            entry["held"] = switch.held
        if hold_timeout and switch.hold_timeout:
            # Manual 5.4.2: present only while a hold with a timeout is in force.
            entry["holdTimeout"] = switch.hold_timeout
        out.append(entry)
    return {"switches": out}


def ctrl(call: Call) -> Raw | None:
    params = call.params
    number = params.int("switch", required=True, lo=0, hi=99)
    actions = ACTIONS_CURRENT if call.at_least(levels.CURRENT) else ACTIONS_2_15
    action = params.choice("action", actions, required=True)
    # twoen sends timeout=0 with every action; 0 means "no timeout" for hold.
    timeout = params.int("timeout", 0, lo=0, hi=86400) if call.at_least(levels.HOLD_TIMEOUT) else 0
    call.device.switches.get(number).act(action, timeout)
    response = params.get("response")
    return None if response is None else Raw(response.encode(), TEXT)
