"""The journal: a bounded ring of what happened, in two kinds of entries.

- "request": every /api request (time, method, path, parameters, account, transport, HTTP
  status, 2N error code, duration);
- "action": what the device did, in device terms, read off its events and outbox: a switch went
  on (and, when it goes off, for how long it was on), a call was dialled or answered or ended, an
  e-mail was sent, the device restarted.

Tests ask "did the relay click once for 5 s?" here instead of parsing logs.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from emulator.device.events import Event
from emulator.device.outputs import Email

DEFAULT_SIZE = 1000
# A request entry is recorded as a tuple of raw values (cheap on the hot path) and made into a
# dict (passwords among its parameters hidden) only when read.


class Journal:
    def __init__(self, now: Callable[[], float], size: int = DEFAULT_SIZE):
        self._now = now  # the device's wall time: every entry's "time"
        self._entries: deque[dict[str, Any] | tuple[Any, ...]] = deque(maxlen=size)
        self._seq = itertools.count(1)
        self._switch_on_at: dict[int, float] = {}

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [_as_dict(e) for e in self._entries]

    def clear(self) -> None:
        self._entries.clear()

    def add(self, kind: str, **fields: Any) -> dict[str, Any]:
        entry = {"seq": next(self._seq), "kind": kind, "time": round(self._now(), 3), **fields}
        self._entries.append(entry)
        return entry

    def request(self, method: str, path: str, params: Mapping[str, str], account: Any, secure: bool,
                status: int | None, code: int | None, started: float, ended: float, faults: Sequence[Any],
                replayed: bool = False) -> None:
        """One /api request: `account` is an Account or None, `started`/`ended` perf_counter() times,
        `faults` the fault objects applied; status None when the connection was dropped; `replayed`
        when a recording answered it (--replay)."""
        self._entries.append((next(self._seq), self._now(), method, path, params, account, secure, status, code,
                              started, ended, faults, replayed))

    def find(self, kind: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        """Entries of a kind whose fields equal every filter; a filter on `path` matches a prefix
        when it ends with "*"."""
        out = []
        for raw in self._entries:
            entry = _as_dict(raw)
            if kind is not None and entry["kind"] != kind:
                continue
            if all(_matches(entry.get(key), value) for key, value in filters.items()):
                out.append(entry)
        return out

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


def _as_dict(entry: dict[str, Any] | tuple[Any, ...]) -> dict[str, Any]:
    if isinstance(entry, dict):
        return entry
    seq, now, method, path, params, account, secure, status, code, started, ended, faults, replayed = entry
    return {"seq": seq, "kind": "request", "time": round(now, 3), "method": method, "path": path,
            "params": {k: "***" if "password" in k.lower() else v for k, v in params.items()},
            "account": account.name if account is not None else None, "transport": "https" if secure else "http",
            "status": status, "code": code, "duration_ms": round((ended - started) * 1000, 3),
            "faults": [f.kind for f in faults], "replayed": replayed}


def _matches(actual: Any, wanted: Any) -> bool:
    if isinstance(wanted, str) and wanted.endswith("*") and isinstance(actual, str):
        return actual.startswith(wanted[:-1])
    if isinstance(actual, (int, float)) and isinstance(wanted, str):
        try:
            return actual == type(actual)(wanted)
        except ValueError:
            return False
    return actual == wanted
