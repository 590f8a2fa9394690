"""Switches as a client sees them through switch/ctrl, switch/status and the event log."""

from __future__ import annotations

import pytest

from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.profile import load
from emulator.errors import ApiError, ErrorCode


def make(profile: str = "verso") -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0)
    device = Device(load(profile), clock)
    device.boot()
    return device, clock


class Watch:
    """The events a device emits from now on, as (name, params) pairs."""

    def __init__(self, device: Device):
        self.events: list[tuple[str, dict]] = []
        device.events.listeners.append(lambda e: self.events.append((e.name, dict(e.params))))

    def take(self, *names: str) -> list[tuple[str, dict]]:
        out = [e for e in self.events if not names or e[0] in names]
        self.events.clear()
        return out


def test_monostable_switch_turns_itself_off_after_its_duration():
    device, clock = make()
    watch = Watch(device)
    switch = device.switches.get(1)
    switch.act("on")
    assert switch.active and device.ports.get("relay1").state
    assert watch.take() == [
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": True}),
    ]
    clock.advance(4.9)
    assert switch.active
    assert watch.take("SwitchStateChanged", "OutputChanged") == []
    clock.advance(0.1)
    assert not switch.active and not device.ports.get("relay1").state
    assert watch.take("SwitchStateChanged", "OutputChanged") == [
        ("SwitchStateChanged", {"switch": 1, "state": False, "originator": "api"}),
        ("OutputChanged", {"port": "relay1", "state": False}),
    ]


def test_reactivation_restarts_the_timer():
    device, clock = make()
    watch = Watch(device)
    switch = device.switches.get(1)
    switch.act("on")
    clock.advance(3)
    switch.act("on")
    # Already active: no second SwitchStateChanged.
    assert watch.take("SwitchStateChanged") == [("SwitchStateChanged", {"switch": 1, "state": True, "originator": "api"})]
    clock.advance(4.9)  # t+7.9: the first timer (t+5) must not have fired
    assert switch.active
    clock.advance(0.1)  # t+8
    assert not switch.active
    assert watch.take("SwitchStateChanged") == [
        ("SwitchStateChanged", {"switch": 1, "state": False, "originator": "api"})]


def test_off_cancels_the_auto_off_timer():
    device, clock = make()
    switch = device.switches.get(1)
    switch.act("on")
    clock.advance(1)
    switch.act("off")
    assert not switch.active
    clock.advance(1)
    switch.act("on")  # t+2: on until t+7, the stale t+5 timer must not turn it off
    clock.advance(4.5)
    assert switch.active
    clock.advance(0.5)
    assert not switch.active


def test_switch_uses_its_configured_duration_and_output():
    device, clock = make()
    watch = Watch(device)
    switch = device.switches.get(2)
    switch.config.duration = 12
    switch.act("trigger")
    assert watch.take("OutputChanged") == [("OutputChanged", {"port": "output1", "state": True})]
    clock.advance(11.9)
    assert switch.active
    clock.advance(0.1)
    assert not switch.active
    assert watch.take("OutputChanged") == [("OutputChanged", {"port": "output1", "state": False})]


def test_monostable_trigger_activates_and_restarts():
    device, clock = make()
    switch = device.switches.get(1)
    switch.act("trigger")
    assert switch.active
    clock.advance(4)
    switch.act("trigger")
    assert switch.active  # trigger does not toggle a monostable switch
    clock.advance(4.9)
    assert switch.active
    clock.advance(0.1)
    assert not switch.active


def test_bistable_trigger_toggles_and_on_stays_on():
    device, clock = make("access-unit")
    watch = Watch(device)
    switch = device.switches.get(2)
    assert switch.config.mode == "bistable"
    switch.act("trigger")
    assert switch.active
    clock.advance(1000)
    assert switch.active
    switch.act("trigger")
    assert not switch.active
    switch.act("on")
    switch.act("on")
    clock.advance(1000)
    assert switch.active
    switch.act("off")
    assert not switch.active
    assert [p["state"] for _, p in watch.take("SwitchStateChanged")] == [True, False, True, False]


def test_bistable_switch_drives_its_output():
    device, _ = make("access-unit")
    switch = device.switches.get(2)
    switch.act("on")
    assert device.ports.get("output1").state
    switch.act("trigger")
    assert not device.ports.get("output1").state


def test_hold_keeps_the_switch_on_past_its_duration_until_released():
    device, clock = make()
    watch = Watch(device)
    switch = device.switches.get(1)
    switch.act("on")
    switch.act("hold")
    assert switch.held and switch.active
    clock.advance(100)
    assert switch.active
    switch.act("off")  # off does not beat hold
    assert switch.active
    switch.act("release")
    assert not switch.active and not switch.held
    assert [p["state"] for _, p in watch.take("SwitchStateChanged")] == [True, False]


