"""The physical world through POST /_emulator/actions/{name}: each action shows up where an
integration looks for it, in /api (call/status, switch/status, io/status, phone/status) and in the
event log a subscribed channel pulls. Bad names and parameters are 400 with a JSON error.

The device is the default verso profile (keypad, card reader, camera, microphone, tamper switch,
door contact on input1 guarding switch 1), on a virtual clock, without API authentication.
"""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from emulator.app import Emulator
from emulator.settings import Settings

RECEPTION = "sip:100@sip.example.com"  # the directory user on call button %1
RECEPTION_CARD = "1A2B3C4D"  # opens switch 1
RECEPTION_CODE = "1234"  # a user code: opens switch 1
SWITCH_CODE = "00112233"  # switch 1's own code


@pytest.fixture
async def emu():
    emulator = Emulator(Settings(port=0, https_port=None, clock="virtual", auth="none"))
    await emulator.start()
    yield emulator
    await emulator.stop()


class Device:
    """The emulator as a test sees it: its API, its control plane, its event log."""

    def __init__(self, emu: Emulator, session: aiohttp.ClientSession):
        self.emu = emu
        self.session = session
        self.channel: int | None = None

    async def api(self, path: str, **params: Any) -> Any:
        async with self.session.get(self.emu.url + "/api/" + path, params={k: str(v) for k, v in params.items()}) as r:
            data = await r.json()
        assert data["success"] is True, data
        return data.get("result")

    async def control(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.emu.url + "/_emulator" + path, **kwargs) as r:
            assert r.content_type == "application/json"
            return r.status, await r.json()

    async def act(self, name: str, **params: Any) -> Any:
        status, body = await self.control("POST", f"/actions/{name}", json=params)
        assert status == 200, body
        assert body["ok"] is True
        return body["result"]

    async def advance(self, seconds: float) -> None:
        status, body = await self.control("POST", "/clock", json={"advance": seconds})
        assert status == 200, body

    async def watch(self) -> None:
        self.channel = (await self.api("log/subscribe"))["id"]

    async def events(self, *names: str) -> list[dict]:
        got = (await self.api("log/pull", id=self.channel))["events"]
        return [e for e in got if not names or e["event"] in names]

    async def switch_active(self, number: int) -> bool:
        return (await self.api("switch/status", switch=number))["switches"][0]["active"]

    async def sessions(self) -> list[dict]:
        return (await self.api("call/status"))["sessions"]


@pytest.fixture
async def dev(emu):
    async with aiohttp.ClientSession() as session:
        device = Device(emu, session)
        await device.advance(2)  # SIP registration done
        await device.watch()
        yield device


def summary(events: list[dict]) -> list[tuple[str, dict]]:
    return [(e["event"], e["params"]) for e in events]


# -- keys and call buttons ----------------------------------------------------------------------


async def test_press_call_button_dials_its_user(dev):
    assert await dev.act("press", key="%1") is None
    [session] = await dev.sessions()
    assert session["direction"] == "outgoing" and session["state"] == "connecting"
    assert session["calls"][0]["peer"] == RECEPTION
    await dev.advance(0.5)  # the profile's ring delay
    assert (await dev.sessions())[0]["state"] == "ringing"
    events = await dev.events("KeyPressed", "KeyReleased", "CallStateChanged")
    assert [(e["event"], e["params"].get("key"), e["params"].get("state")) for e in events] == [
        ("KeyPressed", "%1", None), ("CallStateChanged", None, "connecting"),
        ("KeyReleased", "%1", None), ("CallStateChanged", None, "ringing")]


async def test_press_a_keypad_key(dev):
    await dev.act("press", key="5")
    assert summary(await dev.events()) == [("KeyPressed", {"key": "5"}), ("KeyReleased", {"key": "5"})]
    assert await dev.sessions() == []


async def test_key_down_and_up_separately(dev):
    await dev.act("key-down", key="#")
    assert summary(await dev.events()) == [("KeyPressed", {"key": "#"})]
    await dev.act("key-up", key="#")
    assert summary(await dev.events()) == [("KeyReleased", {"key": "#"})]


