"""The journal: a bounded ring of what happened, in three kinds of entries.

- "request": every /api request (time, method, path, parameters, account, transport, HTTP
  status, 2N error code, duration, faults applied; `reason`: why it was refused or failed, in
  words; `ended`: "replied", "dropped" when the emulator closed the connection instead (a device
  that is down, a fault), "abandoned" when the client went away first (a pull it gave up on, an
  MJPEG stream it closed); `reply`: the reply's body when it is short, passwords hidden;
  `replayed`: true when a recording (--replay) answered it instead of the model);
- "action": what the device did, in device terms, read off its events and outbox: a switch went
  on (and, when it goes off, for how long it was on), a call was dialled or answered or ended, an
  e-mail was sent, the device restarted.
- "rtsp": the live video's sessions (media/rtsp.py): `event` "play" (the stream, account and
  transport), "end" (why, and the pictures sent and dropped) or "refused" (a request's status
  and, for a refused login, the `reason`).

Tests ask "did the relay click once for 5 s?" here instead of parsing logs.

Bounded twice: at most `size` entries, and about `max_bytes` of them (the oldest go first). One
entry keeps at most MAX_PARAMS parameters, each name and value at most MAX_VALUE characters; what
was cut is listed in its "truncated" field (the full lengths, and how many parameters there were),
so a client that posts 128 KB text fields cannot make the journal hold 300 MB.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
import json
import re
from collections import deque
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from emulator.device.events import Event
from emulator.device.outputs import Email

DEFAULT_SIZE = 1000
DEFAULT_BYTES = 64 * 1024 * 1024
MAX_VALUE = 256  # characters kept of a parameter's name or value, or of an action's text
MAX_PARAMS = 64  # parameters kept per request
# About what an entry costs in memory besides its strings: the tuple (or dict) and its objects.
ENTRY_COST = 400
PARAM_COST = 120
PAGE = 1000  # entries a GET /_emulator/journal answers by default (`limit`)
MAX_PAGE = 10_000
PAGE_BYTES = 4 * 1024 * 1024  # and about this much at most, whatever the limit
SCAN = 5000  # entries looked at between two turns of the event loop
# A request entry is recorded as a tuple of raw values (cheap on the hot path) and made into a
# dict (passwords among its parameters hidden) only when read.


class Journal:
    def __init__(self, now: Callable[[], float], size: int = DEFAULT_SIZE, max_bytes: int = DEFAULT_BYTES):
        self._now = now  # the device's wall time: every entry's "time"
        self.size = size
        self.max_bytes = max_bytes
        self._entries: deque[dict[str, Any] | tuple[Any, ...]] = deque()
        self._costs: deque[int] = deque()  # what each entry costs, about (bytes)
        self.bytes = 0  # their sum
        self._seq = itertools.count(1)
        self._switch_on_at: dict[int, float] = {}
        self.on_entry: Callable[[], None] | None = None  # told of every new entry (the live view)

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [_as_dict(e) for e in self._entries]

    def clear(self) -> None:
        self._entries.clear()
        self._costs.clear()
        self.bytes = 0

    def _keep(self, entry: dict[str, Any] | tuple[Any, ...], cost: int) -> None:
        self._entries.append(entry)
        self._costs.append(cost)
        self.bytes += cost
        while len(self._entries) > self.size or self.bytes > self.max_bytes:
            self._entries.popleft()
            self.bytes -= self._costs.popleft()
        if self.on_entry is not None:
            self.on_entry()

    def last(self, reply: bool = True) -> dict[str, Any] | None:
        """The newest entry (without its reply: cheaper, for the log line)."""
        return _as_dict(self._entries[-1], reply) if self._entries else None

    @property
    def last_seq(self) -> int:
        """The seq of the newest entry (0 when there is none)."""
        return _seq(self._entries[-1]) if self._entries else 0

    def after(self, seq: int, limit: int) -> list[dict[str, Any]]:
        """The entries newer than `seq`, oldest first; only the newest `limit` of them when there are more."""
        newer = []
        for raw in reversed(self._entries):
            if _seq(raw) <= seq:
                break
            newer.append(raw)
        return [_as_dict(e) for e in reversed(newer[:limit])]

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        for key, value in fields.items():
            if isinstance(value, str) and len(value) > MAX_VALUE:  # a dialled number, an e-mail subject
                fields[key] = _short(value)
        entry = {"seq": next(self._seq), "kind": kind, "time": round(self._now(), 3), **fields}
        self._keep(entry, ENTRY_COST + sum(len(v) for v in fields.values() if isinstance(v, str)))
        return entry

    def request(self, method: str, path: str, params: Mapping[str, str], account: Any, secure: bool,
                status: int | None, code: int | None, started: float, ended: float, faults: Sequence[Any],
                reason: str | None = None, end: str | None = None, reply: bytes | None = None,
                replayed: bool = False) -> None:
        """One /api request: `account` is an Account or None, `started`/`ended` perf_counter() times,
        `faults` the fault objects applied; status None when no reply was sent; `end` None when it was
        answered, else "dropped" or "abandoned"; `reply` the body of a short reply; `replayed` when a
        recording answered it (--replay)."""
        cost = ENTRY_COST + len(path) + len(reason or "") + len(reply or b"")
        truncated = None
        if params:
            chars = sum(map(len, params)) + sum(map(len, params.values()))
            if chars > MAX_VALUE or len(params) > MAX_PARAMS:  # some may be too long: look closer
                params, truncated = _cut(params)
                chars = sum(map(len, params)) + sum(map(len, params.values()))
            cost += chars + PARAM_COST * len(params)
        self._keep((next(self._seq), self._now(), method, path, params, account, secure, status, code,
                    started, ended, faults, reason, end, reply, truncated, replayed), cost)

    def find(self, kind: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Entries of a kind whose fields equal every filter; a filter on `path` matches a prefix
        when it ends with "*"."""
        return [entry for entry in map(_as_dict, self._entries) if _wanted(entry, kind, filters)]

    async def page(self, kind: str | None, filters: Mapping[str, Any], after: int | None = None,
                   before: int | None = None, limit: int = PAGE,
                   max_bytes: int = PAGE_BYTES) -> tuple[list[dict[str, Any]], bool, bool]:
        """One page of what find() would give, oldest first: the first `limit` entries after the
        entry numbered `after`; without it, the last `limit` before `before` (or the newest). At
        most about `max_bytes`. Also says whether there may be more before and after it. Yields to
        the event loop as it goes, so a journal of a million entries never stalls the emulator."""
        entries, costs = list(self._entries), list(self._costs)  # the journal may change meanwhile
        lo = 0 if after is None else bisect.bisect_right(entries, after, key=_seq)
        hi = len(entries) if before is None else bisect.bisect_left(entries, before, key=_seq)
        forward = after is not None
        out: list[dict[str, Any]] = []
        size = 0
        full = False
        for n, i in enumerate(range(lo, hi) if forward else range(hi - 1, lo - 1, -1)):
            if n % SCAN == SCAN - 1:
                await asyncio.sleep(0)
            entry = _as_dict(entries[i])
            if not _wanted(entry, kind, filters):
                continue
            if len(out) == limit or (out and size + costs[i] > max_bytes):
                full = True  # one more matches past the page
                break
            out.append(entry)
            size += costs[i]
        if forward:
            return out, lo > 0, full
        out.reverse()
        return out, full, hi < len(entries)

    # -- device actions, from the event stream -----------------------------------------------

    def on_event(self, event: Event) -> None:
        p = event.params
        if event.name == "SwitchStateChanged":
            if p["state"]:
                self._switch_on_at[p["switch"]] = event.at
                self.add("action", action="switch", switch=p["switch"], state="on")
            else:
                started = self._switch_on_at.pop(p["switch"], None)
                duration = None if started is None else round(event.at - started, 3)
                self.add("action", action="switch", switch=p["switch"], state="off", duration=duration)
        elif event.name == "OutputChanged":
            self.add("action", action="output", port=p["port"], state="on" if p["state"] else "off")
        elif event.name == "CallStateChanged":
            if p["state"] == "ringing" and p["direction"] == "outgoing":
                return  # the dial was journalled at "connecting"
            name = {"connecting": "dial", "ringing": "incoming", "connected": "connected",
                    "terminated": "hangup"}[p["state"]]
            entry = {"action": "call", "event": name, "session": p["session"], "peer": p["peer"],
                     "direction": p["direction"]}
            if "reason" in p:
                entry["reason"] = p["reason"]
            self.add("action", **entry)
        elif event.name == "DeviceState":
            self._switch_on_at.clear()
            self.add("action", action="boot")
        elif event.name == "AudioLoopTest":
            self.add("action", action="audio-test", result=p["result"])

    def on_email(self, email: Email) -> None:
        self.add("action", action="email", to=email.to, subject=email.subject, pictures=len(email.pictures),
                 status=email.status)

    def on_power(self, online: bool) -> None:
        if not online:
            self.add("action", action="restart")


