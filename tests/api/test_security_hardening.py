"""Security beyond the check chain: login blocking, constant work per login, no secrets in the
logs, per-privilege event delivery, and the HTTPS listener's certificate."""

from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import json
import logging
import re
import ssl
import textwrap

import aiohttp
import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

import emulator.api.auth as auth_module
from emulator.device.clock import VirtualClock
from emulator.settings import parse_user
from tests.support import get_with, raw_http

ADMIN = ("admin", "2n")
UNAUTHORISED = {"success": False, "error": {"code": 9, "description": "authorisation required"}}


def profile(tmp_path, body: str, name: str = "custom") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text('extends = "verso"\n' + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def fetch(url: str, authorization: str | None = None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as resp:
        return resp.status, resp.headers.getall("WWW-Authenticate", []), await resp.json()


def digest_answer(challenge: str, user: str, password: str, uri: str, method: str = "GET") -> str:
    fields = dict(part.strip().split("=", 1) for part in challenge.removeprefix("Digest ").split(","))
    fields = {k: v.strip('"') for k, v in fields.items()}
    realm, nonce = fields["realm"], fields["nonce"]

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    answer = h(f"{h(f'{user}:{realm}:{password}')}:{nonce}:00000001:c0ffee:auth:{h(f'{method}:{uri}')}")
    return (f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{uri}", algorithm=MD5, '
            f'response="{answer}", qop=auth, nc=00000001, cnonce="c0ffee", opaque="{fields["opaque"]}"')


# -- login blocking -------------------------------------------------------------------------


async def blocking(make_emulator, tmp_path, **settings):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock, profile=profile(tmp_path, """
        [security]
        login_attempts = 3
        login_block_seconds = 60
    """), **settings)
    return emu, clock


def blocked_events(emu) -> list[dict]:
    return [e.params for e in emu.device.events.history if e.name == "LoginBlocked"]


async def test_repeated_failed_logins_block_the_address(make_emulator, make_client, tmp_path):
    emu, clock = await blocking(make_emulator, tmp_path)
    intruder = make_client(emu, user=("admin", "guess"))
    for _ in range(3):
        assert (await intruder.get("/api/switch/caps")).json == UNAUTHORISED
    assert blocked_events(emu) == [{"address": "127.0.0.1"}]
    # Now even the right password is refused, on every service and over both listeners...
    for scheme in ("http", "https"):
        admin = make_client(emu, scheme=scheme)
        for path in ("/api/switch/caps", "/api/system/status", "/api/log/caps"):
            reply = await admin.get(path)
            assert (reply.status, reply.json) == (401, UNAUTHORISED), (scheme, path)
    # ... while system/info, which needs no login, still answers.
    assert (await make_client(emu, user=None).get("/api/system/info")).status == 200
    # More failures while blocked do not announce a new block.
    await intruder.get("/api/switch/caps")
    assert len(blocked_events(emu)) == 1

    clock.advance(59)
    assert (await make_client(emu).get("/api/switch/caps")).status == 401
    clock.advance(2)
    admin = make_client(emu)
    assert (await admin.get("/api/switch/caps")).json["success"] is True
    # The event is in the log for anyone who reads it afterwards.
    channel = (await admin.get("/api/log/subscribe", include="all")).result["id"]
    events = (await admin.get("/api/log/pull", id=channel)).result["events"]
    blocked = [e for e in events if e["event"] == "LoginBlocked"]
    assert [e["params"] for e in blocked] == [{"address": "127.0.0.1"}]


async def test_blocking_counts_basic_failures_too(make_emulator, tmp_path):
    emu, clock = await blocking(make_emulator, tmp_path, auth="basic")
    url = emu.url + "/api/io/status"
    for password in ("a", "b", "c"):
        assert (await fetch(url, basic("admin", password)))[0] == 401
    assert (await fetch(url, basic("admin", "2n")))[0] == 401
    assert blocked_events(emu) == [{"address": "127.0.0.1"}]
    clock.advance(61)
    assert (await fetch(url, basic("admin", "2n")))[0] == 200


async def test_unknown_users_count_as_failures(make_emulator, tmp_path):
    emu, _ = await blocking(make_emulator, tmp_path, auth="basic")
    for user in ("root", "guest", "operator"):
        await fetch(emu.url + "/api/io/status", basic(user, "x"))
    assert (await fetch(emu.url + "/api/io/status", basic(*ADMIN)))[0] == 401


async def test_fewer_failures_than_the_limit_do_not_block(make_emulator, make_client, tmp_path):
    emu, _ = await blocking(make_emulator, tmp_path)
    url = emu.url + "/api/io/status"

    async def attempt(password: str) -> int:
        _, (challenge,), _ = await fetch(url)  # a 401 challenge, which is no failure by itself
        return (await fetch(url, digest_answer(challenge, "admin", password, "/api/io/status")))[0]

    for _ in range(3):
        assert [await attempt("guess") for _ in range(2)] == [401, 401]
        assert await attempt("2n") == 200  # a good login clears the count
    assert blocked_events(emu) == []
    assert [await attempt("guess") for _ in range(3)] == [401, 401, 401]
    assert blocked_events(emu) == [{"address": "127.0.0.1"}]
    assert await attempt("2n") == 401


@pytest.mark.parametrize("field", ["response", "username", "nonce", "cnonce", "uri"])
async def test_a_digest_field_that_is_not_utf8_is_a_counted_failed_login(make_emulator, tmp_path, caplog, field):
    """Bytes that are no UTF-8 in any field: code 9 like any wrong answer (not 14 and a traceback),
    and the failure counts towards blocking the address."""
    caplog.set_level(logging.WARNING)
    emu, _ = await blocking(make_emulator, tmp_path)
    _, (challenge,), _ = await fetch(emu.url + "/api/io/status")
    header = digest_answer(challenge, "admin", "2n", "/api/io/status").encode()
    header = re.sub(rb'\b%s="[^"]*"' % field.encode(), lambda m: field.encode() + b'="\xff\xfe\x80"', header)
    for _ in range(3):
        status, _, body = await raw_http(emu.ports["http"], get_with("/api/io/status", b"Authorization: " + header))
        assert (status, json.loads(body)) == (401, UNAUTHORISED)
    assert blocked_events(emu) == [{"address": "127.0.0.1"}]
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info] == []