# -- codes and cards ---------------------------------------------------------------------------


async def test_card_of_a_user_opens_the_switch(dev):
    assert await dev.act("card", uid=RECEPTION_CARD) == {"valid": True}
    assert await dev.switch_active(1) is True
    names = [e["event"] for e in await dev.events()]
    assert names[:2] == ["CardEntered", "UserAuthenticated"] and "SwitchStateChanged" in names
    await dev.advance(5)  # the switch's monostable duration
    assert await dev.switch_active(1) is False


async def test_unknown_card_is_refused(dev):
    assert await dev.act("card", uid="DEADBEEF00", direction="in") == {"valid": False}
    assert await dev.switch_active(1) is False
    [event] = await dev.events()
    assert event["event"] == "CardEntered"
    assert event["params"]["valid"] is False and event["params"]["direction"] == "in"
    assert event["params"]["uid"] == "DEADBEEF00"


@pytest.mark.parametrize("code", [SWITCH_CODE, RECEPTION_CODE])
async def test_valid_code_opens_switch_1(dev, code):
    assert await dev.act("code", code=code) == {"valid": True}
    assert await dev.switch_active(1) is True
    entered = await dev.events("CodeEntered")
    assert summary(entered) == [("CodeEntered", {"code": code, "valid": True})]


async def test_wrong_code_is_reported_invalid(dev):
    assert await dev.act("code", code="9999") == {"valid": False}
    assert await dev.switch_active(1) is False
    assert summary(await dev.events()) == [("CodeEntered", {"code": "9999", "valid": False})]


# -- inputs, door, sensors -----------------------------------------------------------------------


async def test_input_changes_io_status_and_raises_input_changed(dev):
    await dev.act("input", port="tamper", state=True)
    ports = {p["port"]: p["state"] for p in (await dev.api("io/status"))["ports"]}
    assert ports["tamper"] == 1
    assert ("InputChanged", {"port": "tamper", "state": True}) in summary(await dev.events())


async def test_door_opened_without_the_switch_is_unauthorized(dev):
    await dev.act("door", open=True)
    events = summary(await dev.events("DoorStateChanged", "UnauthorizedDoorOpen"))
    assert events == [("DoorStateChanged", {"state": "opened"}), ("UnauthorizedDoorOpen", {"state": "in"})]
    await dev.act("door", open=False)
    events = summary(await dev.events("DoorStateChanged", "UnauthorizedDoorOpen"))
    assert events == [("DoorStateChanged", {"state": "closed"}), ("UnauthorizedDoorOpen", {"state": "out"})]


async def test_door_opened_with_the_switch_on_is_fine(dev):
    await dev.act("card", uid=RECEPTION_CARD)
    await dev.act("door", open=True)
    events = summary(await dev.events("DoorStateChanged", "UnauthorizedDoorOpen"))
    assert events == [("DoorStateChanged", {"state": "opened"})]


async def test_door_left_open_too_long(dev):
    await dev.act("card", uid=RECEPTION_CARD)
    await dev.act("door", open=True)
    await dev.advance(29.9)
    assert await dev.events("DoorOpenTooLong") == []
    await dev.advance(0.1)
    assert summary(await dev.events("DoorOpenTooLong")) == [("DoorOpenTooLong", {"state": "in"})]


@pytest.mark.parametrize(("action", "event"), [
    ("motion", "MotionDetected"), ("noise", "NoiseDetected"), ("tamper", "TamperSwitchActivated")])
async def test_sensors_go_in_and_out(dev, action, event):
    await dev.act(action, active=True)
    await dev.act(action, active=False)
    states = [e["params"]["state"] for e in await dev.events(event)]
    assert states == ["in", "out"]


async def test_motion_shows_in_the_state(dev):
    await dev.act("motion", active=True)
    status, state = await dev.control("GET", "/state")
    assert status == 200 and state["motion"] is True


# -- calls ---------------------------------------------------------------------------------------


