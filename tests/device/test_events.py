"""The event log of the device model: history ring, channels, and every event raised by its cause.

No sockets here: a Device on a VirtualClock, driven through its physical-world methods, read
through its subscription channels the way /api/log/* reads them.
"""

from __future__ import annotations

import asyncio

import pytest

from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.events import MAX_EVENTS_PER_PULL, ChannelClosed
from emulator.device.profile import load
from emulator.errors import ApiError, ErrorCode

CARD = "1A2B3C4D"  # Reception's card (switch 1) in the verso profile
SWITCH_CODE = "00112233"  # switch 1's code in the verso profile
USER_CODE = "1234"  # Reception's code
PEER_1 = "sip:100@sip.example.com"  # Reception's peer, on quick-dial button %1
WINTER = 1_700_000_000  # 2023-11-14: central European winter time, UTC+60 min (the verso's zone)


def boot(profile: str = "verso") -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=WINTER)
    device = Device(load(profile), clock)
    device.boot()
    return device, clock


def history(device: Device) -> list[dict]:
    """The history as the wire shows it, without the per-event `hash` (tested on its own)."""
    return [{k: v for k, v in e.to_dict().items() if k != "hash"} for e in device.events.history]


def names(events) -> list[str]:
    return [e.name if hasattr(e, "name") else e["event"] for e in events]


def new_events(device: Device, since_id: int) -> list[dict]:
    return [e for e in history(device) if e["id"] > since_id]


def last_id(device: Device) -> int:
    return device.events.history[-1].id


async def drain(device: Device, channel_id: int) -> list:
    """Pull (timeout 0) until the channel is empty; checks the 128-per-pull limit on the way."""
    out = []
    while True:
        batch = await device.channels.pull(channel_id, 0)
        assert len(batch) <= MAX_EVENTS_PER_PULL
        if not batch:
            return out
        out.extend(batch)


def assert_api_error(err: pytest.ExceptionInfo, code: int, param: str | None) -> None:
    assert err.value.code == code
    assert err.value.param == param


# -- history -------------------------------------------------------------------------------


async def test_history_starts_with_device_state_startup_id_1():
    device, clock = boot()
    assert history(device) == [{
        "id": 1, "tzShift": 60, "utcTime": int(clock.time()), "upTime": 0,
        "event": "DeviceState", "params": {"state": "startup"}}]


async def test_history_is_empty_after_each_boot_and_ids_restart_from_1():
    device, clock = boot()
    clock.advance(2)  # registration events
    for key in "123":
        device.press(key)
    assert last_id(device) > 5
    device.restart()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.online
    assert history(device) == [{
        "id": 1, "tzShift": 60, "utcTime": int(clock.time()), "upTime": 0,
        "event": "DeviceState", "params": {"state": "startup"}}]
    device.press("7")
    assert [(e["id"], e["event"]) for e in history(device)] == [
        (1, "DeviceState"), (2, "KeyPressed"), (3, "KeyReleased")]


async def test_common_fields_tzshift_utctime_uptime():
    device, clock = boot("verso")  # tz_shift = 60 minutes
    clock.advance(125.7)
    device.press("5")
    event = next(e for e in history(device) if e["event"] == "KeyPressed")
    assert event["tzShift"] == 60
    assert event["upTime"] == 125
    assert event["utcTime"] == int(clock.time())
    assert list(event) == ["id", "tzShift", "utcTime", "upTime", "event", "params"]

    vario, _ = boot("vario-2.15")
    assert vario.events.history[0].tz_shift == 0


async def test_vario_ring_keeps_the_last_500_events():
    device, _ = boot("vario-2.15")
    for _ in range(250):  # 500 events on top of DeviceState: 501 in all
        device.press("5")
    ids = [e["id"] for e in history(device)]
    assert ids == list(range(2, 502))  # the oldest (DeviceState, id 1) is gone
    channel = device.channels.subscribe("all")
    got = await drain(device, channel.id)
    assert [e.id for e in got] == list(range(2, 502))
    assert got[0].name == "KeyPressed"


async def test_verso_ring_keeps_10000_events_and_include_all_returns_them_all():
    device, _ = boot("verso")
    for _ in range(5000):  # 10 000 events on top of DeviceState
        device.press("5")
    channel = device.channels.subscribe("all")
    got = await drain(device, channel.id)
    assert len(got) == 10000
    assert got[0].id == 2 and got[-1].id == 10001


