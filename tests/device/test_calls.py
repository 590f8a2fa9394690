"""Calls and SIP registration on a virtual clock: what call/status and the event log show."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.profile import load
from emulator.errors import ApiError, ErrorCode


def make(profile: str = "verso") -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0)
    device = Device(load(profile), clock)
    device.boot()
    clock.advance(5)  # SIP registration settles
    return device, clock


def calls(device: Device, since: int = 0) -> list[dict]:
    return [dict(e.params) for e in device.events.history if e.name == "CallStateChanged" and e.id > since]


def sessions(device: Device, since: int = 0) -> list[dict]:
    return [dict(e.params) for e in device.events.history
            if e.name == "CallSessionStateChanged" and e.id > since]


def last_id(device: Device) -> int:
    return device.events.history[-1].id


def profile_file(tmp_path: Path, text: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text('extends = "verso"\n' + text)
    return str(path)


def test_outgoing_call_connects_then_rings_after_the_ring_delay():
    device, clock = make()
    mark = last_id(device)
    session = device.phone.dial("sip:200@sip.example.com")
    assert session.session == 1 and session.direction == "outgoing"
    assert session.state == "connecting"
    clock.advance(0.49)
    assert session.state == "connecting"
    clock.advance(0.01)
    assert session.state == "ringing"
    # Nobody answers by themselves with answer_delay = 0.
    clock.advance(3600)
    assert session.state == "ringing"
    assert calls(device, mark) == [
        {"direction": "outgoing", "state": "connecting", "peer": "sip:200@sip.example.com", "session": 1, "call": 1},
        {"direction": "outgoing", "state": "ringing", "peer": "sip:200@sip.example.com", "session": 1, "call": 1},
    ]
    # Placed by the model (a quick-dial button does this): no originator, as the API's dial has.
    assert sessions(device, mark) == [{"session": 1, "state": "connecting"}, {"session": 1, "state": "ringing"}]


def test_peer_answers_and_the_intercom_hangs_up():
    device, clock = make()
    mark = last_id(device)
    session = device.phone.dial("4002")
    clock.advance(1)
    device.phone.peer_answers(session.session)
    assert session.state == "connected"
    device.phone.hangup(session.session, "rejected")
    assert device.phone.sessions == {}
    assert [c["state"] for c in calls(device, mark)] == ["connecting", "ringing", "connected", "terminated"]
    assert calls(device, mark)[-1]["reason"] == "rejected"
    assert [s["state"] for s in sessions(device, mark)] == ["connecting", "ringing", "connected", "terminated"]


def test_peer_may_answer_before_ringing_and_the_ring_timer_is_dropped():
    device, clock = make()
    mark = last_id(device)
    session = device.phone.dial("4002")
    device.phone.peer_answers(session.session)
    clock.advance(5)
    assert session.state == "connected"
    assert [c["state"] for c in calls(device, mark)] == ["connecting", "connected"]


def test_answer_delay_makes_the_peer_answer_by_itself(tmp_path):
    clock = VirtualClock(start=0)
    device = Device(load(profile_file(tmp_path, "[calls]\nring_delay = 1\nanswer_delay = 2\n")), clock)
    device.boot()
    session = device.phone.dial("4002")
    clock.advance(1)
    assert session.state == "ringing"
    clock.advance(1.99)
    assert session.state == "ringing"
    clock.advance(0.01)
    assert session.state == "connected"
    device.phone.peer_hangs_up(session.session, "busy")
    assert calls(device)[-1] == {"direction": "outgoing", "state": "terminated", "peer": "4002",
                                 "session": 1, "call": 1, "reason": "busy"}


def test_hangup_while_connecting_stops_the_call_progress(tmp_path):
    clock = VirtualClock(start=0)
    device = Device(load(profile_file(tmp_path, "[calls]\nring_delay = 1\nanswer_delay = 2\n")), clock)
    device.boot()
    session = device.phone.dial("4002")
    clock.advance(0.5)
    device.phone.hangup(session.session)
    clock.advance(10)
    assert [c["state"] for c in calls(device)] == ["connecting", "terminated"]
    assert device.phone.sessions == {}


def test_incoming_call_rings_until_answered():
    device, clock = make()
    mark = last_id(device)
    session = device.phone.incoming("sip:300@sip.example.com")
    assert session.state == "ringing" and session.direction == "incoming"
    clock.advance(3600)
    assert session.state == "ringing"
    device.phone.answer(session.session)
    assert session.state == "connected"
    with pytest.raises(ApiError) as err:
        device.phone.answer(session.session)  # already connected
    assert err.value.code == ErrorCode.PROCESSING_ERROR
    assert err.value.description == "call cannot be answered"
    device.phone.peer_hangs_up(session.session)
    assert [c["state"] for c in calls(device, mark)] == ["ringing", "connected", "terminated"]
    assert calls(device, mark)[-1]["reason"] == "normal"


def test_the_intercom_cannot_answer_its_own_outgoing_call():
    device, _ = make()
    session = device.phone.dial("4002")
    with pytest.raises(ApiError) as err:
        device.phone.answer(session.session)
    assert (err.value.code, err.value.description) == (14, "call cannot be answered")


def test_the_peer_cannot_answer_an_incoming_call():
    device, _ = make()
    session = device.phone.incoming("4002")
    with pytest.raises(ApiError) as err:
        device.phone.peer_answers(session.session)
    assert err.value.code == 14
    assert session.state == "ringing"


@pytest.mark.parametrize("action", ["answer", "hangup", "peer_answers", "peer_hangs_up", "get"])
def test_unknown_session_is_session_not_found(action):
    device, _ = make()
    device.phone.dial("4002")
    with pytest.raises(ApiError) as err:
        getattr(device.phone, action)(7)
    assert err.value.code == ErrorCode.PROCESSING_ERROR
    assert err.value.description == "session not found"
    assert err.value.envelope() == {"success": False, "error": {"code": 14, "description": "session not found"}}


def test_session_numbers_keep_increasing_and_restart_after_a_reboot():
    device, clock = make()
    first = device.phone.dial("4002")
    second = device.phone.incoming("4003")
    device.phone.hangup(first.session)
    third = device.phone.dial("4004")
    assert (first.session, second.session, third.session) == (1, 2, 3)
    assert (first.call, second.call, third.call) == (1, 2, 3)
    assert sorted(device.phone.sessions) == [2, 3]
    device.restart()
    assert device.phone.sessions == {}
    clock.advance(device.profile.timing.restart_seconds)
    assert device.phone.dial("4005").session == 1


def test_a_hung_up_session_is_gone():
    device, _ = make()
    session = device.phone.dial("4002")
    device.phone.hangup(session.session)
    with pytest.raises(ApiError):
        device.phone.hangup(session.session)


def test_firmware_2_15_emits_no_session_events():
    device, clock = make("vario-2.15")
    mark = last_id(device)
    session = device.phone.dial("4002")
    clock.advance(1)
    device.phone.hangup(session.session)
    assert [c["state"] for c in calls(device, mark)] == ["connecting", "ringing", "terminated"]
    assert sessions(device, mark) == []


def test_sip_account_registers_after_the_register_delay():
    clock = VirtualClock(start=1_700_000_000.0)
    device = Device(load("verso"), clock)
    device.boot()
    account = device.phone.account(1)
    assert not account.registered
    clock.advance(0.99)
    assert not account.registered
    clock.advance(0.01)
    clock.advance(0.2)
    assert account.registered
    assert account.register_time == 1_700_000_001
    regs = [dict(e.params) for e in device.events.history if e.name == "RegistrationStateChanged"]
    # Account 2 has registration disabled: it never registers.
    assert regs == [{"sipAccount": 1, "state": "registering"}, {"sipAccount": 1, "state": "registered"}]
    assert not device.phone.account(2).registered


def test_unknown_account_is_an_invalid_account_parameter():
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.phone.account(3)
    assert (err.value.code, err.value.param) == (12, "account")


def test_quick_dial_button_calls_the_peer_of_its_user_once():
    device, clock = make()
    device.press("%1")
    assert [s.peer for s in device.phone.sessions.values()] == ["sip:100@sip.example.com"]
    device.press("%1")  # already calling them
    assert len(device.phone.sessions) == 1
    device.press("%3")  # nobody on button 3
    assert len(device.phone.sessions) == 1
    device.press("%2")
    assert [s.peer for s in device.phone.sessions.values()] == [
        "sip:100@sip.example.com", "sip:4374834473@proxy.my2n.com"]
