"""Replay of hexamus/ha-2n-intercom (`twon_intercom`; Home Assistant; aiohttp; GitHub only), and the
"octet-stream" quirk of real firmware 2.50 that would break it.

Written from research/clients.md sections 9 and 7(a) (no client code copied). hexamus talks
http only, with Basic, to http://host:port/api, and sends switch/ctrl, io/ctrl, call/dial,
call/answer and call/hangup as POSTs with the parameters in the query and NO body: aiohttp then
sends `Content-Type: application/octet-stream`, `Content-Length: 0`. It calls raise_for_status().

A real Verso on 2.50.0.76.2 answers such a POST with code 14 "Unsupported Content-Type" (savek-cc),
and so do the emulator's 2.50 profiles by default (`[quirks] octet_stream_empty_post`): hexamus's
controls fail as they would on the device, while GET, form and JSON POSTs and requests' body-less
POST (no Content-Type: twoen, spfuu) keep working. A hexamus user who wants it to work against the
emulator anyway runs it with --no-quirks (HELIOS_NO_QUIRKS=1; `quirks=False` in Settings), as
these tests do.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
import requests
from client_helpers import ADMIN, basic_authorization

# As a hexamus user runs the emulator: Basic auth, and the fw 2.50 quirk off (--no-quirks).
pytestmark = pytest.mark.helios(auth="basic", clock="virtual", quirks=False)


class Hexamus:
    def __init__(self, base: str, user=ADMIN):
        self.api = base + "/api"
        self.session = aiohttp.ClientSession(headers={"Authorization": basic_authorization(*user)})

    async def close(self) -> None:
        await self.session.close()

    async def post(self, path: str, **params) -> dict:
        async with self.session.post(self.api + path, params={k: str(v) for k, v in params.items()}) as resp:
            resp.raise_for_status()
            return await resp.json()

    async def get(self, path: str, **params) -> dict:
        async with self.session.get(self.api + path, params={k: str(v) for k, v in params.items()}) as resp:
            resp.raise_for_status()
            return await resp.json()


@pytest.fixture
async def hexamus(helios):
    client = Hexamus(helios.url)
    yield client
    await client.close()


async def test_bodyless_posts_work_with_no_quirks(helios, hexamus):
    assert await hexamus.post("/switch/ctrl", switch=1, action="on") == {"success": True}
    assert await hexamus.post("/io/ctrl", port="output1", action="on") == {"success": True}
    assert helios.device.switches.get(1).active and helios.device.ports.get("output1").state
    dial = await hexamus.post("/call/dial", number="sip:100@sip.example.com")
    session = dial["result"]["session"]
    assert await hexamus.post("/call/hangup", session=session) == {"success": True}
    incoming = helios.incoming_call("sip:300@sip.example.com")
    assert await hexamus.post("/call/answer", session=incoming) == {"success": True}
    assert (await hexamus.get("/call/status"))["result"]["sessions"][0]["state"] == "connected"
    assert {r["method"] for r in helios.requests(path="/api/switch/ctrl")} == {"POST"}


async def test_display_functions_it_uses(hexamus, tmp_path):
    """display/text is newer than the verso's 2.50 (it is in the 3.3 manual): code 2 there, as on
    such a device; on a 3.3 profile hexamus's POST display/text?text=... shows the message.
    display/image is PUT/DELETE only: code 3 for hexamus's POST with a raw body. Both are clean
    JSON failures at HTTP 200, so raise_for_status() passes and the integration logs nothing."""
    assert (await hexamus.post("/display/text", display="internal", text="Hello"))["error"]["code"] == 2
    async with hexamus.session.post(hexamus.api + "/display/image", params={"display": "internal"},
                                    data=b"GIF89a...") as resp:
        assert resp.status == 200
        assert (await resp.json())["error"]["code"] == 3

    from emulator.control.handle import running
    from emulator.settings import Settings

    path = tmp_path / "verso-3.3.toml"
    path.write_text('extends = "verso"\n[identity]\nsw_version = "3.3.0.20.1"\n', encoding="utf-8")
    with running(Settings(profile=str(path), port=0, https_port=0, auth="basic", quirks=False)) as newer:
        client = Hexamus(newer.url)
        try:
            reply = await client.post("/display/text", text="Hello")
            assert reply == {"success": True, "result": {"response": "", "uid": ""}}
            assert newer.device.display.message.texts == {"": "Hello"}
        finally:
            await client.close()


async def test_octet_stream_quirk_rejects_hexamus_and_nothing_else_by_default():
    from emulator.control.handle import running
    from emulator.settings import Settings

    with running(Settings(port=0, https_port=0, auth="basic")) as faithful:  # the verso profile as it is
        client = Hexamus(faithful.url)
        try:
            for path, params in (("/switch/ctrl", {"switch": 1, "action": "on"}),
                                 ("/io/ctrl", {"port": "output1", "action": "on"}),
                                 ("/call/dial", {"number": "sip:100@sip.example.com"})):
                assert await client.post(path, **params) == {
                    "success": False, "error": {"code": 14, "description": "Unsupported Content-Type"}}, path
            assert not faithful.device.switches.get(1).active
            assert faithful.device.phone.sessions == {}
            # The same requests by GET, or as a form POST, are fine.
            assert await client.get("/switch/ctrl", switch=1, action="on") == {"success": True}
            async with client.session.post(client.api + "/io/ctrl", data={"port": "output1", "action": "on"}) as resp:
                assert await resp.json() == {"success": True}
            async with client.session.post(client.api + "/dir/query", json={}) as resp:
                assert (await resp.json())["success"] is True
        finally:
            await client.close()
        # requests' body-less POST carries no Content-Type at all (twoen, spfuu): not affected.
        reply = await asyncio.to_thread(requests.post, faithful.url + "/api/switch/ctrl",
                                        params={"switch": 2, "action": "on"}, auth=ADMIN, timeout=5)
        assert reply.json() == {"success": True}
        assert "Content-Type" not in reply.request.headers
