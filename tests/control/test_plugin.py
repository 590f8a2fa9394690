"""The pytest plugin and the Python handle, used as a user's test suite uses them: the `helios`
fixture in sync and async tests, the `helios` marker's Settings keywords, an overridden
`helios_settings`, and every Intercom method doing what its name says (checked through /api).
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import aiohttp
import pytest
import requests
from requests.auth import HTTPDigestAuth

from emulator.control.faults import FaultError
from emulator.control.handle import running
from emulator.settings import Settings

ADMIN = HTTPDigestAuth("admin", "2n")
RECEPTION_CARD = "1A2B3C4D"


def api(helios, path: str, auth=ADMIN, **params) -> dict:
    reply = requests.get(f"{helios.url}/api/{path}", params=params, auth=auth, timeout=5)
    return reply.json()


def result(helios, path: str, auth=ADMIN, **params):
    data = api(helios, path, auth, **params)
    assert data["success"] is True, data
    return data.get("result")


def sessions(helios) -> list[dict]:
    return result(helios, "call/status")["sessions"]


def switch_active(helios, number: int = 1) -> bool:
    return result(helios, "switch/status", switch=number)["switches"][0]["active"]


# -- the fixture --------------------------------------------------------------------------------------


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_default_fixture_is_the_verso_with_digest_on_the_real_clock(helios):
    assert result(helios, "system/info")["variant"] == "2N IP Verso"
    assert api(helios, "system/status", auth=None)["error"]["code"] == 9
    assert helios.emulator.clock.virtual is False
    https = requests.get(f"{helios.https_url}/api/system/status", auth=ADMIN, verify=False, timeout=5)
    assert https.json()["success"] is True
    with pytest.raises(RuntimeError, match="virtual"):
        helios.advance(1)


@pytest.mark.helios(clock="virtual")
def test_advance_refuses_what_would_break_the_clock(helios):
    for seconds in (-1, float("nan"), float("inf")):
        with pytest.raises(ValueError):
            helios.advance(seconds)
    helios.advance(7)
    assert helios.state()["uptime"] == 7


@pytest.mark.helios(clock="virtual")
async def test_async_test_with_aiohttp(helios):
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as session:
        async with session.get(helios.url + "/api/log/subscribe") as r:
            channel = (await r.json())["result"]["id"]
        helios.card(RECEPTION_CARD)
        async with session.get(helios.url + "/api/log/pull", params={"id": channel}) as r:
            names = [e["event"] for e in (await r.json())["result"]["events"]]
        assert "CardEntered" in names and "SwitchStateChanged" in names
        helios.advance(5)
        assert helios.switch_activations(1) == [5.0]


@pytest.mark.helios(profile="uni", clock="virtual", users=["ha:pw:switch-control"])
def test_marker_keywords_are_settings(helios):
    ha = HTTPDigestAuth("ha", "pw")
    assert result(helios, "system/info", auth=None)["variant"] == "2N IP Uni"
    assert result(helios, "switch/ctrl", auth=ha, switch=1, action="trigger") is None
    assert api(helios, "system/status", auth=ha)["error"]["code"] == 10  # only switch-control
    assert api(helios, "switch/status", auth=ADMIN)["error"]["code"] == 9  # --user replaced admin
    helios.advance(5)
    assert helios.switch_activations(1) == [5.0]


class TestSuiteDefaults:
    @pytest.fixture
    def helios_settings(self):
        return {"clock": "virtual", "auth": "none", "journal_size": 10}

    def test_the_overridden_defaults_apply(self, helios):
        assert result(helios, "system/status", auth=None)["upTime"] == 0
        helios.advance(60)
        assert result(helios, "system/status", auth=None)["upTime"] == 60
        for _ in range(20):
            api(helios, "system/status", auth=None)
        assert len(helios.journal()) == 10

    @pytest.mark.helios(auth="basic")
    def test_the_marker_wins_over_the_defaults(self, helios):
        assert api(helios, "system/status", auth=None)["error"]["code"] == 9
        assert result(helios, "system/status", auth=("admin", "2n"))["upTime"] == 0
        helios.advance(1)  # the defaults' virtual clock is still there


def test_the_plugin_as_an_installed_package(tmp_path):
    """A user's own suite: the entry point registers the fixture and the marker (--strict-markers),
    and every test gets its own emulator."""
    (tmp_path / "test_user_suite.py").write_text(textwrap.dedent("""
        import pytest, requests

        @pytest.mark.helios(clock="virtual", auth="none")
        def test_rename(helios):
            state = helios.state()
            state["config"]["configXml"] = state["config"]["configXml"].replace(
                "<DeviceName>2N IP Verso</DeviceName>", "<DeviceName>Mine</DeviceName>")
            helios.restore(state)
            assert requests.get(helios.url + "/api/system/info", timeout=5).json()["result"]["deviceName"] == "Mine"

        @pytest.mark.helios(clock="virtual", auth="none")
        def test_a_fresh_emulator(helios):
            assert requests.get(helios.url + "/api/system/info", timeout=5).json()["result"]["deviceName"] == "2N IP Verso"
            helios.ring()
            helios.advance(1)
            assert requests.get(helios.url + "/api/call/status", timeout=5).json()["result"]["sessions"][0]["state"] == "ringing"
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "--strict-markers", "-p", "no:cacheprovider",
                           "test_user_suite.py"], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
    markers = subprocess.run([sys.executable, "-m", "pytest", "--markers"], cwd=tmp_path, capture_output=True,
                             text=True, timeout=120, check=True)
    assert "@pytest.mark.helios(**settings)" in markers.stdout


