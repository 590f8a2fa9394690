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

Who may use it (health and ready answer everyone, for health checks):
- with a token (--control-token, --control-token-file, HELIOS_CONTROL_TOKEN[_FILE]), any client
  that sends `Authorization: Bearer <token>`, and no other (loopback included);
- without one, clients on the loopback interface only (403 for others, saying how to open it),
  unless --control-open opens it to every client that reaches the port.

Every answer is JSON, errors included: `{"error": "..."}` with a 4xx status naming what is wrong
with the request (unknown path 404, wrong method 405, a body that is too big 413, not UTF-8, not
JSON or nested too deeply 400, a bad fault or state 400), whatever the handler.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import math
import re
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator import connections
from emulator.control import actions, journal, state
from emulator.control.faults import FaultError
from emulator.control.faults.base import MAX_DEPTH, check_tree
from emulator.control.state import StateError
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
OPEN = frozenset({"/_emulator/health", "/_emulator/ready"})
MAX_BODY = 8 * 1024 * 1024  # a state with its configuration XML and display image fits many times over
HOW_TO_OPEN = ("the control plane answers only clients on this machine (loopback); to reach it from another "
               "host start the emulator with a token (--control-token-file FILE, or HELIOS_CONTROL_TOKEN) "
               "and send 'Authorization: Bearer <token>', or open it to everyone with --control-open")


class ControlError(Exception):
    """A request the control plane cannot use: answered `{"error": message}` with `status`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status


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
    known = [(r.method, re.compile("^" + re.sub(r"\{\w+\}", "[^/]+", r.path) + "$")) for r in table]
    # Last: every other /_emulator path (or method) gets a JSON 404 (405) instead of aiohttp's text.
    table += [web.route("*", "/_emulator", c.unknown), web.route("*", r"/_emulator/{tail:[\s\S]*}", c.unknown)]
    c.known = known
    return [web.route(r.method, r.path, _guarded(emulator, r.handler), expect_handler=connections.expect) for r in table]


def _guarded(emulator: Emulator, handler: Handler) -> Handler:
    """Every control request goes through here: who may use the control plane, and bad input
    answered as a JSON 4xx naming the problem (one place, not a try/except per handler)."""
    token = emulator.settings.control_token
    expected = f"Bearer {token}".encode() if token else None
    open_ = emulator.settings.control_open

    async def handle(request: web.Request) -> web.StreamResponse:
        # Remember the connection as a control-plane one: a device reboot leaves it open.
        emulator.control_transports.add(request.transport)
        if request.path not in OPEN:
            if expected is not None:
                # Headers arrive decoded with surrogateescape: bytes that are not UTF-8 are just wrong.
                given = request.headers.get("Authorization", "").encode("utf-8", "surrogateescape")
                if not hmac.compare_digest(given, expected):
                    return _error("control token required (Authorization: Bearer <token>)", 401)
            elif not open_ and not is_loopback(request.remote):
                return _error(HOW_TO_OPEN, 403)
        try:
            return await handler(request)
        except ControlError as exc:
            return _error(exc.message, exc.status)
        except (FaultError, StateError) as exc:
            return _error(str(exc))
        except ApiError as exc:
            return _error(_message(exc))

    return handle


def is_loopback(address: str | None) -> bool:
    """Whether a peer address is this machine's loopback (IPv4, IPv6 or IPv4-mapped IPv6)."""
    try:
        ip = ipaddress.ip_address(address or "")
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or (mapped is not None and mapped.is_loopback)


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    # UTF-8 rather than \u escapes: a page of the journal is a third of the size.
    body = json.dumps(data, default=str, ensure_ascii=False).encode()
    return web.Response(body=body, status=status, headers=headers, content_type="application/json", charset="utf-8")


def _error(message: str, status: int = 400) -> web.Response:
    return _json({"error": message}, status)


