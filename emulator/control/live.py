"""What happens, as it happens: GET /_emulator/live, a Server-Sent Events stream of the device's
events and of the journal's new entries (the front panel's live view).

    event: device            data: {"id", "tzShift", "utcTime", "upTime", "event", "params"}
    event: journal           data: a journal entry (GET /_emulator/journal's form)
    event: lost              data: {"device": n}  n device events were dropped: the viewer was slow

Bounded: at most MAX_VIEWERS streams at once (503 past that), each with a queue of at most QUEUE
device events (the oldest go first, counted in `lost`) and at most the BATCH newest journal
entries per round (a viewer that falls behind skips to the newest). The hub
listens to the device and the journal only while someone watches, so an emulator nobody watches
pays nothing for it.

The framing is written here (an event name, one `data:` line of JSON, a blank line; a comment
line as keep-alive): a library for it would be bigger than what it does.
"""

from __future__ import annotations

import asyncio
import json
from collections import deque
from typing import TYPE_CHECKING

from aiohttp import web

from emulator.device.events import Event

if TYPE_CHECKING:
    from emulator.app import Emulator

MAX_VIEWERS = 16
QUEUE = 1000
BATCH = 200
KEEPALIVE = 15.0  # seconds between comment lines when nothing happens (proxies close idle streams)


class Viewer:
    def __init__(self) -> None:
        self.events: deque[Event] = deque(maxlen=QUEUE)
        self.lost = 0
        self.wake = asyncio.Event()

    def put(self, event: Event) -> None:
        if len(self.events) == self.events.maxlen:
            self.lost += 1
        self.events.append(event)
        self.wake.set()


class Live:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.viewers: set[Viewer] = set()
        self.closing = False

    def close(self) -> None:
        """The emulator stops: every stream ends now."""
        self.closing = True
        self._on_entry()

    def _on_event(self, event: Event) -> None:
        for viewer in self.viewers:
            viewer.put(event)

    def _on_entry(self) -> None:
        for viewer in self.viewers:
            viewer.wake.set()

    def _watch(self, viewer: Viewer) -> None:
        if not self.viewers:
            self.emulator.device.events.listeners.append(self._on_event)
            self.emulator.journal.on_entry = self._on_entry
        self.viewers.add(viewer)

    def _unwatch(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)
        if not self.viewers:
            self.emulator.device.events.listeners.remove(self._on_event)
            self.emulator.journal.on_entry = None

    async def stream(self, request: web.Request) -> web.StreamResponse:
        """The stream; `?journal=<seq>` starts the journal after that entry (default: only new ones),
        `?events=<n>` starts with the last n events of the device's history (default none)."""
        if len(self.viewers) >= MAX_VIEWERS:
            return web.json_response({"error": f"at most {MAX_VIEWERS} live streams at once"}, status=503)
        journal = self.emulator.journal
        try:
            seq = int(request.query.get("journal", journal.last_seq))
            history = min(max(int(request.query.get("events", 0)), 0), QUEUE)
        except ValueError:
            return web.json_response({"error": "journal: an entry's seq; events: a number"}, status=400)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        viewer = Viewer()
        if history:
            for event in list(self.emulator.device.events.history)[-history:]:
                viewer.put(event)
        self._watch(viewer)
        try:
            await response.write(b": helios-emulator live\n\n")
            while not self.closing:
                try:
                    await asyncio.wait_for(viewer.wake.wait(), KEEPALIVE)
                except TimeoutError:
                    await response.write(b": keep-alive\n\n")
                    continue
                viewer.wake.clear()
                chunks = []
                while viewer.events:
                    chunks.append(_message("device", viewer.events.popleft().json))
                if viewer.lost:
                    chunks.append(_message("lost", json.dumps({"device": viewer.lost}).encode()))
                    viewer.lost = 0
                entries = journal.after(seq, BATCH)
                if entries:
                    seq = entries[-1]["seq"]
                    chunks.extend(_message("journal", json.dumps(e, default=str).encode()) for e in entries)
                if chunks:
                    await response.write(b"".join(chunks))
        except ConnectionError:
            pass  # the viewer left
        finally:
            self._unwatch(viewer)
        return response


def _message(name: str, data: bytes) -> bytes:
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"