def test_hold_activates_an_inactive_switch():
    device, _ = make()
    switch = device.switches.get(1)
    switch.act("hold")
    assert switch.active and switch.held and device.ports.get("relay1").state


def test_hold_with_a_timeout_ends_by_itself():
    device, clock = make()
    switch = device.switches.get(1)
    switch.act("hold", timeout=10)
    assert switch.hold_timeout == 10
    clock.advance(9.9)
    assert switch.active and switch.held
    clock.advance(0.1)
    assert not switch.active and not switch.held
    assert switch.hold_timeout == 0


def test_release_before_the_hold_timeout_cancels_it():
    device, clock = make()
    switch = device.switches.get(1)
    switch.act("hold", timeout=10)
    clock.advance(2)
    switch.act("release")
    switch.act("hold")  # a new hold without timeout: the old timer must not release it
    clock.advance(20)
    assert switch.held and switch.active


def test_lock_forces_the_switch_off_and_refuses_activation():
    device, clock = make()
    watch = Watch(device)
    switch = device.switches.get(1)
    switch.act("on")
    switch.act("lock")
    assert switch.locked and not switch.active
    assert not device.ports.get("relay1").state
    for action in ("on", "trigger"):
        with pytest.raises(ApiError) as err:
            switch.act(action)
        assert err.value.code == ErrorCode.PROCESSING_ERROR
        assert int(err.value.code) == 14
        assert err.value.description == "switch is locked"
    assert not switch.active
    clock.advance(10)
    switch.act("unlock")
    assert not switch.locked and not switch.active
    switch.act("on")
    assert switch.active
    assert [p["state"] for _, p in watch.take("SwitchStateChanged")] == [True, False, True]


def test_lock_beats_hold():
    device, _ = make()
    switch = device.switches.get(1)
    switch.act("hold")
    switch.act("lock")
    assert not switch.active and switch.held and switch.locked
    switch.act("unlock")
    assert switch.active  # still held, so back on

    switch.act("release")
    switch.act("lock")
    switch.act("hold")  # held while locked: stays off
    assert switch.held and not switch.active
    switch.act("unlock")
    assert switch.active


def test_locked_switch_still_accepts_off():
    device, _ = make()
    switch = device.switches.get(1)
    switch.act("lock")
    switch.act("off")
    assert not switch.active and switch.locked


def test_disabled_switch_is_an_invalid_switch_parameter():
    device, _ = make()
    switch = device.switches.get(3)
    assert not switch.config.enabled
    for action in ("on", "off", "trigger", "lock", "hold"):
        with pytest.raises(ApiError) as err:
            switch.act(action)
        assert err.value.code == ErrorCode.INVALID_PARAMETER
        assert err.value.param == "switch"
    assert not switch.active


@pytest.mark.parametrize("number", [0, 5, -1, 99])
def test_unknown_switch_number_is_an_invalid_switch_parameter(number):
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.switches.get(number)
    assert err.value.code == 12
    assert err.value.param == "switch"
    assert err.value.envelope() == {"success": False, "error": {
        "code": 12, "param": "switch", "description": "invalid parameter value"}}


def test_switch_code_activates_the_switch_as_auth():
    device, clock = make()
    watch = Watch(device)
    assert device.enter_code("00112233") is True
    assert device.switches.get(1).active
    assert watch.take("CodeEntered", "SwitchStateChanged") == [
        ("CodeEntered", {"ap": 0, "session": 1, "code": "00112233", "valid": True}),
        ("SwitchStateChanged", {"switch": 1, "state": True, "originator": "auth"}),
    ]
    clock.advance(5)
    assert not device.switches.get(1).active


def test_firmware_2_15_events_carry_no_originator():
    device, clock = make("vario-2.15")
    watch = Watch(device)
    device.switches.get(1).act("on")
    clock.advance(5)
    assert watch.take("SwitchStateChanged") == [
        ("SwitchStateChanged", {"switch": 1, "state": True}),
        ("SwitchStateChanged", {"switch": 1, "state": False}),
    ]


def test_a_restart_turns_switches_off_and_drops_their_timers():
    device, clock = make()
    switch = device.switches.get(1)
    switch.act("lock")
    device.switches.get(2).act("hold")
    device.restart()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.online
    assert not any(s.active or s.locked or s.held for s in device.switches)
    switch.act("on")
    clock.advance(4)
    assert switch.active  # no stale timer from the previous boot
    clock.advance(1)
    assert not switch.active
