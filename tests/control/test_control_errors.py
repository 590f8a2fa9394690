"""Bad input to the control plane: every endpoint answers a 4xx JSON error naming the problem,
never a 500 or a traceback, and nothing it refuses changes the device."""

from __future__ import annotations

import functools
import json
import logging

import aiohttp
import pytest

JSON_ENDPOINTS = [
    ("POST", "/_emulator/actions/press"),
    ("POST", "/_emulator/clock"),
    ("POST", "/_emulator/faults"),
    ("PUT", "/_emulator/state"),
    ("POST", "/_emulator/scenarios"),
]
DEEP_JSON = b"[" * 100_000 + b"]" * 100_000


@pytest.fixture
def start(make_emulator):
    return functools.partial(make_emulator, https_port=None, clock="virtual", auth="none")


@pytest.fixture
def no_tracebacks(caplog):
    caplog.set_level(logging.WARNING)
    yield
    bad = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert bad == []


async def send(emu, method: str, path: str, body: bytes, content_type: str = "application/json"):
    async with aiohttp.ClientSession() as session, session.request(
            method, emu.url + path, data=body, headers={"Content-Type": content_type}) as r:
        assert r.content_type == "application/json", (r.status, await r.text())
        return r.status, await r.json(), r.headers


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
@pytest.mark.parametrize("body", [DEEP_JSON, b'{"a":' * 40 + b"1" + b"}" * 40], ids=["recursion", "40-deep"])
async def test_deeply_nested_json_is_a_400(start, no_tracebacks, method, path, body):
    emu = await start()
    status, data, _ = await send(emu, method, path, body)
    assert status == 400 and "nested more than 32 levels" in data["error"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
async def test_a_json_body_that_is_not_utf8_is_a_400(start, no_tracebacks, method, path):
    emu = await start()
    status, data, _ = await send(emu, method, path, b'{"key": "\xff\xfe"}')
    assert status == 400 and "UTF-8" in data["error"]


@pytest.mark.parametrize(("method", "path"), JSON_ENDPOINTS)
async def test_a_lone_surrogate_is_a_400(start, no_tracebacks, method, path):
    """JSON can spell "\\ud800", which no reply could carry (the device would fail on every later
    reply that shows it, a peer name in call/status say)."""
    emu = await start()
    status, data, _ = await send(emu, method, path, b'{"peer": "\\ud800", "value": "\\udcff"}')
    assert status == 400 and "no Unicode character" in data["error"]


async def test_a_scenario_that_is_not_utf8_is_a_400(start, no_tracebacks):
    emu = await start()
    status, data, _ = await send(emu, "POST", "/_emulator/scenarios", b'name = "\xff"\n', "text/plain")
    assert status == 400 and "UTF-8" in data["error"]


@pytest.mark.parametrize("nesting", ["a = " + "[" * 3000 + "]" * 3000, "a = " + "{b = " * 3000 + "1" + "}" * 3000,
                                     "a = " + "[" * 40 + "]" * 40])
async def test_a_deeply_nested_scenario_is_a_400(start, no_tracebacks, nesting):
    emu = await start()
    status, data, _ = await send(emu, "POST", "/_emulator/scenarios", nesting.encode(), "text/plain")
    assert status == 400 and "nested more than 32 levels" in data["error"]
    assert emu.scenarios.loaded == {}


@pytest.mark.parametrize("value", ["text/plain\r\nX-Injected: 1", "a\nb", "a\rb", "nul\x00", "del\x7f"])
async def test_a_content_type_fault_with_a_control_character_is_refused(start, no_tracebacks, make_client, value):
    """A header value cannot hold CR/LF: the fault is refused when added (it was accepted, and then
    every matching request closed with a traceback)."""
    emu = await start()
    status, data, _ = await send(emu, "POST", "/_emulator/faults",
                                 json.dumps({"kind": "content_type", "value": value}).encode())
    assert status == 400 and data["error"].startswith("value:")
    assert emu.faults.list() == []
    reply = await make_client(emu, user=None).get("/api/system/info")
    assert reply.status == 200 and reply.content_type == "application/json"


async def test_a_body_over_the_limit_is_a_413(start, no_tracebacks):
    emu = await start()
    status, data, _ = await send(emu, "PUT", "/_emulator/state", b" " * (9 * 1024 * 1024))
    assert status == 413 and "larger than" in data["error"]


@pytest.mark.parametrize(("method", "path", "status"), [
    ("GET", "/_emulator/nope", 404),
    ("GET", "/_emulator", 404),
    ("POST", "/_emulator/journal/x", 404),
    ("PATCH", "/_emulator/faults", 405),
    ("GET", "/_emulator/reset", 405),
    ("PUT", "/_emulator/actions/press", 405),
])
async def test_an_unknown_path_or_method_is_a_json_404_or_405(start, no_tracebacks, method, path, status):
    emu = await start()
    got, data, headers = await send(emu, method, path, b"")
    assert got == status and path in data["error"]
    if status == 405:
        assert headers["Allow"] and method not in headers["Allow"]


async def test_the_virtual_clock_cannot_be_advanced_past_the_year_9000(start, no_tracebacks, make_client):
    """Past it dates and time zones no longer exist: every later reply that shows a time failed."""
    emu = await start()
    status, data, _ = await send(emu, "POST", "/_emulator/clock", b'{"advance": 1e300}')
    assert status == 400 and "9000" in data["error"]
    assert (await send(emu, "POST", "/_emulator/reset", b""))[0] == 200
    assert (await make_client(emu, user=None).get("/api/system/time")).result


@pytest.mark.parametrize("body", [b'{"switches": [{"switch": Infinity}]}', b'{"registrations": [{"account": -Infinity,'
                                                                            b' "registered": true}]}'])
async def test_a_state_with_an_infinite_number_is_a_400(start, no_tracebacks, body):
    emu = await start()
    status, data, _ = await send(emu, "PUT", "/_emulator/state", body)
    assert status == 400 and ("switch" in data["error"] or "account" in data["error"])
