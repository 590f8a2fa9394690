"""How many connections the emulator keeps open, and for how long, so silent clients cannot lock
others out: the protocol factory of the HTTP and HTTPS listeners.

- A new connection has `header_timeout` seconds to send its first request's head (a TLS handshake
  as long); a kept-alive one may wait `idle_timeout` seconds for its next request (aiohttp's
  keepalive_timeout, which also bounds a head that trickles in after a reply).
- At most `max_connections` are open, and always fewer than the process may open files (so the
  listener never meets EMFILE, which asyncio logs at every accept). Past the cap the connection
  that has waited longest without a request in progress is closed to make room; when every one is
  busy (long-polls, MJPEG streams), the newcomer gets a 503 and is closed.

aiohttp offers no hook for either, so two of its RequestHandler's private fields are read here,
each with a default that errs on the side of keeping the connection: `_request_count` (request
heads parsed so far) and `_request_in_progress` (a request is being handled or answered). The tests for the header
timeout and the cap fail if they change.
"""

from __future__ import annotations

import asyncio
import json
import logging
import resource
from typing import Any

from aiohttp import web

log = logging.getLogger("emulator.connections")
DEFAULT_MAX = 4096
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


def cap(max_connections: int) -> int:
    """The connections allowed open: the setting, below the file limit with room to spare for the
    listeners, the state directory, certificates and outgoing SMTP."""
    files = file_limit()
    return max(1, min(max_connections, files - min(64, files // 4)))


class Guard:
    """The protocol factory of the listeners (see the module's docstring)."""

    def __init__(self, server: web.Server, max_connections: int, header_timeout: float):
        self.server = server
        self.max = cap(max_connections)
        self.header_timeout = header_timeout
        self.loop = asyncio.get_running_loop()
        self._warned_at = -1e9

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self.server.connections) >= self.max and not self._make_room():
            if self.loop.time() - self._warned_at > 60:
                self._warned_at = self.loop.time()
                log.warning("%d connections are open and busy (--max-connections): refusing new ones with 503",
                            self.max)
            return Refusal()
        handler = self.server()
        self.loop.call_later(self.header_timeout, self._head_due, handler)
        return handler

    def _make_room(self) -> bool:
        """Close the connection that has waited longest without a request in progress."""
        for handler in self.server.connections:  # oldest first
            if getattr(handler, "_request_in_progress", True) is False:
                log.debug("too many connections: closing an idle one")
                handler.force_close()
                return True
        return False

    @staticmethod
    def _head_due(handler: Any) -> None:
        if handler.transport is not None and getattr(handler, "_request_count", 1) == 0:
            log.debug("no request within the header timeout: closing the connection")
            handler.force_close()


class Refusal(asyncio.Protocol):
    """A connection past the cap: a 503 and goodbye."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(REFUSAL)  # type: ignore[attr-defined]
        transport.close()
