"""Replay of mastalir1980/ha-2N-intercom 1.0.1 (a Home Assistant integration with its own aiohttp
client; GitHub only).

Written from a study of the client's published source (no client code copied). What makes it mastalir:
- base URL {protocol}://{host}:{port}, https by default, its own ClientSession with
  TCPConnector(ssl=False) (verify_ssl defaults to False);
- preemptive Basic on every request (so the device must use Basic: auth="basic" here); a 401 is an
  authentication error; client timeout 10 s;
- call/status polled every 5 s: ring states {ringing, alerting, incoming, ring}, direction
  ignored; the called peer is sessions[0].calls[0].peer with "sip:" and "@..." stripped;
- relay pulse: switch/ctrl?action=trigger&duration=<ms> (2000 for a door) - the device ignores
  duration and uses its own switchOnDuration;
- snapshot with source=internal and Accept: image/jpeg; a reply whose Content-Type has no "image"
  is parsed as JSON, and error code 12 at a size other than 640x480 is retried at 640x480;
- config flow: POST /api/dir/query {"iterator":{"timestamp":0},"fields":["name","callPos.peer"]}.
"""

from __future__ import annotations

import aiohttp
import pytest
from client_helpers import ADMIN, basic_authorization, jpeg_size

pytestmark = pytest.mark.helios(auth="basic", clock="virtual")
RING_STATES = {"ringing", "alerting", "incoming", "ring"}


class TwoNIntercom:
    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False), timeout=aiohttp.ClientTimeout(total=10),
            headers={"Authorization": basic_authorization(*user)})

    async def close(self) -> None:
        await self.session.close()

    async def get_json(self, path: str, **params) -> dict:
        async with self.session.get(self.base + path, params=params) as resp:
            if resp.status == 401:
                raise PermissionError("TwoNAuthenticationError")
            return await resp.json()

    async def system_info(self) -> dict:
        result = (await self.get_json("/api/system/info"))["result"]
        return {k: result[k] for k in ("variant", "deviceName", "swVersion")}

    async def call_state(self) -> tuple[bool, str | None]:
        result = (await self.get_json("/api/call/status"))["result"]
        sessions = result.get("sessions", [])
        states = {result.get("state")} | {s.get("state") for s in sessions} | {
            c.get("state") or c.get("status") or c.get("callState") for s in sessions for c in s.get("calls", [])}
        ringing = bool(states & RING_STATES)
        peer = None
        if sessions and sessions[0].get("calls"):
            peer = sessions[0]["calls"][0]["peer"].removeprefix("sip:").split("@")[0]
        return ringing, peer

    async def pulse(self, switch: int, duration_ms: int) -> bool:
        return (await self.get_json("/api/switch/ctrl", switch=switch, action="trigger",
                                    duration=duration_ms))["success"]

    async def snapshot(self, width: int = 640, height: int = 480) -> bytes | None:
        params = {"source": "internal", "width": width, "height": height}
        async with self.session.get(self.base + "/api/camera/snapshot", params=params,
                                    headers={"Accept": "image/jpeg"}) as resp:
            if "image" in resp.headers.get("Content-Type", ""):
                return await resp.read()
            data = await resp.json(content_type=None)
        if data.get("error", {}).get("code") == 12 and (width, height) != (640, 480):
            return await self.snapshot(640, 480)
        return None

    async def directory_peers(self) -> list[str]:
        body = {"iterator": {"timestamp": 0}, "fields": ["name", "callPos.peer"]}
        async with self.session.post(self.base + "/api/dir/query", json=body) as resp:
            data = await resp.json()
        result = data.get("result", data)
        users = result if isinstance(result, list) else result.get("users", [])
        return [p["peer"] for u in users for p in u.get("callPos", [])]


@pytest.fixture(params=["https", "http"])
async def intercom(request, helios):
    client = TwoNIntercom(helios.https_url if request.param == "https" else helios.url)
    yield client
    await client.close()


async def test_system_info(intercom):
    assert await intercom.system_info() == {"variant": "2N IP Verso", "deviceName": "2N IP Verso",
                                            "swVersion": "2.50.0.76.2"}


async def test_ring_detected_with_called_peer(helios, intercom):
    assert await intercom.call_state() == (False, None)
    helios.ring(2)
    helios.advance(1)
    assert await intercom.call_state() == (True, "4374834473")
    helios.answer(next(iter(helios.device.phone.sessions)))
    assert (await intercom.call_state())[0] is False


async def test_relay_pulse_duration_is_ignored(helios, intercom):
    assert await intercom.pulse(1, 2000) is True
    helios.advance(10)
    assert helios.switch_activations(1) == [5.0]  # the switch's own 5 s, not the 2 s asked for
    assert helios.requests(path="/api/switch/ctrl")[0]["params"]["duration"] == "2000"


async def test_snapshot_retries_at_640x480_after_code_12(helios, intercom):
    data = await intercom.snapshot(80, 80)  # Home Assistant probes at 80x80
    assert data is not None and jpeg_size(data) == (640, 480)
    asked = [(r["params"]["width"], r["params"]["height"]) for r in helios.requests(path="/api/camera/snapshot")]
    assert asked == [("80", "80"), ("640", "480")]
    assert [r["code"] for r in helios.requests(path="/api/camera/snapshot")] == [12, None]


async def test_config_flow_directory_query(intercom):
    peers = await intercom.directory_peers()
    # Every user has the template's three call positions; the unused ones have an empty peer.
    assert peers == ["sip:100@sip.example.com", "", "", "sip:4374834473@proxy.my2n.com", "", ""]


async def test_wrong_password_is_an_authentication_error(helios):
    client = TwoNIntercom(helios.https_url, ("admin", "wrong"))
    try:
        with pytest.raises(PermissionError):
            await client.call_state()
    finally:
        await client.close()
