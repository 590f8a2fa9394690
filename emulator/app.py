"""One emulated intercom: the device, its HTTP, HTTPS and RTSP listeners, the web application and
the control plane.

`Emulator(settings)` builds everything; `await emulator.start()` opens the listeners and boots the
device; `await emulator.stop()` shuts down cleanly. The command line, the Python handle and the
pytest fixture all use it, so a test gets exactly what a user runs.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import sys
import weakref
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from emulator import __version__, tls
from emulator.api.auth import Authenticator
from emulator.api.dispatch import Dispatcher
from emulator.api.routes import ROUTES
from emulator.control import app as control_app
from emulator.control.faults import Faults
from emulator.control.journal import Journal
from emulator.control.scenario import Scenarios
from emulator.control.scenario import parse as parse_scenario
from emulator.control.state import StateStore
from emulator.device import profile as profiles
from emulator.device.clock import Clock, VirtualClock
from emulator.device.device import Device, Options
from emulator.mailer import Mailer
from emulator.media.camera import Camera
from emulator.settings import Settings

log = logging.getLogger("emulator")
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
            auth=settings.auth, licence=settings.licence, seed=settings.seed))
        sec = self.profile.security
        self.auth = Authenticator(self.clock, sec.realm, sec.digest_algorithm, sec.nonce_lifetime,
                                  self._random_bytes)
        self.camera = Camera(device)
        # The RTSP server (media/rtsp.py), built at start when the settings ask for it and the
        # model has a camera; None otherwise.
        self.rtsp: Any = None
        self._rtsp_server: Any = None
        self.mailer = Mailer(settings.smtp if settings.smtp is not None else self.profile.email.smtp,
                             self.profile.email.sender)
        self.journal = Journal(device.now, settings.journal_size)
        device.events.listeners.append(self.journal.on_event)
        device.outbox.listeners.append(self.journal.on_email)
        device.power_listeners.append(self._power_changed)
        self.faults = Faults(self)
        self.scenarios = Scenarios(self)
        # A --scenario file is read and checked now, so a bad one stops the start before any listener.
        self._scenario = None if settings.scenario is None else settings.scenario.read_text(encoding="utf-8")
        if self._scenario is not None:
            parse_scenario(self._scenario)
        self.store = None if settings.state_dir is None else StateStore(settings.state_dir, device)
        if self.store is not None:
            self.store.load()  # the command line's --auth/--user still win: they override, not configure
        self.dispatcher = Dispatcher(self)
        # Connections the control plane used: a device reboot drops every other connection.
        self.control_transports: weakref.WeakSet[Any] = weakref.WeakSet()
        self.app = self._build_app()
        self.runner: web.AppRunner | None = None
        self.ports: dict[str, int] = {}  # "http"/"https"/"rtsp" -> bound port

    def _random_bytes(self, n: int) -> bytes:
        if self.settings.seed is not None:
            return self.device.rng.randbytes(n)
        return secrets.token_bytes(n)

    def _build_app(self) -> web.Application:
        middlewares = [control_app.token_middleware(self.settings.control_token)] if self.settings.control_token else []
        # auto_decompress off: a device does not inflate request bodies, and aiohttp's decoders turn
        # junk Content-Encodings into tracebacks (or hangs); the body reaches the API as sent.
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, middlewares=middlewares, handler_args={
            "max_field_size": 16384, "auto_decompress": False, "logger": ProtocolLog(server_log)})
        app[EMULATOR] = self
        for path, route in ROUTES.items():  # exact paths first: aiohttp finds them with one dict lookup
            app.router.add_route("*", path, self.dispatcher.endpoint(route))
        app.router.add_route("*", "/api", self.dispatcher.endpoint(None))
        app.router.add_route("*", "/api/{tail:.*}", self.dispatcher.endpoint(None))
        app.router.add_routes(control_app.routes(self))
        app.router.add_get("/", self._index)
        return app

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        # handler_cancellation: a pull whose client went away must stop waiting, or it would take
        # (and lose) the next event of its channel.
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0,
                                    handler_cancellation=True)
        await self.runner.setup()
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
        log.info("emulating a %s (firmware %s, profile %s) on %s (event loop: %s)", self.device.identity.variant,
                 self.device.identity.sw_version, self.profile.name, ", ".join(self.urls.values()),
                 type(asyncio.get_running_loop()).__module__.split(".")[0])

    async def _listen(self, scheme: str, port: int, ssl_context: Any) -> None:
        assert self.runner is not None
        site = web.TCPSite(self.runner, self.settings.host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
        self.ports[scheme] = sockets[0].getsockname()[1] if sockets else port

    async def _listen_rtsp(self, port: int) -> None:
        from emulator.media import rtsp, video  # PyAV (FFmpeg) loads with the first stream

        self.rtsp = rtsp.Rtsp(self.device, self.auth, video.Video(self.camera), lambda: self.server_header,
                              journal=lambda **fields: self.journal.add("rtsp", **fields), faults=self.faults)
        self._rtsp_server = rtsp.RtspServer(self.rtsp)
        self.ports["rtsp"] = await self._rtsp_server.start(self.settings.host, port)

    async def stop(self) -> None:
        """Stop accepting, end long-polls and streams, save the configuration, close connections."""
        if self._rtsp_server is not None:
            await self._rtsp_server.stop()
            self._rtsp_server = self.rtsp = None
            self.ports.pop("rtsp", None)
        self.device.power_off()
        if self.store is not None:
            self.store.flush()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None
            self.ports.clear()

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def reset(self) -> None:
        """Back to the profile's defaults, freshly booted; no faults, an empty journal."""
        self.faults.clear()
        self.scenarios.clear()
        self.device.reset()
        self.journal.clear()  # after the reset: not even its restart and boot are left

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
            return
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
        ident = self.device.identity
        text = (f"{ident.device_name}: emulated {ident.variant}, firmware {ident.sw_version}.\n"
                "The HTTP API is under /api (try /api/system/info); the emulator's own control plane "
                "is under /_emulator.\n")
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
