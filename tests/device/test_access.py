"""Access control in the model: a user's credentials act only for an enabled user inside their
validity and at an access point they may use; the events of one access are linked by `ap` and
`session`; mobile keys and the wave gesture on Bluetooth hardware."""

from __future__ import annotations

import pytest

from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.directory import merge
from emulator.device.profile import load
from emulator.errors import ApiError

NOW = 1_700_000_000
CARD = "0A0B0C0D"
PIN = "4711"
PHONE = "8F6E5D4C3B2A1987"


def make(profile: str = "verso") -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=float(NOW))
    device = Device(load(profile), clock)
    device.boot()
    return device, clock


def add_user(device: Device, switch: int = 1, **fields) -> str:
    """A directory user (as dir/create stores one) with a card, a PIN and a paired phone."""
    user = device.directory.new_user("11111111-2222-3333-4444-555555555555", switch)
    changes = {"name": "Eve", **fields}
    changes["access"] = {"card": [CARD], "pin": PIN, **fields.get("access", {})}
    if "mobkey" in device.directory.template["access"]:  # a model with Bluetooth
        changes["access"]["mobkey"] = PHONE
    user.record = merge(user.record, changes, device.directory.template)
    device.directory.put(user)
    return user.uuid


def events(device: Device, since: int = 0) -> list[tuple[str, dict]]:
    return [(e.name, dict(e.params)) for e in device.events.history
            if e.id > since and e.name not in ("OutputChanged", "RegistrationStateChanged")]


def mark(device: Device) -> int:
    return device.events.history[-1].id


def test_a_card_links_its_events_by_access_point_and_session():
    device, clock = make()
    uuid = add_user(device)
    since = mark(device)
    assert device.swipe_card(CARD, "in") is True
    clock.advance(5)  # the monostable switch goes off again
    assert events(device, since) == [
        ("CardEntered", {"ap": 0, "session": 1, "direction": "in", "reader": "internal", "uid": CARD, "uuid": uuid,
                         "valid": True}),
        ("UserAuthenticated", {"ap": 0, "session": 1, "name": "Eve", "uuid": uuid}),
        ("SwitchStateChanged", {"ap": 0, "session": 1, "switch": 1, "state": True, "originator": "ap"}),
        ("SwitchStateChanged", {"ap": 0, "session": 1, "switch": 1, "state": False, "originator": "ap"}),
    ]
    since = mark(device)
    device.swipe_card(CARD, "out")  # the next access, at the Exit reader
    assert [(n, p["ap"], p["session"]) for n, p in events(device, since)] == [
        ("CardEntered", 1, 2), ("UserAuthenticated", 1, 2), ("SwitchStateChanged", 1, 2)]


@pytest.mark.parametrize("present", [
    lambda d: d.swipe_card(CARD),
    lambda d: d.enter_code(PIN),
    lambda d: d.present_mobile_key(PHONE),
], ids=["card", "pin", "mobile key"])
@pytest.mark.parametrize("validity, now, opens", [
    ({"validFrom": str(NOW + 3600)}, NOW, False),  # not yet
    ({"validTo": str(NOW - 1)}, NOW, False),  # expired
    ({"validFrom": str(NOW - 60), "validTo": str(NOW + 60)}, NOW, True),
    ({"validFrom": "0", "validTo": "0"}, NOW, True),  # no limits
])
def test_credentials_act_only_inside_the_users_validity(present, validity, now, opens):
    device, _ = make()
    uuid = add_user(device, access=validity)
    since = mark(device)
    assert present(device) is True  # the credential is known either way
    assert device.switches.get(1).active is opens
    outcome = [(n, p) for n, p in events(device, since) if n in ("UserAuthenticated", "UserRejected")]
    if opens:
        assert outcome == [("UserAuthenticated", {"ap": 0, "session": 1, "name": "Eve", "uuid": uuid})]
    else:
        assert outcome == [("UserRejected", {"ap": 0, "session": 1, "name": "Eve", "uuid": uuid,
                                             "reason": "invalidTime"})]


def test_validity_follows_the_clock():
    device, clock = make()
    add_user(device, access={"validTo": str(NOW + 100)})
    assert device.swipe_card(CARD) and device.switches.get(1).active
    clock.advance(101)
    device.swipe_card(CARD)
    assert events(device)[-1][1]["reason"] == "invalidTime"


def test_only_the_access_points_the_user_may_use():
    device, _ = make()
    add_user(device, access={"accessPoints": [{"enabled": True}, {"enabled": False}]})
    since = mark(device)
    device.swipe_card(CARD, "out")  # Exit: not for this user
    assert not device.switches.get(1).active
    assert events(device, since)[-1] == ("UserRejected", {"ap": 1, "session": 1, "name": "Eve",
                                                          "uuid": device.directory.by_card(CARD).uuid,
                                                          "reason": "invalidProfile"})
    device.swipe_card(CARD, "in")
    assert device.switches.get(1).active


