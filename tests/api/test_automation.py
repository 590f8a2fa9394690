"""automation/trigger (manual 5.19.1): the Automation's HttpTrigger blocks, over real HTTP."""

from __future__ import annotations

from emulator.device.clock import VirtualClock
from emulator.settings import parse_user

NOT_FOUND = {"success": False, "error": {"code": 12, "param": "triggerId", "description": "HttpTrigger not found."}}


async def test_trigger_runs_its_blocks_action(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    channel = (await api.get("/api/log/subscribe", filter="SwitchStateChanged")).result["id"]
    assert (await api.get("/api/automation/trigger", triggerId="opendoor")).json == {"success": True}
    assert (await api.post("/api/automation/trigger", data={"triggerId": "opendoor"})).json == {"success": True}
    events = (await api.get("/api/log/pull", id=channel)).result["events"]
    assert events[0]["params"] == {"switch": 1, "state": True, "originator": "automation"}


async def test_unknown_or_missing_trigger(api):
    assert (await api.get("/api/automation/trigger", triggerId="garage")).json == NOT_FOUND
    assert (await api.get("/api/automation/trigger")).error == {
        "code": 11, "param": "triggerId", "description": "missing mandatory parameter"}


async def test_a_trigger_without_an_action(make_emulator, make_client, tmp_path):
    path = tmp_path / "bell.toml"
    path.write_text('extends = "verso"\n[[http_triggers]]\nname = "bell2"\n')  # arrays replace: only this one
    api = make_client(await make_emulator(profile=str(path)))
    assert (await api.get("/api/automation/trigger", triggerId="bell2")).json == {"success": True}
    assert (await api.get("/api/automation/trigger", triggerId="opendoor")).json == NOT_FOUND
    assert (await api.get("/api/switch/status", switch=1)).result["switches"][0]["active"] is False


async def test_its_own_service_and_privilege(make_emulator, make_client, tmp_path):
    emu = await make_emulator(users=[parse_user("bot:pw:automation"), parse_user("door:pw:switch-control")])
    assert (await make_client(emu, user=("bot", "pw")).get("/api/automation/trigger", triggerId="opendoor")).json == {
        "success": True}
    assert (await make_client(emu, user=("door", "pw")).get("/api/automation/trigger",
                                                             triggerId="opendoor")).error["code"] == 10
    path = tmp_path / "off.toml"
    path.write_text('extends = "verso"\n[services.automation]\nenabled = false\n')
    api = make_client(await make_emulator(profile=str(path)))
    assert (await api.get("/api/automation/trigger", triggerId="opendoor")).error["code"] == 4


async def test_not_on_2_15_but_the_old_http_command_is(make_emulator, make_client):
    emu = await make_emulator(profile="vario-2.15")
    api = make_client(emu)
    assert (await api.get("/api/automation/trigger", triggerId="opendoor")).error["code"] == 2
    reply = await api.get("/enu/trigger/opendoor")
    assert (reply.status, reply.content_type, reply.body) == (200, "text/plain", b"")
    assert emu.device.switches.get(1).active
