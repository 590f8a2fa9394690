"""Replay of "Hass2NDevice" (an httpx-based Home Assistant client; repository not identified).

Written from research/clients.md section 9 (no client code copied): https:// with
httpx.DigestAuth and verify=False; reads system/info (deviceName, macAddr), io/status and
switch/status; subscribes to /api/log/subscribe with NO parameters (so the device defaults,
include=new and duration=90, apply) and pulls /api/log/pull?id=N with NO timeout (0: an
immediate answer).
"""

from __future__ import annotations

import httpx
import pytest
from client_helpers import ADMIN

pytestmark = pytest.mark.helios(clock="virtual")


@pytest.fixture
def client(helios):
    with httpx.Client(base_url=helios.https_url, auth=httpx.DigestAuth(*ADMIN), verify=False, timeout=5) as c:
        yield c


def result(reply: httpx.Response) -> dict:
    data = reply.json()
    assert data["success"] is True, data
    return data.get("result", {})


def test_reads(helios, client):
    info = result(client.get("/api/system/info"))
    assert (info["deviceName"], info["macAddr"]) == ("2N IP Verso", "7c-1e-b3-0a-2f-51")
    assert [p["port"] for p in result(client.get("/api/io/status"))["ports"]][:1] == ["relay1"]
    assert [s["switch"] for s in result(client.get("/api/switch/status"))["switches"]] == [1, 2, 3, 4]
    assert {r["transport"] for r in helios.requests()} == {"https"}
    # httpx's DigestAuth answers each challenge; after the first, requests are authorised.
    assert all(r["account"] == "admin" for r in helios.requests(status=200) if r["path"] != "/api/system/info")


def test_subscribe_without_parameters_and_pull_without_timeout(helios, client):
    helios.advance(2)  # the boot's SIP registration is over: a quiet device
    helios.press("1")  # before the subscription: include defaults to new, so it is not delivered
    channel = result(client.get("/api/log/subscribe"))["id"]
    # No timeout = 0: the answer is immediate even on a virtual clock that never moves by itself.
    assert result(client.get("/api/log/pull", params={"id": channel}))["events"] == []
    helios.press("2")
    events = result(client.get("/api/log/pull", params={"id": channel}))["events"]
    assert [(e["event"], e["params"]["key"]) for e in events] == [("KeyPressed", "2"), ("KeyReleased", "2")]
    # The default duration is 90 s: alive 89.9 s after the last pull, gone after 90.
    helios.advance(89.9)
    assert result(client.get("/api/log/pull", params={"id": channel}))["events"] == []
    helios.advance(90.1)
    gone = client.get("/api/log/pull", params={"id": channel}).json()
    assert gone["success"] is False and gone["error"]["code"] == 12
