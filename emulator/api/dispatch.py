"""Every /api request goes through here: the device's checks in the device's order, then the
handler, then the reply. This is the one place errors become the 2N envelope.

Order of the checks (what real devices do, from the device research): path (2), method (3),
model (1), service enabled (4), licence (5), transport (7), authentication method (8), credentials
(9, HTTP 401), privilege (10), then parameters (11-13) and the function itself (12, 14, 15).
"""

from __future__ import annotations

import asyncio
import functools
import logging
from dataclasses import dataclass, field
from time import perf_counter
from typing import TYPE_CHECKING, Any
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import hdrs, web

from emulator.api import params as params_
from emulator.api.auth import Unauthorized
from emulator.api.call import Call
from emulator.api.replies import JSON, SUCCESS, Raw, Stream, error_response, response, success
from emulator.api.routes import ROUTES, Route
from emulator.control.journal import describe
from emulator.device.events import ChannelClosed
from emulator.errors import ApiError, ErrorCode, failed

if TYPE_CHECKING:
    from emulator.app import Emulator

log = logging.getLogger("emulator.api")
# One line per /api request, at INFO: the client and the journal entry in words.
requests_log = logging.getLogger("emulator.requests")
INTEGRATION = "enhanced-integration"
REPLY_LIMIT = 4096  # replies up to this size are kept in the journal entry
# Route.needs -> whether the model has it; without it the function answers 1 (not supported).
HARDWARE: dict[str, Callable[[Any], bool]] = {
    "camera": lambda device: device.profile.camera is not None,
    "display": lambda device: device.display is not None,
    "audio": lambda device: device.profile.hardware.microphone,  # loudspeaker and microphone
}


