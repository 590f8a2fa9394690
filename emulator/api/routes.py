"""The route table: one line per 2N function.

Per function: path, methods, service, privilege, licence, handler, and when it exists (model
capability, firmware level). The checks that use these columns (path, method, model, service,
licence, transport, authentication, privilege) are generic, in dispatch.py; no handler repeats
them.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from emulator.api import (automation, camera, cert, directory, display, email, log, maintenance, misc, phone, switch,
                          system)
from emulator.api import io as io_
from emulator.api.params import FORM_LIMIT
from emulator.device import levels

GET_POST = frozenset({"GET", "POST"})
WRITE = frozenset({"POST", "PUT"})
CERT_METHODS = frozenset({"GET", "PUT", "DELETE"})
EI = ("enhanced-integration",)  # "Licence: Yes" in the manual's table (firmware before 2.35)
MB = 1024 * 1024


@dataclass(frozen=True)
class Route:
    path: str
    handler: Callable[..., Any]
    service: str
    privilege: str | None  # None: no privilege needed (logging), or public
    methods: frozenset[str] = GET_POST
    licences: tuple[str, ...] = EI
    needs: str | None = None  # "camera", "display", "audio" (dispatch.HARDWARE): without it the model answers 1
    since: tuple[int, int] = levels.V2_15  # older firmware does not know the path (2)
    public: bool = False  # answers without credentials (system/info)
    static: bool = False  # the reply depends only on the configuration (cached until it changes)
    body_limit: int = FORM_LIMIT  # largest body accepted (13 past it)
    raw_param: str | None = None  # what a raw body stands for (PUT /api/firmware)
    is_async: bool = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "is_async", inspect.iscoroutinefunction(self.handler))


def _table(*routes: Route) -> dict[str, Route]:
    return {route.path: route for route in routes}


R = Route
ROUTES: dict[str, Route] = _table(
    # System
    R("/api/system/info", system.info, "system", "system", licences=(), public=True, static=True),
    R("/api/system/status", system.status, "system", "system"),
    R("/api/system/restart", system.restart, "system", "system"),
    R("/api/system/caps", system.caps, "system", "system", since=levels.CURRENT, static=True),
    R("/api/system/time", system.time, "system", "system", since=levels.TIME,
      methods=frozenset({"GET", "POST", "PUT"})),
    R("/api/system/time/set", system.time, "system", "system", since=levels.TIME),
    R("/api/system/timezone", system.timezone, "system", "system", since=levels.TIMEZONE,
      methods=frozenset({"GET", "POST", "PUT"})),
    R("/api/system/timezone/caps", system.timezone_caps, "system", "system", since=levels.TIMEZONE),
    R("/api/firmware", maintenance.firmware, "system", "system", methods=frozenset({"PUT"}),
      body_limit=64 * MB, raw_param=maintenance.FIRMWARE),
    R("/api/firmware/apply", maintenance.firmware_apply, "system", "system"),
    R("/api/firmware/reject", maintenance.firmware_reject, "system", "system", since=levels.CURRENT),
    R("/api/config", maintenance.config, "system", "system", methods=frozenset({"GET", "POST", "PUT"}),
      body_limit=4 * MB),
    R("/api/config/factoryreset", maintenance.factory_reset, "system", "system"),
    R("/api/pcap", misc.pcap, "system", "system"),
    R("/api/pcap/restart", misc.pcap_restart, "system", "system"),
    R("/api/pcap/stop", misc.pcap_stop, "system", "system"),
    # Switch
    R("/api/switch/caps", switch.caps, "switch", "switch-monitoring", static=True),
    R("/api/switch/status", switch.status, "switch", "switch-monitoring"),
    R("/api/switch/ctrl", switch.ctrl, "switch", "switch-control"),
    # I/O
    R("/api/io/caps", io_.caps, "io", "io-monitoring", static=True),
    R("/api/io/status", io_.status, "io", "io-monitoring"),
    R("/api/io/ctrl", io_.ctrl, "io", "io-control"),
    # Phone/Call
    R("/api/phone/status", phone.status, "phone", "call-monitoring"),
    R("/api/phone/config", phone.config, "phone", "call-control", since=levels.CURRENT,
      methods=frozenset({"GET", "POST", "PUT"})),
    R("/api/call/status", phone.call_status, "phone", "call-monitoring"),
    R("/api/call/dial", phone.dial, "phone", "call-control"),
    R("/api/call/answer", phone.answer, "phone", "call-control"),
    R("/api/call/hangup", phone.hangup, "phone", "call-control"),
    # Camera
    R("/api/camera/caps", camera.caps, "camera", "camera", licences=(), needs="camera", static=True),
    R("/api/camera/snapshot", camera.snapshot, "camera", "camera", licences=(), needs="camera"),
    # Display
    R("/api/display/caps", display.caps, "display", "display", needs="display", static=True),
    R("/api/display/image", display.image, "display", "display", needs="display",
      methods=frozenset({"PUT", "DELETE"}), body_limit=2 * MB),
    # Manual 5.9.4 names both GET and PUT for setting the message; POST as for other functions.
    R("/api/display/text", display.text, "display", "display", needs="display", since=levels.DISPLAY_TEXT,
      methods=frozenset({"GET", "POST", "PUT", "DELETE"})),
    # Logging: no privilege; events are filtered per channel by the account's privileges.
    R("/api/log/caps", log.caps, "logging", None, licences=(), static=True),
    R("/api/log/subscribe", log.subscribe, "logging", None, licences=()),
    R("/api/log/unsubscribe", log.unsubscribe, "logging", None, licences=()),
    R("/api/log/pull", log.pull, "logging", None, licences=()),
    # Audio: the Enhanced Audio licence on every firmware; a model without audio answers 1
    R("/api/audio/test", misc.audio_test, "audio", "audio", licences=EI + ("enhanced-audio",), needs="audio"),
    # E-mail
    R("/api/email/send", email.send, "email", "email"),
    # Directory (newer firmware; JSON bodies)
    R("/api/dir/template", directory.template, "system", "system", since=levels.CURRENT),
    R("/api/dir/query", directory.query, "system", "system", since=levels.CURRENT),
    R("/api/dir/get", directory.get, "system", "system", since=levels.CURRENT),
    R("/api/dir/create", directory.create, "system", "system", since=levels.CURRENT, methods=WRITE),
    R("/api/dir/update", directory.update, "system", "system", since=levels.CURRENT, methods=WRITE),
    R("/api/dir/delete", directory.delete, "system", "system", since=levels.CURRENT, methods=WRITE),
    # Certificates (manual 5.20): a PEM bundle of CA certificates may be some hundred kilobytes
    R("/api/cert/ca", cert.ca, "system", "system", since=levels.CERT, methods=CERT_METHODS, body_limit=512 * 1024),
    R("/api/cert/user", cert.user, "system", "system", since=levels.CERT, methods=CERT_METHODS,
      body_limit=512 * 1024),
    # Automation (manual 5.19; its own service and privilege, "Access to Automation")
    R("/api/automation/trigger", automation.trigger, "automation", "automation", since=levels.CURRENT),
)

# Outside /api, not in the table's path lookup: /enu/trigger/<name>, older firmware's HTTP command
# for an HttpTrigger block (app.py routes it here, with the name in the path).
ENU_TRIGGER = Route("/enu/trigger/{name}", automation.enu_trigger, "automation", "automation")