# -- subscribe: include, filter, ids -------------------------------------------------------


async def test_include_new_all_and_last_t_seconds():
    device, clock = boot()
    clock.advance(100)  # registration at 1 s and 1.2 s
    device.press("1")  # at 100 s
    clock.advance(50)
    device.press("2")  # at 150 s
    clock.advance(5)  # now 155 s
    new = device.channels.subscribe("new")
    last_10 = device.channels.subscribe("-10")
    last_60 = device.channels.subscribe("-60")
    everything = device.channels.subscribe("all")
    assert await drain(device, new.id) == []
    assert [(e.name, e.params["key"]) for e in await drain(device, last_10.id)] == [
        ("KeyPressed", "2"), ("KeyReleased", "2")]
    assert [e.params.get("key") for e in await drain(device, last_60.id)] == ["1", "1", "2", "2"]
    assert names(await drain(device, everything.id)) == [
        "DeviceState", "RegistrationStateChanged", "RegistrationStateChanged",
        "KeyPressed", "KeyReleased", "KeyPressed", "KeyReleased"]
    # Each of them also gets what happens from now on.
    device.press("3")
    for channel in (new, last_10, last_60, everything):
        assert [e.params["key"] for e in await drain(device, channel.id)] == ["3", "3"]


@pytest.mark.parametrize("include", ["bogus", "-", "10", "-x", "ALL", "--5"])
async def test_bad_include_is_error_12_include(include):
    device, _ = boot()
    with pytest.raises(ApiError) as err:
        device.channels.subscribe(include)
    assert_api_error(err, ErrorCode.INVALID_PARAMETER, "include")
    assert len(device.channels) == 0


async def test_filter_is_honoured_strictly_and_unknown_names_never_match():
    device, clock = boot()
    keys = device.channels.subscribe("all", ["KeyPressed"])
    mixed = device.channels.subscribe("new", ["SwitchStateChanged", "DoorStateChanged", "NoSuchEvent"])
    unknown = device.channels.subscribe("all", ["RexActivated", "SilentAlarm"])
    device.press("4")
    device.switches.get(1).on()
    clock.advance(5)
    assert [(e.name, e.params) for e in await drain(device, keys.id)] == [("KeyPressed", {"key": "4"})]
    assert [(e.name, e.params["state"]) for e in await drain(device, mixed.id)] == [
        ("SwitchStateChanged", True), ("SwitchStateChanged", False)]
    assert await drain(device, unknown.id) == []


async def test_subscription_ids_are_distinct_uint32():
    device, _ = boot()
    ids = {device.channels.subscribe().id for _ in range(200)}
    assert len(ids) == 200
    assert all(1 <= i < 2**32 for i in ids)


# -- unsubscribe and expiry ----------------------------------------------------------------


async def test_unsubscribed_id_is_error_12_id_for_pull_and_unsubscribe():
    device, _ = boot()
    channel = device.channels.subscribe()
    other = device.channels.subscribe()
    device.channels.unsubscribe(channel.id)
    with pytest.raises(ApiError) as err:
        await device.channels.pull(channel.id, 0)
    assert_api_error(err, ErrorCode.INVALID_PARAMETER, "id")
    with pytest.raises(ApiError) as err:
        device.channels.unsubscribe(channel.id)
    assert_api_error(err, ErrorCode.INVALID_PARAMETER, "id")
    assert await device.channels.pull(other.id, 0) == []  # the other channel is untouched


async def expired(device: Device, channel_id: int) -> bool:
    try:
        await device.channels.pull(channel_id, 0)
    except ApiError as err:
        assert (err.code, err.param) == (ErrorCode.INVALID_PARAMETER, "id")
        return True
    return False


async def test_channel_without_pulls_closes_after_default_90_seconds():
    device, clock = boot()
    early = device.channels.subscribe()
    late = device.channels.subscribe()
    clock.advance(89.9)
    assert not await expired(device, early.id)
    clock.advance(0.2)
    assert await expired(device, late.id)