def describe(entry: dict[str, Any]) -> str:
    """An entry in one line, as the log says it: `GET /api/switch/ctrl 401 code=9 account=- 0.3ms
    reason="no credentials"` (code, faults, ended and reason when there are), or `action switch
    switch=1 state=on`, or `rtsp refused method=DESCRIBE ...`."""
    if entry["kind"] != "request":
        head = "action" if "action" in entry else "event"  # an rtsp entry says its event
        return " ".join([entry["kind"], str(entry.get(head, ""))] +
                        [f"{k}={v}" for k, v in entry.items() if k not in ("seq", "kind", "time", head)])
    line = f"{entry['method']} {entry['path']} {'-' if entry['status'] is None else entry['status']}"
    if entry["code"] is not None:
        line += f" code={entry['code']}"
    line += f" account={entry['account'] or '-'}"
    if entry["faults"]:
        line += f" faults={','.join(entry['faults'])}"
    line += f" {entry['duration_ms']:.1f}ms"
    if entry["ended"] != "replied":
        line += f" ended={entry['ended']}"
    if entry["replayed"]:
        line += " replayed"
    if entry["reason"]:
        line += f' reason="{entry["reason"]}"'
    return line


def _as_dict(entry: dict[str, Any] | tuple[Any, ...], with_reply: bool = True) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    seq, now, method, path, params, account, secure, status, code, started, ended, faults, reason, end, reply, \
        truncated, replayed = entry
    out = {"seq": seq, "kind": "request", "time": round(now, 3), "method": method, "path": path,
           "params": {k: "***" if "password" in k.lower() else v for k, v in params.items()},
           "account": account.name if account is not None else None, "transport": "https" if secure else "http",
           "status": status, "code": code, "reason": reason, "ended": end or "replied",
           "duration_ms": round((ended - started) * 1000, 3), "faults": [f.kind for f in faults],
           "replayed": replayed}
    if with_reply:
        out["reply"] = None if reply is None else _readable(reply)
    if truncated is not None:
        out["truncated"] = truncated
    return out


