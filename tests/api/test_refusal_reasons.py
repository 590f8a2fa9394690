"""Every refusal says why, in the journal and in the request's log line, while the reply stays the
device's (the same 401 body and challenge whatever the reason): what an integration author needs
when their client "does not authenticate".
"""

from __future__ import annotations

import base64
import logging
import re
import textwrap

import aiohttp
import pytest

from emulator.device.clock import VirtualClock
from emulator.settings import parse_user
from test_security_digest import UNAUTHORISED, Digest, challenge, fetch

PATH = "/api/switch/caps"


@pytest.fixture
async def raw():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.fixture
def lines(caplog):
    """The request lines logged so far (logger emulator.requests, INFO)."""
    caplog.set_level(logging.INFO, logger="emulator.requests")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "emulator.requests"]


def profile(tmp_path, body: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text('extends = "verso"\n' + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def last_request(emu) -> dict:
    return emu.journal.find("request")[-1]


async def refused(emu, raw, header: str | None, path: str = PATH) -> dict:
    """Send one request; it must be refused with the device's plain 401. Its journal entry."""
    status, _, body = await fetch(raw, emu.url + path, header)
    assert (status, body) == (401, UNAUTHORISED)
    return last_request(emu)


async def test_no_credentials(emu, raw, lines):
    entry = await refused(emu, raw, None)
    assert (entry["status"], entry["code"], entry["reason"]) == (401, 9, "no credentials")
    assert re.fullmatch(rf'127\.0\.0\.1 GET {PATH} 401 code=9 account=- [0-9.]+ms reason="no credentials"', lines()[-1])


async def test_wrong_password(emu, raw, lines):
    digest = Digest(await challenge(raw, emu.url + PATH))
    entry = await refused(emu, raw, digest.header("GET", PATH, password="wrong"))
    assert entry["reason"] == "wrong password for 'admin'"
    assert "wrong password for 'admin'" in lines()[-1] and " 401 code=9 " in lines()[-1]


async def test_unknown_user(emu, raw):
    digest = Digest(await challenge(raw, emu.url + PATH), user="mallory")
    assert (await refused(emu, raw, digest.header("GET", PATH)))["reason"] == "unknown user 'mallory'"


async def test_wrong_basic_password_and_unknown_basic_user(make_emulator, raw):
    emu = await make_emulator(auth="basic")
    for user, password, reason in (("admin", "x", "wrong password for 'admin'"), ("eve", "2n", "unknown user 'eve'")):
        header = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        assert (await refused(emu, raw, header))["reason"] == reason


async def test_realm_mismatch(emu, raw):
    digest = Digest(await challenge(raw, emu.url + PATH))
    entry = await refused(emu, raw, digest.header("GET", PATH, realm="Other"))
    assert entry["reason"] == "realm mismatch: 'Other', the device's is 'HTTP API'"


async def test_uri_mismatch(emu, raw):
    digest = Digest(await challenge(raw, emu.url + PATH))
    entry = await refused(emu, raw, digest.header("GET", "/api/switch/status"))
    assert entry["reason"] == f"uri mismatch: '/api/switch/status' does not name the requested path {PATH}"


async def test_replayed_nc(emu, raw):
    digest = Digest(await challenge(raw, emu.url + PATH))
    assert (await fetch(raw, emu.url + PATH, digest.header("GET", PATH, nc=5)))[0] == 200
    entry = await refused(emu, raw, digest.header("GET", PATH, nc=5))
    assert entry["reason"] == "replayed nc '00000005' (this nonce was last used with nc 00000005)"


async def test_stale_nonce(make_emulator, tmp_path, raw, lines):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock, profile=profile(tmp_path, "[security]\nnonce_lifetime = 5\n"))
    digest = Digest(await challenge(raw, emu.url + PATH))
    clock.advance(6)
    entry = await refused(emu, raw, digest.header("GET", PATH))
    assert entry["reason"] == "stale nonce: older than the nonce lifetime (5 s)"
    assert 'reason="stale nonce: older than the nonce lifetime (5 s)"' in lines()[-1]


async def test_a_nonce_forgotten_at_a_reboot_is_stale_too(emu, raw):
    digest = Digest(await challenge(raw, emu.url + PATH))
    emu.faults.add({"kind": "nonces"})
    entry = await refused(emu, raw, digest.header("GET", PATH))
    assert entry["reason"].startswith("stale nonce: not issued by this device, or forgotten")


async def test_blocked_address(make_emulator, tmp_path, raw, lines):
    emu = await make_emulator(profile=profile(tmp_path, "[security]\nlogin_attempts = 2\n"))
    digest = Digest(await challenge(raw, emu.url + PATH))
    assert (await refused(emu, raw, digest.header("GET", PATH, nc=1, password="x")))["reason"] == \
        "wrong password for 'admin'"
    assert (await refused(emu, raw, digest.header("GET", PATH, nc=2, password="y")))["reason"] == \
        "wrong password for 'admin'; 127.0.0.1 is now blocked"
    # Even the right password is refused now, and the reason says the address is blocked.
    entry = await refused(emu, raw, digest.header("GET", PATH, nc=3))
    assert entry["reason"] == "blocked address 127.0.0.1 (too many failed logins)"
    assert 'reason="blocked address 127.0.0.1 (too many failed logins)"' in lines()[-1]


async def test_wrong_scheme_is_code_8_with_its_reason(emu, raw):
    header = "Basic " + base64.b64encode(b"admin:2n").decode()
    status, _, body = await fetch(raw, emu.url + PATH, header)
    assert (status, body["error"]["code"]) == (200, 8)
    assert last_request(emu)["reason"] == "wrong scheme: Basic credentials, the service asks for Digest"


async def test_missing_privilege(make_emulator, make_client, lines):
    emu = await make_emulator(users=[parse_user("ha:secret:switch-monitoring")])
    reply = await make_client(emu, user=("ha", "secret")).get("/api/switch/ctrl", switch=1, action="on")
    assert reply.error["code"] == 10
    entry = last_request(emu)
    assert (entry["account"], entry["reason"]) == ("ha", "missing privilege: 'ha' lacks switch-control")
    assert "account=ha" in lines()[-1] and "lacks switch-control" in lines()[-1]


async def test_other_refusals_say_why(make_emulator, make_client):
    emu = await make_emulator(profile="vario-2.15", licence=False, auth="none")
    client = make_client(emu, user=None)
    await client.get("/api/switch/ctrl", switch=1, action="on")
    assert last_request(emu)["reason"] == "needs the licence enhanced-integration"
    await client.get("/api/dir/template")
    assert last_request(emu)["reason"] == "/api/dir/template is newer than firmware 2.15.0.27.3"
    await client.request("DELETE", "/api/switch/caps")
    assert last_request(emu)["reason"] == "DELETE is not one of GET, POST"
    await client.get("/api/nothing/here")
    assert last_request(emu)["reason"] == "no such function"


async def test_parameter_errors_say_which_parameter(make_emulator, make_client):
    emu = await make_emulator(auth="none")
    await make_client(emu, user=None).get("/api/switch/ctrl", switch=1, action="explode")
    assert last_request(emu)["reason"] == "invalid parameter value: action"


async def test_the_reply_is_the_same_whatever_the_reason(emu, raw):
    """The reason is for the journal and the log only: a wrong password and an unknown user get
    byte-identical replies but for the nonce."""
    digest = Digest(await challenge(raw, emu.url + PATH))
    replies = []
    for header in (digest.header("GET", PATH, password="x"), Digest(digest.challenge, user="eve").header("GET", PATH)):
        async with raw.get(emu.url + PATH, headers={"Authorization": header}) as resp:
            replies.append((resp.status, await resp.read(), sorted(k for k in resp.headers if k != "Date")))
    assert replies[0] == replies[1]