class Outcome:
    """What the journal learns about a request while it is handled (class defaults: no __init__
    to run per request)."""

    account: Any = None
    params: dict[str, str] | None = None
    code: int | None = None
    reason: str | None = None  # why it was refused or failed, in words (never on the wire)
    faults: Sequence[Any] = ()  # the request faults that hit it


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
    refusal_reason: str | None
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
        refusal = reason = None
        missing = [licence for licence in route.licences
                   if licence not in device.licences and (licence != INTEGRATION or device.needs_integration_licence)]
        if route.needs is not None and not HARDWARE[route.needs](device):
            refusal, reason = ErrorCode.NOT_SUPPORTED, f"this model has no {route.needs}"
        elif not service.enabled:
            refusal, reason = ErrorCode.DISABLED, f"the {route.service} service is disabled"
        elif missing:  # no function needs the integration licence from 2.35 on
            refusal, reason = ErrorCode.LICENSED, f"needs the licence {', '.join(missing)}"
        return cls(route=route, version=device.config_version, server=emulator.server_header,
                   known=device.api_level >= route.since, refusal=refusal, refusal_reason=reason,
                   https_only=service.transport == "https",
                   auth=None if service.auth == "none" or route.public else service.auth,
                   octet_stream_empty_post=device.quirks.octet_stream_empty_post)


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
        outcome = Outcome()
        if not emulator.device.online:
            outcome.reason = "the device is down (restarting)"
            self._record(request, path, outcome, None, started, "dropped")
            return drop(request)
        try:
            response = await self._handle(request, route, path, outcome)
        except asyncio.CancelledError:
            # The client went away (aiohttp cancels the handler): a pull it gave up on, a stream
            # it closed. Journalled too, with how it ended.
            self._record(request, path, outcome, None, started, "abandoned")
            raise
        except ConnectionError:
            self._record(request, path, outcome, None, started, "abandoned")  # a fault was writing by hand
            return drop(request)
        if emulator.device.capture.running:
            trace(emulator.device.capture, request, response)
        if type(response) is Dropped:
            self._record(request, path, outcome, None, started, "dropped")
        elif type(response) is Stream and response.abandoned:
            self._record(request, path, outcome, None, started, "abandoned")
        else:
            self._record(request, path, outcome, response, started, None)
        return response

    def _record(self, request: web.Request, path: str, outcome: Outcome, response: web.StreamResponse | None,
                started: float, ended: str | None) -> None:
        """Journal the request, and log its line when request lines are logged. `ended`: None when
        it was answered, "dropped" when the emulator closed the connection instead (a device that
        is down, a fault), "abandoned" when the client went away first; `response` None (no
        status) when no complete reply went out."""
        ended_at = perf_counter()
        params = outcome.params if outcome.params is not None else request.query
        status = None if response is None else response.status
        # Short replies are kept for the journal (a reference, no copy); a snapshot is not.
        body = response.body if type(response) is web.Response else None
        self.emulator.journal.request(
            request.method, path, params, outcome.account, request.secure, status, outcome.code, started, ended_at,
            outcome.faults, outcome.reason, ended, body if type(body) is bytes and len(body) <= REPLY_LIMIT else None)
        if requests_log.isEnabledFor(logging.INFO):
            # The line says what the journal entry says (one wording), and who asked.
            entry = self.emulator.journal.last(reply=False)
            fields = {"client": request.remote, **entry, "device_time": entry["time"]}
            del fields["time"]  # the record's own
            requests_log.info("%s %s", request.remote, describe(entry), extra={"fields": fields})

    async def _handle(self, request: web.Request, route: Route | None, path: str,
                      outcome: Outcome) -> web.StreamResponse:
        """The device's checks; then the reply, wrapped by the faults that hit the request."""
        emulator = self.emulator
        gate = None
        try:
            if route is None:
                route = ROUTES.get(request.path)
                if route is None:
                    raise ApiError(ErrorCode.INVALID_PATH, reason="no such function")
            gate = self._gates.get(route.path)
            if gate is None or gate.version != emulator.device.config_version:
                gate = self._gates[route.path] = Gate.of(route, emulator)
            # The common case (nothing to check but the method) without a call.
            account = outcome.account = None if gate.open and request.method in route.methods \
                else self._check(gate, request, outcome)
        except Exception as err:
            return self._failure(err, request, gate, outcome)
        if emulator.faults.active:
            # Faults hit requests the device accepts: a Digest challenge (401) or a refusal is
            # neither faulted nor counted against a fault's `times`.
            hit = outcome.faults = emulator.faults.for_request(request.method, path, account is not None)
            if hit:
                respond = functools.partial(self._answer, request, gate, account, outcome)
                for fault in reversed(hit):  # the first fault added is the outermost
                    respond = functools.partial(fault.apply, request, respond, emulator)
                return await respond()
        return await self._answer(request, gate, account, outcome)

    async def _answer(self, request: web.Request, gate: Gate, account: Any, outcome: Outcome) -> web.StreamResponse:
        """Parameters, the function, the reply."""
        emulator = self.emulator
        route = gate.route
        try:
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
        except ChannelClosed:
            outcome.reason = "the device went down under a waiting pull"
            return drop(request)
        except Exception as err:
            return self._failure(err, request, gate, outcome)
        if isinstance(result, Raw) and result.after is not None:
            return await self._reply_then(request, result, gate.server)
        return self._reply(result, gate.server)

    def _failure(self, err: Exception, request: web.Request, gate: Gate | None, outcome: Outcome) -> web.Response:
        """The one place a failure becomes the 2N error reply (and the journal learns why)."""
        if not isinstance(err, ApiError):
            log.error("unexpected failure in %s %s", request.method, request.path, exc_info=err)
            err = ApiError(ErrorCode.PROCESSING_ERROR, reason=f"unexpected failure: {type(err).__name__} (logged)")
        outcome.code = int(err.code)
        outcome.reason = err.reason
        server = gate.server if gate is not None else self.emulator.server_header
        if isinstance(err, Unauthorized):
            return error_response(err, server, self.emulator.auth.challenges(err.scheme, err.stale))
        return error_response(err, server)

    def _check(self, gate: Gate, request: web.Request, outcome: Outcome) -> Any:
        """The request's own checks: the account it authenticates as (None when none is asked)."""
        route = gate.route
        if not gate.known:
            raise ApiError(ErrorCode.INVALID_PATH, reason=f"{route.path} is newer than firmware "
                           f"{self.emulator.device.identity.sw_version}")
        if request.method not in route.methods:
            raise ApiError(ErrorCode.INVALID_METHOD,
                           reason=f"{request.method} is not one of {', '.join(sorted(route.methods))}")
        if gate.refusal is not None:
            raise ApiError(gate.refusal, reason=gate.refusal_reason)
        if gate.https_only and not request.secure:
            raise ApiError(ErrorCode.INVALID_CONNECTION, reason=f"the {route.service} service requires HTTPS")
        account = None
        if gate.auth is not None:
            device = self.emulator.device
            account = self.emulator.auth.authenticate(
                request.headers.get(hdrs.AUTHORIZATION), gate.auth, request.method, request.raw_path.split("?")[0],
                device.security, request.remote or "")
            outcome.account = account  # journalled even when it lacks the privilege
            if route.privilege is not None and route.privilege not in account.privileges:
                raise ApiError(ErrorCode.INSUFFICIENT_PRIVILEGES,
                               reason=f"missing privilege: {account.name!r} lacks {route.privilege}")
        if gate.octet_stream_empty_post and request.method == "POST" and \
                request.headers.get(hdrs.CONTENT_TYPE) == "application/octet-stream" and not request.body_exists:
            raise failed("Unsupported Content-Type")  # fw 2.50 does this (savek-cc); --no-quirks
        return account

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
