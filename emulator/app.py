"""One emulated intercom: the device, its HTTP and HTTPS listeners and the web application.

`Emulator(settings)` builds everything; `await emulator.start()` opens the listeners and boots the
device; `await emulator.stop()` shuts down cleanly. The command line and the test fixture both
use it, so a test gets exactly what a user runs.
"""

from __future__ import annotations

import logging
import secrets
from typing import Any

from aiohttp import web

from emulator import __version__, tls
from emulator.api.auth import Authenticator
from emulator.api.dispatch import Dispatcher
from emulator.device import profile as profiles
from emulator.device.clock import Clock, VirtualClock
from emulator.device.device import Device, Options
from emulator.mailer import Mailer
from emulator.media.camera import Camera
from emulator.settings import Settings

log = logging.getLogger("emulator")
EMULATOR = web.AppKey("emulator", "Emulator")
# The largest body any function takes (a firmware image); routes set their own, smaller limits.
CLIENT_MAX_SIZE = 65 * 1024 * 1024


class Emulator:
    def __init__(self, settings: Settings | None = None, clock: Clock | None = None):
        self.settings = settings = settings or Settings()
        self.profile = profiles.load(settings.profile)
        self.clock = clock or (VirtualClock() if settings.clock == "virtual" else Clock())
        self.device = Device(self.profile, self.clock, Options(
            accounts=tuple(settings.users) if settings.users is not None else None,
            auth=settings.auth, licence=settings.licence, seed=settings.seed))
        sec = self.profile.security
        self.auth = Authenticator(self.clock, sec.realm, sec.digest_algorithm, sec.nonce_lifetime,
                                  self._random_bytes)
        self.camera = Camera(self.device)
        self.mailer = Mailer(settings.smtp if settings.smtp is not None else self.profile.email.smtp,
                             self.profile.email.sender)
        self.dispatcher = Dispatcher(self)
        self.app = self._build_app()
        self.runner: web.AppRunner | None = None
        self.ports: dict[str, int] = {}  # "http"/"https" -> bound port
        self.device.power_listeners.append(self._power_changed)

    def _random_bytes(self, n: int) -> bytes:
        if self.settings.seed is not None:
            return self.device.rng.randbytes(n)
        return secrets.token_bytes(n)

    def _build_app(self) -> web.Application:
        app = web.Application(client_max_size=CLIENT_MAX_SIZE, handler_args={"max_field_size": 16384})
        app[EMULATOR] = self
        app.router.add_route("*", "/api", self.dispatcher.handle)
        app.router.add_route("*", "/api/{tail:.*}", self.dispatcher.handle)
        app.router.add_get("/_emulator/health", self._health)
        app.router.add_get("/", self._index)
        return app

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        s = self.settings
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False, shutdown_timeout=2.0)
        await self.runner.setup()
        await self._listen("http", s.port, None)
        if s.https_port is not None:
            context = tls.server_context(s.state_dir, self.device.identity.device_name,
                                         self.device.identity.serial_number, [s.host, *s.extra_hosts],
                                         s.tls_cert, s.tls_key)
            await self._listen("https", s.https_port, context)
        self.device.boot()
        log.info("emulating a %s (firmware %s, profile %s) on %s", self.device.identity.variant,
                 self.device.identity.sw_version, self.profile.name, ", ".join(self.urls.values()))

    async def _listen(self, scheme: str, port: int, ssl_context: Any) -> None:
        assert self.runner is not None
        site = web.TCPSite(self.runner, self.settings.host, port, ssl_context=ssl_context, reuse_address=True)
        await site.start()
        sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
        self.ports[scheme] = sockets[0].getsockname()[1] if sockets else port

    async def stop(self) -> None:
        """Stop accepting, end long-polls and streams, close connections."""
        self.device.power_off()
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def __aenter__(self) -> Emulator:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- URLs ------------------------------------------------------------------------------

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
    def url(self) -> str:
        return self.urls["http"]

    # -- power -----------------------------------------------------------------------------

    def _power_changed(self, online: bool) -> None:
        if online:
            return
        # The device went down: its connections drop, and every nonce it issued is forgotten.
        self.auth.forget_nonces()
        server = self.runner.server if self.runner is not None else None
        for connection in server.connections if server is not None else ():
            if connection.transport in self.dispatcher.transports:
                connection.force_close()

    # -- small pages -----------------------------------------------------------------------

    async def _health(self, request: web.Request) -> web.Response:
        body = {"status": "ok", "ready": self.runner is not None and bool(self.ports),
                "device": "online" if self.device.online else "offline",
                "profile": self.profile.name, "version": __version__, "listeners": self.urls}
        return web.json_response(body, status=200 if body["ready"] else 503)

    async def _index(self, request: web.Request) -> web.Response:
        ident = self.device.identity
        text = (f"{ident.device_name}: emulated {ident.variant}, firmware {ident.sw_version}.\n"
                "The HTTP API is under /api (try /api/system/info); the emulator's own control plane "
                "is under /_emulator.\n")
        return web.Response(body=text.encode(), content_type="text/plain")

