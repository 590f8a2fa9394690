"""Replay of genka13/ha-2n-intercom 0.1.33, the Home Assistant integration on top of py2n-intercom.

The library itself runs for real in test_py2n_intercom.py (Python 3.12 subprocess). What the
integration does with it is replayed here (from a study of its published source, "genka13/ha-2n-intercom";
no client code copied), with py2n-intercom's own wire behaviour: every request first goes out
without credentials, and after the 401 it is resent with a Digest whose `uri` has no query string.
- setup: system/info, switch/caps, log/caps; switch/status polled every 5 s;
- events: subscribe include=new, duration=3600, filter = its DEFAULT_EVENT_FILTER that log/caps
  lists - or the whole list (with names the device does not know) when log/caps fails;
- pull timeout=25 (client budget 35 s); any error -> unsubscribe -> resubscribe;
- it parses MotionDetected/NoiseDetected state in|out, DoorStateChanged opened, CallStateChanged
  {state, direction, peer, session, call}, SwitchStateChanged {switch int, state bool},
  Card/Code/MobKeyEntered valid == false, RexActivated and SilentAlarm as pulses.
The Verso profile has Bluetooth, so MobKeyEntered is in log/caps and a phone's mobile key (the
control plane's `mobile-key` action) reaches genka13's filter.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from client_helpers import (
    ADMIN,
    digest_challenge,
    digest_header,
    event_shape_ok,
    wait_until_waiting,
)

pytestmark = pytest.mark.helios(clock="virtual")

DEFAULT_EVENT_FILTER = ["CallStateChanged", "MotionDetected", "DoorStateChanged", "SwitchStateChanged",
                        "RexActivated", "NoiseDetected", "SilentAlarm", "CardEntered", "CodeEntered",
                        "MobKeyEntered"]


class Genka13:
    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.user = user
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))

    async def close(self) -> None:
        await self.session.close()

    async def request(self, path: str, params=None, budget: float = 10) -> dict:
        url = self.base + path
        timeout = aiohttp.ClientTimeout(total=budget)
        resp = await self.session.get(url, params=params, timeout=timeout)
        if resp.status == 401:
            challenge = digest_challenge(resp.headers)
            resp.release()
            header = digest_header(*self.user, "GET", path, challenge, 1)  # uri without the query
            resp = await self.session.get(url, params=params, headers={"Authorization": header}, timeout=timeout)
        async with resp:
            if resp.status == 401:
                raise PermissionError("unauthorized")
            data = await resp.json()
        if not data.get("success"):
            raise RuntimeError(f"unexpected_response: {data}")
        return data.get("result") or {}

    async def subscribe(self, names: list[str]) -> int:
        return int((await self.request("/api/log/subscribe", {"include": "new", "duration": 3600,
                                                              "filter": ",".join(names)}))["id"])

    async def pull(self, channel: int, timeout: int = 25) -> list[dict]:
        result = await self.request("/api/log/pull", {"id": channel, "timeout": timeout}, budget=max(10, timeout + 10))
        return [e for e in result.get("events", []) if isinstance(e, dict)]


@pytest.fixture(params=["https", "http"])
async def ha(request, helios):
    client = Genka13(helios.https_url if request.param == "https" else helios.url)
    yield client
    await client.close()


async def test_setup_and_door_release(helios, ha):
    info = await ha.request("/api/system/info")
    assert info["devType"] and info["bootUuid"] == helios.device.boot_uuid
    assert [s["switch"] for s in (await ha.request("/api/switch/caps"))["switches"]] == [1, 2, 3, 4]
    caps = (await ha.request("/api/log/caps"))["events"]
    wanted = [n for n in DEFAULT_EVENT_FILTER if n in caps]
    assert wanted == ["CallStateChanged", "MotionDetected", "DoorStateChanged", "SwitchStateChanged",
                      "NoiseDetected", "CardEntered", "CodeEntered", "MobKeyEntered"]  # the Verso has Bluetooth
    await ha.request("/api/switch/ctrl", {"switch": 1, "action": "trigger"})  # the door-release button
    status = (await ha.request("/api/switch/status"))["switches"][0]
    assert (status["switch"], status["active"], status["locked"], status["held"]) == (1, True, False, False)


async def test_full_default_filter_with_unknown_names_and_every_parsed_event(helios, ha):
    channel = await ha.subscribe(DEFAULT_EVENT_FILTER)  # as when log/caps failed
    helios.advance(2)
    helios.motion(True)
    helios.noise(True)
    helios.open_door()
    helios.close_door()
    helios.ring(1)
    helios.advance(1)
    await ha.request("/api/switch/ctrl", {"switch": 2, "action": "trigger"})
    helios.card("DEADBEEF")  # not a known card
    helios.code("9999")  # not a known code
    events = await ha.pull(channel)
    for event in events:
        event_shape_ok(event)
    by_name: dict[str, list[dict]] = {}
    for event in events:
        by_name.setdefault(event["event"], []).append(event["params"])
    assert set(by_name) <= set(DEFAULT_EVENT_FILTER)
    assert by_name["MotionDetected"][0]["state"] == "in" and by_name["NoiseDetected"][0]["state"] == "in"
    assert [p["state"] for p in by_name["DoorStateChanged"]] == ["opened", "closed"]
    call = by_name["CallStateChanged"][-1]
    assert {"state", "direction", "peer", "session", "call"} <= set(call) and call["state"] == "ringing"
    switch = by_name["SwitchStateChanged"][0]
    assert switch["switch"] == 2 and switch["state"] is True
    assert by_name["CardEntered"][0]["valid"] is False and by_name["CodeEntered"][0]["valid"] is False


def bus_events(events: list[dict]) -> list[str]:
    """What genka13 puts on the Home Assistant bus for a credential: "<name>" or "<name>Invalid"."""
    return [e["event"] + ("Invalid" if e["params"].get("valid") is False else "") for e in events
            if e["event"] in ("CardEntered", "CodeEntered", "MobKeyEntered")]


async def test_mobile_keys_reach_its_event_filter(helios, ha):
    phone = "8f6e5d4c3b2a1987"
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as admin:
        async with admin.put(helios.url + "/api/dir/create", json={"users": [
                {"name": "Eve", "access": {"mobkey": phone}}]}) as resp:
            assert (await resp.json())["success"] is True
    caps = (await ha.request("/api/log/caps"))["events"]
    channel = await ha.subscribe([n for n in DEFAULT_EVENT_FILTER if n in caps])
    assert await asyncio.to_thread(helios.mobile_key, phone) is True  # Eve's phone: the door opens
    assert await asyncio.to_thread(helios.mobile_key, "0000000000000000") is False  # a stranger's
    events = await ha.pull(channel)
    assert bus_events(events) == ["MobKeyEntered", "MobKeyEnteredInvalid"]
    assert [e["params"]["switch"] for e in events if e["event"] == "SwitchStateChanged"] == [1]
    for event in events:
        event_shape_ok(event)


async def test_pull_25_while_switch_status_is_polled_every_5s(helios, ha):
    """A long-poll in flight must not hold up the coordinator's polling (checklist: concurrency)."""
    helios.advance(2)
    channel = await ha.subscribe(["SwitchStateChanged"])
    pull = asyncio.create_task(ha.pull(channel, 25))
    await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull")
    for _ in range(4):
        status = await asyncio.wait_for(ha.request("/api/switch/status"), 2)
        assert len(status["switches"]) == 4
        await asyncio.to_thread(helios.advance, 5)
    assert not pull.done()
    await asyncio.to_thread(helios.advance, 5)
    assert await asyncio.wait_for(pull, 5) == []


async def test_error_leads_to_resubscribe(helios, ha):
    channel = await ha.subscribe(["SwitchStateChanged"])
    helios.reboot()
    helios.advance(3)
    with pytest.raises(RuntimeError):
        await ha.pull(channel, 0)  # the channel died with the reboot: code 12
    with pytest.raises(RuntimeError):
        await ha.request("/api/log/unsubscribe", {"id": channel})
    channel = await ha.subscribe(["SwitchStateChanged"])
    await ha.request("/api/switch/ctrl", {"switch": 1, "action": "trigger"})
    assert [e["event"] for e in await ha.pull(channel)] == ["SwitchStateChanged"]
