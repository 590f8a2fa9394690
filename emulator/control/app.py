"""The control plane over HTTP: /_emulator/... (JSON in, JSON out).

    GET    /_emulator/health                liveness: 200 once every listener serves
    GET    /_emulator/ready                 readiness: 200 while the device is up (503 while it reboots)
    GET    /_emulator/actions               the actions and their parameters
    POST   /_emulator/actions/{name}        make it happen: {"key": "%1"}
    GET    /_emulator/clock                 {"virtual", "time", "uptime", "pending"}
    POST   /_emulator/clock                 {"advance": seconds} (virtual clock only)
    GET    /_emulator/faults                the faults in force
    POST   /_emulator/faults                {"kind": "delay", "ms": 500, "path": "/api/log/pull", "times": 1}
    DELETE /_emulator/faults[/{id}]         remove one, or all
    GET    /_emulator/journal?kind=&...     entries, filtered by any field (path=/api/switch/*)
    DELETE /_emulator/journal               clear it
    GET    /_emulator/state                 the whole device state
    PUT    /_emulator/state                 put a state back
    POST   /_emulator/reset                 back to the profile's defaults, freshly booted
    GET    /_emulator/scenarios             loaded scenarios and their progress
    POST   /_emulator/scenarios             start one (TOML text, or JSON)

With --control-token every path but health and ready needs `Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json
import math
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.control import actions, state
from emulator.control.faults import FaultError
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN = frozenset({"/_emulator/health", "/_emulator/ready"})


def routes(emulator: Emulator) -> list[web.RouteDef]:
    c = Control(emulator)
    table = [
        web.get("/_emulator/health", c.health),
        web.get("/_emulator/ready", c.ready),
        web.get("/_emulator/actions", c.list_actions),
        web.post("/_emulator/actions/{name}", c.act),
        web.get("/_emulator/clock", c.clock),
        web.post("/_emulator/clock", c.advance),
        web.get("/_emulator/faults", c.faults),
        web.post("/_emulator/faults", c.add_fault),
        web.delete("/_emulator/faults", c.clear_faults),
        web.delete("/_emulator/faults/{id}", c.remove_fault),
        web.get("/_emulator/journal", c.journal),
        web.delete("/_emulator/journal", c.clear_journal),
        web.get("/_emulator/state", c.get_state),
        web.put("/_emulator/state", c.put_state),
        web.post("/_emulator/reset", c.reset),
        web.get("/_emulator/scenarios", c.scenarios),
        web.post("/_emulator/scenarios", c.start_scenario),
    ]
    return [web.route(r.method, r.path, _remembered(emulator, r.handler)) for r in table]


def _remembered(emulator: Emulator, handler: Handler) -> Handler:
    """Remember the connection as a control-plane one: a device reboot leaves it open."""

    async def handle(request: web.Request) -> web.StreamResponse:
        emulator.control_transports.add(request.transport)
        return await handler(request)

    return handle


def token_middleware(token: str) -> Callable[..., Any]:
    expected = f"Bearer {token}".encode()

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith("/_emulator/") and request.path not in OPEN:
            given = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(given, expected):
                return _error("control token required (Authorization: Bearer <token>)", 401)
        return await handler(request)

    return check


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda d: json.dumps(d, default=str))


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _body(request: web.Request) -> Any:
    if not request.body_exists:
        return {}
    try:
        return await request.json()
    except (ValueError, UnicodeDecodeError):
        raise web.HTTPBadRequest(text=json.dumps({"error": "the body is not JSON"}),
                                 content_type="application/json") from None


class Control:
    def __init__(self, emulator: Emulator):
        self.e = emulator

    async def health(self, request: web.Request) -> web.Response:
        """Liveness: every listener serves (the device may be rebooting)."""
        return _json(self.e.health(), 200 if self.e.serving else 503)

    async def ready(self, request: web.Request) -> web.Response:
        """Readiness: listeners serve and the device is up."""
        ok = self.e.serving and self.e.device.online
        return _json(self.e.health(), 200 if ok else 503)

    async def list_actions(self, request: web.Request) -> web.Response:
        return _json(actions.describe())

    async def act(self, request: web.Request) -> web.Response:
        params = await _body(request)
        if not isinstance(params, dict):
            return _error("the parameters are a JSON object")
        try:
            result = actions.run(self.e, request.match_info["name"], params)
        except (ValueError, ApiError) as exc:
            return _error(_message(exc))
        return _json({"ok": True, "result": result})

    async def clock(self, request: web.Request) -> web.Response:
        return _json(self.e.clock_status())

    async def advance(self, request: web.Request) -> web.Response:
        body = await _body(request)
        seconds = body.get("advance") if isinstance(body, dict) else None
        if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or not 0 <= seconds < math.inf:
            return _error("advance: seconds, not negative (and not NaN or Infinity)")
        if not self.e.clock.virtual:
            return _error("the clock is real; start with --clock virtual to move it by hand", 409)
        self.e.advance(seconds)
        return _json(self.e.clock_status())

    async def faults(self, request: web.Request) -> web.Response:
        return _json([f.describe() for f in self.e.faults.list()])

    async def add_fault(self, request: web.Request) -> web.Response:
        spec = await _body(request)
        if not isinstance(spec, dict):
            return _error("a fault is a JSON object")
        try:
            fault = self.e.faults.add(spec)
        except FaultError as exc:
            return _error(str(exc))
        return _json(fault.describe(), 201)

    async def clear_faults(self, request: web.Request) -> web.Response:
        self.e.faults.clear()
        return _json({"ok": True})

    async def remove_fault(self, request: web.Request) -> web.Response:
        try:
            fault_id = int(request.match_info["id"])
        except ValueError:
            return _error("a fault id is a number", 404)
        if not self.e.faults.remove(fault_id):
            return _error("no such fault", 404)
        return _json({"ok": True})

    async def journal(self, request: web.Request) -> web.Response:
        filters = dict(request.query)
        kind = filters.pop("kind", None)
        return _json(self.e.journal.find(kind, **filters))

    async def clear_journal(self, request: web.Request) -> web.Response:
        self.e.journal.clear()
        return _json({"ok": True})

    async def get_state(self, request: web.Request) -> web.Response:
        return _json(state.snapshot(self.e))

    async def put_state(self, request: web.Request) -> web.Response:
        try:
            state.restore(self.e, await _body(request))
        except state.StateError as exc:
            return _error(str(exc))
        return _json(state.snapshot(self.e))

    async def reset(self, request: web.Request) -> web.Response:
        self.e.reset()
        return _json(state.snapshot(self.e))

    async def scenarios(self, request: web.Request) -> web.Response:
        return _json([s.describe() for s in self.e.scenarios.loaded.values()])

    async def start_scenario(self, request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            source: Any = await _body(request)
        else:
            source = await request.text()
        try:
            scenario = self.e.scenarios.start(source)
        except FaultError as exc:
            return _error(str(exc))
        return _json(scenario.describe(), 201)


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.description}" + (f" ({exc.param})" if exc.param else "")
    return str(exc)
