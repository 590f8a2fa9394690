"""Scenarios: a TOML timeline of actions and faults (POST /_emulator/scenarios, or
Settings(scenario=path) from the start). On the virtual clock a run is deterministic: each step
happens exactly when time passes it. A bad scenario is refused whole, naming the step and field.
"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from emulator.app import Emulator
from emulator.settings import Settings

DOORBELL = """
name = "doorbell, answer, reboot"

[[steps]]
at = 0
action = "press"
key = "%1"

[[steps]]
at = 2.5
action = "peer-answers"
session = 1

[[steps]]
at = 4
fault = { kind = "reboot", seconds = 3 }
"""


class Client:
    def __init__(self, emu: Emulator):
        self.emu = emu
        self.api_session = aiohttp.ClientSession()
        self.control_session = aiohttp.ClientSession()

    async def api(self, path: str, **params: Any) -> Any:
        async with self.api_session.get(self.emu.url + "/api/" + path, params=params) as r:
            data = await r.json()
        assert data["success"] is True, data
        return data.get("result")

    async def control(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.control_session.request(method, self.emu.url + "/_emulator" + path, **kwargs) as r:
            return r.status, await r.json()

    async def start(self, scenario: str) -> dict:
        status, body = await self.control("POST", "/scenarios", data=scenario)
        assert status == 201, body
        return body

    async def scenarios(self) -> list[dict]:
        status, body = await self.control("GET", "/scenarios")
        assert status == 200
        return body

    async def advance(self, seconds: float) -> None:
        assert (await self.control("POST", "/clock", json={"advance": seconds}))[0] == 200

    async def ready(self) -> bool:
        return (await self.control("GET", "/ready"))[0] == 200

    async def call_state(self) -> str | None:
        sessions = (await self.api("call/status"))["sessions"]
        return sessions[0]["state"] if sessions else None

    async def close(self) -> None:
        await self.api_session.close()
        await self.control_session.close()


@pytest.fixture
async def start():
    running: list[tuple[Emulator, Client]] = []

    async def make(**settings: Any) -> Client:
        settings = {"port": 0, "https_port": None, "clock": "virtual", "auth": "none", **settings}
        emu = Emulator(Settings(**settings))
        await emu.start()
        client = Client(emu)
        running.append((emu, client))
        return client

    yield make
    for emu, client in running:
        await client.close()
        await emu.stop()


@pytest.fixture
async def dev(start) -> Client:
    client = await start()
    await client.advance(2)  # SIP registered: nothing else happens by itself
    return client


# -- a run ---------------------------------------------------------------------------------------------


async def test_steps_happen_exactly_when_time_passes_them(dev):
    started = await dev.start(DOORBELL)
    assert started == {"id": started["id"], "name": "doorbell, answer, reboot", "steps": 3, "done": 1,
                       "errors": [], "finished": False}
    assert await dev.call_state() == "connecting"  # at 0: at once
    await dev.advance(2.4)
    assert await dev.call_state() == "ringing"
    assert (await dev.scenarios())[0]["done"] == 1
    await dev.advance(0.1)  # 2.5
    assert await dev.call_state() == "connected"
    assert (await dev.scenarios())[0]["done"] == 2
    await dev.advance(1.4)  # 3.9
    assert await dev.ready()
    await dev.advance(0.1)  # 4: the reboot
    assert not await dev.ready()
    [progress] = await dev.scenarios()
    assert progress["done"] == 3 and progress["finished"] is True and progress["errors"] == []
    await dev.advance(3)
    assert await dev.ready()
    assert await dev.call_state() is None  # the reboot ended the call


async def test_a_run_is_deterministic(start):
    async def run(steps: list[float]) -> list[tuple]:
        client = await start(seed=5)
        await client.advance(2)
        await client.control("DELETE", "/journal")
        await client.start(DOORBELL)
        for seconds in steps:
            await client.advance(seconds)
        _, entries = await client.control("GET", "/journal", params={"kind": "action"})
        t0 = entries[0]["time"]
        return [(e["action"], e.get("event"), e.get("session"), round(e["time"] - t0, 3)) for e in entries]

    once = await run([10])
    again = await run([10])
    stepwise = await run([0.1] * 100)
    assert once == again == stepwise
    assert ("call", "connected", 1, 2.5) in once
    assert ("restart", None, None, 4.0) in once and ("boot", None, None, 7.0) in once


async def test_times_count_from_when_the_scenario_starts(dev):
    await dev.advance(100)
    await dev.start('[[steps]]\nat = 5\naction = "press"\nkey = "%1"\n')
    await dev.advance(4.9)
    assert await dev.call_state() is None
    await dev.advance(0.1)
    assert await dev.call_state() == "connecting"


async def test_a_scenario_as_json(dev):
    body = {"name": "card", "steps": [{"at": 1, "action": "card", "uid": "1A2B3C4D"},
                                      {"at": 2, "fault": {"kind": "status", "status": 503, "times": 1}}]}
    status, started = await dev.control("POST", "/scenarios", json=body)
    assert status == 201 and started["name"] == "card" and started["done"] == 0
    await dev.advance(1)
    assert (await dev.api("switch/status", switch="1"))["switches"][0]["active"] is True
    await dev.advance(1)
    async with dev.api_session.get(dev.emu.url + "/api/system/info") as r:
        assert r.status == 503


async def test_steps_out_of_order_in_the_file_run_in_time_order(dev):
    await dev.start('[[steps]]\nat = 2\naction = "press"\nkey = "6"\n'
                    '[[steps]]\nat = 1\naction = "press"\nkey = "5"\n')
    channel = (await dev.api("log/subscribe"))["id"]
    await dev.advance(3)
    events = (await dev.api("log/pull", id=str(channel)))["events"]
    assert [e["params"]["key"] for e in events if e["event"] == "KeyPressed"] == ["5", "6"]


async def test_a_step_failing_at_run_time_is_reported_and_the_rest_still_runs(dev):
    await dev.start('[[steps]]\nat = 1\naction = "peer-answers"\nsession = 9\n'
                    '[[steps]]\nat = 2\naction = "press"\nkey = "%1"\n')
    await dev.advance(5)
    [progress] = await dev.scenarios()
    assert progress["done"] == 2 and progress["finished"] is True
    assert len(progress["errors"]) == 1 and progress["errors"][0].startswith("at 1 s:")
    assert await dev.call_state() == "ringing"


async def test_several_scenarios_are_listed(dev):
    first = await dev.start('name = "one"\n[[steps]]\nat = 1\naction = "press"\nkey = "1"\n')
    second = await dev.start('name = "two"\n[[steps]]\nat = 9\naction = "press"\nkey = "2"\n')
    await dev.advance(1)
    listed = {s["name"]: s for s in await dev.scenarios()}
    assert listed["one"]["id"] == first["id"] and listed["one"]["finished"] is True
    assert listed["two"]["id"] == second["id"] and listed["two"]["finished"] is False


# -- from the command line ------------------------------------------------------------------------------


async def test_settings_scenario_plays_from_the_start(start, tmp_path):
    path = tmp_path / "doorbell.toml"
    path.write_text(DOORBELL, encoding="utf-8")
    client = await start(scenario=path)
    assert await client.call_state() == "connecting"
    [progress] = await client.scenarios()
    assert progress["name"] == "doorbell, answer, reboot" and progress["done"] == 1
    await client.advance(2.5)
    assert await client.call_state() == "connected"


async def test_settings_with_a_bad_scenario_do_not_start(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[[steps]]\nat = 1\naction = "dance"\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"steps\[0\]\.action"):
        Emulator(Settings(port=0, https_port=None, clock="virtual", scenario=path))  # before any listener


# -- bad scenarios -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("text", "named"), [
    ('[[steps]]\nat = 0\naction = "press"\nkey = "1"\n[[steps]]\nat = -1\naction = "press"\nkey = "1"\n',
     "steps[1].at"),
    ('[[steps]]\naction = "press"\nkey = "1"\n', "steps[0].at"),
    ('[[steps]]\nat = "soon"\naction = "press"\nkey = "1"\n', "steps[0].at"),
    ('[[steps]]\nat = nan\naction = "press"\nkey = "1"\n', "steps[0].at"),
    ('[[steps]]\nat = inf\naction = "press"\nkey = "1"\n', "steps[0].at"),
    ('[[steps]]\nat = 1\naction = "dance"\n', "steps[0].action"),
    ('[[steps]]\nat = 1\naction = "press"\nkee = "%1"\n', "steps[0]"),
    ('[[steps]]\nat = 1\naction = "press"\n', "steps[0]"),
    ('[[steps]]\nat = 1\naction = "press"\nkey = 5\n', "steps[0]"),
    ('[[steps]]\nat = 1\nfault = { kind = "meteor" }\n', "steps[0].fault.kind"),
    ('[[steps]]\nat = 1\nfault = { kind = "delay", mss = 5 }\n', "steps[0].fault.mss"),
    ('[[steps]]\nat = 1\nfault = { kind = "status", status = 42 }\n', "steps[0].fault.status"),
    ('[[steps]]\nat = 1\n', "steps[0]"),
    ('[[steps]]\nat = 1\naction = "press"\nkey = "1"\nfault = { kind = "reset" }\n', "steps[0]"),
    ('name = "empty"\nsteps = []\n', "steps"),
    ('name = "none"\n', "steps"),
    ("this is [not toml", "TOML"),
])
async def test_a_bad_scenario_is_400_naming_the_step_and_field(dev, text, named):
    status, body = await dev.control("POST", "/scenarios", data=text)
    assert status == 400
    assert named in body["error"]
    assert await dev.scenarios() == []  # refused whole: nothing runs
    await dev.advance(5)
    assert await dev.call_state() is None
    assert (await dev.control("GET", "/faults"))[1] == []


async def test_the_parameter_named_in_a_bad_action_step(dev):
    status, body = await dev.control("POST", "/scenarios", data='[[steps]]\nat = 1\naction = "press"\nkee = "%1"\n')
    assert status == 400 and "kee" in body["error"]
    status, body = await dev.control("POST", "/scenarios", data='[[steps]]\nat = 1\naction = "press"\nkey = 5\n')
    assert status == 400 and "key" in body["error"]


async def test_a_json_scenario_that_is_not_an_object(dev):
    status, body = await dev.control("POST", "/scenarios", data=json.dumps([1, 2]),
                                     headers={"Content-Type": "application/json"})
    assert status == 400 and "error" in body
