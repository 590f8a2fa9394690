"""The control plane as an HTTP API: --control-token protects it (but never health, readiness or
the device's own /api), health and readiness answer what CI waits for, and the control plane keeps
working while the device it drives is down.
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Any

import aiohttp
import pytest

from emulator.app import Emulator

TOKEN = "s3cret-token"

# Every control route (method, path, JSON body) once.
ROUTES = [
    ("GET", "/_emulator/", None),
    ("GET", "/_emulator/openapi.json", None),
    ("GET", "/_emulator/device", None),
    ("GET", "/_emulator/actions", None),
    ("POST", "/_emulator/actions/press", {"key": "5"}),
    ("GET", "/_emulator/clock", None),
    ("POST", "/_emulator/clock", {"advance": 1}),
    ("GET", "/_emulator/faults", None),
    ("POST", "/_emulator/faults", {"kind": "delay", "ms": 1}),
    ("DELETE", "/_emulator/faults/1", None),
    ("DELETE", "/_emulator/faults", None),
    ("GET", "/_emulator/journal", None),
    ("DELETE", "/_emulator/journal", None),
    ("GET", "/_emulator/state", None),
    ("PUT", "/_emulator/state", {}),
    ("POST", "/_emulator/reset", None),
    ("GET", "/_emulator/scenarios", None),
    ("POST", "/_emulator/scenarios", {"steps": [{"at": 1, "action": "press", "key": "5"}]}),
]


@pytest.fixture
def start(make_emulator):
    """Emulators on a virtual clock, no API authentication, HTTP only (unless asked)."""
    return functools.partial(make_emulator, https_port=None, clock="virtual", auth="none")


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def call(session: aiohttp.ClientSession, emu: Emulator, method: str, path: str, body: Any = None,
               token: str | None = None, **kwargs: Any) -> tuple[int, str, Any]:
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        kwargs["json"] = body
    async with session.request(method, emu.url + path, headers=headers, **kwargs) as r:
        data = await r.json() if r.content_type == "application/json" else await r.read()
        return r.status, r.content_type, data


# -- --control-token ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_without_the_token_every_control_path_is_401_json(start, session, method, path, body):
    emu = await start(control_token=TOKEN)
    status, content_type, data = await call(session, emu, method, path, body)
    assert status == 401
    assert content_type == "application/json" and "token" in data["error"]
    status, _, data = await call(session, emu, method, path, body, token="wrong")
    assert status == 401
    status, _, data = await call(session, emu, method, path, body, headers={"Authorization": TOKEN})
    assert status == 401  # the token alone, without "Bearer", is not it either


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
async def test_with_the_token_every_control_path_works(start, session, method, path, body):
    emu = await start(control_token=TOKEN)
    if path == "/_emulator/faults/1":
        await call(session, emu, "POST", "/_emulator/faults", {"kind": "delay", "ms": 1}, token=TOKEN)
    status, content_type, _ = await call(session, emu, method, path, body, token=TOKEN)
    assert status in (200, 201)
    assert content_type == "application/json"


async def test_nothing_happens_without_the_token(start, session):
    emu = await start(control_token=TOKEN)
    await call(session, emu, "POST", "/_emulator/faults", {"kind": "status", "status": 503})
    await call(session, emu, "POST", "/_emulator/actions/press", {"key": "%1"})
    await call(session, emu, "POST", "/_emulator/clock", {"advance": 100})
    _, _, faults = await call(session, emu, "GET", "/_emulator/faults", token=TOKEN)
    assert faults == []
    _, _, clock = await call(session, emu, "GET", "/_emulator/clock", token=TOKEN)
    assert clock["uptime"] == 0
    _, _, info = await call(session, emu, "GET", "/api/call/status")
    assert info["result"]["sessions"] == []


@pytest.mark.parametrize("path", ["/_emulator/health", "/_emulator/ready"])
async def test_health_and_ready_need_no_token(start, session, path):
    emu = await start(control_token=TOKEN)
    status, _, data = await call(session, emu, "GET", path)
    assert status == 200 and data["status"] == "ok"


async def test_the_device_api_is_unaffected_by_the_token(start, session):
    emu = await start(control_token=TOKEN)
    status, _, data = await call(session, emu, "GET", "/api/system/status")
    assert status == 200 and data["success"] is True
    status, _, data = await call(session, emu, "GET", "/api/system/status", token="wrong")
    assert status == 200 and data["success"] is True


async def test_the_token_does_not_replace_the_device_s_own_authentication(start, session):
    emu = await start(control_token=TOKEN, auth="digest")
    status, _, data = await call(session, emu, "GET", "/api/system/status", token=TOKEN)
    assert status == 401 and data["error"]["code"] == 9


async def test_without_a_token_setting_the_control_plane_is_open(start, session):
    emu = await start()
    status, _, _ = await call(session, emu, "GET", "/_emulator/faults")
    assert status == 200


# -- health and readiness -----------------------------------------------------------------------------


async def test_health_says_what_is_serving(start, session):
    emu = await start(https_port=0, rtsp_port=0)
    status, content_type, health = await call(session, emu, "GET", "/_emulator/health")
    assert status == 200 and content_type == "application/json"
    assert health["status"] == "ok" and health["device"] == "online"
    assert health["profile"] == "verso" and health["model"] == "2N IP Verso"
    assert health["firmware"] == "2.50.0.76.2"
    assert health["listeners"] == {"http": emu.url, "https": emu.urls["https"], "rtsp": emu.urls["rtsp"]}


async def test_ready_is_503_during_a_reboot_and_200_after(start, session):
    emu = await start()
    assert (await call(session, emu, "GET", "/_emulator/ready"))[0] == 200
    await call(session, emu, "POST", "/_emulator/faults", {"kind": "reboot", "seconds": 10})
    status, _, ready = await call(session, emu, "GET", "/_emulator/ready")
    assert status == 503 and ready["device"] == "offline"
    status, _, health = await call(session, emu, "GET", "/_emulator/health")
    assert status == 200 and health["device"] == "offline"  # alive, though the device is down
    await call(session, emu, "POST", "/_emulator/clock", {"advance": 9.9})
    assert (await call(session, emu, "GET", "/_emulator/ready"))[0] == 503
    await call(session, emu, "POST", "/_emulator/clock", {"advance": 0.1})
    assert (await call(session, emu, "GET", "/_emulator/ready"))[0] == 200


async def test_ready_on_the_real_clock_comes_back_by_itself(start, session):
    emu = await start(clock="real")
    started = time.monotonic()
    await call(session, emu, "POST", "/_emulator/faults", {"kind": "reboot", "seconds": 0.5})
    assert (await call(session, emu, "GET", "/_emulator/ready"))[0] == 503
    while (await call(session, emu, "GET", "/_emulator/ready"))[0] != 200:
        assert time.monotonic() - started < 5, "the device did not come back"
        await asyncio.sleep(0.02)
    assert time.monotonic() - started >= 0.45


async def test_a_stopped_emulator_is_not_there(start, session):
    emu = await start()
    url = emu.url
    await emu.stop()
    with pytest.raises(aiohttp.ClientConnectionError):
        async with session.get(url + "/_emulator/health") as r:
            await r.read()


# -- the control plane while the device is down ---------------------------------------------------------


async def test_control_connections_survive_a_reboot(start):
    emu = await start()
    async with aiohttp.ClientSession() as control, aiohttp.ClientSession() as api:
        assert (await call(api, emu, "GET", "/api/system/status"))[0] == 200
        assert (await call(control, emu, "GET", "/_emulator/health"))[0] == 200
        await call(control, emu, "POST", "/_emulator/faults", {"kind": "reboot", "seconds": 5})
        # the same keep-alive control connection goes on working; POSTs are not retried by aiohttp
        for _ in range(3):
            status, _, _ = await call(control, emu, "POST", "/_emulator/actions/press", {"key": "5"})
            assert status == 400  # the device is down: the action fails cleanly
        status, _, clock = await call(control, emu, "POST", "/_emulator/clock", {"advance": 5})
        assert status == 200 and clock["uptime"] == 0
        assert (await call(control, emu, "GET", "/_emulator/ready"))[0] == 200


# -- malformed requests -----------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/_emulator/actions/press", "/_emulator/clock", "/_emulator/faults",
                                  "/_emulator/state"])
async def test_a_body_that_is_not_json_is_400_json(start, session, path):
    emu = await start()
    method = "PUT" if path.endswith("state") else "POST"
    status, content_type, data = await call(session, emu, method, path, data=b"{nope",
                                            headers={"Content-Type": "application/json"})
    assert status == 400 and content_type == "application/json" and "JSON" in data["error"]


async def test_a_wrong_method_is_refused(start, session):
    emu = await start()
    status, _, _ = await call(session, emu, "DELETE", "/_emulator/clock")
    assert status == 405


async def test_an_unknown_control_path_is_404(start, session):
    emu = await start()
    status, _, _ = await call(session, emu, "GET", "/_emulator/nothing-here")
    assert status == 404


async def test_the_index_page_points_to_api_and_control_plane(start, session):
    emu = await start()
    status, content_type, body = await call(session, emu, "GET", "/")
    assert status == 200 and content_type == "text/plain"
    assert b"/api" in body and b"/_emulator" in body and b"/_emulator/ui" in body
    status, content_type, body = await call(session, emu, "GET", "/", headers={"Accept": "text/html,*/*"})
    assert status == 200 and content_type == "text/html"
    assert b'<a href=/_emulator/ui>The front panel</a>' in body
