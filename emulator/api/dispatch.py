"""Every /api request goes through here: the device's checks in the device's order, then the
handler, then the reply. This is the one place errors become the 2N envelope.

Order of the checks (research/device.md 1.3): path (2), method (3), model (1), service enabled
(4), licence (5), transport (7), authentication method (8), credentials (9, HTTP 401), privilege
(10), then parameters (11-13) and the function itself (12, 14, 15).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import hdrs, web

from emulator.api import params as params_
from emulator.api.auth import Unauthorized
from emulator.api.call import Call
from emulator.api.replies import JSON, SUCCESS, Raw, error_response, response, success
from emulator.api.routes import ROUTES, Route
from emulator.device.events import ChannelClosed
from emulator.errors import ApiError, ErrorCode, failed

if TYPE_CHECKING:
    from emulator.app import Emulator

log = logging.getLogger("emulator.api")
INTEGRATION = "enhanced-integration"


@dataclass(slots=True)
class Outcome:
    """What the journal learns about a request while it is handled."""

    account: Any = None
    params: dict[str, str] | None = None
    code: int | None = None


class Dispatcher:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        # Replies of functions that depend only on the configuration: path -> (config version, body).
        self._static: dict[str, tuple[int, bytes]] = {}

    async def handle(self, request: web.Request) -> web.StreamResponse:
        emulator = self.emulator
        loop = asyncio.get_running_loop()
        started = loop.time()
        if not emulator.device.online:
            emulator.journal.request(request.method, request.path, request.query, None, request.secure, None, None,
                                     started, started, ())
            return drop(request)
        outcome = Outcome()
        faults = emulator.faults.for_request(request.method, request.path) if emulator.faults.active else ()
        if faults:
            respond = functools.partial(self._handle, request, outcome)
            for fault in reversed(faults):  # the first fault added is the outermost
                respond = functools.partial(fault.apply, request, respond, emulator)
            response = await respond()
        else:
            response = await self._handle(request, outcome)
        if emulator.device.capture.running:
            trace(emulator.device.capture, request, response)
        emulator.journal.request(
            request.method, request.path, outcome.params if outcome.params is not None else request.query,
            outcome.account, request.secure, None if isinstance(response, Dropped) else response.status,
            outcome.code, started, loop.time(), faults)
        return response

    async def _handle(self, request: web.Request, outcome: Outcome) -> web.StreamResponse:
        emulator = self.emulator
        device = emulator.device
        server = emulator.server_header
        try:
            route = ROUTES.get(request.path)
            if route is None or device.api_level < route.since:
                raise ApiError(ErrorCode.INVALID_PATH)
            account = outcome.account = self._check(route, request)
            if request.query_string or request.can_read_body:
                params = await params_.read(request, route.body_limit, route.raw_param)
            else:
                params = params_.Params()
            outcome.params = params.values
            if route.static and not params.values:
                return response(self._static_reply(route, request, params, account), JSON, server)
            call = Call(emulator, request, params, account, request.secure)
            result = await route.handler(call) if route.is_async else route.handler(call)
        except Unauthorized as err:
            outcome.code = int(err.code)
            return error_response(err, server, emulator.auth.challenges(err.scheme, err.stale))
        except ApiError as err:
            outcome.code = int(err.code)
            return error_response(err, server)
        except ChannelClosed:
            return drop(request)  # the device went down under a waiting pull
        except Exception:
            log.exception("unexpected failure in %s %s", request.method, request.path)
            outcome.code = int(ErrorCode.PROCESSING_ERROR)
            return error_response(ApiError(ErrorCode.PROCESSING_ERROR), server)
        if isinstance(result, Raw) and result.after is not None:
            return await self._reply_then(request, result, server)
        return self._reply(result, server)

    def _check(self, route: Route, request: web.Request) -> Any:
        device = self.emulator.device
        if request.method not in route.methods:
            raise ApiError(ErrorCode.INVALID_METHOD)
        if route.needs == "camera" and device.profile.camera is None or \
                route.needs == "display" and device.display is None:
            raise ApiError(ErrorCode.NOT_SUPPORTED)
        service = device.security.service(route.service)
        if not service.enabled:
            raise ApiError(ErrorCode.DISABLED)
        for licence in route.licences:
            if licence == INTEGRATION and not device.needs_integration_licence:
                continue  # no function needs the integration licence from 2.35 on
            if licence not in device.licences:
                raise ApiError(ErrorCode.LICENSED)
        if service.transport == "https" and not request.secure:
            raise ApiError(ErrorCode.INVALID_CONNECTION)
        if service.auth == "none" or route.public:
            account = None
        else:
            account = self.emulator.auth.authenticate(
                request.headers.get(hdrs.AUTHORIZATION), service.auth, request.method, request.raw_path.split("?")[0],
                device.security, request.remote or "")
            if route.privilege is not None and route.privilege not in account.privileges:
                raise ApiError(ErrorCode.INSUFFICIENT_PRIVILEGES)
        if device.profile.quirks.octet_stream_empty_post and request.method == "POST" and \
                request.headers.get(hdrs.CONTENT_TYPE) == "application/octet-stream" and not request.body_exists:
            raise failed("Unsupported Content-Type")  # fw 2.50 does this; off by default
        return account

    def _static_reply(self, route: Route, request: web.Request, params: params_.Params, account: Any) -> bytes:
        """The JSON reply of a function that depends only on the configuration, rendered once per
        configuration (system/info is what integrations poll most)."""
        version = self.emulator.device.config_version
        cached = self._static.get(route.path)
        if cached is None or cached[0] != version:
            call = Call(self.emulator, request, params, account, request.secure)
            cached = self._static[route.path] = (version, success(route.handler(call)))
        return cached[1]

    @staticmethod
    def _reply(result: Any, server: str) -> web.StreamResponse:
        if isinstance(result, web.StreamResponse):
            return result  # a stream the handler wrote itself (MJPEG)
        if isinstance(result, Raw):
            return response(result.body, result.content_type, server)
        return response(SUCCESS if result is None else success(result), JSON, server)

    @staticmethod
    async def _reply_then(request: web.Request, result: Raw, server: str) -> web.StreamResponse:
        """Send the reply first, then act (a restart drops the connection)."""
        reply = response(result.body, result.content_type, server)
        await reply.prepare(request)
        await reply.write_eof()
        result.after()
        return reply


class Dropped(web.Response):
    """What a handler returns when it closed the connection instead of answering."""


def drop(request: web.BaseRequest) -> web.StreamResponse:
    """End the connection without a reply, as a device that is down (or going down) does."""
    request.protocol.force_close()
    return Dropped()


def trace(capture: Any, request: web.BaseRequest, response: web.StreamResponse) -> None:
    """Record the exchange in the running network trace (/api/pcap)."""
    peer = request.transport.get_extra_info("peername") if request.transport else None
    local = request.transport.get_extra_info("sockname") if request.transport else None
    if not peer or not local:
        return
    head = f"{request.method} {request.raw_path} HTTP/{request.version.major}.{request.version.minor}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()) + "\r\n"
    capture.record(peer[:2], local[:2], head.encode("utf-8", "replace"), outgoing=False)
    body = response.body if isinstance(response, web.Response) and isinstance(response.body, bytes) else b""
    reply = f"HTTP/1.1 {response.status} {response.reason}\r\n"
    reply += "".join(f"{k}: {v}\r\n" for k, v in response.headers.items())
    reply += f"Content-Length: {len(body)}\r\n\r\n" if body else "\r\n"
    capture.record(local[:2], peer[:2], reply.encode("utf-8", "replace") + body, outgoing=True)
