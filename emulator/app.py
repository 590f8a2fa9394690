"""One emulated intercom: the device, its HTTP, HTTPS and RTSP listeners, the web application and
the control plane.

`Emulator(settings)` builds everything; `await emulator.start()` opens the listeners and boots the
device; `await emulator.stop()` shuts down cleanly. The command line, the Python handle and the
pytest fixture all use it, so a test gets exactly what a user runs.
"""

from __future__ import annotations

import asyncio
import html
import logging
import sys
import weakref
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from emulator import __version__, connections, tls
from emulator.api.auth import Authenticator
from emulator.api.dispatch import Dispatcher
from emulator.api.routes import ENU_TRIGGER, ROUTES
from emulator.control import app as control_app
from emulator.control.faults import Faults
from emulator.control.journal import Journal
from emulator.control.live import Live
from emulator.control.scenario import Scenarios
from emulator.control.scenario import parse as parse_scenario
from emulator.control.state import StateStore
from emulator.device import profile as profiles
from emulator.device.clock import Clock, VirtualClock
from emulator.device.device import Device, Options
from emulator.mailer import Mailer
from emulator.recording import Recording
from emulator.media.camera import Camera
from emulator.settings import Settings

log = logging.getLogger("emulator")
control_log = logging.getLogger("emulator.control")
server_log = logging.getLogger("aiohttp.server")
EMULATOR = web.AppKey("emulator", "Emulator")
# The largest body any function takes (a firmware image); routes set their own, smaller limits.
CLIENT_MAX_SIZE = 65 * 1024 * 1024


