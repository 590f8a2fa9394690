"""Replay of helios2n-hass 0.3.4 (SVD-NL; Home Assistant) on top of py2n 0.4.0, which it pins.

py2n 0.6 is tested for real in test_py2n.py; 0.4.0 is older and cannot be installed next to it, so
its documented behaviour is replayed here (research/clients.md section 1, "Older versions" and
"helios2n-hass behaviour"; no client code copied):
- http only, preemptive Basic only, GET only, 10 s timeout; no log/caps call;
- update() requires system/status.upTime and iterates the switch/status entries reading
  entry["locked"] with [] (a KeyError without it);
- an enabled monostable switch becomes a button: press -> switch/ctrl action=on;
- an enabled bistable switch becomes a lock: unlock -> action=on, lock -> action=off,
  is_locked = not active;
- output ports become switches (io/ctrl), input ports binary sensors; a restart button;
- switch/status and io/status are polled every 10 s.
A bistable switch 2 comes from a profile made for the test (the verso profile has only
monostable ones).
"""

from __future__ import annotations

import aiohttp
import pytest
from client_helpers import ADMIN, basic_authorization

BISTABLE = """extends = "verso"
[[switches]]
mode = "monostable"
duration = 5
output = "relay1"

[[switches]]
mode = "bistable"
output = "output1"

[[switches]]
enabled = false

[[switches]]
enabled = false
"""


class Helios2n:
    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.session = aiohttp.ClientSession(headers={"Authorization": basic_authorization(*user)},
                                             timeout=aiohttp.ClientTimeout(total=10))
        self.entities: dict[str, dict] = {}

    async def close(self) -> None:
        await self.session.close()

    async def get(self, path: str) -> dict:
        async with self.session.get(self.base + path) as resp:  # parameters inlined in the path
            assert resp.content_type == "application/json"
            data = await resp.json()
        assert data["success"] is True, data
        return data.get("result", {})

    async def setup(self) -> None:
        info = await self.get("/api/system/info")
        self.identity = (info["serialNumber"], info["macAddr"])
        self.uptime = (await self.get("/api/system/status"))["upTime"]
        caps = {s["switch"]: s for s in (await self.get("/api/switch/caps"))["switches"]}
        for entry in (await self.get("/api/switch/status"))["switches"]:
            locked = entry["locked"]  # read with [] by py2n 0.4.0
            cap = caps[entry["switch"]]
            if not cap["enabled"]:
                continue
            kind = "button" if cap["mode"] == "monostable" else "lock"
            self.entities[f"switch{entry['switch']}"] = {"kind": kind, "active": entry["active"], "locked": locked}
        ports = await self.get("/api/io/caps")
        for port in ports["ports"]:
            self.entities[port["port"]] = {"kind": "switch" if port["type"] == "output" else "binary_sensor"}
        await self.poll()

    async def poll(self) -> None:
        for entry in (await self.get("/api/switch/status"))["switches"]:
            entity = self.entities.get(f"switch{entry['switch']}")
            if entity is not None:
                entity["active"], entity["locked"] = entry["active"], entry["locked"]
                if entity["kind"] == "lock":
                    entity["is_locked"] = not entry["active"]
        for port in (await self.get("/api/io/status"))["ports"]:
            self.entities[port["port"]]["state"] = bool(port["state"])

    async def switch(self, number: int, on: bool) -> None:
        await self.get(f"/api/switch/ctrl?switch={number}&action={'on' if on else 'off'}")


@pytest.fixture
def bistable_profile(tmp_path) -> str:
    path = tmp_path / "verso-bistable.toml"
    path.write_text(BISTABLE, encoding="utf-8")
    return str(path)


async def test_entities_button_lock_ports_and_restart(bistable_profile):
    from emulator.control.handle import running
    from emulator.settings import Settings

    with running(Settings(profile=bistable_profile, port=0, https_port=0, auth="basic", clock="virtual")) as helios:
        hass = Helios2n(helios.url)
        try:
            await hass.setup()
            assert hass.identity == ("54-2040-0137", "7c-1e-b3-0a-2f-51")
            kinds = {name: e["kind"] for name, e in hass.entities.items()}
            assert kinds == {"switch1": "button", "switch2": "lock", "relay1": "switch", "output1": "switch",
                             "led_secured": "switch", "input1": "binary_sensor", "tamper": "binary_sensor"}
            assert hass.entities["switch2"]["is_locked"] is True

            await hass.switch(1, True)  # the button
            await hass.switch(2, True)  # unlock
            await hass.poll()
            assert hass.entities["switch1"]["active"] is True
            assert hass.entities["switch2"]["is_locked"] is False and hass.entities["output1"]["state"] is True
            helios.advance(10)  # the next poll: the monostable is off again, the bistable stays on
            await hass.poll()
            assert hass.entities["switch1"]["active"] is False
            assert hass.entities["switch2"]["is_locked"] is False
            await hass.switch(2, False)  # lock
            await hass.poll()
            assert hass.entities["switch2"]["is_locked"] is True

            helios.set_input("input1", True)
            await hass.poll()
            assert hass.entities["input1"]["state"] is True

            await hass.get("/api/system/restart")  # the restart button
            helios.advance(3)
            await hass.setup()
            assert hass.uptime == 0
        finally:
            await hass.close()
        assert {r["method"] for r in helios.requests()} == {"GET"}
        assert "/api/log/caps" not in {r["path"] for r in helios.requests()}


async def test_trigger_toggles_a_bistable_switch(bistable_profile):
    """trigger: monostable -> on for switchOnDuration; bistable -> toggle (checklist I/M/V/T)."""
    from emulator.control.handle import running
    from emulator.settings import Settings

    with running(Settings(profile=bistable_profile, port=0, https_port=0, auth="basic", clock="virtual")) as helios:
        hass = Helios2n(helios.url)
        try:
            for expected in (True, False, True):
                await hass.get("/api/switch/ctrl?switch=2&action=trigger")
                helios.advance(10)
                status = (await hass.get("/api/switch/status?switch=2"))["switches"][0]
                assert status["active"] is expected
        finally:
            await hass.close()
