"""The physical world, by name: what a test (HTTP, Python or scenario) can make happen.

Each action is a plain function of the emulator and typed keyword parameters; its signature is
its schema. The control API, the Python handle and scenarios all call `run(emulator, name, params)`.
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any
from collections.abc import Callable

from emulator.control.faults import FaultError
from emulator.device.calls import END_REASONS
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator


def press(e: Emulator, key: str) -> None:
    """A key pressed and released: "0"-"9", "*", "#", or a call button "%1".."%N"."""
    e.device.press(key)


def key_down(e: Emulator, key: str) -> None:
    e.device.press_key(key)


def key_up(e: Emulator, key: str) -> None:
    e.device.release_key(key)


def code(e: Emulator, code: str) -> dict:
    """A code typed on the keypad (access point 0); a switch code opens its switch, a user's PIN
    or switch code opens theirs when the user may pass (validity, access point, blocking)."""
    return {"valid": e.device.enter_code(code)}


def card(e: Emulator, uid: str, direction: str = "any", reader: str = "") -> dict:
    """A card held to the reader ("out": the Exit access point); a directory user's card opens
    that user's switch when the user may pass."""
    return {"valid": e.device.swipe_card(uid, direction, reader or None)}


def mobile_key(e: Emulator, authid: str, direction: str = "in", action: int = 0) -> dict:
    """A phone presents a Bluetooth mobile key: `authid` of its pairing (a user's
    `access.mobkey`); MobKeyEntered, then the user passes or is refused. Needs Bluetooth."""
    return {"valid": e.device.present_mobile_key(authid, direction, action)}


def wave(e: Emulator, type: str = "touch", authid: str = "") -> dict:  # noqa: A002 - the event's word
    """A wave at the Bluetooth reader (WaveKeyActivated); with `authid`, the phone then presents
    its mobile key. Needs Bluetooth."""
    e.device.wave(type)
    return {"valid": e.device.present_mobile_key(authid) if authid else None}


def input(e: Emulator, port: str, state: bool) -> None:  # noqa: A001 - the manual's word
    e.device.set_input(port, state)


def door(e: Emulator, open: bool) -> None:  # noqa: A002
    """The door opens or closes (its contact on the profile's door input)."""
    e.device.door(open)


def motion(e: Emulator, active: bool) -> None:
    e.device.set_motion(active)


def noise(e: Emulator, active: bool) -> None:
    e.device.set_noise(active)


def tamper(e: Emulator, active: bool) -> None:
    e.device.tamper(active)


def incoming_call(e: Emulator, peer: str) -> dict:
    """A peer calls the intercom (it rings until answered through the API)."""
    return {"session": e.device.phone.incoming(peer).session}


def peer_answers(e: Emulator, session: int) -> None:
    """The called peer picks up an outgoing call (a doorbell call is answered)."""
    e.device.phone.peer_answers(session)


def peer_hangs_up(e: Emulator, session: int, reason: str = "normal") -> None:
    if reason not in END_REASONS:
        raise FaultError(f"reason: one of {', '.join(END_REASONS)}")
    e.device.phone.peer_hangs_up(session, reason)


def peer_busy(e: Emulator, session: int) -> None:
    e.device.phone.peer_hangs_up(session, "busy")


def registration(e: Emulator, account: int, state: str) -> None:
    """A SIP account's registration changes: registered, unregistered, registering, unregistering."""
    if state not in ("registered", "unregistered", "registering", "unregistering"):
        raise FaultError("state: registered, unregistered, registering or unregistering")
    e.device.phone.set_registration(account, state)


def audio_result(e: Emulator, result: str) -> None:
    """What the next audio loop tests report: passed or failed."""
    if result not in ("passed", "failed"):
        raise FaultError("result: passed or failed")
    e.device.audio_result = result


ACTIONS: dict[str, Callable[..., Any]] = {fn.__name__.replace("_", "-"): fn for fn in (
    press, key_down, key_up, code, card, mobile_key, wave, input, door, motion, noise, tamper,
    incoming_call, peer_answers, peer_hangs_up, peer_busy, registration, audio_result,
)}


def describe() -> dict[str, dict[str, Any]]:
    out = {}
    for name, fn in ACTIONS.items():
        params = {p.name: {"type": p.annotation, "required": p.default is inspect.Parameter.empty}
                  for p in list(inspect.signature(fn).parameters.values())[1:]}
        out[name] = {"params": params, "doc": (fn.__doc__ or "").strip()}
    return out


_TYPES = {"str": str, "bool": bool, "int": int}


def check(name: str, params: dict[str, Any], emulator: Any = None) -> inspect.BoundArguments:
    """An action's name, parameter names and types checked (a scenario checks its steps with this
    when it is loaded); FaultError (a ValueError) on a bad name or value."""
    fn = ACTIONS.get(name)
    if fn is None:
        raise FaultError(f"unknown action {name!r}; actions: {', '.join(ACTIONS)}")
    signature = inspect.signature(fn)
    known = list(signature.parameters)[1:]
    unknown = sorted(p for p in params if p not in known)
    if unknown:  # named before any missing one: "kee" says more than "missing key"
        raise FaultError(f"{name}: {unknown[0]}: unknown parameter; parameters: {', '.join(known) or 'none'}")
    try:
        bound = signature.bind(emulator, **params)
    except TypeError as exc:
        raise FaultError(f"{name}: {exc}") from None
    for pname, value in list(bound.arguments.items())[1:]:
        expected = _TYPES[signature.parameters[pname].annotation]
        if expected is int and isinstance(value, str) and value.isascii() and value.isdigit():
            value = bound.arguments[pname] = int(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise FaultError(f"{name}: {pname} must be {expected.__name__}")
    return bound


def run(emulator: Emulator, name: str, params: dict[str, Any]) -> Any:
    """Run an action with JSON-ish parameters; FaultError (a ValueError) on a bad name or value."""
    bound = check(name, params, emulator)
    if not emulator.device.online and name != "audio-result":
        # A powered-down intercom feels no key, card or door (and must not journal a relay click).
        raise FaultError(f"{name}: the device is down (restarting); /_emulator/ready says when it is back")
    try:
        return ACTIONS[name](*bound.args, **bound.kwargs)
    except ApiError as exc:  # the device refused a value ("%9", an unknown card format): a bad parameter too
        raise FaultError(f"{name}: {exc.description}" + (f" ({exc.param})" if exc.param else "")) from None
