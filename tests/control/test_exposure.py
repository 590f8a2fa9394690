"""Who may use the control plane. /_emulator drives the device (accounts, faults, reboots) and
shows its state, so: only clients on this machine by default (a 403 that says how to open it to
others), any client with the token when one is set, or everyone with --control-open. Health and
readiness answer every client, and the device's own /api is untouched. Passwords never show in
the state or the journal."""

from __future__ import annotations

import functools
import ipaddress
import json
import logging
import socket

import aiohttp
import pytest

from emulator.app import Emulator
from tests.control.test_control_api import ROUTES, TOKEN, call
from tests.support import get_with, raw_http

CONTROL_ROUTES = [r for r in ROUTES if r[1] not in ("/_emulator/health", "/_emulator/ready")]


def outside_address() -> str:
    """An address of this machine that is not loopback: a client connecting to it is, to the
    emulator, a client on the network."""
    candidates = []
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks the outgoing address
            candidates.append(probe.getsockname()[0])
        except OSError:
            pass
    try:
        candidates += socket.gethostbyname_ex(socket.gethostname())[2]
    except OSError:
        pass
    for address in candidates:
        if not ipaddress.ip_address(address).is_loopback:
            return address
    pytest.skip("this machine has no address but loopback: no client can come from the network")


@pytest.fixture
def start(make_emulator):
    """Emulators listening on every interface, as in the container."""
    return functools.partial(make_emulator, host="0.0.0.0", https_port=None, clock="virtual", auth="none")


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


def from_outside(emu: Emulator) -> Emulator:
    """The same emulator, reached through the machine's network address."""
    return type("Outside", (), {"url": f"http://{outside_address()}:{emu.ports['http']}"})()  # type: ignore[return-value]


@pytest.mark.parametrize(("method", "path", "body"), CONTROL_ROUTES)
async def test_a_client_on_the_network_gets_a_403_saying_how_to_open_it(start, session, method, path, body):
    emu = await start()
    status, content_type, data = await call(session, from_outside(emu), method, path, body)
    assert (status, content_type) == (403, "application/json")
    assert "--control-token" in data["error"] and "--control-open" in data["error"]


async def test_nothing_happens_for_a_client_on_the_network(start, session):
    emu = await start()
    outside = from_outside(emu)
    await call(session, outside, "PUT", "/_emulator/state", {"config": {"configXml": "<x/>"}})
    await call(session, outside, "POST", "/_emulator/faults", {"kind": "reboot"})
    await call(session, outside, "POST", "/_emulator/actions/press", {"key": "%1"})
    assert emu.device.online and emu.faults.list() == [] and not emu.device.phone.sessions


@pytest.mark.parametrize("path", ["/_emulator/health", "/_emulator/ready", "/api/system/info", "/_emulator/nope"])
async def test_health_ready_and_the_api_answer_a_client_on_the_network(start, session, path):
    emu = await start()
    status, _, _ = await call(session, from_outside(emu), "GET", path)
    assert status == (403 if path == "/_emulator/nope" else 200)


@pytest.mark.parametrize(("method", "path", "body"), CONTROL_ROUTES)
async def test_with_a_token_a_client_on_the_network_may_use_it(start, session, method, path, body):
    emu = await start(control_token=TOKEN)
    outside = from_outside(emu)
    if path == "/_emulator/faults/1":
        await call(session, outside, "POST", "/_emulator/faults", {"kind": "delay", "ms": 1}, token=TOKEN)
    status, _, _ = await call(session, outside, method, path, body, token=TOKEN)
    assert status in (200, 201)
    status, _, data = await call(session, outside, method, path, body)
    assert status == 401 and "token" in data["error"]


async def test_control_open_opens_it_to_every_client(start, session, caplog):
    caplog.set_level(logging.WARNING, logger="emulator")
    emu = await start(control_open=True)
    status, _, data = await call(session, from_outside(emu), "POST", "/_emulator/actions/press", {"key": "5"})
    assert (status, data["ok"]) == (200, True)
    assert any("--control-open" in r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)


async def test_a_token_applies_even_with_control_open_and_on_loopback(start, session):
    emu = await start(control_token=TOKEN, control_open=True)
    assert (await call(session, emu, "GET", "/_emulator/faults"))[0] == 401
    assert (await call(session, emu, "GET", "/_emulator/faults", token=TOKEN))[0] == 200


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe", b"\xff", b"Bearer " + TOKEN.encode() + b"\xe9"])
async def test_an_authorization_header_that_is_not_utf8_is_a_401_not_a_500(start, caplog, value):
    caplog.set_level(logging.WARNING)
    emu = await start(control_token=TOKEN)
    status, headers, body = await raw_http(emu.ports["http"], get_with("/_emulator/faults", b"Authorization: " + value))
    assert (status, headers["content-type"]) == (401, "application/json; charset=utf-8")
    assert "token" in json.loads(body)["error"]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


# -- no passwords in what the control plane shows ----------------------------------------------------


async def test_the_state_shows_no_password_and_puts_back_without_losing_it(make_emulator, session):
    emu = await make_emulator(https_port=None, users=None)
    _, _, snapshot = await call(session, emu, "GET", "/_emulator/state")
    text = json.dumps(snapshot)
    assert "<Password>2n</Password>" not in text and ">2n<" not in text
    assert "<Password>***</Password>" in snapshot["config"]["configXml"]
    status, _, _ = await call(session, emu, "PUT", "/_emulator/state", snapshot)
    assert status == 200
    async with session.get(emu.url + "/api/system/status",
                           middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as r:
        assert (r.status, (await r.json())["success"]) == (200, True)  # the password is still 2n


async def test_a_hidden_password_cannot_make_up_an_account(make_emulator, session):
    emu = await make_emulator(https_port=None)
    _, _, snapshot = await call(session, emu, "GET", "/_emulator/state")
    xml = snapshot["config"]["configXml"].replace("<Name>admin</Name>", "<Name>intruder</Name>")
    status, _, data = await call(session, emu, "PUT", "/_emulator/state", {"config": {"configXml": xml}})
    assert status == 400 and "intruder" in data["error"]
    assert [a.name for a in emu.device.security.accounts] == ["admin"]


async def test_the_journal_shows_no_password(make_emulator, session):
    emu = await make_emulator(https_port=None, auth="none")
    async with session.post(emu.url + "/api/system/info", data={"Password": "hunter2", "adminPassword": "x"}):
        pass
    _, _, journal = await call(session, emu, "GET", "/_emulator/journal?path=/api/system/info")
    assert journal[-1]["params"] == {"Password": "***", "adminPassword": "***"}
    assert "hunter2" not in json.dumps(journal)
