"""The device as a whole: power, restart, factory reset, and the physical world around it."""

from __future__ import annotations

import asyncio

import pytest

from emulator.device import config
from emulator.device.clock import VirtualClock
from emulator.device.device import Device, Options
from emulator.device.events import ChannelClosed
from emulator.device.profile import load
from emulator.device.security import Service
from emulator.errors import ApiError, ErrorCode


def make(profile: str = "verso", options: Options | None = None) -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0)
    device = Device(load(profile), clock, options or Options())
    device.boot()
    return device, clock


def events(device: Device, *names: str) -> list[tuple[str, dict]]:
    return [(e.name, dict(e.params)) for e in device.events.history if not names or e.name in names]


# -- power ----------------------------------------------------------------------------------


def test_a_new_device_is_off_until_booted():
    device = Device(load("verso"), VirtualClock(start=0))
    assert not device.online
    assert len(device.events.history) == 0
    device.boot()
    assert device.online and device.boots == 1
    first = device.events.history[0]
    assert (first.id, first.name, first.params, first.up_time) == (1, "DeviceState", {"state": "startup"}, 0)
    assert first.utc_time == 0
    assert device.boot_uuid


def test_boot_uuid_is_reproducible_with_a_seed_and_changes_per_boot():
    a, clock = make(options=Options(seed=7))
    b, _ = make(options=Options(seed=7))
    assert a.boot_uuid == b.boot_uuid
    first = a.boot_uuid
    a.restart()
    clock.advance(a.profile.timing.restart_seconds)
    assert a.boot_uuid != first and a.boots == 2


def test_uptime_counts_from_boot():
    device, clock = make()
    assert device.uptime == 0
    clock.advance(100.7)
    assert device.uptime == 100
    device.switches.get(1).act("on")
    assert device.events.history[-1].up_time == 100


def test_restart_goes_offline_then_boots_fresh_after_restart_seconds():
    device, clock = make()
    power: list[bool] = []
    device.power_listeners.append(power.append)
    clock.advance(100)
    device.switches.get(1).act("on")
    device.channels.subscribe("all")
    device.phone.dial("4002")
    assert device.events.history[-1].id > 3
    device.restart()
    assert not device.online and power == [False]
    assert len(device.channels) == 0
    assert device.phone.sessions == {}
    clock.advance(2.99)
    assert not device.online
    clock.advance(0.01)
    assert device.online and power == [False, True]
    assert device.uptime == 0
    assert [(e.id, e.name) for e in device.events.history] == [(1, "DeviceState")]
    assert not device.switches.get(1).active
    assert not device.ports.get("relay1").state
    clock.advance(2)
    assert device.events.history[-1].id > 1  # SIP registers again
    assert events(device, "RegistrationStateChanged")[-1][1] == {"sipAccount": 1, "state": "registered"}


def test_restart_with_a_chosen_offline_time():
    device, clock = make()
    device.restart(offline=10)
    clock.advance(9.9)
    assert not device.online
    clock.advance(0.1)
    assert device.online


def test_timers_of_the_old_boot_do_not_fire_after_a_restart():
    device, clock = make()
    device.door(True)  # DoorOpenTooLong would fire at 30 s
    device.audio_test()  # AudioLoopTest at 2 s
    device.restart()
    clock.advance(60)
    assert device.online
    assert events(device, "DoorOpenTooLong", "AudioLoopTest") == []


def test_power_off_twice_is_harmless():
    device, _ = make()
    power: list[bool] = []
    device.power_listeners.append(power.append)
    device.power_off()
    device.power_off()
    assert power == [False] and not device.online


async def test_a_waiting_pull_ends_when_the_device_goes_down():
    device, clock = make()
    channel = device.channels.subscribe()
    pull = asyncio.ensure_future(device.channels.pull(channel.id, 60))
    await asyncio.sleep(0)
    assert not pull.done()
    device.restart()
    with pytest.raises(ChannelClosed):
        await asyncio.wait_for(pull, 1)
    clock.advance(device.profile.timing.restart_seconds)
    with pytest.raises(ApiError) as err:
        device.channels.get(channel.id)
    assert (err.value.code, err.value.param) == (12, "id")


def test_factory_reset_restores_a_renamed_and_reconfigured_device():
    device, clock = make()
    factory = config.export(device)
    device.rename("Renamed")
    device.switches.get(1).config.duration = 30
    device.directory.replace([])
    device.security.services["system"] = Service(True, "https", "none")
    assert config.export(device) != factory
    device.factory_reset()
    assert not device.online
    clock.advance(device.profile.timing.restart_seconds)
    assert device.online
    assert device.identity.device_name == "2N IP Verso"
    assert device.switches.get(1).config.duration == 5
    assert len(device.directory.users) == 2
    assert device.security.services["system"].auth == "digest"
    assert config.export(device) == factory


