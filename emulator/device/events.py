"""The event log: a bounded history ring, listeners, and the subscription channels.

Every change of the device goes through the model, which emits an Event here. The log keeps the
last N events (empty after each boot, ids from 1) and hands each new event to its listeners:
the subscription channels of /api/log/*, the journal, anything else that wants to watch.
"""

from __future__ import annotations

import asyncio
import hashlib
import heapq
import json
import math
import random
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable, Iterable

from emulator.device.clock import Clock, Timer
from emulator.errors import ApiError, ErrorCode, invalid

MAX_EVENTS_PER_PULL = 128
MAX_DURATION = 3600
DEFAULT_DURATION = 90

# Event type -> the privilege a channel's account needs to receive it (manual 5.24; newer
# firmware's table for the newer events). Types not listed need no privilege.
EVENT_PRIVILEGE = {
    "KeyPressed": "keypad",
    "KeyReleased": "keypad",
    "CodeEntered": "keypad",
    "CardEntered": "uid",
    "UserAuthenticated": "uid",
    "InputChanged": "io-monitoring",
    "OutputChanged": "io-monitoring",
    "SwitchStateChanged": "io-monitoring",
    "CallStateChanged": "call-monitoring",
    "CallSessionStateChanged": "call-monitoring",
    "RegistrationStateChanged": "call-monitoring",
}


@dataclass(slots=True)
class Event:
    id: int
    hash: str  # "" on firmware that sends none (2.15)
    tz_shift: int
    utc_time: int
    up_time: int
    name: str
    params: dict[str, Any]
    at: float  # clock.monotonic() when it happened; for include=-t
    json: bytes = field(repr=False, default=b"")  # rendered once, shared by every channel

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        if self.hash:
            out["hash"] = self.hash
        out.update(tzShift=self.tz_shift, utcTime=self.utc_time, upTime=self.up_time, event=self.name,
                   params=self.params)
        return out


Listener = Callable[[Event], None]


class EventLog:
    """The device's event history (a ring) and the fan-out to listeners."""

    def __init__(self, clock: Clock, capacity: int, tz_shift: int, boot_time: Callable[[], float],
                 wall_time: Callable[[], float]):
        self.clock = clock
        self.tz_shift = tz_shift
        self._boot_time = boot_time
        self._wall_time = wall_time  # the device's own time (it may have been set by hand)
        self.history: deque[Event] = deque(maxlen=capacity)
        self.next_id = 1
        self.listeners: list[Listener] = []
        # Current firmware gives every event a `hash` of 16 hex digits (devices' recorded events, as
        # helios2n-hass documents them: {id, hash, tzShift, utcTime, upTime, event, params}); the
        # v2.15 manual's events have none. How the device derives it is not published: here it is a
        # digest of the boot and the event id, so it names one event across reboots (ids restart at
        # 1 after each) and is the same in every channel and pull (the event is rendered once).
        self.hashes = False
        self._boot_key = b""

    def reset(self, boot_key: bytes = b"") -> None:
        """A boot: the history is empty again and ids restart from 1."""
        self.history.clear()
        self.next_id = 1
        self._boot_key = boot_key

    def emit(self, name: str, /, **params: Any) -> Event:
        # `name` is positional-only: events have a "name" param of their own (UserAuthenticated).
        now = self.clock.monotonic()
        event_id = self.next_id
        digest = self._hash(event_id) if self.hashes else ""
        event = Event(id=event_id, hash=digest, tz_shift=self.tz_shift, utc_time=int(self._wall_time()),
                      up_time=int(now - self._boot_time()), name=name, params=params, at=now)
        event.json = json.dumps(event.to_dict(), separators=(",", ":")).encode()
        self.next_id = (self.next_id + 1) & 0xFFFFFFFF or 1
        self.history.append(event)
        for listener in list(self.listeners):
            listener(event)
        return event

    def _hash(self, event_id: int) -> str:
        """16 hex digits naming this boot's event `event_id` (keyed with the boot's id)."""
        return hashlib.blake2b(event_id.to_bytes(4, "big"), digest_size=8, key=self._boot_key).hexdigest()

    def since(self, seconds: float) -> list[Event]:
        cutoff = self.clock.monotonic() - seconds
        return [e for e in self.history if e.at >= cutoff]


class ChannelClosed(Exception):
    """The channel went away under a waiting pull because the device is going down."""


