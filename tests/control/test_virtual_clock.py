"""The virtual clock: with Settings(clock="virtual") device time moves only with
POST /_emulator/clock {"advance": s}. Switch auto-off, a call's ring delay, channel expiry, the
reboot window and a long-poll's timeout all wait for it, however much real time passes; on the
real clock the control plane refuses to move time (409).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest

from emulator.app import Emulator
from emulator.settings import Settings

STANDING_STILL = 0.3  # real seconds a test waits to show that device time does not move by itself


@pytest.fixture
async def start():
    started: list[Emulator] = []

    async def make(**settings: Any) -> Emulator:
        settings = {"port": 0, "https_port": None, "auth": "none", **settings}
        emulator = Emulator(Settings(**settings))
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


class Client:
    def __init__(self, emu: Emulator):
        self.emu = emu
        self.api_session = aiohttp.ClientSession()
        self.control_session = aiohttp.ClientSession()  # its own connections: a reboot drops the API's

    async def api(self, path: str, **params: Any) -> dict:
        async with self.api_session.get(self.emu.url + "/api/" + path,
                                        params={k: str(v) for k, v in params.items()}) as r:
            return await r.json()

    async def result(self, path: str, **params: Any) -> Any:
        data = await self.api(path, **params)
        assert data["success"] is True, data
        return data.get("result")

    async def control(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.control_session.request(method, self.emu.url + "/_emulator" + path, **kwargs) as r:
            return r.status, await r.json()

    async def advance(self, seconds: float) -> dict:
        status, body = await self.control("POST", "/clock", json={"advance": seconds})
        assert status == 200, body
        return body

    async def close(self) -> None:
        await self.api_session.close()
        await self.control_session.close()


@pytest.fixture
async def virtual(start):
    client = Client(await start(clock="virtual"))
    await client.advance(2)  # past the SIP registration at boot: no events come by themselves now
    yield client
    await client.close()


@pytest.fixture
async def real(start):
    client = Client(await start(clock="real"))
    yield client
    await client.close()


async def switch_active(c: Client) -> bool:
    return (await c.result("switch/status", switch=1))["switches"][0]["active"]


async def test_switch_auto_off_waits_for_the_clock(virtual):
    await virtual.result("switch/ctrl", switch=1, action="trigger")
    await asyncio.sleep(STANDING_STILL)
    assert await switch_active(virtual) is True
    await virtual.advance(4.9)
    assert await switch_active(virtual) is True
    await virtual.advance(0.1)  # the switch's 5 s
    assert await switch_active(virtual) is False


async def test_one_long_advance_runs_each_timer_at_its_own_time(virtual):
    await virtual.result("switch/ctrl", switch=1, action="trigger")
    await virtual.advance(100)
    status, entries = await virtual.control("GET", "/journal", params={"kind": "action", "action": "switch"})
    assert status == 200
    on, off = entries
    assert off["duration"] == 5.0
    assert round(off["time"] - on["time"], 3) == 5.0  # not 100


async def test_call_ring_delay_waits_for_the_clock(virtual):
    session = (await virtual.result("call/dial", number="sip:200@sip.example.com"))["session"]
    await asyncio.sleep(STANDING_STILL)

    async def state() -> str:
        return (await virtual.result("call/status", session=session))["sessions"][0]["state"]

    assert await state() == "connecting"
    await virtual.advance(0.4)
    assert await state() == "connecting"
    await virtual.advance(0.1)  # the profile's 0.5 s ring delay
    assert await state() == "ringing"


async def test_channel_expiry_waits_for_the_clock(virtual):
    kept = (await virtual.result("log/subscribe", duration=10))["id"]
    idle = (await virtual.result("log/subscribe", duration=10))["id"]
    await asyncio.sleep(STANDING_STILL)
    await virtual.advance(9)
    assert (await virtual.result("log/pull", id=kept))["events"] == []  # a pull extends its life
    await virtual.advance(1)
    gone = await virtual.api("log/pull", id=idle)
    assert gone["success"] is False and gone["error"]["code"] == 12
    assert (await virtual.result("log/pull", id=kept))["events"] == []
    await virtual.advance(10)
    assert (await virtual.api("log/pull", id=kept))["error"]["code"] == 12


async def test_reboot_window_waits_for_the_clock(virtual):
    await virtual.result("system/restart")
    await asyncio.sleep(STANDING_STILL)
    assert (await virtual.control("GET", "/ready"))[0] == 503
    await virtual.advance(2.9)
    assert (await virtual.control("GET", "/ready"))[0] == 503
    await virtual.advance(0.1)  # the profile's 3 s restart
    assert (await virtual.control("GET", "/ready"))[0] == 200
    assert (await virtual.result("system/status"))["upTime"] == 0


async def test_long_poll_timeout_waits_for_the_clock(virtual):
    channel = (await virtual.result("log/subscribe"))["id"]
    pull = asyncio.create_task(virtual.result("log/pull", id=channel, timeout=30))
    await until(lambda: any(c.waiting for c in virtual.emu.device.channels))
    await asyncio.sleep(STANDING_STILL)
    await virtual.advance(29)
    await asyncio.sleep(STANDING_STILL)
    assert not pull.done()  # not before 30 s of device time
    await virtual.advance(1)
    assert (await asyncio.wait_for(pull, 5))["events"] == []  # right after


async def test_long_poll_still_returns_at_once_when_an_event_comes(virtual):
    channel = (await virtual.result("log/subscribe"))["id"]
    pull = asyncio.create_task(virtual.result("log/pull", id=channel, timeout=30))
    await until(lambda: any(c.waiting for c in virtual.emu.device.channels))
    status, _ = await virtual.control("POST", "/actions/press", json={"key": "5"})
    assert status == 200
    events = (await asyncio.wait_for(pull, 5))["events"]
    assert [e["event"] for e in events][:1] == ["KeyPressed"]


async def until(predicate, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


async def test_device_time_and_uptime_move_exactly_by_the_advance(virtual):
    status, before = await virtual.control("GET", "/clock")
    assert status == 200 and before["virtual"] is True
    api_before = await virtual.result("system/status")
    await asyncio.sleep(STANDING_STILL)
    after = await virtual.advance(100)
    assert after["virtual"] is True
    assert after["time"] == pytest.approx(before["time"] + 100, abs=1e-6)
    assert after["uptime"] == before["uptime"] + 100
    api_after = await virtual.result("system/status")
    assert api_after["upTime"] == api_before["upTime"] + 100
    assert api_after["systemTime"] == api_before["systemTime"] + 100


async def test_pending_timers_are_counted(virtual):
    _, idle = await virtual.control("GET", "/clock")
    await virtual.result("switch/ctrl", switch=1, action="trigger")
    _, busy = await virtual.control("GET", "/clock")
    assert busy["pending"] > idle["pending"]


async def test_advance_zero_is_allowed(virtual):
    _, before = await virtual.control("GET", "/clock")
    assert (await virtual.advance(0))["time"] == before["time"]


@pytest.mark.parametrize("body", [{"advance": -1}, {"advance": "5"}, {"advance": True}, {}, {"seconds": 5},
                                  {"advance": float("nan")}, {"advance": float("inf")}])
async def test_bad_advance_is_400_and_the_clock_goes_on_working(virtual, body):
    _, before = await virtual.control("GET", "/clock")
    status, reply = await virtual.control("POST", "/clock", json=body)  # NaN, Infinity: as Python's json writes them
    assert status == 400 and "advance" in reply["error"]
    status, after = await virtual.control("GET", "/clock")
    assert status == 200 and after["time"] == before["time"]
    await virtual.advance(1)
    assert (await virtual.result("system/status"))["upTime"] == before["uptime"] + 1


async def test_real_clock_cannot_be_moved(real):
    status, reply = await real.control("POST", "/clock", json={"advance": 5})
    assert status == 409
    assert "virtual" in reply["error"]
    status, clock = await real.control("GET", "/clock")
    assert status == 200 and clock["virtual"] is False
    assert abs(clock["time"] - time.time()) < 5


async def test_real_clock_moves_by_itself(real):
    first = await real.result("system/status")
    await asyncio.sleep(1.1)
    assert (await real.result("system/status"))["systemTime"] > first["systemTime"]
