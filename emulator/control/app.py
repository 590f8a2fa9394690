"""The control plane over HTTP: /_emulator/... (JSON in, JSON out), described by ENDPOINTS (one
table: what GET /_emulator/ lists and GET /_emulator/openapi.json describes).

    GET    /_emulator/                      the endpoints, the actions and the fault kinds
    GET    /_emulator/openapi.json          every endpoint, action and fault kind (OpenAPI 3.1)
    GET    /_emulator/ui                    the front panel (a page for people)
    GET    /_emulator/health                liveness: 200 once every listener serves
    GET    /_emulator/ready                 readiness: 200 while the device is up (503 while it reboots)
    GET    /_emulator/device                the device in words (no passwords)
    GET    /_emulator/live                  Server-Sent Events: device events and journal entries
    GET    /_emulator/camera                the camera for people: a JPEG, or MJPEG with fps
    GET    /_emulator/display               the display's image (204 when none)
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

Who may use it (health, ready and the front panel's files answer everyone):
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
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator import connections
from emulator.api import camera
from emulator.control import actions, journal, openapi, state
from emulator.control.faults import KINDS, FaultError
from emulator.control.faults.base import MAX_DEPTH, check_tree
from emulator.control.state import StateError
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UI = Path(__file__).resolve().parent.parent / "ui"
# The front panel's files (a fixed list: nothing else under ui/ is served), with their types.
UI_FILES = {"index.html": "text/html", "panel.js": "text/javascript", "panel.css": "text/css",
            "favicon.svg": "image/svg+xml"}
OPEN = frozenset({"/_emulator/health", "/_emulator/ready", "/_emulator/ui",
                  *(f"/_emulator/ui/{name}" for name in UI_FILES)})
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


@dataclass(frozen=True)
class Endpoint:
    """One control-plane endpoint: the handler is a method of Control; `body` names what it takes
    (openapi.py turns it into a schema)."""

    method: str
    path: str
    handler: str
    summary: str
    body: str | None = None


ENDPOINTS = (
    Endpoint("GET", "/_emulator/", "index", "The control plane's endpoints, actions and fault kinds, with links"),
    Endpoint("GET", "/_emulator/openapi.json", "openapi", "This document"),
    Endpoint("GET", "/_emulator/ui", "ui", "The front panel: the live device in the browser"),
    Endpoint("GET", "/_emulator/health", "health", "Liveness: 200 once every listener serves (no token needed)"),
    Endpoint("GET", "/_emulator/ready", "ready", "Readiness: 200 while the device is up, 503 while it reboots "
                                                 "(no token needed)"),
    Endpoint("GET", "/_emulator/device", "device", "The device in words: model, firmware, network, services and "
                                                   "the auth they need, accounts (names only), hardware, switches, "
                                                   "ports, calls"),
    Endpoint("GET", "/_emulator/live", "live", "Server-Sent Events: `device` (each event as /api/log/pull gives "
                                               "it), `journal` (each new entry), `lost`; ?journal=SEQ starts the "
                                               "journal after that entry"),
    Endpoint("GET", "/_emulator/camera", "camera", "The camera without API credentials: ?width=&height=&source= "
                                                   "(the first size and source by default), &fps=1..15 for MJPEG"),
    Endpoint("GET", "/_emulator/display", "display", "The display's image (image/gif), 204 while it has none"),
    Endpoint("GET", "/_emulator/actions", "list_actions", "The actions and their parameters"),
    Endpoint("POST", "/_emulator/actions/{name}", "act", "Make something happen in the physical world",
             body="action"),
    Endpoint("GET", "/_emulator/clock", "clock", "The clock: virtual or real, device time, uptime, pending timers"),
    Endpoint("POST", "/_emulator/clock", "advance", "Move a virtual clock forward (409 on the real clock)",
             body="clock"),
    Endpoint("GET", "/_emulator/faults", "faults", "The faults in force"),
    Endpoint("POST", "/_emulator/faults", "add_fault", "Inject a fault", body="fault"),
    Endpoint("DELETE", "/_emulator/faults", "clear_faults", "Remove every fault"),
    Endpoint("DELETE", "/_emulator/faults/{id}", "remove_fault", "Remove one fault"),
    Endpoint("GET", "/_emulator/journal", "journal", "Requests and device actions, oldest first, filtered by "
                                                     "any field (?kind=request&path=/api/switch/*&status=401)"),
    Endpoint("DELETE", "/_emulator/journal", "clear_journal", "Clear the journal"),
    Endpoint("GET", "/_emulator/state", "get_state", "The whole state (its config part holds the passwords)"),
    Endpoint("PUT", "/_emulator/state", "put_state", "Put a state (or part of one) back", body="state"),
    Endpoint("POST", "/_emulator/reset", "reset", "Back to the profile's defaults, freshly booted; no faults, an "
                                                  "empty journal"),
    Endpoint("GET", "/_emulator/scenarios", "scenarios", "The scenarios loaded and their progress"),
    Endpoint("POST", "/_emulator/scenarios", "start_scenario", "Start a scenario (TOML text, or JSON)",
             body="scenario"),
)


def routes(emulator: Emulator) -> list[web.RouteDef]:
    c = Control(emulator)
    table = [web.route(e.method, e.path, getattr(c, e.handler)) for e in ENDPOINTS]
    table.append(web.get("/_emulator/ui/{file}", c.ui_file))  # the front panel's own files
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

    async def index(self, request: web.Request) -> web.Response:
        return _json({"name": "helios-emulator control plane", "openapi": "/_emulator/openapi.json",
                      "ui": "/_emulator/ui",
                      "endpoints": [{"method": e.method, "path": e.path, "summary": e.summary} for e in ENDPOINTS],
                      "actions": list(actions.ACTIONS), "faults": list(KINDS)})

    async def openapi(self, request: web.Request) -> web.Response:
        return _json(openapi.document(ENDPOINTS))

    async def ui(self, request: web.Request) -> web.StreamResponse:
        return _ui_file("index.html")

    async def ui_file(self, request: web.Request) -> web.StreamResponse:
        return _ui_file(request.match_info["file"])

    async def device(self, request: web.Request) -> web.Response:
        return _json(state.summary(self.e))

    async def live(self, request: web.Request) -> web.StreamResponse:
        return await self.e.live.stream(request)

    async def camera(self, request: web.Request) -> web.StreamResponse:
        """The camera without the API's credentials (the control plane is the tester's own)."""
        profile = self.e.device.profile
        if profile.camera is None:
            return _error("this model has no camera", 404)
        q = request.query
        try:
            size = camera.resolution(profile.camera, int(q.get("width", profile.camera.resolutions[0].width)),
                                     int(q.get("height", profile.camera.resolutions[0].height)))
            fps = int(q.get("fps", 0))
        except (ValueError, ApiError):
            return _error(f"width and height: one of {', '.join(map(str, profile.camera.resolutions))}")
        source = q.get("source", profile.camera.default_source)
        if source not in profile.camera.sources or not 0 <= fps <= camera.MAX_FPS:
            return _error(f"source: one of {', '.join(profile.camera.sources)}; fps: 0 to {camera.MAX_FPS}")
        if not self.e.device.online:
            return _error("the device is down (restarting)", 503)
        if fps:
            return await camera.mjpeg(request, self.e, source, size, fps, self.e.server_header)
        body = await self.e.camera.jpeg(source, size.width, size.height)
        return web.Response(body=body, content_type="image/jpeg", headers={"Cache-Control": "no-cache"})

    async def display(self, request: web.Request) -> web.Response:
        display = self.e.device.display
        if display is None:
            return _error("this model has no display", 404)
        if display.image is None:
            return web.Response(status=204)
        return web.Response(body=display.image, content_type="image/gif", headers={"Cache-Control": "no-cache"})

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
            self.e.advance(seconds)
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


def _ui_file(name: str) -> web.StreamResponse:
    content_type = UI_FILES.get(name)
    if content_type is None:
        return _error("no such file of the front panel", 404)
    return web.FileResponse(UI / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.description}" + (f" ({exc.param})" if exc.param else "")
    return str(exc)