async def test_duration_is_honoured_and_clamped_to_3600():
    device, clock = boot()
    short = device.channels.subscribe(duration=10)
    early = device.channels.subscribe(duration=100000)
    late = device.channels.subscribe(duration=100000)
    clock.advance(10.1)
    assert await expired(device, short.id)
    clock.advance(3589.8)  # 3599.9 s
    assert not await expired(device, early.id)
    clock.advance(0.2)
    assert await expired(device, late.id)


async def test_every_pull_extends_the_channel_by_its_duration():
    device, clock = boot()
    channel = device.channels.subscribe(duration=10)
    for _ in range(5):
        clock.advance(9.5)
        assert not await expired(device, channel.id)  # a pull at 9.5 s extends to 19.5 s, ...
    clock.advance(10.1)
    assert await expired(device, channel.id)


async def test_channel_never_expires_while_a_pull_waits_on_it():
    device, clock = boot()
    channel = device.channels.subscribe(duration=10, filter_=["KeyPressed"])
    other = device.channels.subscribe(duration=10, filter_=["KeyPressed"])
    pull = asyncio.create_task(device.channels.pull(channel.id, 500))
    pull_other = asyncio.create_task(device.channels.pull(other.id, 500))
    await asyncio.sleep(0)
    assert channel.waiting
    clock.advance(499)
    await asyncio.sleep(0)
    assert not pull.done()
    clock.advance(1)  # the pull's timeout: it ends empty, and the channel lives 10 s more
    assert await pull == [] and await pull_other == []
    clock.advance(9.9)
    assert not await expired(device, channel.id)
    clock.advance(10.1)
    assert await expired(device, channel.id)
    assert await expired(device, other.id)  # last pull ended at 500 s, nothing since


# -- pull ----------------------------------------------------------------------------------


async def test_pull_returns_at_most_128_events_and_the_rest_on_the_next_pull():
    device, _ = boot()
    channel = device.channels.subscribe()
    for _ in range(150):
        device.press("5")  # 300 events
    first = await device.channels.pull(channel.id, 10)
    second = await device.channels.pull(channel.id, 10)
    third = await device.channels.pull(channel.id, 10)
    assert [len(first), len(second), len(third)] == [128, 128, 44]
    ids = [e.id for e in first + second + third]
    assert ids == list(range(2, 302))
    assert await device.channels.pull(channel.id, 0) == []