class Channel:
    __slots__ = ("id", "filter", "privileges", "owner", "duration", "queue", "dropped", "expires_at", "_waiter",
                 "_timer", "_channels")

    def __init__(self, channels: Channels, channel_id: int, filter_: frozenset[str] | None,
                 privileges: frozenset[str] | None, duration: int, queue_size: int, owner: str | None = None):
        self._channels = channels
        self.id = channel_id
        self.filter = filter_
        self.privileges = privileges
        self.owner = owner  # the account that subscribed (None: no authentication was asked)
        self.duration = duration
        self.queue: deque[Event] = deque(maxlen=queue_size)
        self.dropped = 0  # events lost because the queue was full (the oldest go first)
        self.expires_at = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._timer: Timer | None = None

    def wants(self, name: str) -> bool:
        """Whether events of this type reach the channel (its filter, its account's privileges)."""
        if self.filter is not None and name not in self.filter:
            return False
        if self.privileges is not None:
            needed = EVENT_PRIVILEGE.get(name)
            if needed is not None and needed not in self.privileges:
                return False
        return True

    def put(self, event: Event) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1
        self.queue.append(event)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def take(self) -> list[Event]:
        queue = self.queue
        if len(queue) <= MAX_EVENTS_PER_PULL:
            events = list(queue)
            queue.clear()
            return events
        return [queue.popleft() for _ in range(MAX_EVENTS_PER_PULL)]

    @property
    def waiting(self) -> bool:
        return self._waiter is not None


class Channels:
    """Subscription channels of /api/log/subscribe, pull and unsubscribe."""

    def __init__(self, clock: Clock, log: EventLog, max_channels: int, queue_size: int,
                 rng: random.Random):
        self.clock = clock
        self.log = log
        self.max_channels = max_channels
        self.queue_size = queue_size
        self.rng = rng  # ids: unpredictable (secrets) unless the emulator was given a seed
        self._channels: dict[int, Channel] = {}
        # A test may make delivery misbehave (the control plane's "events" faults): given an event,
        # it returns the delays (device seconds) at which channels get it; [] drops it, None means
        # deliver normally.
        self.delivery: Callable[[Event], list[float] | None] | None = None
        self._generation = 0  # one per boot
        # Event type -> the channels that get it, worked out at the type's first event after the
        # set of channels changed (an event reaches 1,000 channels without asking each one).
        self._wanting: dict[str, list[Channel]] = {}
        self.timeouts = Timeouts(clock)
        log.listeners.append(self._deliver)

    def __len__(self) -> int:
        return len(self._channels)

    def __iter__(self):
        return iter(list(self._channels.values()))

    def subscribe(self, include: str = "new", filter_: Iterable[str] | None = None,
                  duration: int = DEFAULT_DURATION, privileges: frozenset[str] | None = None,
                  owner: str | None = None) -> Channel:
        """Open a channel. `include` is "new", "all" or "-<seconds>"; bad values are the caller's 12.
        `owner` is the subscribing account's name: only it may pull or unsubscribe (None: anyone,
        when the service asks for no authentication and the id is the only key)."""
        if len(self._channels) >= self.max_channels:
            raise ApiError(ErrorCode.PROCESSING_ERROR, description="too many subscriptions")
        backlog = self._backlog(include)
        channel_id = self._new_id()
        names = None if filter_ is None else frozenset(filter_)
        # include=all must hand over the whole history (10 000 events on current firmware), even
        # when that is more than a channel queue holds otherwise.
        channel = Channel(self, channel_id, names, privileges, min(max(duration, 1), MAX_DURATION),
                          max(self.queue_size, len(backlog)), owner)
        for event in backlog:
            if channel.wants(event.name):
                channel.put(event)
        self._channels[channel_id] = channel
        self._wanting.clear()
        self._touch(channel)
        return channel

    def _backlog(self, include: str) -> list[Event]:
        if include == "new":
            return []
        if include == "all":
            return list(self.log.history)
        if include.startswith("-") and include[1:].isascii() and include[1:].isdigit():
            return self.log.since(int(include[1:]))
        raise invalid("include")

    def _new_id(self) -> int:
        while True:
            channel_id = self.rng.randrange(1, 2**32)
            if channel_id not in self._channels:
                return channel_id

    def get(self, channel_id: int, account: str | None = None) -> Channel:
        """The channel with this id, for this account. Another account's channel is refused exactly
        as an unknown id (12 `id`): ids must not be probed, and nobody takes events (codes, card
        numbers) meant for an account with other privileges."""
        channel = self._channels.get(channel_id)
        if channel is None or (channel.owner is not None and channel.owner != account):
            raise invalid("id")
        return channel

    def unsubscribe(self, channel_id: int, account: str | None = None) -> None:
        channel = self.get(channel_id, account)
        self._close(channel)

    async def pull(self, channel_id: int, timeout: float, account: str | None = None) -> list[Event]:
        channel = self.get(channel_id, account)
        if not channel.queue and timeout > 0:
            # A newer pull takes over from one still waiting (most likely a pull its client gave
            # up on): the older one ends empty and must not take the events meant for the newer.
            previous = channel._waiter
            loop = asyncio.get_running_loop()
            waiter = channel._waiter = loop.create_future()
            if previous is not None and not previous.done():
                previous.set_result(None)
            self.timeouts.add(waiter, timeout, len(self._channels))
            try:
                await waiter
            finally:
                superseded = channel._waiter is not waiter
                if not superseded:
                    channel._waiter = None
                    if channel.id in self._channels:
                        self._touch(channel)  # its life starts again (also when the client gave up)
            if superseded:
                return []
        events = channel.take()
        if channel.id in self._channels:
            self._touch(channel)
        return events

    def close_all(self) -> None:
        """The device goes down: every channel is gone and every waiting pull ends."""
        self._generation += 1  # events still on their way (a delay fault) die with the boot
        for channel in list(self._channels.values()):
            self._close(channel, ChannelClosed())

    # -- internals -------------------------------------------------------------------------

    def _deliver(self, event: Event) -> None:
        delays = self.delivery(event) if self.delivery is not None else None
        if delays is None:
            self._fan_out(event)
            return
        for delay in delays:
            if delay <= 0:
                self._fan_out(event)
            else:
                self.clock.call_later(delay, self._fan_out, event, self._generation)

    def _fan_out(self, event: Event, generation: int | None = None) -> None:
        if generation is not None and generation != self._generation:
            return
        channels = self._wanting.get(event.name)
        if channels is None:
            channels = self._wanting[event.name] = [c for c in self._channels.values() if c.wants(event.name)]
        for channel in channels:
            channel.put(event)

    def _touch(self, channel: Channel) -> None:
        """Every pull extends the channel's life by its duration."""
        channel.expires_at = self.clock.monotonic() + channel.duration
        if channel._timer is None:
            channel._timer = self.clock.call_later(channel.duration, self._check_expiry, channel)

    def _check_expiry(self, channel: Channel) -> None:
        channel._timer = None
        if channel.id not in self._channels:
            return
        if channel.waiting:
            # A waiting pull keeps the channel alive; its end re-arms the check (_touch), so a long
            # advance of a virtual clock is no loop of checks every `duration` seconds.
            return
        remaining = channel.expires_at - self.clock.monotonic()
        if remaining > 0:
            channel._timer = self.clock.call_later(remaining, self._check_expiry, channel)
            return
        self._close(channel)

    def _close(self, channel: Channel, error: BaseException | None = None) -> None:
        self._channels.pop(channel.id, None)
        self._wanting.clear()
        if channel._timer is not None:
            channel._timer.cancel()
            channel._timer = None
        waiter = channel._waiter
        if waiter is not None and not waiter.done():
            if error is None:
                waiter.set_result(None)
            else:
                waiter.set_exception(error)


