"""Replay of Ctrlable/2n-intercom (Home Assistant; aiohttp; GitHub only).

Written from research/clients.md section 9 (no client code copied). What makes it Ctrlable:
- aiohttp with preemptive Basic (the device must use Basic: auth="basic"), http or https;
- resp.json(content_type=None): any content type is parsed; 401/403 and codes 9/10 are auth
  errors, codes 1/8 "unsupported";
- log/subscribe?include=new&duration=90[&filter]; log/pull?timeout=30 with a 35 s client budget,
  looping on the same channel until an error;
- directory: dir/template (GET), dir/query (POST JSON), dir/create (POST JSON), dir/update
  (PUT JSON), dir/delete (POST JSON);
- camera snapshot with width, height, [source], [time]: a JSON Content-Type is an error, image/*
  (or multipart) is the picture.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from client_helpers import ADMIN, basic_authorization, jpeg_size, wait_until_waiting

pytestmark = pytest.mark.helios(auth="basic", clock="virtual")


class AuthError(Exception):
    pass


class Unsupported(Exception):
    pass


class CtrlableApi:
    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False),
                                             headers={"Authorization": basic_authorization(*user)})

    async def close(self) -> None:
        await self.session.close()

    async def call(self, method: str, path: str, *, params=None, json=None, timeout: float = 10) -> dict:
        async with self.session.request(method, self.base + path, params=params, json=json,
                                        timeout=aiohttp.ClientTimeout(total=timeout)) as resp:
            if resp.status in (401, 403):
                raise AuthError(resp.status)
            data = await resp.json(content_type=None)
        if not data.get("success"):
            code = data.get("error", {}).get("code")
            if code in (9, 10):
                raise AuthError(code)
            if code in (1, 8):
                raise Unsupported(code)
            raise RuntimeError(data)
        return data.get("result", {})

    async def snapshot(self, width: int, height: int, source: str | None = None, time_: int | None = None) -> bytes:
        params = {"width": width, "height": height}
        if source is not None:
            params["source"] = source
        if time_ is not None:
            params["time"] = time_
        async with self.session.get(self.base + "/api/camera/snapshot", params=params) as resp:
            ctype = resp.headers.get("Content-Type", "")
            if "json" in ctype or not ctype.startswith(("image/", "multipart/")):
                raise RuntimeError(await resp.text())
            return await resp.read()


@pytest.fixture(params=["http", "https"])
async def api(request, helios):
    client = CtrlableApi(helios.url if request.param == "http" else helios.https_url)
    yield client
    await client.close()


async def test_device_reads(api):
    info = await api.call("GET", "/api/system/info")
    assert {k: info[k] for k in ("deviceName", "variant", "serialNumber", "hwVersion", "macAddr")} == {
        "deviceName": "2N IP Verso", "variant": "2N IP Verso", "serialNumber": "54-2040-0137",
        "hwVersion": "570v1", "macAddr": "7c-1e-b3-0a-2f-51"}
    assert isinstance((await api.call("GET", "/api/system/status"))["upTime"], int)
    assert all("locked" in s for s in (await api.call("GET", "/api/switch/status"))["switches"])
    assert len((await api.call("GET", "/api/switch/caps"))["switches"]) == 4
    assert "AudioLoopTest" in (await api.call("GET", "/api/log/caps"))["events"]
    assert {p["port"] for p in (await api.call("GET", "/api/io/caps"))["ports"]} >= {"relay1", "input1"}
    assert all(p["state"] in (0, 1) for p in (await api.call("GET", "/api/io/status"))["ports"])


async def test_controls(helios, api):
    await api.call("GET", "/api/switch/ctrl", params={"switch": 1, "action": "on"})
    await api.call("GET", "/api/io/ctrl", params={"port": "output1", "action": "on"})
    assert helios.device.switches.get(1).active and helios.device.ports.get("output1").state
    await api.call("GET", "/api/audio/test")
    await api.call("GET", "/api/system/restart")
    helios.advance(3)
    assert (await api.call("GET", "/api/system/status"))["upTime"] == 0


async def test_log_loop_with_30s_pulls(helios, api):
    channel = (await api.call("GET", "/api/log/subscribe",
                              params={"include": "new", "duration": 90, "filter": "SwitchStateChanged"}))["id"]
    for _ in range(3):  # a quiet device: each pull ends at 30 s with [] (inside the 35 s budget)
        pull = asyncio.create_task(api.call("GET", "/api/log/pull", params={"id": channel, "timeout": 30}, timeout=35))
        await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull")
        await asyncio.to_thread(helios.advance, 30)
        assert (await asyncio.wait_for(pull, 5))["events"] == []
    # 90 s of pulls on a 90 s channel: still alive, because every pull extends it.
    await api.call("GET", "/api/switch/ctrl", params={"switch": 2, "action": "on"})
    events = (await api.call("GET", "/api/log/pull", params={"id": channel, "timeout": 30}, timeout=35))["events"]
    assert [(e["event"], e["params"]["switch"]) for e in events] == [("SwitchStateChanged", 2)]


async def test_directory_create_update_delete(helios, api):
    template = (await api.call("GET", "/api/dir/template"))["users"]
    assert template and "name" in template[0]
    created = await api.call("POST", "/api/dir/create", json={"users": [
        {"name": "Cleaner", "callPos": [{"peer": "sip:300@sip.example.com"}], "access": {"card": ["ABCDEF01"]}}]})
    uuid = created["users"][0]["uuid"]
    await api.call("PUT", "/api/dir/update", json={"users": [{"uuid": uuid, "name": "Cleaner (mornings)"}]})
    users = (await api.call("POST", "/api/dir/query", json={}))["users"]
    assert next(u for u in users if u["uuid"] == uuid)["name"] == "Cleaner (mornings)"
    await api.call("POST", "/api/dir/delete", json={"users": [{"uuid": uuid}]})
    users = (await api.call("POST", "/api/dir/query", json={}))["users"]
    assert uuid not in {u["uuid"] for u in users}
    assert [r["method"] for r in helios.requests(path="/api/dir/create")] == ["POST"]


async def test_camera(api):
    caps = await api.call("GET", "/api/camera/caps")
    assert {"width": 640, "height": 480} in caps["jpegResolution"]
    assert jpeg_size(await api.snapshot(640, 480)) == (640, 480)
    assert jpeg_size(await api.snapshot(1280, 720, source="internal", time_=-3)) == (1280, 720)
    with pytest.raises(RuntimeError, match='"code":12'):
        await api.snapshot(100, 100)  # a JSON reply is an error, not a picture


async def test_auth_errors(helios):
    client = CtrlableApi(helios.url, ("admin", "wrong"))
    try:
        with pytest.raises(AuthError):
            await client.call("GET", "/api/switch/caps")
    finally:
        await client.close()