async def _text(request: web.Request) -> str:
    """The body as text: at most MAX_BODY bytes of UTF-8 (ControlError otherwise)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise ControlError(f"the body is larger than {MAX_BODY} bytes", 413)
    data = bytearray()
    while chunk := await request.content.read(64 * 1024):
        data += chunk
        if len(data) > MAX_BODY:
            raise ControlError(f"the body is larger than {MAX_BODY} bytes", 413)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ControlError(f"the body is not UTF-8 (byte {exc.start})") from None


async def _body(request: web.Request) -> Any:
    """A JSON body (an empty body is {}), checked for what would break the handlers."""
    text = await _text(request)
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except RecursionError:
        raise ControlError(f"the body is nested more than {MAX_DEPTH} levels deep") from None
    except ValueError as exc:
        raise ControlError(f"the body is not JSON: {exc}") from None
    check_tree(data, "the body")
    return data


class Control:
    def __init__(self, emulator: Emulator):
        self.e = emulator
        self.known: list[tuple[str, re.Pattern[str]]] = []  # (method, path) of every control route

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
        result = actions.run(self.e, request.match_info["name"], params)
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
        try:
            self.e.clock.advance(seconds)  # type: ignore[attr-defined]
        except ValueError as exc:
            raise ControlError(f"advance: {exc}") from None
        return _json(self.e.clock_status())

    async def faults(self, request: web.Request) -> web.Response:
        return _json([f.describe() for f in self.e.faults.list()])

    async def add_fault(self, request: web.Request) -> web.Response:
        spec = await _body(request)
        if not isinstance(spec, dict):
            return _error("a fault is a JSON object")
        fault = self.e.faults.add(spec)
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
        """A page of entries, oldest first (`limit`, default 1000, at most 10,000, and about 4 MB):
        the newest, or those `before`/`after` an entry's seq; the Link header names the pages
        before and after it (rel="prev", rel="next"). Other query parameters filter by field."""
        filters = dict(request.query)
        kind = filters.pop("kind", None)
        after = _number(filters.pop("after", None), "after", least=0)
        before = _number(filters.pop("before", None), "before")
        limit = _number(filters.pop("limit", None), "limit", journal.MAX_PAGE) or journal.PAGE
        entries, more_before, more_after = await self.e.journal.page(kind, filters, after, before, limit)
        links = []
        if entries and more_before:
            links.append(f'<{_page_url(request, before=entries[0]["seq"])}>; rel="prev"')
        if entries and more_after:
            links.append(f'<{_page_url(request, after=entries[-1]["seq"])}>; rel="next"')
        return _json(entries, headers={"Link": ", ".join(links)} if links else None)

    async def clear_journal(self, request: web.Request) -> web.Response:
        self.e.journal.clear()
        return _json({"ok": True})

    async def get_state(self, request: web.Request) -> web.Response:
        return _json(state.snapshot(self.e))

    async def put_state(self, request: web.Request) -> web.Response:
        state.restore(self.e, await _body(request))
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
            source = await _text(request)
        scenario = self.e.scenarios.start(source)
        return _json(scenario.describe(), 201)

    async def unknown(self, request: web.Request) -> web.Response:
        allowed = sorted({method for method, path in self.known if path.match(request.path)})
        if allowed:
            if "GET" in allowed:
                allowed.append("HEAD")
            return _json({"error": f"{request.path} takes {', '.join(allowed)}, not {request.method}"}, 405,
                         headers={"Allow": ", ".join(allowed)})
        return _error(f"no such control path: {request.path} (the control plane is under /_emulator)", 404)


def _number(text: str | None, name: str, most: int = 10**18, least: int = 1) -> int | None:
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 19 and least <= int(text) <= most):
        raise ControlError(f"{name}: a whole number from {least} to {most}")
    return int(text)


def _page_url(request: web.Request, **bound: int) -> str:
    """This request's URL (its filters and limit) for the page before or after it."""
    query = {k: v for k, v in request.query.items() if k not in ("after", "before")}
    return str(request.rel_url.with_query({**query, **{k: str(v) for k, v in bound.items()}}))


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.description}" + (f" ({exc.param})" if exc.param else "")
    return str(exc)
