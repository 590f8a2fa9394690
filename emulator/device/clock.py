"""Device time.

The model never reads the system clock or sleeps by itself: it asks a Clock. The real clock
follows the wall clock and the event loop; the virtual clock stands still until a test
advances it, so switch auto-off, call progress, channel expiry, reboots and pull timeouts can
be driven in milliseconds.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import math
import time
from typing import Any, Protocol
from collections.abc import Callable


class Timer(Protocol):
    def cancel(self) -> None: ...


class Clock:
    """Wall time, monotonic time and timers, all from one source."""

    virtual = False
    # Seconds since the Unix epoch, and monotonic seconds: the C functions themselves (every
    # request reads the time; a Python method around them would cost a frame each time).
    monotonic = staticmethod(time.monotonic)
    time = staticmethod(time.time)  # (after monotonic: from here on, `time` in this class is this)

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback, *args)

    def sleep(self, delay: float) -> asyncio.Future[None]:
        """A future that completes after `delay` seconds of this clock's time."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        timer = self.call_later(delay, _resolve, future)
        future.add_done_callback(lambda _f: timer.cancel())
        return future


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _VirtualTimer:
    __slots__ = ("clock", "when", "seq", "callback", "args", "cancelled")

    def __init__(self, clock: VirtualClock, when: float, callback: Callable[..., Any], args: tuple[Any, ...]):
        self.clock = clock
        self.when = when
        self.seq = next(clock._seq)
        self.callback = callback
        self.args = args
        self.cancelled = False

    def cancel(self) -> None:
        if not self.cancelled:
            self.cancelled = True
            self.clock._cancelled += 1

    def __lt__(self, other: _VirtualTimer) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)


LATEST = 221845392000.0  # 9000-01-01T00:00:00Z: wall time a virtual clock may reach


class VirtualClock(Clock):
    """A clock that moves only when `advance` is called.

    Wall time starts at the real time of creation (or `start`), so timestamps look current.
    Timers due within an advance run in time order, each seeing the clock at its own due time.
    """

    virtual = True

    def __init__(self, start: float | None = None) -> None:
        self._wall0 = time.time() if start is None else start
        self._now = 0.0
        self._timers: list[_VirtualTimer] = []
        self._seq = itertools.count()
        self._cancelled = 0  # cancelled timers still in the heap

    def time(self) -> float:
        return self._wall0 + self._now

    def monotonic(self) -> float:
        return self._now

    def call_later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        timer = _VirtualTimer(self, self._now + max(0.0, delay), callback, args)
        heapq.heappush(self._timers, timer)
        if self._cancelled > 1024 and 2 * self._cancelled > len(self._timers):
            # Cancelled timers wait in the heap until they fall due; drop them in bulk so a
            # test that never advances the clock cannot grow the heap without bound.
            self._timers = [t for t in self._timers if not t.cancelled]
            heapq.heapify(self._timers)
            self._cancelled = 0
        return timer

    def advance(self, seconds: float) -> int:
        """Move time forward, running every timer that falls due. Returns how many ran."""
        if seconds < 0:
            raise ValueError("time cannot go backwards")
        if not math.isfinite(seconds):
            raise ValueError("time moves by a finite number of seconds")  # NaN or inf would break it for good
        if self.time() + seconds > LATEST:  # past it dates and time zones no longer exist
            raise ValueError("the virtual clock stops at the end of the year 9000")
        target = self._now + seconds
        ran = 0
        while self._timers and self._timers[0].when <= target:
            timer = heapq.heappop(self._timers)
            if timer.cancelled:
                self._cancelled -= 1
                continue
            timer.cancelled = True  # spent: a late cancel() must not count it again
            self._now = max(self._now, timer.when)
            timer.callback(*timer.args)
            ran += 1
        self._now = target
        return ran

    @property
    def pending(self) -> int:
        return len(self._timers) - self._cancelled


class Timers:
    """The timers one boot of the device has running, so a power-off can cancel them all."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self._live: dict[int, Timer] = {}
        self._ids = itertools.count()

    def later(self, delay: float, callback: Callable[..., Any], *args: Any) -> Timer:
        key = next(self._ids)

        def fire() -> None:
            self._live.pop(key, None)
            callback(*args)

        timer = self.clock.call_later(delay, fire)
        self._live[key] = timer
        return _Tracked(self._live, key, timer)

    def cancel_all(self) -> None:
        for timer in self._live.values():
            timer.cancel()
        self._live.clear()

    def __len__(self) -> int:
        return len(self._live)


class _Tracked:
    __slots__ = ("_live", "_key", "_timer")

    def __init__(self, live: dict[int, Timer], key: int, timer: Timer) -> None:
        self._live = live
        self._key = key
        self._timer = timer

    def cancel(self) -> None:
        self._timer.cancel()
        self._live.pop(self._key, None)
