"""The physical world, by name: what a test (HTTP, Python or scenario) can make happen.

Each action is a plain function of the emulator and typed keyword parameters; its signature is
its schema (Literal[...] lists the values a parameter may take) and its docstring its documentation
(what it does, then a `name: what it is` line per parameter), from which GET /_emulator/actions,
the OpenAPI document and the front panel are made. The control API, the Python handle and scenarios
all call `run(emulator, name, params)`.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import re
import typing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from collections.abc import Callable

from emulator.control.faults import FaultError
from emulator.device.calls import END_REASONS
from emulator.device.device import CARD_DIRECTIONS
from emulator.errors import ApiError, did_you_mean

if TYPE_CHECKING:
    from emulator.app import Emulator

log = logging.getLogger("emulator.control")


def press(e: Emulator, key: str) -> None:
    """A key pressed and released.

    key: "0"-"9", "*", "#" on a keypad, or a call button "%1".."%N" (it calls the peer of the
    directory user on that button)
    """
    e.device.press(key)


def key_down(e: Emulator, key: str) -> None:
    """A key pressed and held (KeyPressed only).

    key: "0"-"9", "*", "#", or a call button "%1".."%N"
    """
    e.device.press_key(key)


def key_up(e: Emulator, key: str) -> None:
    """A held key released (KeyReleased).

    key: "0"-"9", "*", "#", or a call button "%1".."%N"
    """
    e.device.release_key(key)


def code(e: Emulator, code: str) -> dict:
    """A code typed on the keypad; a valid switch or user code opens its switch. Result: {"valid"}.

    code: 2 to 16 digits
    """
    return {"valid": e.device.enter_code(code)}


def card(e: Emulator, uid: str, direction: Literal[CARD_DIRECTIONS] = "any", reader: str = "") -> dict:
    """A card held to the reader; a card of a directory user opens that user's switch. Result: {"valid"}.

    uid: the card's UID, 6 to 16 hexadecimal digits ("1A2B3C4D")
    direction: which way the holder goes (in, out, any)
    reader: the reader's name in CardEntered; the profile's card reader when empty
    """
    return {"valid": e.device.swipe_card(uid, direction, reader or None)}


def input(e: Emulator, port: str, state: bool) -> None:  # noqa: A001 - the manual's word
    """A digital input changes (InputChanged; the door contact and tamper inputs act as such).

    port: the input's name ("input1")
    state: true: active
    """
    e.device.set_input(port, state)


def door(e: Emulator, open: bool) -> None:  # noqa: A002
    """The door opens or closes (its contact on the profile's door input).

    open: true: the door opens; false: it closes
    """
    e.device.door(open)


def motion(e: Emulator, active: bool) -> None:
    """Someone moves in front of the camera (MotionDetected), or stops.

    active: true: motion starts; false: it ends
    """
    e.device.set_motion(active)


def noise(e: Emulator, active: bool) -> None:
    """The microphone hears noise (NoiseDetected), or it stops.

    active: true: noise starts; false: it ends
    """
    e.device.set_noise(active)


def tamper(e: Emulator, active: bool) -> None:
    """The tamper switch: someone opens the housing (TamperSwitchActivated).

    active: true: the housing is opened; false: closed again
    """
    e.device.tamper(active)


def incoming_call(e: Emulator, peer: str) -> dict:
    """A peer calls the intercom: it rings until answered. Result: {"session"}.

    peer: who calls ("sip:reception@example.com")
    """
    return {"session": e.device.phone.incoming(peer).session}


def intercom_answers(e: Emulator, session: int) -> None:
    """The intercom answers a ringing incoming call, as /api/call/answer does.

    session: the call's session number (/api/call/status)
    """
    e.device.phone.answer(session)


def peer_answers(e: Emulator, session: int) -> None:
    """The called peer picks up an outgoing call (a doorbell call is answered).

    session: the call's session number (/api/call/status)
    """
    e.device.phone.peer_answers(session)


def peer_hangs_up(e: Emulator, session: int, reason: Literal[END_REASONS] = "normal") -> None:
    """The peer ends a call.

    session: the call's session number (/api/call/status)
    reason: why the call ended, as CallStateChanged reports it
    """
    e.device.phone.peer_hangs_up(session, reason)


def peer_busy(e: Emulator, session: int) -> None:
    """The called peer is busy: the call ends with reason busy.

    session: the call's session number (/api/call/status)
    """
    e.device.phone.peer_hangs_up(session, "busy")


def registration(e: Emulator, account: int,
                 state: Literal["registered", "unregistered", "registering", "unregistering"]) -> None:
    """A SIP account's registration changes (RegistrationStateChanged).

    account: the SIP account, 1 to 4
    state: its new registration state
    """
    e.device.phone.set_registration(account, state)


def audio_result(e: Emulator, result: Literal["passed", "failed"]) -> None:
    """What the next audio loop tests report (AudioLoopTest).

    result: passed or failed
    """
    e.device.audio_result = result


ACTIONS: dict[str, Callable[..., Any]] = {fn.__name__.replace("_", "-"): fn for fn in (
    press, key_down, key_up, code, card, input, door, motion, noise, tamper,
    incoming_call, intercom_answers, peer_answers, peer_hangs_up, peer_busy, registration, audio_result,
)}
_TYPES = {str: "str", bool: "bool", int: "int"}


@dataclass(frozen=True)
class ActionParam:
    name: str
    type: type  # str, bool or int
    required: bool
    default: Any
    doc: str
    choices: tuple[Any, ...] | None


@functools.cache
def params_of(name: str) -> tuple[ActionParam, ...]:
    """An action's parameters, from its signature (types, Literal choices, defaults) and its
    docstring (a `name: what it is` line per parameter)."""
    fn = ACTIONS[name]
    hints = typing.get_type_hints(fn, localns={"Emulator": Any})  # Emulator: only for type checkers
    docs = dict(_DOC_LINE.findall(inspect.getdoc(fn) or ""))
    out = []
    for p in list(inspect.signature(fn).parameters.values())[1:]:
        hint = hints[p.name]
        choices = typing.get_args(hint) if typing.get_origin(hint) is Literal else None
        kind = type(choices[0]) if choices else hint
        required = p.default is inspect.Parameter.empty
        out.append(ActionParam(p.name, kind, required, None if required else p.default,
                               " ".join(docs.get(p.name, "").split()), choices))
    return tuple(out)


_DOC_LINE = re.compile(r"^(\w+): (.*(?:\n(?!\w+: ).+)*)", re.M)


def doc_of(name: str) -> str:
    """What an action does: its docstring before the parameters."""
    return (inspect.getdoc(ACTIONS[name]) or "").split("\n\n")[0].replace("\n", " ")


def describe() -> dict[str, dict[str, Any]]:
    return {name: {"doc": doc_of(name), "params": {
        p.name: {"type": _TYPES[p.type], "required": p.required, "default": p.default, "doc": p.doc,
                 "choices": list(p.choices) if p.choices else None}
        for p in params_of(name)}} for name in ACTIONS}


def check(name: str, params: dict[str, Any], emulator: Any = None) -> inspect.BoundArguments:
    """An action's name, parameter names and types checked (a scenario checks its steps with this
    when it is loaded); FaultError (a ValueError) on a bad name or value."""
    fn = ACTIONS.get(name)
    if fn is None:
        raise FaultError(f"unknown action {name!r}{did_you_mean(name, ACTIONS)}; actions: {', '.join(ACTIONS)}")
    signature = inspect.signature(fn)
    known = {p.name: p for p in params_of(name)}
    unknown = sorted(p for p in params if p not in known)
    if unknown:  # named before any missing one: "kee" says more than "missing key"
        raise FaultError(f"{name}: {unknown[0]}: unknown parameter{did_you_mean(unknown[0], known)}; "
                         f"parameters: {', '.join(known) or 'none'}")
    try:
        bound = signature.bind(emulator, **params)
    except TypeError as exc:
        raise FaultError(f"{name}: {exc}") from None
    for pname, value in list(bound.arguments.items())[1:]:
        param = known[pname]
        if param.type is int and isinstance(value, str) and value.isascii() and value.isdigit():
            value = bound.arguments[pname] = int(value)
        if not isinstance(value, param.type) or (param.type is int and isinstance(value, bool)):
            raise FaultError(f"{name}: {pname} must be {param.type.__name__}")
        if param.choices is not None and value not in param.choices:
            raise FaultError(f"{name}: {pname}: one of {', '.join(map(str, param.choices))}")
    return bound


def run(emulator: Emulator, name: str, params: dict[str, Any]) -> Any:
    """Run an action with JSON-ish parameters; FaultError (a ValueError) on a bad name or value."""
    bound = check(name, params, emulator)
    if not emulator.device.online and name != "audio-result":
        # A powered-down intercom feels no key, card or door (and must not journal a relay click).
        raise FaultError(f"{name}: the device is down (restarting); /_emulator/ready says when it is back")
    log.info("action %s %s", name, json.dumps(params, default=str), extra={"fields": {"action": name, "params": params}})
    try:
        return ACTIONS[name](*bound.args, **bound.kwargs)
    except ApiError as exc:  # the device refused a value ("%9", an unknown card format): a bad parameter too
        raise FaultError(f"{name}: {exc.description}" + (f" ({exc.param})" if exc.param else "")) from None