async def test_digest_challenge_round_trips_are_not_failures(make_emulator, make_client, tmp_path):
    """Every Digest client starts with an unauthenticated request and a 401; that is no failed login."""
    emu, _ = await blocking(make_emulator, tmp_path)
    for _ in range(6):
        assert (await fetch(emu.url + "/api/io/status"))[0] == 401
        assert (await make_client(emu).get("/api/io/status")).status == 200
    assert blocked_events(emu) == []


# -- constant work per login ----------------------------------------------------------------


@pytest.fixture
def comparisons(monkeypatch):
    """Every hmac.compare_digest the authenticator makes: (type, length, length)."""
    calls: list[tuple[type, int, int]] = []
    real = auth_module.hmac.compare_digest

    def counting(a, b):
        calls.append((type(a), len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr(auth_module.hmac, "compare_digest", counting)
    return calls


async def test_basic_login_costs_the_same_for_right_wrong_and_unknown(make_emulator, comparisons):
    emu = await make_emulator(auth="basic")
    url = emu.url + "/api/system/status"
    seen = {}
    for case, (user, password, status) in {
        "right": ("admin", "2n", 200),
        "wrong": ("admin", "a much longer wrong password", 401),
        "wrong, same length": ("admin", "2N", 401),
        "unknown user": ("mallory", "2n", 401),
        "unknown user, long password": ("mallory", "x" * 40, 401),
    }.items():
        comparisons.clear()
        assert (await fetch(url, basic(user, password)))[0] == status, case
        seen[case] = list(comparisons)
    assert seen["right"], "no constant-time comparison at all"
    for case, calls in seen.items():
        assert calls == seen["right"], case


async def test_digest_login_costs_the_same_for_right_wrong_and_unknown(make_emulator, comparisons, monkeypatch):
    emu = await make_emulator()
    hashed: list[int] = []
    md5 = auth_module._HASHES["MD5"]

    def counting_md5(data=b""):
        hashed.append(len(data))
        return md5(data)

    monkeypatch.setitem(auth_module._HASHES, "MD5", counting_md5)
    url = emu.url + "/api/system/status"
    seen = {}
    for case, (user, password, status) in {
        "right": ("admin", "2n", 200),
        "wrong": ("admin", "not the password", 401),
        "unknown user": ("mallory", "2n", 401),
    }.items():
        _, (challenge,), _ = await fetch(url)
        comparisons.clear()
        hashed.clear()
        assert (await fetch(url, digest_answer(challenge, user, password, "/api/system/status")))[0] == status
        seen[case] = (list(comparisons), len(hashed))
    assert seen["right"][0] and seen["right"][1] >= 3
    for case, work in seen.items():
        assert work == seen["right"], case


# -- no secrets in the logs -----------------------------------------------------------------


async def test_no_password_in_the_logs(make_emulator, make_client, tmp_path, caplog):
    secret, wrong = "Kx7-secret-Pw", "Qz9-wrong-Pw"
    caplog.set_level(logging.DEBUG)
    digest = await make_emulator(users=[parse_user(f"keeper:{secret}")])
    basic_emu = await make_emulator(users=[parse_user(f"keeper:{secret}")], auth="basic")
    for emu, auth in ((digest, "digest"), (basic_emu, "basic")):
        for scheme in ("http", "https"):
            for password in (secret, wrong):
                client = make_client(emu, auth=auth, user=("keeper", password), scheme=scheme)
                await client.get("/api/system/status")
                await client.get("/api/switch/ctrl", switch=1, action="on")
                await client.get("/api/log/subscribe", include="all")
    assert any("emulating" in r.getMessage() for r in caplog.records), "the log capture saw nothing"
    forms = {secret, wrong}
    for password in (secret, wrong):
        encoded = base64.b64encode(f"keeper:{password}".encode()).decode()
        forms |= {encoded, encoded.rstrip("=")}
    for record in caplog.records:
        text = record.getMessage() + repr(record.args) + str(record.exc_info or "")
        for form in forms:
            assert form not in text, (record.name, record.getMessage())
    for form in forms:
        assert form not in caplog.text


# -- events only to channels whose account may see them -------------------------------------


async def test_events_are_delivered_by_privilege(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("admin:2n"), parse_user("cam:pw:camera"),
                                     parse_user("io:pw:io-monitoring"), parse_user("keys:pw:keypad"),
                                     parse_user("cards:pw:uid")])
    clients = {name: make_client(emu, user=(name, "2n" if name == "admin" else "pw"))
               for name in ("admin", "cam", "io", "keys", "cards")}
    channels = {}
    for name, client in clients.items():
        channels[name] = (await client.get("/api/log/subscribe", include="all")).result["id"]
    # Log functions need no privilege: every account could subscribe. Now things happen.
    assert (await clients["admin"].get("/api/switch/ctrl", switch=2, action="on")).json == {"success": True}
    emu.device.press("5")
    emu.device.swipe_card("0BADCAFE")
    emu.device.set_motion(True)
    got = {}
    for name, client in clients.items():
        events = (await client.get("/api/log/pull", id=channels[name])).result["events"]
        got[name] = {e["event"] for e in events}

    everything = {"DeviceState", "SwitchStateChanged", "OutputChanged", "KeyPressed", "KeyReleased",
                  "CardEntered", "MotionDetected"}
    assert everything <= got["admin"]
    assert {"DeviceState", "MotionDetected"} <= got["cam"]  # no privilege needed for these
    assert not got["cam"] & {"SwitchStateChanged", "OutputChanged", "KeyPressed", "CardEntered"}
    assert {"SwitchStateChanged", "OutputChanged", "DeviceState"} <= got["io"]
    assert not got["io"] & {"KeyPressed", "CardEntered"}
    assert {"KeyPressed", "KeyReleased"} <= got["keys"] and not got["keys"] & {"CardEntered", "SwitchStateChanged"}
    assert "CardEntered" in got["cards"] and not got["cards"] & {"KeyPressed", "SwitchStateChanged"}


async def test_live_events_follow_the_privileges_too(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("admin:2n"), parse_user("cam:pw:camera")])
    admin, cam = make_client(emu), make_client(emu, user=("cam", "pw"))
    admin_channel = (await admin.get("/api/log/subscribe", filter="SwitchStateChanged,MotionDetected")).result["id"]
    cam_channel = (await cam.get("/api/log/subscribe", filter="SwitchStateChanged,MotionDetected")).result["id"]
    waiting = asyncio.ensure_future(cam.get("/api/log/pull", id=cam_channel, timeout=10))
    await asyncio.sleep(0.05)
    await admin.get("/api/switch/ctrl", switch=1, action="on")
    assert [e["event"] for e in (await admin.get("/api/log/pull", id=admin_channel)).result["events"]] == \
        ["SwitchStateChanged"]
    assert not waiting.done() or (await waiting).result["events"] == []
    emu.device.set_motion(True)
    events = (await asyncio.wait_for(waiting, 5)).result["events"]
    assert [e["event"] for e in events] == ["MotionDetected"]