async def test_incoming_call_then_answer_through_the_api(dev):
    result = await dev.act("incoming-call", peer="sip:200@sip.example.com")
    session = result["session"]
    [ringing] = await dev.sessions()
    assert ringing["session"] == session and ringing["direction"] == "incoming" and ringing["state"] == "ringing"
    assert await dev.api("call/answer", session=session) is None
    assert (await dev.sessions())[0]["state"] == "connected"
    states = [e["params"]["state"] for e in await dev.events("CallStateChanged")]
    assert states == ["ringing", "connected"]


async def test_peer_answers_an_outgoing_call(dev):
    await dev.act("press", key="%1")
    await dev.advance(0.5)
    session = (await dev.sessions())[0]["session"]
    await dev.act("peer-answers", session=session)
    assert (await dev.sessions())[0]["state"] == "connected"


@pytest.mark.parametrize("reason", ["normal", "rejected", "noanswer"])
async def test_peer_hangs_up_with_a_reason(dev, reason):
    await dev.act("press", key="%1")
    session = (await dev.sessions())[0]["session"]
    await dev.act("peer-answers", session=session)
    await dev.act("peer-hangs-up", session=session, reason=reason)
    assert await dev.sessions() == []
    ended = (await dev.events("CallStateChanged"))[-1]["params"]
    assert ended["state"] == "terminated" and ended["reason"] == reason


async def test_peer_busy(dev):
    await dev.act("press", key="%2")
    session = (await dev.sessions())[0]["session"]
    await dev.act("peer-busy", session=session)
    assert await dev.sessions() == []
    ended = (await dev.events("CallStateChanged"))[-1]["params"]
    assert ended["state"] == "terminated" and ended["reason"] == "busy"


async def test_registration_changes_phone_status(dev):
    async def registered() -> bool:
        return (await dev.api("phone/status", account=1))["accounts"][0]["registered"]

    assert await registered() is True
    await dev.act("registration", account=1, state="unregistered")
    assert await registered() is False
    await dev.act("registration", account=1, state="registered")
    assert await registered() is True
    states = [e["params"]["state"] for e in await dev.events("RegistrationStateChanged")]
    assert states == ["unregistered", "registered"]


async def test_audio_result_failed_fails_the_next_audio_loop_test(dev):
    await dev.act("audio-result", result="failed")
    await dev.api("audio/test")
    assert await dev.events("AudioLoopTest") == []
    await dev.advance(2)
    assert summary(await dev.events("AudioLoopTest")) == [("AudioLoopTest", {"result": "failed"})]
    await dev.act("audio-result", result="passed")
    await dev.api("audio/test")
    await dev.advance(2)
    assert summary(await dev.events("AudioLoopTest")) == [("AudioLoopTest", {"result": "passed"})]


# -- what is wrong is a 400 ------------------------------------------------------------------------


async def test_actions_are_listed_with_their_parameters(dev):
    status, listed = await dev.control("GET", "/actions")
    assert status == 200
    assert set(listed) == {"press", "key-down", "key-up", "code", "card", "input", "door", "motion", "noise",
                           "tamper", "incoming-call", "intercom-answers", "peer-answers", "peer-hangs-up",
                           "peer-busy", "registration", "audio-result"}
    assert listed["card"]["params"]["uid"] == {"type": "str", "required": True, "default": None, "choices": None,
                                               "doc": "the card's UID, 6 to 16 hexadecimal digits (\"1A2B3C4D\")"}
    assert listed["card"]["params"]["direction"] == {"type": "str", "required": False, "default": "any",
                                                     "choices": ["in", "out", "any"],
                                                     "doc": "which way the holder goes (in, out, any)"}
    assert listed["card"]["doc"].startswith("A card held to the reader")


async def test_every_action_and_parameter_is_documented(dev):
    _, listed = await dev.control("GET", "/actions")
    for name, action in listed.items():
        assert action["doc"], name
        for param, spec in action["params"].items():
            assert spec["doc"], f"{name}: {param} has no `{param}: ...` line in its docstring"