def _seq(entry: dict[str, Any] | tuple[Any, ...]) -> int:
    return entry["seq"] if isinstance(entry, dict) else entry[0]


def _wanted(entry: dict[str, Any], kind: str | None, filters: Mapping[str, Any]) -> bool:
    return (kind is None or entry["kind"] == kind) and \
        all(_matches(entry.get(key), value) for key, value in filters.items())


def _short(text: str) -> str:
    return text[:MAX_VALUE] + "…"


def _cut(params: Mapping[str, str]) -> tuple[dict[str, str], dict[str, Any] | None]:
    """At most MAX_PARAMS parameters, each name and value at most MAX_VALUE characters; and what
    was cut: {"values": {name: full length}, "params": how many there were}, or None."""
    kept: dict[str, str] = {}
    lengths: dict[str, int] = {}
    count = 0
    for name, value in params.items():
        count += 1
        if len(kept) == MAX_PARAMS:
            continue
        name = _short(name) if len(name) > MAX_VALUE else name
        if len(value) > MAX_VALUE:
            lengths[name] = len(value)
            value = _short(value)
        kept[name] = value
    truncated: dict[str, Any] = {}
    if lengths:
        truncated["values"] = lengths
    if count > MAX_PARAMS:
        truncated["params"] = count
    return kept, truncated or None


_SECRET_XML = re.compile(rb"(<(\w*Password\w*)>)[^<]*(</\2>)", re.I)


def _readable(body: bytes) -> str:
    """A kept reply as text, with passwords hidden (a JSON reply's password fields, XML's
    <...Password> elements); a binary one as its size."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return f"({len(body)} bytes, binary)"
    if text.startswith("{"):
        try:
            return json.dumps(_hide(json.loads(text)), ensure_ascii=False, separators=(",", ":"))
        except ValueError:
            return text
    return _SECRET_XML.sub(rb"\1***\3", body).decode("utf-8")


def _hide(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "***" if "password" in k.lower() and isinstance(v, str) else _hide(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_hide(v) for v in value]
    return value


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and wanted.endswith("*") and isinstance(actual, str):
        return actual.startswith(wanted[:-1])
    if isinstance(actual, bool) and isinstance(wanted, str):  # ?replayed=true (bool("false") is True)
        return wanted.lower() == ("true" if actual else "false")
    if isinstance(actual, (int, float)) and isinstance(wanted, str):
        try:
            return actual == type(actual)(wanted)
        except ValueError:
            return False
    return actual == wanted