async def test_service_without_authentication_delivers_every_event(make_emulator, make_client):
    emu = await make_emulator(auth="none")
    anonymous = make_client(emu, user=None)
    channel = (await anonymous.get("/api/log/subscribe")).result["id"]
    await anonymous.get("/api/switch/ctrl", switch=1, action="on")
    events = (await anonymous.get("/api/log/pull", id=channel)).result["events"]
    assert "SwitchStateChanged" in {e["event"] for e in events}


# -- the HTTPS certificate ------------------------------------------------------------------


async def served_certificate(emu) -> x509.Certificate:
    pem = await asyncio.to_thread(ssl.get_server_certificate, ("127.0.0.1", emu.ports["https"]))
    return x509.load_pem_x509_certificate(pem.encode())


def subject(cert: x509.Certificate, oid) -> list[str]:
    return [a.value for a in cert.subject.get_attributes_for_oid(oid)]


async def test_self_signed_certificate_names_the_device(make_emulator, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [identity]
        device_name = "Front Gate"
        serial_number = "54-1234-5678"
    """))
    cert = await served_certificate(emu)
    assert subject(cert, NameOID.COMMON_NAME) == ["Front Gate"]
    assert subject(cert, NameOID.SERIAL_NUMBER) == ["54-1234-5678"]
    assert cert.issuer == cert.subject  # self-signed
    now = datetime.datetime.now(datetime.UTC)
    assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc


async def test_default_certificate_names_the_verso(emu):
    cert = await served_certificate(emu)
    text = cert.subject.rfc4514_string()
    assert "2N IP Verso" in text and "54-2040-0137" in text


async def test_certificate_is_kept_in_the_state_dir(make_emulator, tmp_path):
    state = tmp_path / "state"
    first = await make_emulator(state_dir=state)
    cert = await served_certificate(first)
    await first.stop()
    second = await make_emulator(state_dir=state)
    assert (await served_certificate(second)).fingerprint(hashes.SHA256()) == cert.fingerprint(hashes.SHA256())
    # Without the state directory every start has a certificate of its own.
    other = await make_emulator(state_dir=tmp_path / "elsewhere")
    assert (await served_certificate(other)).fingerprint(hashes.SHA256()) != cert.fingerprint(hashes.SHA256())
    # The private key is readable by its owner only.
    keys = [p for p in state.iterdir() if b"PRIVATE KEY" in p.read_bytes()]
    assert keys and all(p.stat().st_mode & 0o077 == 0 for p in keys)


async def test_kept_certificate_can_be_pinned_by_a_verifying_client(make_emulator, tmp_path):
    state = tmp_path / "state"
    emu = await make_emulator(state_dir=state)
    cert = await served_certificate(emu)
    pinned = tmp_path / "pinned.pem"
    pinned.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    context = ssl.create_default_context(cafile=str(pinned))  # hostname checks stay on
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=context)) as session:
        async with session.get(emu.urls["https"] + "/api/system/info") as resp:
            assert resp.status == 200
    reply = await asyncio.to_thread(requests.get, emu.urls["https"] + "/api/system/info", verify=str(pinned),
                                    timeout=10)
    assert reply.json()["result"]["serialNumber"] == "54-2040-0137"


async def test_users_own_certificate(make_emulator, tmp_path):
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "intercom.example.test")])
    now = datetime.datetime.now(datetime.UTC)
    mine = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "mine.pem", tmp_path / "mine.key"
    cert_file.write_bytes(mine.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    state = tmp_path / "state"
    emu = await make_emulator(tls_cert=cert_file, tls_key=key_file, state_dir=state)
    served = await served_certificate(emu)
    assert served.fingerprint(hashes.SHA256()) == mine.fingerprint(hashes.SHA256())
    assert not state.exists() or not any(state.glob("*.pem"))  # nothing generated alongside
