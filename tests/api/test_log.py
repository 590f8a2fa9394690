"""/api/log/caps, subscribe, pull and unsubscribe over real HTTP, against a real emulator.

Device time is a VirtualClock wherever timing matters, except the two pull-timing tests, which
measure what a client with a tight budget (twoen: timeout + 1 s) sees on the real clock.
"""

from __future__ import annotations

import asyncio
import random
import re
import time

import aiohttp
import pytest

from emulator.device import firmware
from emulator.device.clock import VirtualClock
from emulator.settings import parse_user

PEER_1 = "sip:100@sip.example.com"  # Reception's peer, on quick-dial button %1 (verso)
CARD = "1A2B3C4D"
WINTER = 1_700_000_000  # 2023-11-14: central European winter time, UTC+60 min (the verso's zone)


# -- helpers -------------------------------------------------------------------------------


async def until(predicate, timeout: float = 5.0) -> None:
    """Wait (real time, bounded) for the server side to reach a state, e.g. a pull waiting."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def waiting(emu, *channel_ids: int):
    def check() -> bool:
        channels = emu.device.channels._channels
        return all(i in channels and channels[i].waiting for i in channel_ids)
    return check


async def subscribe(client, **params) -> int:
    channel_id = (await client.get("/api/log/subscribe", **params)).result["id"]
    assert type(channel_id) is int and 1 <= channel_id < 2**32
    return channel_id


async def pull(client, channel_id: int, timeout: int = 0) -> list[dict]:
    return (await client.get("/api/log/pull", id=channel_id, timeout=timeout)).result["events"]


async def pull_all(client, channel_id: int) -> list[dict]:
    out = []
    while batch := await pull(client, channel_id):
        assert len(batch) <= 128
        out.extend(batch)
    return out


def assert_error(reply, code: int, param: str | None) -> None:
    assert reply.status == 200
    error = reply.error
    assert error["code"] == code
    assert error.get("param") == param


def raise_everything(device, clock) -> None:
    """Every event the verso can raise (but LoginBlocked), each by its cause."""
    clock.advance(2)  # SIP registration
    device.press("5")
    device.enter_code("9999")
    device.swipe_card(CARD)  # card, user, switch 1 + relay1
    clock.advance(10)  # switch 1 off again
    device.door(True)  # input1, door opened, unauthorized
    clock.advance(device.profile.door.open_too_long)
    device.door(False)
    device.set_motion(True)
    device.set_noise(True)
    if device.profile.hardware.tamper:
        device.tamper(True)
    session = device.phone.dial("sip:200@sip.example.com")
    device.phone.hangup(session.session)
    device.audio_test()
    clock.advance(device.profile.timing.audio_test_seconds)


# -- the wire format -----------------------------------------------------------------------


async def test_subscribe_then_pull_history_over_http(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock(start=WINTER))
    api = make_client(emu)
    channel_id = await subscribe(api, include="all")
    reply = await api.get("/api/log/pull", id=channel_id)
    assert reply.status == 200
    assert reply.content_type.startswith("application/json")
    [event] = reply.json["result"]["events"]
    assert event == {"id": 1, "hash": event["hash"], "tzShift": 60, "utcTime": int(emu.clock.time()), "upTime": 0,
                     "event": "DeviceState", "params": {"state": "startup"}}
    assert await pull(api, channel_id) == []  # events leave the queue once returned


async def test_event_hash_names_one_event_in_every_channel_and_across_reboots(make_emulator, make_client):
    """Current firmware sends `hash` (16 hex digits) with each event: the same for one event in
    every channel and pull (include=all hands the history over again), different for each event,
    and different for the same id after a reboot, when ids start from 1 again."""
    clock = VirtualClock(start=WINTER)
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    live = await subscribe(api)
    emu.device.press("5")
    first = await pull_all(api, live)
    again = await pull_all(api, await subscribe(api, include="all"))
    by_id = {e["id"]: e["hash"] for e in again}
    assert [(e["id"], e["hash"]) for e in first] == [(e["id"], by_id[e["id"]]) for e in first]
    assert len(set(by_id.values())) == len(by_id)
    emu.device.restart(0)
    clock.advance(0)
    after = await pull_all(api, await subscribe(api, include="all"))
    assert after[0]["id"] == 1 and after[0]["hash"] != by_id[1]


PARAMS_2_15 = {
    "DeviceState": {"state": str},
    "AudioLoopTest": {"result": str},
    "MotionDetected": {"state": str},
    "NoiseDetected": {"state": str},
    "KeyPressed": {"key": str},
    "KeyReleased": {"key": str},
    "CodeEntered": {"code": str, "valid": bool},
    "CardEntered": {"direction": str, "reader": str, "uid": str, "valid": bool},
    "InputChanged": {"port": str, "state": bool},
    "OutputChanged": {"port": str, "state": bool},
    "SwitchStateChanged": {"switch": int, "state": bool},
    "CallStateChanged": {"direction": str, "state": str, "peer": str, "session": int, "call": int},
    "RegistrationStateChanged": {"sipAccount": int, "state": str},
    "TamperSwitchActivated": {"state": str},
    "UnauthorizedDoorOpen": {"state": str},
    "DoorOpenTooLong": {"state": str},
}
PARAMS_CURRENT = {
    **PARAMS_2_15,
    "MotionDetected": {"state": str, "ID": int},
    "SwitchStateChanged": {"switch": int, "state": bool, "originator": str},
    "CallSessionStateChanged": {"session": int, "state": str},
    "DoorStateChanged": {"state": str},
    "UserAuthenticated": {"name": str, "uuid": str, "ap": int, "session": int},
}


@pytest.mark.parametrize("profile, spec, tz_shift", [
    ("verso", PARAMS_CURRENT, 60), ("vario-2.15", PARAMS_2_15, 0)])
async def test_every_event_has_the_manuals_fields_and_param_types(make_emulator, make_client, profile, spec,
                                                                  tz_shift):
    clock = VirtualClock(start=WINTER)
    emu = await make_emulator(clock=clock, profile=profile)
    api = make_client(emu)
    raise_everything(emu.device, clock)
    events = await pull_all(api, await subscribe(api, include="all"))
    raised = {e["event"] for e in events}
    assert raised == set(spec) - ({"TamperSwitchActivated"} if profile == "vario-2.15" else set())
    assert [e["id"] for e in events] == list(range(1, len(events) + 1))
    hashes = profile != "vario-2.15"  # current firmware's events carry a hash; the 2.15 manual's do not
    for event in events:
        assert list(event) == ["id"] + ["hash"] * hashes + ["tzShift", "utcTime", "upTime", "event", "params"]
        if hashes:
            assert type(event["hash"]) is str and re.fullmatch("[0-9a-f]{16}", event["hash"]), event
        assert event["tzShift"] == tz_shift
        assert all(type(event[k]) is int for k in ("id", "tzShift", "utcTime", "upTime"))
        params = dict(event["params"])
        if event["event"] == "CallStateChanged" and params["state"] == "terminated":
            assert type(params.pop("reason")) is str
        if event["event"] == "CallSessionStateChanged" and params["state"] == "terminated":
            assert params.pop("info") == {"reason": "normal"}
        expected = spec[event["event"]]
        assert set(params) == set(expected), event
        for key, kind in expected.items():
            assert type(params[key]) is kind, (event, key)  # bool is not int here, nor int bool


async def test_501_events_on_vario_push_the_oldest_out(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock(), profile="vario-2.15")
    api = make_client(emu)
    for _ in range(250):
        emu.device.press("5")  # 500 events after DeviceState (id 1)
    channel_id = await subscribe(api, include="all")
    sizes = []
    events = []
    while batch := await pull(api, channel_id):
        sizes.append(len(batch))
        events.extend(batch)
    assert sizes == [128, 128, 128, 116]
    assert [e["id"] for e in events] == list(range(2, 502))
    assert events[0]["event"] == "KeyPressed"


# -- subscribe -----------------------------------------------------------------------------


async def test_include_last_t_seconds(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    clock.advance(100)
    emu.device.press("1")
    clock.advance(30)
    emu.device.press("2")
    clock.advance(5)
    recent = await pull_all(api, await subscribe(api, include="-10"))
    assert [(e["event"], e["params"]) for e in recent] == [
        ("KeyPressed", {"key": "2"}), ("KeyReleased", {"key": "2"})]
    assert len(await pull_all(api, await subscribe(api, include="-40"))) == 4
    assert await pull_all(api, await subscribe(api, include="new")) == []
    assert await pull_all(api, await subscribe(api)) == []  # include defaults to new


async def test_bad_include_is_error_12_include(api):
    assert_error(await api.get("/api/log/subscribe", include="bogus"), 12, "include")


async def test_filter_accepts_unknown_names_and_is_honoured_strictly(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    # The names genka13 and savek subscribe to, some of which this firmware never raises.
    channel_id = await subscribe(api, filter="KeyPressed,RexActivated,SilentAlarm,MobKeyEntered,"
                                             "ConfigurationChanged,CapabilitiesChanged")
    nothing = await subscribe(api, include="all", filter="RexActivated")
    # POST with a form body, as some clients send it.
    reply = await api.post("/api/log/subscribe", data={"filter": "SwitchStateChanged", "include": "all"})
    switches = reply.result["id"]
    emu.device.press("3")
    emu.device.switches.get(1).on()
    clock.advance(10)
    assert [(e["event"], e["params"]) for e in await pull_all(api, channel_id)] == [
        ("KeyPressed", {"key": "3"})]
    assert await pull_all(api, nothing) == []
    assert [e["params"]["state"] for e in await pull_all(api, switches)] == [True, False]


# -- unsubscribe, unknown ids, expiry ------------------------------------------------------


async def test_unsubscribe_then_the_id_is_error_12(api):
    channel_id = await subscribe(api)
    assert (await api.get("/api/log/unsubscribe", id=channel_id)).json == {"success": True}
    assert_error(await api.get("/api/log/pull", id=channel_id), 12, "id")
    assert_error(await api.get("/api/log/unsubscribe", id=channel_id), 12, "id")


async def test_unknown_or_missing_id(api):
    assert_error(await api.get("/api/log/pull", id=12345), 12, "id")
    assert_error(await api.get("/api/log/pull", id="abc"), 12, "id")
    assert_error(await api.get("/api/log/pull"), 11, "id")
    assert_error(await api.get("/api/log/unsubscribe"), 11, "id")


async def test_channel_without_pulls_expires_after_its_duration(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    default = await subscribe(api)
    default_alive = await subscribe(api)
    clamped = await subscribe(api, duration=86400)
    clamped_alive = await subscribe(api, duration=86400)
    clock.advance(89.9)
    assert await pull(api, default_alive) is not None
    clock.advance(0.2)
    assert_error(await api.get("/api/log/pull", id=default), 12, "id")
    clock.advance(3599.8 - 90.1)
    assert (await api.get("/api/log/unsubscribe", id=clamped_alive)).json == {"success": True}
    clock.advance(0.3)  # 3600.1 s
    assert_error(await api.get("/api/log/pull", id=clamped), 12, "id")


async def test_a_waiting_pull_keeps_its_channel_alive(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, duration=5, filter="KeyPressed")
    task = asyncio.create_task(pull(api, channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    clock.advance(30)
    await asyncio.sleep(0.05)
    assert not task.done()
    clock.advance(30)
    assert await asyncio.wait_for(task, 5) == []
    clock.advance(4.9)  # the pull extended the channel by its duration
    assert await pull(api, channel_id) == []


# -- pull ----------------------------------------------------------------------------------


async def test_queued_events_come_at_once_at_most_128_per_pull(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    channel_id = await subscribe(api, filter="KeyPressed")
    for _ in range(200):
        emu.device.press("9")
    first = await pull(api, channel_id, timeout=3600)  # virtual clock: only returns if not waiting
    second = await pull(api, channel_id, timeout=3600)
    assert (len(first), len(second)) == (128, 72)
    ids = [e["id"] for e in first + second]
    assert ids == sorted(ids) and len(set(ids)) == 200


async def test_waiting_pull_returns_the_event_without_waiting_for_the_timeout(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, filter="SwitchStateChanged")
    task = asyncio.create_task(pull(api, channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    events = await asyncio.wait_for(task, 5)  # the clock never moved
    assert [(e["event"], e["params"]) for e in events] == [
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "api"})]


async def test_empty_pull_returns_at_its_timeout_on_the_real_clock(make_emulator, make_client):
    emu = await make_emulator()
    api = make_client(emu)
    channel_id = await subscribe(api, filter="KeyPressed")  # not the SIP registration at 1 s
    start = time.monotonic()
    events = await pull(api, channel_id, timeout=2)
    elapsed = time.monotonic() - start
    assert events == []
    assert 2.0 <= elapsed < 3.0  # twoen gives up at timeout + 1 s


async def test_event_during_a_long_poll_comes_back_at_once_on_the_real_clock(make_emulator, make_client):
    emu = await make_emulator()
    api = make_client(emu)
    channel_id = await subscribe(api, filter="KeyPressed")
    start = time.monotonic()
    task = asyncio.create_task(pull(api, channel_id, timeout=10))
    await until(waiting(emu, channel_id))
    await asyncio.sleep(0.3)
    emu.device.press("5")
    events = await asyncio.wait_for(task, 10)
    elapsed = time.monotonic() - start
    assert [(e["event"], e["params"]) for e in events] == [("KeyPressed", {"key": "5"})]
    assert 0.3 <= elapsed < 2.0


async def test_pulling_again_after_giving_up_on_a_pull(make_emulator, make_client):
    """A client whose own timeout fired pulls the same channel again: that pull waits, and gets
    the next event (not an immediate empty reply, and the event is not lost)."""
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    channel_id = await subscribe(api, filter="KeyPressed")
    abandoned = asyncio.create_task(pull(api, channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    abandoned.cancel()
    again = asyncio.create_task(pull(api, channel_id, timeout=60))
    await asyncio.sleep(0.2)
    assert not again.done()
    emu.device.press("5")
    events = await asyncio.wait_for(again, 5)
    assert [(e["event"], e["params"]) for e in events] == [("KeyPressed", {"key": "5"})]


async def test_an_abandoned_pull_does_not_swallow_the_next_event(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    channel_id = await subscribe(api, filter="KeyPressed")
    abandoned = asyncio.create_task(pull(api, channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    abandoned.cancel()  # the client closes its connection
    await asyncio.sleep(0.2)
    emu.device.press("5")
    await asyncio.sleep(0.1)
    assert [e["event"] for e in await pull(api, channel_id)] == ["KeyPressed"]


async def test_fifty_waiting_channels_all_get_one_switch_change(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock, auth="none")
    api = make_client(emu, user=None)
    ids = [await subscribe(api, filter="SwitchStateChanged") for _ in range(50)]
    tasks = [asyncio.create_task(pull(api, i, timeout=120)) for i in ids]
    await until(waiting(emu, *ids))
    control = make_client(emu, user=None)
    assert (await control.get("/api/switch/ctrl", switch=2, action="on")).json == {"success": True}
    results = await asyncio.wait_for(asyncio.gather(*tasks), 10)
    assert all([(e["event"], e["params"]["switch"], e["params"]["state"]) for e in events] ==
               [("SwitchStateChanged", 2, True)] for events in results)
    event_ids = {events[0]["id"] for events in results}
    assert len(event_ids) == 1  # the same event everywhere


# -- privileges ----------------------------------------------------------------------------

NO_PRIVILEGE = {"DeviceState", "AudioLoopTest", "MotionDetected", "NoiseDetected", "TamperSwitchActivated",
                "UnauthorizedDoorOpen", "DoorOpenTooLong", "DoorStateChanged"}
BY_PRIVILEGE = {
    "camera": set(),  # nothing the log needs
    "keypad": {"KeyPressed", "KeyReleased", "CodeEntered"},
    "uid": {"CardEntered", "UserAuthenticated"},
    "io-monitoring": {"InputChanged", "OutputChanged", "SwitchStateChanged"},
    "call-monitoring": {"CallStateChanged", "CallSessionStateChanged", "RegistrationStateChanged"},
}


async def test_channels_carry_only_the_events_the_account_may_see(make_emulator, make_client):
    clock = VirtualClock()
    users = [parse_user("admin:2n")] + [parse_user(f"u{i}:pw:{p}") for i, p in enumerate(BY_PRIVILEGE)]
    emu = await make_emulator(clock=clock, users=users)
    clients = {p: make_client(emu, user=(f"u{i}", "pw")) for i, p in enumerate(BY_PRIVILEGE)}
    admin = make_client(emu)
    live = {p: await subscribe(c) for p, c in clients.items()}
    live_all = await subscribe(admin)
    raise_everything(emu.device, clock)
    everything = {e["event"] for e in await pull_all(admin, live_all)}
    assert everything == (NO_PRIVILEGE | set().union(*BY_PRIVILEGE.values())) - {"DeviceState"}
    for privilege, client in clients.items():
        expected = NO_PRIVILEGE | BY_PRIVILEGE[privilege]
        assert {e["event"] for e in await pull_all(client, live[privilege])} == expected - {"DeviceState"}, privilege
        history = await pull_all(client, await subscribe(client, include="all"))
        assert {e["event"] for e in history} == expected, privilege
        # A filter cannot widen what the account may see.
        filtered = await pull_all(client, await subscribe(client, include="all", filter="KeyPressed,DeviceState"))
        assert {e["event"] for e in filtered} == {"KeyPressed", "DeviceState"} & expected, privilege


# -- events raised through the API ---------------------------------------------------------


async def test_audio_test_raises_audio_loop_test_after_the_test_time(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, filter="AudioLoopTest")
    assert (await api.get("/api/audio/test")).json == {"success": True}
    task = asyncio.create_task(pull(api, channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    clock.advance(emu.profile.timing.audio_test_seconds - 0.1)
    await asyncio.sleep(0.05)
    assert not task.done()
    clock.advance(0.1)
    events = await asyncio.wait_for(task, 5)
    assert [(e["event"], e["params"], e["upTime"]) for e in events] == [
        ("AudioLoopTest", {"result": "passed"}, 2)]


async def test_io_and_switch_control_raise_output_and_switch_events(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, filter="OutputChanged,SwitchStateChanged")
    assert (await api.get("/api/io/ctrl", port="led_secured", action="on")).json == {"success": True}
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    clock.advance(emu.profile.switches[0].duration)
    assert [(e["event"], e["params"]) for e in await pull_all(api, channel_id)] == [
        ("OutputChanged", {"port": "led_secured", "state": True}),
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": True}),
        ("SwitchStateChanged", {"switch": 1, "state": False, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": False})]


async def test_quick_dial_button_calls_and_call_status_shows_it(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, filter="CallStateChanged")
    emu.device.press("%1")
    status = (await api.get("/api/call/status")).result["sessions"]
    assert [(s["direction"], s["state"]) for s in status] == [("outgoing", "connecting")]
    clock.advance(emu.profile.calls.ring_delay)
    [session] = (await api.get("/api/call/status")).result["sessions"]
    assert (session["direction"], session["state"]) == ("outgoing", "ringing")
    assert session["calls"][0]["peer"] == PEER_1
    assert (await api.get("/api/call/hangup", session=session["session"])).json == {"success": True}
    events = await pull_all(api, channel_id)
    assert [(e["params"]["state"], e["params"].get("reason")) for e in events] == [
        ("connecting", None), ("ringing", None), ("terminated", "normal")]
    assert {(e["params"]["peer"], e["params"]["session"]) for e in events} == {(PEER_1, session["session"])}


async def test_call_dial_over_the_api_raises_call_events(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    api = make_client(emu)
    channel_id = await subscribe(api, filter="CallStateChanged,CallSessionStateChanged")
    session = (await api.get("/api/call/dial", number="sip:555@sip.example.com")).result["session"]
    clock.advance(emu.profile.calls.ring_delay)
    emu.device.phone.peer_answers(session)
    assert (await api.get("/api/call/hangup", session=session, reason="busy")).json == {"success": True}
    events = await pull_all(api, channel_id)
    calls = [e["params"] for e in events if e["event"] == "CallStateChanged"]
    assert [(c["state"], c.get("reason")) for c in calls] == [
        ("connecting", None), ("ringing", None), ("connected", None), ("terminated", "busy")]
    # 2N's CallSessionStateChanged: session and state, who started the session (the API here) and,
    # when it ends, why; no direction/address/sessionNumber/callSequenceNumber.
    sessions = [e["params"] for e in events if e["event"] == "CallSessionStateChanged"]
    assert sessions == [{"session": session, "state": state, "originator": "api"}
                        for state in ("connecting", "ringing", "connected")] + [
        {"session": session, "state": "terminated", "originator": "api", "info": {"reason": "busy"}}]


# -- log/caps ------------------------------------------------------------------------------

V2_15_ALL = ["DeviceState", "AudioLoopTest", "MotionDetected", "NoiseDetected", "KeyPressed", "KeyReleased",
             "CodeEntered", "CardEntered", "InputChanged", "OutputChanged", "SwitchStateChanged",
             "CallStateChanged", "RegistrationStateChanged", "TamperSwitchActivated", "UnauthorizedDoorOpen",
             "DoorOpenTooLong", "LoginBlocked"]


def without(*names: str) -> list[str]:
    return [n for n in V2_15_ALL if n not in names]


@pytest.mark.parametrize("profile, events", [
    ("verso", V2_15_ALL + ["CallSessionStateChanged", "DoorStateChanged", "UserAuthenticated", "ConfigurationChanged"]),
    # No camera, keypad or card reader.
    ("uni", without("MotionDetected", "CodeEntered", "CardEntered") +
     ["CallSessionStateChanged", "DoorStateChanged", "ConfigurationChanged"]),
    # No camera, no microphone and no Enhanced Audio licence.
    ("access-unit", without("MotionDetected", "NoiseDetected", "AudioLoopTest") +
     ["CallSessionStateChanged", "DoorStateChanged", "UserAuthenticated", "ConfigurationChanged"]),
    # No tamper switch; nothing newer than 2.15.
    ("vario-2.15", without("TamperSwitchActivated")),
])
async def test_log_caps_lists_what_the_hardware_can_raise(make_emulator, make_client, profile, events):
    emu = await make_emulator(profile=profile, https_port=None)
    reply = await make_client(emu).get("/api/log/caps")
    assert reply.result == {"events": events}


# -- reboot --------------------------------------------------------------------------------


async def test_restart_drops_a_waiting_pull_and_forgets_the_channel(make_emulator, make_client):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock)
    poller = make_client(emu)
    channel_id = await subscribe(poller)
    emu.device.press("1")
    pull_task = asyncio.create_task(poller.get("/api/log/pull", id=channel_id, timeout=60))
    # The queue has an event, so that pull comes back at once; the next one waits.
    assert len((await pull_task).result["events"]) == 2
    pull_task = asyncio.create_task(poller.get("/api/log/pull", id=channel_id, timeout=60))
    await until(waiting(emu, channel_id))
    admin = make_client(emu)
    assert (await admin.get("/api/system/restart")).json == {"success": True}
    with pytest.raises(aiohttp.ClientError):  # a disconnect, not a reply
        await asyncio.wait_for(pull_task, 5)
    assert not emu.device.online
    clock.advance(emu.profile.timing.restart_seconds)
    assert emu.device.online
    after = make_client(emu)
    assert_error(await after.get("/api/log/pull", id=channel_id), 12, "id")
    history = await pull_all(after, await subscribe(after, include="all"))
    assert [(e["id"], e["event"]) for e in history] == [(1, "DeviceState")]


# -- whose channel it is, and ids nobody can guess ---------------------------------------------


def mersenne_twister_next(outputs: list[int]) -> int:
    """The next 32-bit output of a Mersenne Twister (random.Random) that produced these 624,
    recovered from them alone: what anyone who sees 624 channel ids could do."""
    def untemper(y: int) -> int:
        y ^= y >> 18
        y ^= (y << 15) & 0xEFC60000
        x = y
        for _ in range(5):
            x = y ^ ((x << 7) & 0x9D2C5680)
        y = x & 0xFFFFFFFF
        x = y
        for _ in range(3):
            x = y ^ (x >> 11)
        return x & 0xFFFFFFFF

    clone = random.Random()
    clone.setstate((3, tuple(untemper(o) for o in outputs[-624:]) + (624,), None))
    return clone.getrandbits(32)


async def test_624_channel_ids_do_not_give_away_the_next_one(make_emulator, make_client):
    """Ids come from the system's CSPRNG: a Mersenne Twister (random.Random) would hand anyone
    who subscribed 624 times the id of the next channel, another account's included."""
    emu = await make_emulator(auth="none", https_port=None)
    api = make_client(emu)
    ids = [await subscribe(api) for _ in range(624)]
    predicted = mersenne_twister_next([i - 1 for i in ids]) + 1  # ids are randrange(1, 2**32)
    assert await subscribe(api) != predicted


