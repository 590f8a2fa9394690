"""Automation service: automation/trigger (manual 5.19.1), and the HTTP command of older firmware,
/enu/trigger/<name> (Automation manual 2.7-2.22, Event.HttpTrigger), that FHEM's module calls."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import TEXT, Raw
from emulator.errors import ApiError, ErrorCode


def trigger(call: Call) -> None:
    """Fire the HttpTrigger block named `triggerId`; no such block is 12 "HttpTrigger not found."."""
    name = call.params.required("triggerId")
    if not call.device.http_trigger(name):
        raise ApiError(ErrorCode.INVALID_PARAMETER, "triggerId", "HttpTrigger not found.")


def enu_trigger(call: Call) -> Raw:
    """GET /enu/trigger/<name>[?param=value...]: "The intercom sends a simple reply to this request
    (200 OK)", whether or not a block has that name."""
    call.device.http_trigger(call.request.match_info.get("name", ""))
    return Raw(b"", TEXT)