class Emulator:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None):
        self.settings = settings = settings or Settings()
        self.profile = profiles.load(settings.profile)
        self.clock = clock or (VirtualClock() if settings.clock == "virtual" else Clock())
        self.device = device = Device(self.profile, self.clock, Options(
            accounts=tuple(settings.users) if settings.users is not None else None,
            auth=settings.auth, licence=settings.licence, quirks=settings.quirks, seed=settings.seed))
        sec = self.profile.security
        self.auth = Authenticator(self.clock, sec.realm, sec.digest_algorithm, sec.nonce_lifetime,
                                  device.rng.randbytes)
        self.camera = Camera(device)
        # The RTSP server (media/rtsp.py), built at start when the settings ask for it and the
        # model has a camera; None otherwise.
        self.rtsp: Any = None
        self._rtsp_server: Any = None
        self.mailer = Mailer(settings.smtp if settings.smtp is not None else self.profile.email.smtp,
                             self.profile.email.sender)
        self.journal = Journal(device.now, settings.journal_size, settings.journal_bytes)
        device.events.listeners.append(self.journal.on_event)
        device.outbox.listeners.append(self.journal.on_email)
        device.power_listeners.append(self._power_changed)
        self.faults = Faults(self)
        self.scenarios = Scenarios(self)
        self.live = Live(self)  # GET /_emulator/live
        # A --scenario file is read and checked now, so a bad one stops the start before any listener.
        self._scenario = None if settings.scenario is None else settings.scenario.read_text(encoding="utf-8")
        if self._scenario is not None:
            parse_scenario(self._scenario)
        self.store = None if settings.state_dir is None else StateStore(settings.state_dir, device)
        if self.store is not None:
            self.store.load()  # the command line's --auth/--user still win: they override, not configure
        # A recording answering the paths this firmware does not have (--replay, or the profile's).
        replay = settings.replay if settings.replay is not None else self.profile.replay or None
        self.replay = None if replay is None else Recording.load(replay)
        self.dispatcher = Dispatcher(self)
        # Connections the control plane used: a device reboot drops every other connection.
        self.control_transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self.app = self._build_app()
        self.runner: web.AppRunner | None = None
        self._guard: connections.Guard | None = None  # the listeners' protocol factory, made at start
        self._listeners: list[asyncio.AbstractServer] = []
        self.ports: dict[str, int] = {}  # "http"/"https"/"rtsp" -> bound port

    def _build_app(self) -> web.Application:
        # auto_decompress off: a device does not inflate request bodies, and aiohttp's decoders turn
        # junk Content-Encodings into tracebacks (or hangs); the body reaches the API as sent.
        # keepalive_timeout: how long a kept-alive connection may wait for its next request (and,
        # from aiohttp 3.14 on, a new one for its first; connections.Guard makes that shorter).
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, handler_args={
            "max_field_size": 16384, "auto_decompress": False, "logger": ProtocolLog(server_log),
            "keepalive_timeout": self.settings.idle_timeout})
        app[EMULATOR] = self
        expect = connections.expect
        for path, route in ROUTES.items():  # exact paths first: aiohttp finds them with one dict lookup
            app.router.add_route("*", path, self.dispatcher.endpoint(route), expect_handler=expect)
        app.router.add_route("*", "/api", self.dispatcher.endpoint(None), expect_handler=expect)
        app.router.add_route("*", r"/api/{tail:[\s\S]*}", self.dispatcher.endpoint(None), expect_handler=expect)
        app.router.add_route("*", "/enu/trigger/{name}", self.dispatcher.endpoint(ENU_TRIGGER), expect_handler=expect)
        app.router.add_routes(control_app.routes(self))
        app.router.add_get("/", self._index, expect_handler=expect)
        return app

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        # handler_cancellation: a pull whose client went away must stop waiting, or it would take
        # (and lose) the next event of its channel.
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0,
                                    handler_cancellation=True)
        await self.runner.setup()
        assert self.runner.server is not None
        self._guard = connections.Guard(self.runner.server, s.max_connections, s.header_timeout)
        await self._listen("http", s.port, None)
        if s.https_port is not None:
            context = tls.server_context(s.state_dir, self.device.identity.device_name,
                                         self.device.identity.serial_number, [s.host, *s.extra_hosts],
                                         s.tls_cert, s.tls_key)
            await self._listen("https", s.https_port, context)
        if s.rtsp_port is not None and self.profile.camera is not None:
            await self._listen_rtsp(s.rtsp_port)
        self.device.boot()
        if self.store is not None:
            self.device.change_listeners.append(self.store.changed)
        if self._scenario is not None:
            self.scenarios.start(self._scenario)
        self._log_control_access()
        for line in self.startup_lines():
            log.info("%s", line)

    def _log_control_access(self) -> None:
        s = self.settings
        if s.control_token:
            log.info("the control plane (/_emulator) answers clients that send its token")
        elif s.control_open:
            log.warning("the control plane (/_emulator) is open to every client that reaches %s (--control-open): "
                        "anyone there can read the state, add accounts, inject faults and reboot the device",
                        s.host)
        elif not control_app.is_loopback(s.host):
            log.info("the control plane (/_emulator) answers only clients on this machine; for others set a "
                     "token (--control-token-file, HELIOS_CONTROL_TOKEN) or --control-open")

    async def _listen(self, scheme: str, port: int, ssl_context: Any) -> None:
        # What web.TCPSite does, with the connection guard as the protocol factory.
        listener = await asyncio.get_running_loop().create_server(
            self._guard, self.settings.host, port, ssl=ssl_context, reuse_address=True, backlog=connections.backlog(),
            ssl_handshake_timeout=self.settings.header_timeout if ssl_context is not None else None)
        self._listeners.append(listener)
        self.ports[scheme] = listener.sockets[0].getsockname()[1] if listener.sockets else port

    async def _listen_rtsp(self, port: int) -> None:
        from emulator.media import rtsp, video  # PyAV (FFmpeg) loads with the first stream

        self.rtsp = rtsp.Rtsp(self.device, self.auth, video.Video(self.camera), lambda: self.server_header,
                              journal=lambda **fields: self.journal.add("rtsp", **fields), faults=self.faults)
        self._rtsp_server = rtsp.RtspServer(self.rtsp, self.settings.header_timeout, self.settings.idle_timeout)
        self.ports["rtsp"] = await self._rtsp_server.start(self.settings.host, port)

    async def stop(self) -> None:
        """Stop accepting, end long-polls and streams, save the configuration, close connections."""
        self.live.close()
        if self._rtsp_server is not None:
            await self._rtsp_server.stop()
            self._rtsp_server = self.rtsp = None
            self.ports.pop("rtsp", None)
        self.device.power_off()
        if self.store is not None:
            self.store.flush()
        for listener in self._listeners:
            listener.close()  # stop accepting
        if self.runner is not None:
            await self.runner.cleanup()  # end the connections
            self.runner = None
            self.ports.clear()
        for listener in self._listeners:
            await listener.wait_closed()
        self._listeners.clear()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Back to the profile's defaults, freshly booted; no faults, an empty journal."""
        control_log.info("reset to the profile's defaults")
        self.faults.clear()
        self.scenarios.clear()
        self.device.reset()
        self.journal.clear()  # after the reset: not even its restart and boot are left

    def advance(self, seconds: float) -> None:
        """Move the virtual clock forward (RuntimeError on the real clock)."""
        if not self.clock.virtual:
            raise RuntimeError("the emulator runs on the real clock; start it with --clock virtual "
                               "(clock='virtual') to move time by hand")
        control_log.info("clock advanced by %g s", seconds)
        self.clock.advance(seconds)  # type: ignore[attr-defined]

    # -- what the outside sees -------------------------------------------------------------

    @property
    def serving(self) -> bool:
        return self.runner is not None and bool(self.ports)

    @property
    def server_header(self) -> str:
        return "HIP" + self.device.identity.sw_version

    @property
    def host_for_urls(self) -> str:
        host = self.settings.host
        if host in ("0.0.0.0", "", "::"):
            return "127.0.0.1"
        return f"[{host}]" if ":" in host else host

    @property
    def urls(self) -> dict[str, str]:
        return {scheme: f"{scheme}://{self.host_for_urls}:{port}" for scheme, port in self.ports.items()}

    @property
    def rtsp_url(self) -> str:
        """Where the live H.264 stream is (a device serves it on port 554)."""
        return f"{self.urls['rtsp']}/h264_stream"

    @property
    def url(self) -> str:
        return self.urls["http"]

    def startup_lines(self) -> list[str]:
        """What the start-up log says: the device, its authentication and accounts (names only),
        the clock, and where the API, the control plane and the front panel are."""
        device = self.device
        ident = device.identity
        services: dict[str, list[str]] = {}
        for name in profiles.SERVICES:
            service = device.security.service(name)
            services.setdefault(service.auth if service.enabled else "disabled", []).append(name)
        auth = next(iter(services)) + " on every service" if len(services) == 1 else \
            "; ".join(f"{mode} on {', '.join(names)}" for mode, names in services.items())
        accounts = device.security.accounts_override or device.security.accounts
        loop = type(asyncio.get_running_loop()).__module__.split(".")[0]
        return [
            f"emulating a {ident.variant}, firmware {ident.sw_version} (profile {self.profile.name}), "
            f"on {', '.join(self.urls.values())}; auth: {auth}; accounts: "
            f"{', '.join(a.name for a in accounts) or 'none'}; clock: {self.settings.clock}; event loop: {loop}",
            f"front panel: {self.url}/_emulator/ui ; control plane: {self.url}/_emulator/ "
            f"(described at {self.url}/_emulator/openapi.json)",
        ]

    def health(self) -> dict[str, Any]:
        return {"status": "ok" if self.serving else "starting", "device": "online" if self.device.online else "offline",
                "profile": self.profile.name, "model": self.device.identity.variant,
                "firmware": self.device.identity.sw_version, "version": __version__, "listeners": self.urls}

    def clock_status(self) -> dict[str, Any]:
        return {"virtual": self.clock.virtual, "time": self.device.now(), "uptime": self.device.uptime,
                "pending": getattr(self.clock, "pending", None)}

    # -- power -----------------------------------------------------------------------------

    def _power_changed(self, online: bool) -> None:
        self.journal.on_power(online)
        if online:
            if self.device.boots > 1:
                log.info("the device is up again (boot %d)", self.device.boots)
            return
        log.info("the device is going down")
        # The device went down: its connections drop (not the control plane's), and every nonce it
        # issued is forgotten.
        self.auth.forget_nonces()
        if self._rtsp_server is not None:
            self._rtsp_server.drop_all("reboot")
        server = self.runner.server if self.runner is not None else None
        for connection in server.connections if server is not None else ():
            if connection.transport not in self.control_transports:
                connection.force_close()

    async def _index(self, request: web.Request) -> web.Response:
        """Where things are: text for curl, links for a browser (which asks for text/html)."""
        ident = self.device.identity
        title = f"{ident.device_name}: emulated {ident.variant}, firmware {ident.sw_version}."
        if "text/html" in request.headers.get("Accept", ""):
            page = (f"<!DOCTYPE html><html><head><meta charset=utf-8><title>{html.escape(ident.device_name)}</title>"
                    f"</head><body><p>{html.escape(title)}</p><ul>"
                    "<li><a href=/_emulator/ui>The front panel</a>: the live device</li>"
                    "<li><a href=/api/system/info>/api</a>: the device's HTTP API</li>"
                    "<li><a href=/_emulator/>/_emulator/</a>: the emulator's control plane "
                    "(<a href=/_emulator/openapi.json>OpenAPI</a>)</li></ul></body></html>")
            return web.Response(body=page.encode(), content_type="text/html")
        text = (f"{title}\nThe HTTP API is under /api (try /api/system/info); the emulator's own control plane "
                "is under /_emulator/ (described at /_emulator/openapi.json).\n"
                "The front panel, in a browser: /_emulator/ui\n")
        return web.Response(body=text.encode(), content_type="text/plain")


class ProtocolLog(logging.LoggerAdapter):
    """aiohttp's server logger, with malformed HTTP (answered 400 by aiohttp itself) logged at
    debug level instead of as an error with a traceback: a client's garbage is not our failure."""

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        exc = kwargs.get("exc_info")
        if exc is True or (exc is None and level >= logging.ERROR):
            exc = sys.exc_info()[1]
        if isinstance(exc, HttpProcessingError):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)
