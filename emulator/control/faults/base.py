"""What every fault has: an id, its parameters, and (for request faults) which requests it hits.

A fault kind is one small class in its own file, registered by its `kind` name; its docstring is
its documentation. Parameters are declared once (`params`: name -> Param(type, default, doc,
choices)) and checked when the fault is added, so a typo in a test fails loudly instead of silently
injecting nothing; the control plane's OpenAPI document and the front panel's forms are made from
the same declarations.
"""

from __future__ import annotations

import fnmatch
import math
import random
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.errors import did_you_mean

if TYPE_CHECKING:
    from emulator.app import Emulator

Respond = Callable[[], Awaitable[web.StreamResponse]]
REQUIRED = object()
MAX_DEPTH = 32  # nesting of what the control plane takes (JSON, TOML); the deepest real one (a state) is 4


class FaultError(ValueError):
    """A fault specification that cannot be used; the message says which field and why."""


class Param(NamedTuple):
    """One parameter of a fault: its type, its default (REQUIRED: none), what it does, and the
    values it may take (None: any of its type)."""

    type: Any
    default: Any
    doc: str
    choices: tuple[Any, ...] | None = None


# What every fault takes, besides its kind's own parameters ("path" defaults to the kind's
# default_path; request faults use them all, event faults times, probability and seed; device
# faults act once and ignore them).
COMMON = {
    "path": Param(str, "/api/*", "which requests: a glob of the decoded path (\"/api/switch/*\")"),
    "methods": Param(list, None, "which methods (\"GET\", \"POST\", ...); all when left out"),
    "authenticated": Param(bool, False, "hit only requests that authenticated with an account (not public "
                           "functions like system/info, nor services with auth none)"),
    "times": Param(int, None, "hit this many requests (or events), then recover; for ever when left out"),
    "probability": Param((int, float), 1.0, "the chance that a matching request (or event) is hit, 0 to 1"),
    "seed": Param(int, None, "seeds the probability's draws, for a reproducible run"),
}


class Fault:
    kind: ClassVar[str]
    scope: ClassVar[str] = "request"  # "request": wraps matching /api requests; "device": acts once
    params: ClassVar[dict[str, Param]] = {}
    default_path: ClassVar[str] = "/api/*"

    def __init__(self, fault_id: int, spec: dict[str, Any]):
        self.id = fault_id
        spec = dict(spec)
        spec.pop("kind", None)
        self.path = _take(spec, "path", COMMON["path"]._replace(default=self.default_path))
        methods = _take(spec, "methods", COMMON["methods"])
        self.methods = None if methods is None else frozenset(str(m).upper() for m in methods)
        self.authenticated = _take(spec, "authenticated", COMMON["authenticated"])
        self.times = _take(spec, "times", COMMON["times"])
        if self.times is not None and self.times < 1:
            raise FaultError("times: must be at least 1 (leave it out for a fault that stays)")
        self.probability = float(_take(spec, "probability", COMMON["probability"]))
        if not 0.0 <= self.probability <= 1.0:
            raise FaultError("probability: must be between 0 and 1")
        self.seed = _take(spec, "seed", COMMON["seed"])
        self._rng = random.Random(self.seed)
        self.hits = 0
        self.values = {name: _take(spec, name, param) for name, param in self.params.items()}
        if spec:
            unknown = sorted(spec)[0]
            raise FaultError(f"{unknown}: unknown parameter of fault {self.kind!r}{did_you_mean(unknown, self.known())}")
        self.check()

    @classmethod
    def known(cls) -> list[str]:
        """Every parameter this kind takes."""
        return ["kind", *COMMON, *cls.params]

    def check(self) -> None:
        """Validate the kind's own parameters (raise FaultError)."""

    def matches(self, method: str, path: str, authenticated: bool = False) -> bool:
        if self.methods is not None and method not in self.methods:
            return False
        if self.authenticated and not authenticated:
            return False
        return fnmatch.fnmatchcase(path, self.path) and self.roll()

    def roll(self) -> bool:
        """Whether this occasion is hit. Probability 0 never fires and 1 always does, without a
        draw, so the seeded sequence is used only by faults that are really random."""
        return self.probability >= 1.0 or (self.probability > 0.0 and self._rng.random() < self.probability)

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "scope": self.scope, "path": self.path,
                "methods": sorted(self.methods) if self.methods else None, "authenticated": self.authenticated,
                "times": self.times,
                "probability": self.probability, "seed": self.seed, "hits": self.hits, **self.values}


class RequestFault(Fault):
    async def apply(self, request: web.Request, respond: Respond, emulator: Emulator) -> web.StreamResponse:
        raise NotImplementedError


async def send_by_hand(request: web.Request, reply: web.StreamResponse) -> tuple[web.StreamResponse, bytes] | None:
    """Start sending a finished reply ourselves: status and headers with the full Content-Length;
    the body is the caller's to write (slowly, or only in part). None for a reply that streams."""
    if not isinstance(reply, web.Response) or not isinstance(reply.body, bytes):
        return None
    stream = web.StreamResponse(status=reply.status, headers=reply.headers)
    stream.content_length = len(reply.body)
    await stream.prepare(request)
    return stream, reply.body


class DeviceFault(Fault):
    scope = "device"

    def act(self, emulator: Emulator) -> None:
        raise NotImplementedError


def _take(spec: dict[str, Any], name: str, param: Param) -> Any:
    kind, default = param.type, param.default
    if name not in spec:
        if default is REQUIRED:
            raise FaultError(f"{name}: required")
        return default
    value = spec.pop(name)
    if value is None and default is None:
        return None
    numeric = kind in (int, float, (int, float))
    if isinstance(value, bool) and numeric or not isinstance(value, kind):
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        raise FaultError(f"{name}: expected {getattr(kind, '__name__', 'a number')}, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):  # JSON allows NaN and Infinity
        raise FaultError(f"{name}: a finite number, got {value!r}")
    if param.choices is not None and value not in param.choices:
        raise FaultError(f"{name}: one of {', '.join(map(str, param.choices))}")
    return value


def check_tree(data: Any, what: str, limit: int = MAX_DEPTH) -> None:
    """FaultError when the lists and tables of a control-plane input nest deeper than `limit`, or
    a string in it is no valid Unicode (JSON's "\\ud800": no reply could ever carry it). Walked
    without recursion."""
    stack: list[tuple[Any, int]] = [([data], 0)]
    while stack:
        value, depth = stack.pop()
        children = (x for item in value.items() for x in item) if isinstance(value, dict) else value
        for child in children:
            if isinstance(child, str):
                if not child.isascii():
                    try:
                        child.encode("utf-8")
                    except UnicodeEncodeError as exc:
                        raise FaultError(f"{what} holds {child[exc.start]!r}, which is no Unicode character") from None
            elif isinstance(child, (dict, list)):
                if depth >= limit:
                    raise FaultError(f"{what} is nested more than {limit} levels deep")
                stack.append((child, depth + 1))
