"""The device's clock: the virtual clock that tests advance, and the per-boot timer set."""

from __future__ import annotations

import asyncio

import pytest

from emulator.device.clock import Clock, Timers, VirtualClock


def test_virtual_clock_stands_still_until_advanced():
    clock = VirtualClock(start=1_700_000_000.0)
    assert clock.time() == 1_700_000_000.0
    assert clock.monotonic() == 0.0
    clock.advance(2.5)
    assert clock.time() == 1_700_000_002.5
    assert clock.monotonic() == 2.5


def test_time_cannot_go_backwards():
    clock = VirtualClock(start=0)
    clock.advance(1)
    with pytest.raises(ValueError):
        clock.advance(-0.5)
    assert clock.monotonic() == 1


def test_timers_run_in_time_order_each_seeing_its_own_due_time():
    clock = VirtualClock(start=1000.0)
    seen: list[tuple[str, float, float]] = []

    def record(name: str) -> None:
        seen.append((name, clock.monotonic(), clock.time()))

    clock.call_later(3, record, "c")
    clock.call_later(1, record, "a")
    clock.call_later(2, record, "b")
    clock.call_later(10, record, "late")
    ran = clock.advance(5)
    assert ran == 3
    assert seen == [("a", 1, 1001.0), ("b", 2, 1002.0), ("c", 3, 1003.0)]
    # After the advance the clock is at its target, not at the last timer's due time.
    assert clock.monotonic() == 5
    assert clock.pending == 1
    assert clock.advance(5) == 1
    assert seen[-1] == ("late", 10, 1010.0)
    assert clock.pending == 0


def test_timers_due_at_the_same_time_run_in_the_order_they_were_set():
    clock = VirtualClock(start=0)
    seen: list[int] = []
    for i in range(20):
        clock.call_later(1, seen.append, i)
    clock.advance(1)
    assert seen == list(range(20))


def test_a_timer_is_due_exactly_at_its_delay_not_before():
    clock = VirtualClock(start=0)
    seen: list[str] = []
    clock.call_later(5, seen.append, "x")
    clock.advance(4.999)
    assert seen == []
    clock.advance(0.001)
    assert seen == ["x"]


def test_timers_set_by_a_timer_within_the_advance_also_run():
    clock = VirtualClock(start=0)
    seen: list[float] = []

    def tick() -> None:
        seen.append(clock.monotonic())
        if len(seen) < 4:
            clock.call_later(1, tick)

    clock.call_later(1, tick)
    assert clock.advance(10) == 4
    assert seen == [1, 2, 3, 4]


def test_negative_delay_fires_at_the_next_advance_without_moving_time_back():
    clock = VirtualClock(start=0)
    clock.advance(3)
    seen: list[float] = []
    clock.call_later(-5, lambda: seen.append(clock.monotonic()))
    assert clock.advance(0) == 1
    assert seen == [3]


def test_cancelled_timers_never_run():
    clock = VirtualClock(start=0)
    seen: list[str] = []
    keep = clock.call_later(1, seen.append, "keep")
    drop = clock.call_later(1, seen.append, "drop")
    drop.cancel()
    drop.cancel()  # twice is harmless
    assert clock.pending == 1
    assert clock.advance(2) == 1
    assert seen == ["keep"]
    keep.cancel()  # after it ran: nothing to cancel, the count stays right
    assert clock.pending == 0
    assert clock._timers == []


def test_creating_and_cancelling_many_timers_keeps_the_heap_bounded():
    clock = VirtualClock(start=0)
    live = [clock.call_later(50, lambda: None) for _ in range(10)]
    biggest = 0
    for _ in range(100_000):
        clock.call_later(10, lambda: None).cancel()
        biggest = max(biggest, len(clock._timers))
    assert biggest < 5_000
    assert clock.pending == len(live)
    # The live timers survived the compactions and still run.
    assert clock.advance(100) == len(live)
    assert clock.pending == 0


def test_compaction_keeps_live_timers_in_order():
    clock = VirtualClock(start=0)
    seen: list[int] = []
    for i in range(3000):
        timer = clock.call_later(1 + i / 1000, seen.append, i)
        if i % 3:
            timer.cancel()
    # Enough cancelled timers to trigger compaction on the next call_later.
    clock.call_later(100, seen.append, -1)
    assert clock.advance(200) == 1001
    assert seen == [i for i in range(3000) if i % 3 == 0] + [-1]


async def test_virtual_sleep_completes_when_time_is_advanced():
    clock = VirtualClock(start=0)
    sleeping = clock.sleep(5)
    clock.advance(4.9)
    await asyncio.sleep(0)
    assert not sleeping.done()
    clock.advance(0.1)
    await asyncio.wait_for(sleeping, 1)
    assert clock.pending == 0


async def test_cancelling_a_sleep_cancels_its_timer():
    clock = VirtualClock(start=0)
    sleeping = clock.sleep(5)
    assert clock.pending == 1
    sleeping.cancel()
    await asyncio.sleep(0)
    assert clock.pending == 0
    assert clock.advance(10) == 0


async def test_real_clock_timers_and_sleep():
    clock = Clock()
    loop = asyncio.get_running_loop()
    fired = loop.create_future()
    clock.call_later(0.01, fired.set_result, "fired")
    assert await asyncio.wait_for(fired, 2) == "fired"
    start = clock.monotonic()
    await asyncio.wait_for(clock.sleep(0.02), 2)
    assert clock.monotonic() - start >= 0.015


def test_timers_forget_the_ones_that_fired_and_cancel_the_rest():
    clock = VirtualClock(start=0)
    timers = Timers(clock)
    seen: list[str] = []
    timers.later(1, seen.append, "one")
    timers.later(2, seen.append, "two")
    three = timers.later(3, seen.append, "three")
    timers.later(4, seen.append, "four")
    assert len(timers) == 4
    clock.advance(1)
    assert seen == ["one"] and len(timers) == 3
    three.cancel()
    assert len(timers) == 2
    timers.cancel_all()
    assert len(timers) == 0
    assert clock.advance(10) == 0
    assert seen == ["one"]
    assert clock.pending == 0