def test_factory_reset_keeps_the_command_line_options():
    device, clock = make(options=Options(auth="none", licence=False))
    device.factory_reset()
    clock.advance(device.profile.timing.restart_seconds)
    assert {device.security.service(name).auth for name in device.security.services} == {"none"}
    assert device.licences == frozenset()


def test_factory_reset_after_a_firmware_upgrade_keeps_the_new_firmware():
    from emulator.device import firmware

    device, clock = make()
    device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    device.apply_firmware()
    clock.advance(device.profile.timing.restart_seconds)
    device.factory_reset()
    clock.advance(device.profile.timing.restart_seconds)
    # A factory reset restores the configuration, not the firmware the device was shipped with.
    assert device.online
    assert device.identity.sw_version == "2.51.0.80.1"
    assert device.identity.firmware_package == "verso"  # the model family's package, not a version


def test_options_override_auth_without_changing_the_configuration():
    device, _ = make(options=Options(auth="basic", licence=False))
    assert {device.security.service(name).auth for name in device.security.services} == {"basic"}
    assert {s.auth for s in device.security.services.values()} == {"digest"}  # what config keeps
    assert device.licences == frozenset()
    assert "AudioLoopTest" not in device.event_types()


def test_set_time_moves_the_device_clock_only():
    device, clock = make()
    device.set_time(2_000_000_000)
    assert device.now() == 2_000_000_000
    clock.advance(10)
    assert device.now() == 2_000_000_010
    device.switches.get(1).act("on")
    assert device.events.history[-1].utc_time == 2_000_000_010
    device.set_time(None)
    assert device.now() == clock.time()


# -- the physical world ---------------------------------------------------------------------


def test_keypad_keys_emit_pressed_and_released():
    device, _ = make()
    device.press("5")
    assert events(device, "KeyPressed", "KeyReleased") == [("KeyPressed", {"key": "5"}),
                                                          ("KeyReleased", {"key": "5"})]


@pytest.mark.parametrize("key", ["A", "%0", "%5", "%", "55", ""])
def test_unknown_keys_are_invalid(key):
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.press(key)
    assert (err.value.code, err.value.param) == (12, "key")
    assert events(device, "KeyPressed") == []


def test_a_device_without_keypad_has_only_its_buttons():
    device, _ = make("uni")
    with pytest.raises(ApiError):
        device.press("5")
    device.press("%2")
    assert [s.peer for s in device.phone.sessions.values()] == ["sip:4374834473@proxy.my2n.com"]
    with pytest.raises(ApiError) as err:
        device.enter_code("1234")
    assert err.value.code == ErrorCode.PROCESSING_ERROR


def test_user_code_authenticates_and_opens_the_users_switch():
    device, _ = make()
    assert device.enter_code("1234") is True
    assert events(device, "CodeEntered", "UserAuthenticated", "SwitchStateChanged") == [
        ("CodeEntered", {"code": "1234", "valid": True}),
        ("UserAuthenticated", {"ap": 0, "session": 0, "name": "Reception",
                               "uuid": device.directory.by_code("1234").uuid}),
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "auth"}),
    ]


def test_wrong_code_is_reported_invalid():
    device, _ = make()
    assert device.enter_code("9999") is False
    assert events(device, "CodeEntered") == [("CodeEntered", {"code": "9999", "valid": False})]
    assert not any(s.active for s in device.switches)


@pytest.mark.parametrize("code", ["1", "12a4", "1" * 17, ""])
def test_malformed_codes_are_invalid(code):
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.enter_code(code)
    assert (err.value.code, err.value.param) == (12, "code")


def test_card_swipe():
    device, _ = make()
    assert device.swipe_card("01045e31bb", "in") is True
    assert events(device, "CardEntered") == [
        ("CardEntered", {"direction": "in", "reader": "internal", "uid": "01045E31BB", "valid": True})]
    assert device.switches.get(1).active  # Flat 2's switch (the default, 1)
    assert device.swipe_card("FFFFFF") is False
    assert events(device, "CardEntered")[-1][1]["valid"] is False


@pytest.mark.parametrize("uid, direction, param", [
    ("12345", "any", "uid"), ("XYZXYZ", "any", "uid"), ("1" * 17, "any", "uid"), ("1A2B3C4D", "up", "direction")])
def test_malformed_card_swipes(uid, direction, param):
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.swipe_card(uid, direction)
    assert (err.value.code, err.value.param) == (12, param)


def test_2_15_reports_no_user_authentication():
    device, _ = make("vario-2.15")
    assert device.swipe_card("1A2B3C4D") is True
    assert events(device, "UserAuthenticated") == []
    assert events(device, "CardEntered")[0][1]["reader"] == "external"