async def test_a_seed_makes_channel_ids_boot_uuid_and_file_ids_reproducible(make_emulator, make_client):
    runs = []
    for _ in range(2):
        emu = await make_emulator(seed=7, https_port=None)
        api = make_client(emu)
        ids = [await subscribe(api) for _ in range(3)]
        upload = (await api.request("PUT", "/api/firmware", data=firmware.image("570v1", "2.51.0.80.1"),
                                    headers={"Content-Type": "application/octet-stream"})).result
        runs.append((ids, emu.device.boot_uuid, upload["fileId"]))
    assert runs[0] == runs[1]


async def test_another_account_cannot_pull_or_unsubscribe_a_channel(make_emulator, make_client):
    """A channel belongs to the account that opened it: to any other account its id is unknown
    (12 `id`, as for an id that never existed), so nobody takes its events (codes, card numbers)."""
    emu = await make_emulator(users=[parse_user("admin:2n"), parse_user("guest:pw:switch-monitoring")],
                              https_port=None)
    admin, guest = make_client(emu), make_client(emu, user=("guest", "pw"))
    channel_id = await subscribe(admin, filter="CodeEntered")
    own = await subscribe(guest)
    emu.device.enter_code("1234")
    assert_error(await guest.get("/api/log/pull", id=channel_id), 12, "id")
    assert_error(await guest.get("/api/log/unsubscribe", id=channel_id), 12, "id")
    assert_error(await admin.get("/api/log/pull", id=own), 12, "id")
    # The owner still has its channel, with the code nobody else could take.
    assert [e["event"] for e in await pull(admin, channel_id)] == ["CodeEntered"]
    assert (await guest.get("/api/log/unsubscribe", id=own)).json == {"success": True}


async def test_without_authentication_the_id_is_the_key(make_emulator, make_client):
    """With a service that asks for no authentication there is no account: any client that has
    the id uses the channel (every client can subscribe to every event anyway)."""
    emu = await make_emulator(auth="none", https_port=None)
    one, two = make_client(emu, user=None), make_client(emu, user=None)
    channel_id = await subscribe(one)
    emu.device.press("5")
    assert [e["event"] for e in await pull(two, channel_id)] == ["KeyPressed", "KeyReleased"]
    assert (await two.get("/api/log/unsubscribe", id=channel_id)).json == {"success": True}
