"""Every /api request goes through here: the device's checks in the device's order, then the
handler, then the reply. This is the one place errors become the 2N envelope.

Order of the checks (research/device.md 1.3): path (2), method (3), model (1), service enabled
(4), licence (5), transport (7), authentication method (8), credentials (9, HTTP 401), privilege
(10), then parameters (11-13) and the function itself (12, 14, 15).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable

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


class Outcome:
    """What the journal learns about a request while it is handled (class defaults: no __init__
    to run per request)."""

    account: Any = None
    params: dict[str, str] | None = None
    code: int | None = None
    replayed: bool = False  # answered from the --replay recording


@dataclass(slots=True)
class Gate:
    """A function under the device's current configuration: its checks that depend only on the
    configuration (firmware level, model, services, licences, profile), worked out once per
    configuration version, so a request pays only for its own (method, transport, credentials);
    the Server header; the reply of a static function, rendered at its first request."""

    route: Route
    version: int
    server: str
    known: bool  # the firmware has this function (else 2)
    refusal: ErrorCode | None  # 1, 4 or 5 (after the method check), None when it is available
    https_only: bool
    auth: str | None  # the scheme credentials must use; None: none asked (auth none, or a public function)
    octet_stream_empty_post: bool
    open: bool = field(init=False)  # nothing to check but the method
    static_reply: bytes | None = None

    def __post_init__(self) -> None:
        self.open = self.known and self.refusal is None and not self.https_only and self.auth is None and \
            not self.octet_stream_empty_post

    @classmethod
    def of(cls, route: Route, emulator: Emulator) -> Gate:
        device = emulator.device
        service = device.security.service(route.service)
        refusal = None
        if route.needs == "camera" and device.profile.camera is None or \
                route.needs == "display" and device.display is None:
            refusal = ErrorCode.NOT_SUPPORTED
        elif not service.enabled:
            refusal = ErrorCode.DISABLED
        elif any(licence not in device.licences for licence in route.licences
                 if licence != INTEGRATION or device.needs_integration_licence):
            refusal = ErrorCode.LICENSED  # no function needs the integration licence from 2.35 on
        return cls(route=route, version=device.config_version, server=emulator.server_header,
                   known=device.api_level >= route.since, refusal=refusal, https_only=service.transport == "https",
                   auth=None if service.auth == "none" or route.public else service.auth,
                   octet_stream_empty_post=device.profile.quirks.octet_stream_empty_post)


class Dispatcher:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self._gates: dict[str, Gate] = {}  # path -> its checks under the current configuration

    def endpoint(self, route: Route | None) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        """The aiohttp handler of one path of the table, which aiohttp's router has already found;
        with None, of every other /api path (looked up here, for its decoded form, or error 2)."""
        return functools.partial(self.handle, route)  # positional: no keyword dict to merge per call

    async def handle(self, route: Route | None, request: web.Request) -> web.StreamResponse:
        emulator = self.emulator
        started = perf_counter()
        # aiohttp matched the table's route on this path (decoded but for %2F and %25, which no
        # route has), so it is the request's decoded path too.
        path = request.path if route is None else route.path
        if not emulator.device.online:
            emulator.journal.request(request.method, path, request.query, None, request.secure, None, None,
                                     started, started, ())
            return drop(request)
        outcome = Outcome()
        faults = emulator.faults.for_request(request.method, path) if emulator.faults.active else ()
        if faults:
            respond = functools.partial(self._handle, request, route, outcome)
            for fault in reversed(faults):  # the first fault added is the outermost
                respond = functools.partial(fault.apply, request, respond, emulator)
            response = await respond()
        else:
            response = await self._handle(request, route, outcome)
        if emulator.device.capture.running:
            trace(emulator.device.capture, request, response)
        emulator.journal.request(
            request.method, path, outcome.params if outcome.params is not None else request.query,
            outcome.account, request.secure, None if type(response) is Dropped else response.status,
            outcome.code, started, perf_counter(), faults, outcome.replayed)
        return response

    async def _handle(self, request: web.Request, route: Route | None, outcome: Outcome) -> web.StreamResponse:
        emulator = self.emulator
        gate = None
        try:
            if route is None:
                route = ROUTES.get(request.path)
                if route is None:
                    raise ApiError(ErrorCode.INVALID_PATH)
            gate = self._gates.get(route.path)
            if gate is None or gate.version != emulator.device.config_version:
                gate = self._gates[route.path] = Gate.of(route, emulator)
            # The common case (nothing to check but the method) without a call.
            account = outcome.account = None if gate.open and request.method in route.methods \
                else self._check(gate, request)
            if request.query_string or request.body_exists:
                params = await params_.read(request, route.body_limit, route.raw_param)
            else:
                params = params_.NONE
            outcome.params = params.values
            if route.static and not params.values:
                # Depends only on the configuration: rendered once per configuration (system/info
                # is what integrations poll most).
                if gate.static_reply is None:
                    gate.static_reply = success(route.handler(Call(emulator, request, params, account, request.secure)))
                return response(gate.static_reply, JSON, gate.server)
            call = Call(emulator, request, params, account, request.secure)
            result = await route.handler(call) if route.is_async else route.handler(call)
        except Unauthorized as err:
            outcome.code = int(err.code)
            return error_response(err, self._server(gate), emulator.auth.challenges(err.scheme, err.stale))
        except ApiError as err:
            if err.code == ErrorCode.INVALID_PATH and emulator.replay is not None:
                return await self._replay(request, outcome)
            outcome.code = int(err.code)
            return error_response(err, self._server(gate))
        except ChannelClosed:
            return drop(request)  # the device went down under a waiting pull
        except Exception:
            log.exception("unexpected failure in %s %s", request.method, request.path)
            outcome.code = int(ErrorCode.PROCESSING_ERROR)
            return error_response(ApiError(ErrorCode.PROCESSING_ERROR), self._server(gate))
        if isinstance(result, Raw) and result.after is not None:
            return await self._reply_then(request, result, gate.server)
        return self._reply(result, gate.server)

    def _check(self, gate: Gate, request: web.Request) -> Any:
        """The request's own checks: the account it authenticates as (None when none is asked)."""
        if not gate.known:
            raise ApiError(ErrorCode.INVALID_PATH)
        route = gate.route
        if request.method not in route.methods:
            raise ApiError(ErrorCode.INVALID_METHOD)
        if gate.refusal is not None:
            raise ApiError(gate.refusal)
        if gate.https_only and not request.secure:
            raise ApiError(ErrorCode.INVALID_CONNECTION)
        account = None
        if gate.auth is not None:
            device = self.emulator.device
            account = self.emulator.auth.authenticate(
                request.headers.get(hdrs.AUTHORIZATION), gate.auth, request.method, request.raw_path.split("?")[0],
                device.security, request.remote or "")
            if route.privilege is not None and route.privilege not in account.privileges:
                raise ApiError(ErrorCode.INSUFFICIENT_PRIVILEGES)
        if gate.octet_stream_empty_post and request.method == "POST" and \
                request.headers.get(hdrs.CONTENT_TYPE) == "application/octet-stream" and not request.body_exists:
            raise failed("Unsupported Content-Type")  # fw 2.50 does this; off by default
        return account

    async def _replay(self, request: web.Request, outcome: Outcome) -> web.StreamResponse:
        """A path this firmware does not have (code 2): the recorded reply of the same request
        when the recording holds one (the choice: emulator.recording.Recording.answer). A reply
        recorded with credentials needs an account of the emulator, by the recorded scheme."""
        emulator = self.emulator
        server = emulator.server_header
        try:
            params = await params_.read(request, params_.FORM_LIMIT, None)
            outcome.params = params.values
            exchange = emulator.replay.answer(request.method, request.path, params.values, params.json)
            if exchange is None:
                raise ApiError(ErrorCode.INVALID_PATH)
            if exchange.auth is not None:
                outcome.account = emulator.auth.authenticate(
                    request.headers.get(hdrs.AUTHORIZATION), exchange.auth, request.method,
                    request.raw_path.split("?")[0], emulator.device.security, request.remote or "")
        except Unauthorized as err:
            outcome.code = int(err.code)
            return error_response(err, server, emulator.auth.challenges(err.scheme, err.stale))
        except ApiError as err:
            outcome.code = int(err.code)
            return error_response(err, server)
        outcome.replayed = True
        outcome.code = exchange.code
        return web.Response(status=exchange.status, body=exchange.body,
                            headers={hdrs.CONTENT_TYPE: exchange.content_type, hdrs.SERVER: server})

    def _server(self, gate: Gate | None) -> str:
        return gate.server if gate is not None else self.emulator.server_header

    @staticmethod
    def _reply(result: Any, server: str) -> web.StreamResponse:
        if isinstance(result, Raw):
            return response(result.body, result.content_type, server)
        # A stream the handler wrote itself (MJPEG) goes out as it is; the type test first, as
        # isinstance() of a StreamResponse (a MutableMapping) goes through ABCMeta.
        if type(result) is not dict and isinstance(result, web.StreamResponse):
            return result
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
    """What a handler returns when it closed the connection instead of answering (checked with
    `type(...) is Dropped`: responses are MutableMappings, so isinstance() goes through ABCMeta)."""


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