class Timeouts:
    """The deadlines of the waiting pulls, on one timer.

    A timer per pull, armed when it starts waiting and cancelled when an event answers it, was a
    good part of what a long-poll cost (1,000 channels hear one event at once). Here a pull's
    deadline goes into a heap and stays there when an event answers the pull first; the one timer
    is armed for the earliest deadline and wakes every pull still waiting whose deadline has come.
    Answered pulls are dropped from the heap in bulk once they outnumber the waiting ones.
    """

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, asyncio.Future[None]]] = []  # (deadline, tie-break, waiter)
        self._timer: Timer | None = None
        self._timer_at = math.inf

    def __len__(self) -> int:
        return len(self._heap)

    def add(self, waiter: asyncio.Future[None], timeout: float, waiting_at_most: int) -> None:
        """Wake `waiter` in `timeout` seconds unless it is done by then; `waiting_at_most` bounds
        how many waiters are not done (one per channel), which bounds the heap."""
        heap = self._heap
        if len(heap) > 1024 + 2 * waiting_at_most:
            self._heap = heap = [entry for entry in heap if not entry[2].done()]
            heapq.heapify(heap)
        deadline = self.clock.monotonic() + timeout
        heapq.heappush(heap, (deadline, id(waiter), waiter))
        if deadline < self._timer_at:
            self._arm(deadline)

    def _arm(self, deadline: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = deadline
        self._timer = self.clock.call_later(deadline - self.clock.monotonic(), self._expire)

    def _expire(self) -> None:
        self._timer, self._timer_at = None, math.inf
        heap = self._heap
        now = self.clock.monotonic()
        while heap and (heap[0][0] <= now or heap[0][2].done()):
            waiter = heapq.heappop(heap)[2]
            if not waiter.done():
                waiter.set_result(None)
        if heap:
            self._arm(heap[0][0])