def test_door_opened_without_the_lock_switch_raises_alarms():
    device, clock = make()
    device.door(True)
    assert events(device, "InputChanged", "DoorStateChanged", "UnauthorizedDoorOpen") == [
        ("InputChanged", {"port": "input1", "state": True}),
        ("DoorStateChanged", {"state": "opened"}),
        ("UnauthorizedDoorOpen", {"state": "in"}),
    ]
    clock.advance(29.9)
    assert events(device, "DoorOpenTooLong") == []
    clock.advance(0.1)
    assert events(device, "DoorOpenTooLong") == [("DoorOpenTooLong", {"state": "in"})]
    device.door(False)
    assert events(device, "DoorStateChanged", "UnauthorizedDoorOpen", "DoorOpenTooLong")[-3:] == [
        ("DoorStateChanged", {"state": "closed"}),
        ("UnauthorizedDoorOpen", {"state": "out"}),
        ("DoorOpenTooLong", {"state": "out"}),
    ]


def test_door_opened_through_the_lock_is_authorised_and_closing_in_time_cancels_the_alarm():
    device, clock = make()
    device.switches.get(1).act("on")
    device.door(True)
    clock.advance(10)
    device.door(False)
    clock.advance(60)
    assert events(device, "UnauthorizedDoorOpen", "DoorOpenTooLong") == []


def test_tamper_switch():
    device, _ = make()
    device.tamper(True)
    device.tamper(True)  # no change, no event
    device.tamper(False)
    assert events(device, "TamperSwitchActivated") == [("TamperSwitchActivated", {"state": "in"}),
                                                       ("TamperSwitchActivated", {"state": "out"})]
    assert events(device, "InputChanged") == [("InputChanged", {"port": "tamper", "state": True}),
                                              ("InputChanged", {"port": "tamper", "state": False})]


def test_motion_and_noise():
    device, _ = make()
    device.set_motion(True)
    device.set_motion(True)
    device.set_noise(True)
    device.set_motion(False)
    assert events(device, "MotionDetected", "NoiseDetected") == [
        ("MotionDetected", {"state": "in", "ID": 1}),
        ("NoiseDetected", {"state": "in"}),
        ("MotionDetected", {"state": "out", "ID": 1}),
    ]
    old, _ = make("vario-2.15")
    old.set_motion(True)
    assert events(old, "MotionDetected") == [("MotionDetected", {"state": "in"})]


@pytest.mark.parametrize("profile, action", [
    ("access-unit", lambda d: d.set_motion(True)),
    ("access-unit", lambda d: d.set_noise(True)),
    ("vario-2.15", lambda d: d.tamper(True)),
    ("uni", lambda d: d.swipe_card("1A2B3C4D")),
])
def test_missing_hardware_is_a_processing_error(profile, action):
    device, _ = make(profile)
    count = len(device.events.history)
    with pytest.raises(ApiError) as err:
        action(device)
    assert err.value.code == 14
    assert len(device.events.history) == count


def test_inputs_and_outputs_are_not_interchangeable():
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.set_input("relay1", True)
    assert (err.value.code, err.value.param) == (12, "port")
    with pytest.raises(ApiError) as err:
        device.ports.set_output("input1", True)
    assert (err.value.code, err.value.param) == (12, "port")
    with pytest.raises(ApiError):
        device.ports.set_output("relay7", True)
    device.ports.set_output("led_secured", True)
    assert events(device, "OutputChanged") == [("OutputChanged", {"port": "led_secured", "state": True})]


def test_audio_test_reports_after_its_duration():
    device, clock = make()
    device.audio_test()
    clock.advance(1.9)
    assert events(device, "AudioLoopTest") == []
    clock.advance(0.1)
    assert events(device, "AudioLoopTest") == [("AudioLoopTest", {"result": "passed"})]


def test_event_types_follow_the_hardware_and_firmware():
    verso, _ = make()
    assert verso.event_types() == [
        "DeviceState", "AudioLoopTest", "MotionDetected", "NoiseDetected", "KeyPressed", "KeyReleased",
        "CodeEntered", "CardEntered", "InputChanged", "OutputChanged", "SwitchStateChanged",
        "CallStateChanged", "RegistrationStateChanged", "TamperSwitchActivated", "UnauthorizedDoorOpen",
        "DoorOpenTooLong", "LoginBlocked", "CallSessionStateChanged", "DoorStateChanged", "UserAuthenticated",
        "ConfigurationChanged"]
    vario, _ = make("vario-2.15")
    types = vario.event_types()
    assert "CallSessionStateChanged" not in types and "UserAuthenticated" not in types
    assert "ConfigurationChanged" not in types
    assert "TamperSwitchActivated" not in types
    uni, _ = make("uni")
    types = uni.event_types()
    assert "MotionDetected" not in types and "CodeEntered" not in types and "CardEntered" not in types
    assert "UnauthorizedDoorOpen" in types  # the door contact is inherited from verso
