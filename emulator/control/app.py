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

With --control-token every path but health, ready and the front panel's files needs
`Authorization: Bearer <token>`.
"""

from __future__ import annotations

import hmac
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

from aiohttp import web

from emulator.api import camera
from emulator.control import actions, openapi, state
from emulator.control.faults import KINDS, FaultError
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
    table = [web.route(e.method, e.path, _remembered(emulator, getattr(c, e.handler))) for e in ENDPOINTS]
    # The front panel's own files; /_emulator/ui is its page.
    table.append(web.get("/_emulator/ui/{file}", c.ui_file))
    return table


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
        if request.path.startswith("/_emulator") and request.path not in OPEN:
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


def _ui_file(name: str) -> web.StreamResponse:
    content_type = UI_FILES.get(name)
    if content_type is None:
        return _error("no such file of the front panel", 404)
    return web.FileResponse(UI / name, headers={"Content-Type": content_type, "Cache-Control": "no-cache"})


def _message(exc: Exception) -> str:
    if isinstance(exc, ApiError):
        return f"{exc.description}" + (f" ({exc.param})" if exc.param else "")
    return str(exc)