async def test_waiting_pull_returns_as_soon_as_an_event_arrives():
    device, clock = boot()
    channel = device.channels.subscribe(filter_=["SwitchStateChanged"])
    pull = asyncio.create_task(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    clock.advance(3)
    device.press("1")  # filtered out: the pull keeps waiting
    await asyncio.sleep(0)
    assert not pull.done()
    device.switches.get(1).on()  # no clock advance: the reply cannot come from the timeout
    events = await asyncio.wait_for(pull, 1)
    assert [(e.name, e.params["switch"], e.params["state"]) for e in events] == [("SwitchStateChanged", 1, True)]


async def ends_empty_in(clock: VirtualClock, pull: asyncio.Task, seconds: float) -> None:
    """The pull is still waiting 0.1 s before `seconds` from now, and ends empty at `seconds`."""
    clock.advance(seconds - 0.1)
    await asyncio.sleep(0)
    assert not pull.done()
    clock.advance(0.1)
    assert await asyncio.wait_for(pull, 1) == []


async def test_empty_pull_ends_at_its_timeout_not_before():
    device, clock = boot()
    channel = device.channels.subscribe(filter_=["KeyPressed"])  # not the registration at 1 s
    pull = asyncio.create_task(device.channels.pull(channel.id, 30))
    await asyncio.sleep(0)
    await ends_empty_in(clock, pull, 30)


async def test_pulls_with_different_timeouts_each_end_at_their_own():
    # One timer serves every waiting pull: a shorter timeout that comes later must still end first.
    device, clock = boot()
    long_, short = (device.channels.subscribe(filter_=["KeyPressed"]) for _ in range(2))
    slow = asyncio.create_task(device.channels.pull(long_.id, 30))
    await asyncio.sleep(0)
    clock.advance(1)
    quick = asyncio.create_task(device.channels.pull(short.id, 5))
    await asyncio.sleep(0)
    await ends_empty_in(clock, quick, 5)  # at 6 s
    assert not slow.done()
    await ends_empty_in(clock, slow, 24)  # at 30 s


async def test_an_answered_pulls_deadline_does_not_end_the_next_pull():
    device, clock = boot()
    channel = device.channels.subscribe(filter_=["KeyPressed"])
    first = asyncio.create_task(device.channels.pull(channel.id, 10))
    await asyncio.sleep(0)
    device.press("1")
    assert names(await asyncio.wait_for(first, 1)) == ["KeyPressed"]
    second = asyncio.create_task(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    clock.advance(30)  # well past the first pull's deadline
    await asyncio.sleep(0)
    assert not second.done()
    device.press("2")
    assert [e.params for e in await asyncio.wait_for(second, 1)] == [{"key": "2"}]


async def test_pulls_answered_before_their_timeout_leave_no_deadlines_behind():
    # A deadline stays queued when an event answers its pull first; they must not pile up.
    device, clock = boot()
    channels = [device.channels.subscribe(filter_=["KeyPressed"]) for _ in range(3)]
    for _ in range(2000):
        pulls = [asyncio.create_task(device.channels.pull(c.id, 3600)) for c in channels]
        await asyncio.sleep(0)
        device.press("1")
        await asyncio.gather(*pulls)
    assert len(device.channels.timeouts) <= 1024 + 2 * len(channels)
    waiting = asyncio.create_task(device.channels.pull(channels[0].id, 5))
    await asyncio.sleep(0)
    clock.advance(5)
    assert await asyncio.wait_for(waiting, 1) == []


async def test_a_newer_pull_takes_over_from_one_still_waiting():
    # The older pull is most likely one its client gave up on: it must neither make the newer pull
    # return at once nor take the event meant for it.
    device, clock = boot()
    channel = device.channels.subscribe(filter_=["KeyPressed"])
    older = asyncio.create_task(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    newer = asyncio.create_task(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    assert await asyncio.wait_for(older, 1) == []
    assert not newer.done()
    device.press("5")
    assert [(e.name, e.params) for e in await asyncio.wait_for(newer, 1)] == [("KeyPressed", {"key": "5"})]


async def test_power_off_ends_waiting_pulls_and_removes_every_channel():
    device, clock = boot()
    channel = device.channels.subscribe()
    pull = asyncio.create_task(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    device.restart()
    with pytest.raises(ChannelClosed):
        await asyncio.wait_for(pull, 1)
    clock.advance(device.profile.timing.restart_seconds)
    assert device.online
    assert len(device.channels) == 0
    assert await expired(device, channel.id)


async def test_full_channel_queue_drops_the_oldest_events():
    device, _ = boot()
    size = device.profile.events.channel_queue
    channel = device.channels.subscribe(filter_=["KeyPressed"])
    for _ in range(size + 10):
        device.press("5")
    got = await drain(device, channel.id)
    assert len(got) == size
    assert got[-1].id == last_id(device) - 1  # the newest KeyPressed is there
    assert got[0].id == got[-1].id - 2 * (size - 1)


# -- every event raised by its cause -------------------------------------------------------


async def test_keys_raise_key_pressed_and_released_with_string_keys():
    device, _ = boot()
    device.press("5")
    device.press("#")
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("KeyPressed", {"key": "5"}), ("KeyReleased", {"key": "5"}),
        ("KeyPressed", {"key": "#"}), ("KeyReleased", {"key": "#"})]


async def test_quick_dial_button_dials_its_users_peer():
    device, clock = boot()
    device.press("%1")
    events = new_events(device, 1)
    assert [(e["event"], e["params"].get("key"), e["params"].get("state")) for e in events] == [
        ("KeyPressed", "%1", None),
        ("CallStateChanged", None, "connecting"), ("CallSessionStateChanged", None, "connecting"),
        ("KeyReleased", "%1", None)]
    assert events[1]["params"]["peer"] == PEER_1
    mark = last_id(device)
    clock.advance(device.profile.calls.ring_delay)
    assert [(e["event"], e["params"]["state"]) for e in new_events(device, mark)] == [
        ("CallStateChanged", "ringing"), ("CallSessionStateChanged", "ringing")]
    [session] = device.phone.sessions.values()
    assert (session.direction, session.state, session.peer) == ("outgoing", "ringing", PEER_1)


async def test_valid_switch_code_activates_switch_1():
    device, _ = boot()
    assert device.enter_code(SWITCH_CODE) is True
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("CodeEntered", {"code": SWITCH_CODE, "valid": True}),
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "auth"}),
        ("OutputChanged", {"port": "relay1", "state": True})]


async def test_valid_user_code_authenticates_and_opens_the_users_switch():
    device, _ = boot()
    assert device.enter_code(USER_CODE) is True
    events = new_events(device, 1)
    assert [e["event"] for e in events] == ["CodeEntered", "UserAuthenticated", "SwitchStateChanged",
                                            "OutputChanged"]
    assert events[0]["params"] == {"code": USER_CODE, "valid": True}
    assert events[2]["params"]["switch"] == 1 and events[2]["params"]["state"] is True


async def test_invalid_code_is_reported_invalid_and_switches_nothing():
    device, clock = boot()
    assert device.enter_code("9999") is False
    clock.advance(10)
    assert [(e["event"], e["params"]) for e in new_events(device, 1) if e["event"] != "RegistrationStateChanged"] == [
        ("CodeEntered", {"code": "9999", "valid": False})]
    assert not device.switches.get(1).active


async def test_valid_card_activates_switch_1():
    device, _ = boot()
    assert device.swipe_card(CARD) is True
    events = new_events(device, 1)
    assert [e["event"] for e in events] == ["CardEntered", "UserAuthenticated", "SwitchStateChanged",
                                            "OutputChanged"]
    assert events[0]["params"] == {"direction": "any", "reader": "internal", "uid": CARD, "valid": True}
    user = device.directory.by_card(CARD)
    assert events[1]["params"] == {"name": "Reception", "uuid": user.uuid, "ap": 0, "session": 0}
    assert events[2]["params"]["switch"] == 1 and events[2]["params"]["state"] is True


async def test_unknown_card_is_invalid_and_switches_nothing():
    device, _ = boot()
    assert device.swipe_card("DEADBEEF01", direction="in") is False
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("CardEntered", {"direction": "in", "reader": "internal", "uid": "DEADBEEF01", "valid": False})]
    assert not device.switches.get(1).active


