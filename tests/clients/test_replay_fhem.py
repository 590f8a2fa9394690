"""Replay of farion/fhem-entrycomip (FHEM module, Perl, 2020; GitHub only).

Written from research/clients.md section 9 (no client code copied). FHEM talks HTTPS only, with
preemptive Basic (device set to Basic here), reads all six v2.15 system/info keys, system/status,
restarts, drives io caps/status/ctrl and audio/test, subscribes with duration=20 and pulls with
timeout=20 (client timeout 40 s: twice the pull timeout), and parses InputChanged/OutputChanged
(port, state) and KeyPressed/KeyReleased (key). The 20 s pulls run on the virtual clock.
It also calls /enu/trigger/<id>[?param=value] (older firmware's HTTP command for an Automation
HttpTrigger block, outside /api): the device "sends a simple reply to this request (200 OK)"
(Automation manual), and the block's action runs.
"""

from __future__ import annotations

import pytest
import requests
from client_helpers import ADMIN, InThread, wait_until_waiting
from requests.auth import HTTPBasicAuth

pytestmark = [pytest.mark.helios(auth="basic", clock="virtual"),
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]


class Fhem:
    def __init__(self, helios):
        self.base = helios.https_url  # HTTPS only
        self.auth = HTTPBasicAuth(*ADMIN)

    def get(self, path: str, timeout: float = 10, **params) -> dict:
        reply = requests.get(self.base + path, params=params, auth=self.auth, timeout=timeout, verify=False)
        data = reply.json()
        assert data["success"] is True, data
        return data.get("result", {})

    def pull(self, channel: int, timeout: int = 20) -> list[dict]:
        """log/pull?id&timeout with FHEM's client timeout of twice the pull timeout."""
        reply = requests.get(self.base + "/api/log/pull", params={"id": channel, "timeout": timeout},
                             auth=self.auth, timeout=max(2 * timeout, 5), verify=False)
        return reply.json()["result"]["events"]


def test_info_status_io(helios):
    fhem = Fhem(helios)
    info = fhem.get("/api/system/info")
    for key in ("variant", "serialNumber", "hwVersion", "swVersion", "buildType", "deviceName"):
        assert isinstance(info[key], str) and info[key], key
    assert isinstance(fhem.get("/api/system/status")["upTime"], int)
    ports = fhem.get("/api/io/caps")["ports"]
    assert {p["type"] for p in ports} == {"input", "output"}
    fhem.get("/api/io/ctrl", port="relay1", action="on")
    assert {p["port"]: p["state"] for p in fhem.get("/api/io/status")["ports"]}["relay1"] == 1
    fhem.get("/api/audio/test")
    fhem.get("/api/system/restart")
    helios.advance(3)
    assert fhem.get("/api/system/status")["upTime"] == 0


def test_events_with_20s_pulls(helios):
    fhem = Fhem(helios)
    channel = fhem.get("/api/log/subscribe", duration=20)["id"]
    helios.advance(2)
    fhem.pull(channel, 0)  # boot-time registration events, drained

    pull = InThread(fhem.pull, channel, 20)
    wait_until_waiting(helios, "/api/log/pull")
    helios.advance(19.5)
    assert not pull.done()
    helios.advance(0.5)
    assert pull.result() == []  # at 20 s, inside the 40 s client budget

    pull = InThread(fhem.pull, channel, 20)
    wait_until_waiting(helios, "/api/log/pull")
    helios.set_input("input1", True)  # a waiting pull returns at once with the event
    events = pull.result()
    # input1 is the door contact here, so DoorStateChanged and UnauthorizedDoorOpen follow it.
    assert (events[0]["event"], events[0]["params"]) == ("InputChanged", {"port": "input1", "state": True})
    fhem.pull(channel, 0)

    fhem.get("/api/io/ctrl", port="output1", action="on")
    helios.press("3")
    events = fhem.pull(channel, 20)
    parsed = [(e["event"], e["params"].get("port", e["params"].get("key")), e["params"].get("state"))
              for e in events]
    assert parsed == [("OutputChanged", "output1", True), ("KeyPressed", "3", None), ("KeyReleased", "3", None)]


def test_automation_trigger_outside_api(helios):
    """/enu/trigger/<id>: 200 with an empty body, and the HttpTrigger block's action (the verso
    profile's "opendoor" opens switch 1, originator automation); a name no block has is 200 too."""
    channel = Fhem(helios).get("/api/log/subscribe", filter="SwitchStateChanged")["id"]
    reply = requests.get(helios.https_url + "/enu/trigger/opendoor", params={"who": "fhem"},
                         auth=HTTPBasicAuth(*ADMIN), timeout=5, verify=False)
    assert (reply.status_code, reply.text) == (200, "")
    events = Fhem(helios).pull(channel, 0)
    assert [e["params"] for e in events] == [{"switch": 1, "state": True, "originator": "automation"}]
    reply = requests.get(helios.https_url + "/enu/trigger/doorbell", auth=HTTPBasicAuth(*ADMIN), timeout=5,
                         verify=False)
    assert (reply.status_code, reply.text) == (200, "")
