"""Logging service: log/caps, log/subscribe, log/pull, log/unsubscribe."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import JSON, Raw
from emulator.device.events import DEFAULT_DURATION

MAX_TIMEOUT = 86400  # long-poll timeouts up to a day are honoured exactly


def caps(call: Call) -> dict:
    return {"events": call.device.event_types()}


def subscribe(call: Call) -> dict:
    params = call.params
    include = params.get("include", "new").strip() or "new"
    names = params.get("filter")
    # Names the device does not know are accepted and simply never match (genka13, savek).
    filter_ = None if not names or not names.strip() else [n.strip() for n in names.split(",") if n.strip()]
    duration = params.int("duration", DEFAULT_DURATION)  # the channel clamps it to 1..3600
    account = call.account
    channel = call.device.channels.subscribe(include, filter_, duration, None if account is None else account.privileges,
                                             None if account is None else account.name)
    return {"id": channel.id}


def unsubscribe(call: Call) -> None:
    call.device.channels.unsubscribe(call.params.int("id", required=True), _name(call))


async def pull(call: Call) -> Raw:
    params = call.params
    channel_id = params.int("id", required=True)
    timeout = params.int("timeout", 0, hi=MAX_TIMEOUT)
    events = await call.device.channels.pull(channel_id, timeout, _name(call))
    # Each event was rendered once when it happened; a reply only joins them.
    body = b'{"success":true,"result":{"events":[' + b",".join([e.json for e in events]) + b"]}}"
    return Raw(body, JSON)


def _name(call: Call) -> str | None:
    """Whose channel a pull or unsubscribe may reach: the account's (None without authentication)."""
    return None if call.account is None else call.account.name