async def test_monostable_switch_raises_on_then_off_after_its_duration():
    device, clock = boot()
    device.switches.get(1).on()
    mark = last_id(device)
    clock.advance(4.9)
    assert [e for e in new_events(device, mark) if e["event"] != "RegistrationStateChanged"] == []
    clock.advance(0.1)
    events = [e for e in new_events(device, 1) if e["event"] != "RegistrationStateChanged"]
    assert [(e["event"], e["params"]) for e in events] == [
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": True}),
        ("SwitchStateChanged", {"switch": 1, "state": False, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": False})]
    assert events[2]["upTime"] == 5


async def test_input_change_raises_input_changed_with_a_boolean_state():
    device, _ = boot("vario-2.15")
    device.set_input("input2", True)
    device.set_input("input2", True)  # no change, no event
    device.set_input("input2", False)
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("InputChanged", {"port": "input2", "state": True}),
        ("InputChanged", {"port": "input2", "state": False})]


async def test_outgoing_call_raises_every_transition_with_reason_on_termination_only():
    device, clock = boot()
    session = device.phone.dial("sip:200@sip.example.com")
    clock.advance(device.profile.calls.ring_delay)
    device.phone.peer_answers(session.session)
    device.phone.hangup(session.session)
    calls = [e["params"] for e in new_events(device, 1) if e["event"] == "CallStateChanged"]
    assert [c["state"] for c in calls] == ["connecting", "ringing", "connected", "terminated"]
    for c in calls:
        assert c["direction"] == "outgoing" and c["peer"] == "sip:200@sip.example.com"
        assert type(c["session"]) is int and type(c["call"]) is int
        assert c["session"] == session.session
    assert ["reason" in c for c in calls] == [False, False, False, True]
    assert calls[-1]["reason"] == "normal"
    sessions = [e["params"] for e in new_events(device, 1) if e["event"] == "CallSessionStateChanged"]
    assert [s["state"] for s in sessions] == ["connecting", "ringing", "connected", "terminated"]
    assert sessions[0] == {"session": session.session, "state": "connecting"}
    assert sessions[-1] == {"session": session.session, "state": "terminated", "info": {"reason": "normal"}}


async def test_incoming_call_raises_ringing_connected_terminated():
    device, _ = boot()
    session = device.phone.incoming("sip:300@sip.example.com")
    device.phone.answer(session.session)
    device.phone.peer_hangs_up(session.session, "busy")
    calls = [e["params"] for e in new_events(device, 1) if e["event"] == "CallStateChanged"]
    assert [(c["direction"], c["state"], c.get("reason")) for c in calls] == [
        ("incoming", "ringing", None), ("incoming", "connected", None), ("incoming", "terminated", "busy")]
    rejected = device.phone.incoming("sip:301@sip.example.com")
    device.phone.hangup(rejected.session, "rejected")
    last = new_events(device, 1)
    calls = [e["params"] for e in last if e["event"] == "CallStateChanged"][-2:]
    assert [(c["state"], c.get("reason"), c["session"]) for c in calls] == [
        ("ringing", None, rejected.session), ("terminated", "rejected", rejected.session)]
    assert rejected.session != session.session
    assert [e["params"]["state"] for e in last if e["event"] == "CallSessionStateChanged"][-1] == "terminated"


async def test_sip_account_registers_after_boot():
    device, clock = boot()
    delay = device.profile.calls.register_delay
    clock.advance(delay - 0.01)
    assert names(device.events.history) == ["DeviceState"]
    clock.advance(1)
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("RegistrationStateChanged", {"sipAccount": 1, "state": "registering"}),
        ("RegistrationStateChanged", {"sipAccount": 1, "state": "registered"})]  # account 2: registration off


async def test_motion_and_noise_raise_in_and_out_once_each():
    device, _ = boot()
    device.set_motion(True)
    device.set_motion(True)
    device.set_motion(False)
    device.set_noise(True)
    device.set_noise(False)
    assert [(e["event"], e["params"]) for e in new_events(device, 1)] == [
        ("MotionDetected", {"state": "in", "ID": 1}), ("MotionDetected", {"state": "out", "ID": 1}),
        ("NoiseDetected", {"state": "in"}), ("NoiseDetected", {"state": "out"})]
    vario, _ = boot("vario-2.15")  # MotionDetected has no ID before 2.38
    vario.set_motion(True)
    assert new_events(vario, 1)[0]["params"] == {"state": "in"}


async def test_tamper_raises_tamper_switch_activated():
    device, _ = boot()
    device.tamper(True)
    device.tamper(False)
    tamper = [(e["event"], e["params"]) for e in new_events(device, 1) if e["event"] == "TamperSwitchActivated"]
    assert tamper == [("TamperSwitchActivated", {"state": "in"}), ("TamperSwitchActivated", {"state": "out"})]


async def test_audio_test_reports_its_result_after_the_test_time():
    device, clock = boot()
    device.audio_test()
    clock.advance(device.profile.timing.audio_test_seconds - 0.01)
    assert "AudioLoopTest" not in names(device.events.history)
    clock.advance(0.01)
    assert [e["params"] for e in history(device) if e["event"] == "AudioLoopTest"] == [{"result": "passed"}]


# -- the door ------------------------------------------------------------------------------


def door_events(device: Device, since: int = 1) -> list[tuple[str, str]]:
    return [(e["event"], e["params"]["state"]) for e in new_events(device, since)
            if e["event"] in ("UnauthorizedDoorOpen", "DoorOpenTooLong", "DoorStateChanged")]


async def test_door_opened_while_switch_1_is_off_is_unauthorized():
    device, clock = boot()
    device.door(True)
    clock.advance(10)
    device.door(False)
    assert door_events(device) == [
        ("DoorStateChanged", "opened"), ("UnauthorizedDoorOpen", "in"),
        ("DoorStateChanged", "closed"), ("UnauthorizedDoorOpen", "out")]
    inputs = [e["params"] for e in history(device) if e["event"] == "InputChanged"]
    assert inputs == [{"port": "input1", "state": True}, {"port": "input1", "state": False}]
    clock.advance(60)  # closed before open_too_long: no DoorOpenTooLong ever
    assert "DoorOpenTooLong" not in names(device.events.history)


async def test_door_opened_while_switch_1_is_on_is_authorized():
    device, clock = boot()
    device.swipe_card(CARD)  # switch 1 on for 5 s
    device.door(True)
    clock.advance(3)
    device.door(False)
    assert door_events(device) == [("DoorStateChanged", "opened"), ("DoorStateChanged", "closed")]


async def test_door_open_too_long():
    device, clock = boot()
    device.switches.get(1).on()
    device.door(True)
    open_too_long = device.profile.door.open_too_long
    clock.advance(open_too_long - 0.1)
    assert door_events(device) == [("DoorStateChanged", "opened")]
    clock.advance(0.1)
    assert door_events(device) == [("DoorStateChanged", "opened"), ("DoorOpenTooLong", "in")]
    clock.advance(100)  # reported once
    mark = last_id(device)
    device.door(False)
    assert door_events(device, mark) == [("DoorStateChanged", "closed"), ("DoorOpenTooLong", "out")]


# -- firmware generations -------------------------------------------------------------------


NEWER_EVENTS = {"CallSessionStateChanged", "DoorStateChanged", "UserAuthenticated"}


async def test_vario_2_15_raises_only_the_manuals_events_and_params():
    device, clock = boot("vario-2.15")
    device.swipe_card(CARD)
    device.door(True)
    device.door(False)
    session = device.phone.dial(PEER_1)
    clock.advance(1)
    device.phone.hangup(session.session)
    device.enter_code(USER_CODE)
    seen = set(names(device.events.history))
    assert {"CardEntered", "SwitchStateChanged", "InputChanged", "CallStateChanged", "CodeEntered"} <= seen
    assert not seen & NEWER_EVENTS
    card = next(e for e in history(device) if e["event"] == "CardEntered")
    assert card["params"] == {"direction": "any", "reader": "external", "uid": CARD, "valid": True}
    switch = next(e for e in history(device) if e["event"] == "SwitchStateChanged")
    assert switch["params"] == {"switch": 1, "state": True}  # no originator in 2.15


def raise_everything(device: Device, clock: VirtualClock) -> None:
    """Try every cause the world offers; the device refuses what its hardware cannot do."""
    def attempt(action, *args):
        try:
            action(*args)
        except ApiError:
            pass

    clock.advance(2)
    attempt(device.phone.set_registration, 1, "registering")
    for key in ("5", "%1"):
        attempt(device.press, key)
    attempt(device.enter_code, "9999")
    attempt(device.swipe_card, CARD)
    attempt(device.enter_code, USER_CODE)
    clock.advance(10)
    attempt(device.door, True)
    clock.advance(60)
    attempt(device.door, False)
    attempt(device.set_motion, True)
    attempt(device.set_noise, True)
    attempt(device.tamper, True)
    attempt(device.ports.set_output, "relay1", True)
    device.switches.get(1).on()
    device.configured()
    session = device.phone.dial("sip:200@sip.example.com")
    device.phone.hangup(session.session)
    if device.profile.hardware.microphone:
        device.audio_test()
    clock.advance(10)


@pytest.mark.parametrize("profile", ["verso", "uni", "access-unit", "force", "vario-2.15"])
async def test_caps_are_exactly_the_events_the_device_can_raise(profile):
    device, clock = boot(profile)
    raise_everything(device, clock)
    raised = set(names(device.events.history))
    assert raised == set(device.event_types()) - {"LoginBlocked"}  # LoginBlocked: tests/api security


async def test_a_long_advance_with_a_pull_waiting_runs_a_few_timers_not_one_per_duration():
    """A waiting pull keeps its channel alive without checking every `duration` seconds: a year
    of virtual time with a pull waiting on a 1 s channel is no loop of 31 million expiry checks
    (POST /_emulator/clock would block the emulator for minutes)."""
    device, clock = boot()
    channel = device.channels.subscribe(filter_=["KeyPressed"], duration=1)
    pull = asyncio.ensure_future(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    assert channel.waiting
    assert clock.advance(100_000) < 10
    assert await pull == []
    clock.advance(0.9)  # the pull's end gave the channel its duration again
    assert not await expired(device, channel.id)
    clock.advance(1.1)
    assert await expired(device, channel.id)


async def test_a_channel_whose_waiting_pull_was_given_up_still_expires():
    device, clock = boot()
    channel = device.channels.subscribe(duration=5)
    pull = asyncio.ensure_future(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    clock.advance(30)
    pull.cancel()  # the client went away (aiohttp cancels its handler)
    await asyncio.sleep(0)
    clock.advance(5.1)
    assert await expired(device, channel.id)
