"""How many connections the emulator keeps open, and for how long, so silent clients cannot lock
others out: the protocol factory of the HTTP and HTTPS listeners.

- A new connection has `header_timeout` seconds to send its first request's head (a TLS handshake
  as long); a kept-alive one may wait `idle_timeout` seconds for its next request (aiohttp's
  keepalive_timeout, which also bounds a head that trickles in after a reply).
- At most `max_connections` are open, and always fewer than the process may open files (so the
  listener never meets EMFILE, which asyncio logs at every accept). Past the cap the connection
  that has waited longest without a request in progress is closed to make room; when every one is
  busy (long-polls, MJPEG streams), the newcomer gets a 503 and is closed.

aiohttp offers no hook for either, so this reads three of its private fields: web.Server's
`_kwargs` (the arguments of each RequestHandler it makes: the guard makes them itself, to learn
when a connection ends), and RequestHandler's `_request_count` (request heads parsed so far) and
`_request_in_progress` (a request is being handled or answered), each with a default that errs
on the side of keeping the connection. The tests of the header timeout and of the cap fail if
they change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

log = logging.getLogger("emulator.connections")
DEFAULT_MAX = 4096
RESERVE = 64  # files kept free for the rest: listeners, the state directory, certificates, SMTP
_REFUSAL_BODY = json.dumps({"error": "too many connections; try again"}).encode()
REFUSAL = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nConnection: close\r\n"
           b"Content-Length: %d\r\n\r\n" % len(_REFUSAL_BODY)) + _REFUSAL_BODY


def file_limit() -> int:
    """How many files this process may have open (the soft limit)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def raise_file_limit() -> None:
    """Lift the soft limit on open files to the hard one (the command line does this once)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 1 << 20) if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass


def backlog() -> int:
    """Connections the kernel queues for a listener: asyncio accepts as many in one go, before it
    hands a single one over (and so before the cap can count them): smaller when files are few."""
    return max(8, min(128, file_limit() // 16))


def cap(max_connections: int) -> int:
    """The connections allowed open: the setting, and below the file limit by RESERVE and by what
    is accepted but not counted yet (one backlog being accepted, one being handed over, one whose
    connections were closed to make room and are not closed yet)."""
    return max(1, min(max_connections, file_limit() - 3 * backlog() - RESERVE))


class Guard:
    """The protocol factory of the listeners (see the module's docstring). It counts a connection
    from the moment it is accepted, not from when aiohttp hears of it (a loop turn later), so a
    burst of connections cannot overshoot the cap."""

    def __init__(self, server: web.Server, max_connections: int, header_timeout: float):
        self.server = server
        self.handler_args = server._kwargs  # what web.Server gives each RequestHandler it makes
        self.max = cap(max_connections)
        self.header_timeout = header_timeout
        self.loop = asyncio.get_running_loop()
        self.open: dict[Handler, None] = {}  # the connections counted, oldest first
        self._warned_at = -1e9

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self.open) >= self.max and not self._make_room():
            if self.loop.time() - self._warned_at > 60:
                self._warned_at = self.loop.time()
                log.warning("%d connections are open and busy (--max-connections): refusing new ones with 503",
                            self.max)
            return Refusal()
        handler = Handler(self, self.server, loop=self.loop, **self.handler_args)
        self.open[handler] = None
        self.loop.call_later(self.header_timeout, self._head_due, handler)
        return handler

    def lost(self, handler: Handler) -> None:
        self.open.pop(handler, None)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without a request in progress."""
        for handler in self.open:  # oldest first
            if handler.transport is not None and getattr(handler, "_request_in_progress", True) is False:
                log.debug("too many connections: closing an idle one")
                handler.force_close()
                self.lost(handler)
                return True
        return False

    def _head_due(self, handler: Handler) -> None:
        if handler not in self.open:
            return
        if handler.transport is None:  # its TLS handshake failed (or timed out): it never connected
            self.lost(handler)
        elif getattr(handler, "_request_count", 1) == 0:
            log.debug("no request within the header timeout: closing the connection")
            handler.force_close()
            self.lost(handler)


class Handler(web.RequestHandler):
    """aiohttp's handler of one connection, telling the guard when the connection ends."""

    __slots__ = ("guard",)

    def __init__(self, guard: Guard, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.guard = guard

    def connection_lost(self, exc: BaseException | None) -> None:
        self.guard.lost(self)
        super().connection_lost(exc)


async def expect(request: web.Request) -> web.StreamResponse | None:
    """The routes' handler of `Expect:` (aiohttp's echoes the header into its 417 reply, and fails
    with a traceback when it is not UTF-8): 100-continue goes on, anything else is a 417."""
    if request.version != HttpVersion11:
        return None
    if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        request.writer.output_size = 0  # the reply proper has not started
        return None
    if request.path.startswith("/_emulator"):
        return web.json_response({"error": "Expect: only 100-continue is understood"}, status=417)
    return web.Response(status=417, text="only 100-continue is understood", content_type="text/plain")


class Refusal(asyncio.Protocol):
    """A connection past the cap: a 503 and goodbye."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(REFUSAL)  # type: ignore[attr-defined]
        transport.close()