def test_running_context_manager_starts_and_stops():
    with running(Settings(port=0, https_port=None, clock="virtual", auth="none")) as intercom:
        url = intercom.url
        assert requests.get(url + "/_emulator/health", timeout=5).status_code == 200
    with pytest.raises(requests.ConnectionError):
        requests.get(url + "/_emulator/health", timeout=5)


def test_running_takes_free_ports_whatever_settings_it_gets():
    """Two emulators at once from Settings that name no port: neither takes 8080/8443, so they
    never collide (with each other, or with a helios-emulator already running)."""
    from emulator import Settings as ReExported, running as re_exported  # where the README imports them

    assert (ReExported, re_exported) == (Settings, running)
    with running(Settings(clock="virtual")) as one, re_exported(ReExported(auth="none")) as two:
        ports = {one.emulator.ports["http"], one.emulator.ports["https"], two.emulator.ports["http"],
                 two.emulator.ports["https"]}
        assert len(ports) == 4 and not ports & {8080, 8443}


def test_a_failing_test_shows_the_tail_of_the_journal(tmp_path):
    (tmp_path / "test_failing.py").write_text(textwrap.dedent("""
        import pytest, requests
        from requests.auth import HTTPDigestAuth

        def test_wrong_password(helios):
            helios.press("5")
            reply = requests.get(helios.url + "/api/switch/caps", auth=HTTPDigestAuth("admin", "nope"), timeout=5)
            assert reply.status_code == 200

        def test_passes(helios):
            helios.press("6")
    """), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_failing.py"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert "1 failed, 1 passed" in done.stdout, done.stdout + done.stderr
    section = done.stdout.split("helios journal (last ")[1]
    assert section.count("helios journal") == 0  # only the failing test has one
    assert "GET /api/switch/caps 401 code=9 account=- " in section
    assert 'reason="wrong password for \'admin\'"' in section


# -- the handle's methods --------------------------------------------------------------------------------


@pytest.mark.helios(clock="virtual")
def test_ring_answer_hangup(helios):
    helios.ring()
    [call] = sessions(helios)
    assert call["direction"] == "outgoing" and call["calls"][0]["peer"] == "sip:100@sip.example.com"
    helios.advance(0.5)
    assert sessions(helios)[0]["state"] == "ringing"
    helios.answer(call["session"])
    assert sessions(helios)[0]["state"] == "connected"
    helios.hangup(call["session"], reason="rejected")
    assert sessions(helios) == []
    [hangup] = helios.journal("action", action="call", event="hangup")
    assert hangup["reason"] == "rejected"


@pytest.mark.helios(clock="virtual")
def test_ring_another_button_and_busy(helios):
    helios.ring(2)
    [call] = sessions(helios)
    assert call["calls"][0]["peer"] == "sip:4374834473@proxy.my2n.com"
    helios.busy(call["session"])
    assert helios.journal("action", action="call", event="hangup")[0]["reason"] == "busy"


@pytest.mark.helios(clock="virtual")
def test_incoming_call_answered_through_the_api(helios):
    session = helios.incoming_call("sip:200@sip.example.com")
    assert result(helios, "call/answer", session=session) is None
    assert sessions(helios)[0]["state"] == "connected"


@pytest.mark.helios(clock="virtual")
def test_card_and_code_open_switch_1_for_its_duration(helios):
    assert helios.card(RECEPTION_CARD) is True
    assert switch_active(helios) is True
    helios.advance(2)
    assert helios.switch_activations(1) == [None]  # still on
    helios.advance(3)
    assert switch_active(helios) is False
    assert helios.code("00112233") is True
    helios.advance(5)
    assert helios.code("0000") is False
    assert helios.card("FFFFFFFF") is False
    assert helios.switch_activations(1) == [5.0, 5.0]


@pytest.mark.helios(clock="virtual")
def test_door_input_and_sensors(helios):
    channel = result(helios, "log/subscribe")["id"]
    helios.open_door()
    assert {p["port"]: p["state"] for p in result(helios, "io/status")["ports"]}["input1"] == 1
    helios.close_door()
    helios.set_input("tamper", True)
    helios.motion()
    helios.noise()
    helios.motion(False)
    helios.press("7")
    events = [(e["event"], e["params"].get("state")) for e in result(helios, "log/pull", id=channel)["events"]]
    assert ("DoorStateChanged", "opened") in events and ("DoorStateChanged", "closed") in events
    assert ("UnauthorizedDoorOpen", "in") in events
    assert ("TamperSwitchActivated", "in") in events
    assert ("MotionDetected", "in") in events and ("MotionDetected", "out") in events
    assert ("NoiseDetected", "in") in events
    assert ("KeyPressed", None) in events


@pytest.mark.helios(clock="virtual")
def test_registration_and_audio_result(helios):
    helios.advance(2)
    helios.registration(1, "unregistered")
    assert result(helios, "phone/status", account=1)["accounts"][0]["registered"] is False
    helios.audio_result("failed")
    result(helios, "audio/test")
    helios.advance(2)
    assert helios.journal("action", action="audio-test")[-1]["result"] == "failed"


@pytest.mark.helios(clock="virtual")
def test_faults_through_the_handle(helios):
    fault = helios.fault("status", status=503, path="/api/system/status", times=1)
    assert fault["kind"] == "status" and fault["times"] == 1
    assert requests.get(helios.url + "/api/system/status", auth=ADMIN, timeout=5).status_code == 503
    assert requests.get(helios.url + "/api/system/status", auth=ADMIN, timeout=5).status_code == 200
    helios.fault("status", status=500)
    helios.clear_faults()
    assert requests.get(helios.url + "/api/system/status", auth=ADMIN, timeout=5).status_code == 200
    with pytest.raises(FaultError, match="kind"):
        helios.fault("meteor")
    with pytest.raises(ValueError, match="msec"):
        helios.fault("delay", msec=5)


@pytest.mark.helios(clock="virtual")
def test_reboot_through_the_handle(helios):
    before = result(helios, "system/info")["bootUuid"]
    helios.reboot(4)
    with pytest.raises(requests.ConnectionError):
        requests.get(helios.url + "/api/system/info", timeout=5)
    helios.advance(4)
    assert result(helios, "system/info")["bootUuid"] != before
    assert result(helios, "system/status")["upTime"] == 0


@pytest.mark.helios(clock="virtual")
def test_expire_nonces_is_survived_by_a_digest_client(helios):
    with requests.Session() as session:
        session.auth = HTTPDigestAuth("admin", "2n")
        assert session.get(helios.url + "/api/system/status", timeout=5).json()["success"] is True
        helios.expire_nonces()
        assert session.get(helios.url + "/api/system/status", timeout=5).json()["success"] is True
    statuses = [(e["status"], e["code"]) for e in helios.requests(path="/api/system/status")]
    assert statuses == [(401, 9), (200, None), (401, 9), (200, None)]


@pytest.mark.helios(clock="virtual")
def test_journal_and_requests(helios):
    api(helios, "switch/ctrl", switch=1, action="explode")
    assert [e["code"] for e in helios.requests(path="/api/switch/*")] == [9, 12]
    assert helios.requests(code=12)[0]["params"] == {"switch": "1", "action": "explode"}
    assert all(e["kind"] == "request" for e in helios.requests())
    assert [e["action"] for e in helios.journal("action")] == ["boot"]


@pytest.mark.helios(clock="virtual")
def test_state_restore_reset(helios):
    snapshot = helios.state()
    assert snapshot["identity"]["deviceName"] == "2N IP Verso"
    result(helios, "switch/ctrl", switch=2, action="on")
    helios.restore(snapshot)
    assert switch_active(helios, 2) is False
    helios.fault("status", status=503)
    helios.advance(50)
    helios.reset()
    assert helios.state()["uptime"] == 0
    assert helios.journal() == []
    assert requests.get(helios.url + "/api/system/status", auth=ADMIN, timeout=5).status_code == 200


@pytest.mark.helios(clock="virtual")
def test_act_by_name_and_its_errors(helios):
    assert helios.act("code", code="1234") == {"valid": True}
    with pytest.raises(FaultError, match="unknown action"):
        helios.act("dance")
    with pytest.raises(ValueError, match="key"):
        helios.press("Q")


@pytest.mark.helios(clock="virtual", auth="none")
def test_the_handle_is_thread_safe(helios):
    channel = result(helios, "log/subscribe", auth=None, filter="KeyPressed")["id"]
    errors: list[BaseException] = []

    def press_many() -> None:
        try:
            for _ in range(25):
                helios.press("1")
        except Exception as exc:  # noqa: BLE001 - handed to the test's thread, reported below
            errors.append(exc)

    threads = [threading.Thread(target=press_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert errors == []
    got = []
    while batch := result(helios, "log/pull", auth=None, id=channel)["events"]:
        got.extend(batch)
    assert len(got) == 200
    assert len({e["id"] for e in got}) == 200