def test_a_blocked_access_point_refuses_all_but_the_access_exception():
    device, _ = make()
    add_user(device)
    device.block_access_point(0, True)
    assert events(device)[-1] == ("AccessBlocked", {"ap": 0, "state": "in"})
    for present in (lambda: device.swipe_card(CARD), lambda: device.enter_code(PIN)):
        present()
        assert events(device)[-1][1]["reason"] == "accessBlocked"
        assert not device.switches.get(1).active
    device.swipe_card(CARD, "out")  # the Exit is not blocked
    assert device.switches.get(1).active
    device.switches.get(1).off()
    user = device.directory.by_card(CARD)
    user.record = merge(user.record, {"access": {"accessException": True}}, device.directory.template)
    device.swipe_card(CARD, "in")  # "Access Exception: bypass Access Blocking"
    assert device.switches.get(1).active


def test_a_locked_or_disabled_switch_refuses_the_user():
    device, _ = make()
    add_user(device, switch=2)
    device.switches.get(2).lock()
    device.swipe_card(CARD)
    assert events(device)[-1][1]["reason"] == "switchLocked"
    device.switches.get(2).unlock()
    device.switches.get(2).config.enabled = False
    device.swipe_card(CARD)
    assert events(device)[-1][1]["reason"] == "switchDisabled"


def test_a_users_switch_code_opens_that_switch():
    device, _ = make()
    uuid = add_user(device, access={"code": ["", "7788"]})
    since = mark(device)
    assert device.enter_code("7788") is True
    assert device.switches.get(2).active and not device.switches.get(1).active
    assert events(device, since)[0] == ("CodeEntered", {"ap": 0, "session": 1, "code": "7788", "uuid": uuid,
                                                        "valid": True})


def test_a_mobile_key_as_the_recording_shows_it():
    device, _ = make()
    uuid = add_user(device)
    since = mark(device)
    device.wave()
    assert device.present_mobile_key(PHONE.lower(), "in") is True
    assert events(device, since)[:4] == [
        ("WaveKeyActivated", {"type": "touch"}),
        ("MobKeyEntered", {"ap": 0, "session": 1, "direction": "in", "action": 0, "authid": PHONE.lower(),
                           "uuid": uuid, "valid": True}),
        ("UserAuthenticated", {"ap": 0, "session": 1, "name": "Eve", "uuid": uuid}),
        ("SwitchStateChanged", {"ap": 0, "session": 1, "switch": 1, "state": True, "originator": "ap"}),
    ]
    assert device.present_mobile_key("0000000000000000") is False
    assert events(device)[-1] == ("MobKeyEntered", {"ap": 0, "session": 2, "direction": "in", "action": 0,
                                                    "authid": "0000000000000000", "valid": False})


@pytest.mark.parametrize("profile", ["force", "uni", "vario-2.15"])
def test_no_bluetooth_no_mobile_keys(profile):
    device, _ = make(profile)
    for attempt in (lambda: device.present_mobile_key(PHONE), device.wave):
        with pytest.raises(ApiError) as err:
            attempt()
        assert err.value.code == 14


def test_firmware_2_15_keeps_its_shapes():
    device, _ = make("vario-2.15")
    add_user(device)
    since = mark(device)
    device.swipe_card(CARD)
    device.enter_code("9999")
    assert events(device, since) == [
        ("CardEntered", {"direction": "any", "reader": "external", "uid": CARD, "valid": True}),
        ("SwitchStateChanged", {"switch": 1, "state": True}),
        ("CodeEntered", {"code": "9999", "valid": False}),
    ]


def test_a_disabled_access_point_reads_no_credentials(tmp_path):
    path = tmp_path / "no-exit.toml"
    path.write_text('extends = "verso"\n[access]\nexit = false\n')
    device = Device(load(str(path)), VirtualClock(start=float(NOW)))
    device.boot()
    add_user(device)
    with pytest.raises(ApiError) as err:
        device.swipe_card(CARD, "out")
    assert err.value.code == 14 and not device.switches.get(1).active
    assert device.swipe_card(CARD, "in") is True


def test_sessions_start_again_after_a_boot():
    device, clock = make()
    add_user(device)
    device.swipe_card(CARD)
    device.restart()
    clock.advance(device.profile.timing.restart_seconds)
    device.swipe_card(CARD)
    assert events(device)[-1][0] != "CardEntered"
    assert next(p for n, p in events(device) if n == "CardEntered")["session"] == 1