async def test_the_intercom_answers_an_incoming_call(dev):
    session = (await dev.act("incoming-call", peer="sip:reception@example.com"))["session"]
    await dev.act("intercom-answers", session=session)
    await dev.advance(0.1)
    assert [(e["params"]["state"], e["params"]["direction"]) for e in await dev.events("CallStateChanged")] == \
        [("ringing", "incoming"), ("connected", "incoming")]


async def test_a_misspelt_action_or_parameter_gets_a_suggestion(dev):
    status, body = await dev.control("POST", "/actions/presss", json={"key": "1"})
    assert (status, "did you mean 'press'?" in body["error"]) == (400, True)
    status, body = await dev.control("POST", "/actions/card", json={"uid": "1A2B3C4D", "directon": "in"})
    assert (status, "directon: unknown parameter; did you mean 'direction'?" in body["error"]) == (400, True)


@pytest.mark.parametrize(("name", "params", "named"), [
    ("fly", {}, "fly"),
    ("press", {}, "key"),
    ("press", {"key": 5}, "key"),
    ("press", {"key": "%1", "force": True}, "force"),
    ("press", {"key": "x"}, "key"),
    ("press", {"key": "%9"}, "key"),
    ("card", {"uid": "zz"}, "uid"),
    ("card", {"uid": RECEPTION_CARD, "direction": "sideways"}, "direction"),
    ("code", {"code": "12ab"}, "code"),
    ("input", {"port": "input1", "state": "yes"}, "state"),
    ("input", {"port": "nope", "state": True}, "port"),
    ("motion", {"active": 1}, "active"),
    ("peer-answers", {"session": 99}, "session"),
    ("peer-answers", {"session": True}, "session"),
    ("peer-hangs-up", {"session": 1, "reason": "bored"}, "reason"),
    ("registration", {"account": 1, "state": "sleeping"}, "state"),
    ("registration", {"account": 7, "state": "registered"}, "account"),
    ("audio-result", {"result": "meh"}, "result"),
])
async def test_bad_action_is_400_with_a_json_error(dev, name, params, named):
    status, body = await dev.control("POST", f"/actions/{name}", json=params)
    assert status == 400
    assert set(body) == {"error"} and named in body["error"]
    assert await dev.events() == []  # nothing happened


async def test_action_parameters_must_be_a_json_object(dev):
    for data in ("not json", "[1, 2]"):
        async with dev.session.post(dev.emu.url + "/_emulator/actions/press", data=data,
                                    headers={"Content-Type": "application/json"}) as r:
            assert r.status == 400
            assert "error" in await r.json()


async def test_an_action_without_a_body_misses_its_required_parameters(dev):
    async with dev.session.post(dev.emu.url + "/_emulator/actions/press") as r:
        assert r.status == 400  # press needs a key
        assert "key" in (await r.json())["error"]


async def test_numbers_as_text_are_accepted_for_numeric_parameters(dev):
    await dev.act("incoming-call", peer="sip:200@x")
    await dev.act("peer-hangs-up", session="1")
    assert await dev.sessions() == []


async def test_actions_on_a_model_without_the_hardware_fail_clearly():
    emulator = Emulator(Settings(port=0, https_port=None, clock="virtual", auth="none", profile="access-unit"))
    await emulator.start()
    try:
        async with aiohttp.ClientSession() as session:
            device = Device(emulator, session)
            status, body = await device.control("POST", "/actions/motion", json={"active": True})
            assert status == 400 and "camera" in body["error"]
    finally:
        await emulator.stop()


async def test_actions_while_the_device_is_down_are_refused(dev):
    await dev.control("POST", "/faults", json={"kind": "reboot", "seconds": 3})
    status, body = await dev.control("POST", "/actions/card", json={"uid": RECEPTION_CARD})
    assert status == 400 and "down" in body["error"]
    await dev.advance(3)
    assert await dev.switch_active(1) is False
    status, journal = await dev.control("GET", "/journal", params={"kind": "action", "action": "switch"})
    assert journal == []  # no relay clicked while the device was off
    assert await dev.act("card", uid=RECEPTION_CARD) == {"valid": True}  # back up: it works again
