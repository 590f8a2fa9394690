"""The lines of the client research's requirement checklist that are about every client at once (the envelope,
Content-Type, 401s, preemptive Basic everywhere, unknown paths and methods, concurrency, limits),
checked on the wire. Client-specific lines are covered in the test_py2n*, test_replay_* files;
COMPATIBILITY.md maps every line of section 11 to its tests.
"""

from __future__ import annotations

import asyncio
import json
import socket
import ssl

import aiohttp
import pytest
import requests
from client_helpers import (
    ADMIN,
    PY2N_CODES,
    InThread,
    basic_authorization,
    event_shape_ok,
    wait_until_waiting,
)

from emulator.api.routes import ROUTES

pytestmark = pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
REBOOTS = {"/api/system/restart", "/api/config/factoryreset", "/api/firmware/apply"}


async def fetch(session: aiohttp.ClientSession, method: str, url: str, **kwargs) -> tuple[int, dict, bytes]:
    async with session.request(method, url, **kwargs) as resp:
        return resp.status, resp.headers, await resp.read()


def allowed_method(path: str) -> str:
    methods = ROUTES[path].methods
    return "GET" if "GET" in methods else min(methods)


@pytest.mark.helios(clock="virtual")
async def test_envelope_shapes_and_http_200(helios):
    auth = aiohttp.DigestAuthMiddleware(*ADMIN)
    async with aiohttp.ClientSession(middlewares=(auth,)) as s:
        base = helios.url
        status, _, body = await fetch(s, "GET", base + "/api/switch/ctrl?switch=1&action=on")
        assert (status, body) == (200, b'{"success":true}')
        status, _, body = await fetch(s, "GET", base + "/api/system/status")
        data = json.loads(body)
        assert status == 200 and set(data) == {"success", "result"} and data["success"] is True
        assert isinstance(data["result"]["upTime"], int) and isinstance(data["result"]["systemTime"], int)
        status, _, body = await fetch(s, "GET", base + "/api/switch/ctrl?action=on")
        assert status == 200 and json.loads(body) == {
            "success": False, "error": {"code": 11, "description": "missing mandatory parameter", "param": "switch"}}
        status, _, body = await fetch(s, "GET", base + "/api/nope")
        assert status == 200 and json.loads(body) == {
            "success": False, "error": {"code": 2, "description": "invalid request path"}}


@pytest.mark.helios(clock="virtual")
@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_every_json_reply_is_application_json_with_success(helios, scheme):
    """Every route, asked with its method and no parameters (and a 401 for each), answers with
    mimetype application/json, a `success` key and, on failure, a code py2n knows."""
    base = helios.url if scheme == "http" else helios.https_url
    skip = REBOOTS | {"/api/config", "/api/pcap"}  # XML and pcap by design; reboots
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False),
                                     middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s, \
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as anonymous:
        for path in sorted(set(ROUTES) - skip):
            method = allowed_method(path)
            for session in (s, anonymous):
                status, headers, body = await fetch(session, method, base + path)
                assert headers["Content-Type"].split(";")[0].strip() == "application/json", (path, headers)
                data = json.loads(body)
                assert "success" in data, (path, data)
                if not data["success"]:
                    assert data["error"]["code"] in PY2N_CODES, (path, data)
                    assert isinstance(data["error"]["description"], str)
                    assert status == (401 if data["error"]["code"] == 9 else 200), (path, status, data)
                else:
                    assert status == 200


@pytest.mark.parametrize("auth,scheme_word", [
    pytest.param("digest", "Digest", marks=pytest.mark.helios()),
    pytest.param("basic", "Basic", marks=pytest.mark.helios(auth="basic")),
])
def test_401_with_challenge_and_json_code_9(helios, auth, scheme_word):
    for credentials in (None, ("admin", "wrong"), ("nobody", "2n")):
        if credentials is None:
            reply = requests.get(helios.url + "/api/switch/status", timeout=5)
        elif auth == "basic":
            reply = requests.get(helios.url + "/api/switch/status", auth=credentials, timeout=5)
        else:
            reply = requests.get(helios.url + "/api/switch/status",
                                 auth=requests.auth.HTTPDigestAuth(*credentials), timeout=5)
        assert reply.status_code == 401
        assert reply.headers["Content-Type"] == "application/json"
        assert reply.json() == {"success": False, "error": {"code": 9, "description": "authorisation required"}}
        challenge = reply.headers["WWW-Authenticate"]
        assert challenge.startswith(scheme_word + " ") and 'realm="' in challenge
        if auth == "digest":
            # qop "auth" only: aiohttp's client would pick auth-int if it were offered.
            assert 'qop="auth"' in challenge and "auth-int" not in challenge and "algorithm=MD5" in challenge


@pytest.mark.helios(auth="basic", clock="virtual")
async def test_preemptive_basic_accepted_on_every_endpoint(helios):
    """homebridge, mastalir, Ctrlable, FHEM, py2n (basic), spfuu (auth_type 1): one Basic header on
    the first request, never a challenge, on any function."""
    headers = {"Authorization": basic_authorization(*ADMIN)}
    async with aiohttp.ClientSession(headers=headers, connector=aiohttp.TCPConnector(ssl=False)) as s:
        for path in sorted(set(ROUTES) - REBOOTS - {"/api/camera/snapshot"}):
            status, _, body = await fetch(s, allowed_method(path), helios.https_url + path)
            assert status == 200, (path, status, body)
            assert b'"code":9' not in body and b'"code":8' not in body, (path, body)
    assert all(r["status"] == 200 for r in helios.requests())


@pytest.mark.helios()
def test_https_is_self_signed_and_works_unverified(helios):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(helios.https_url + "/api/system/info", timeout=5)  # a verifying client refuses
    reply = requests.get(helios.https_url + "/api/system/info", timeout=5, verify=False)
    assert reply.json()["result"]["variant"] == "2N IP Verso"
    context = ssl.create_default_context()
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    port = int(helios.https_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, context.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    from cryptography import x509

    cert = x509.load_der_x509_certificate(der)
    assert cert.issuer == cert.subject  # self-signed


@pytest.mark.helios(clock="virtual")
def test_unknown_paths_and_wrong_methods(helios):
    auth = requests.auth.HTTPDigestAuth(*ADMIN)
    for path in ("/api/nothing", "/api/switch", "/api/switch/ctrl/extra", "/api/display/text", "/api/lpr/licenseplate"):
        reply = requests.get(helios.url + path, auth=auth, timeout=5)
        assert (reply.status_code, reply.json()["error"]["code"]) == (200, 2), path
    for method, path in (("PUT", "/api/switch/ctrl"), ("GET", "/api/firmware"), ("DELETE", "/api/system/info"),
                         ("GET", "/api/display/image"), ("GET", "/api/dir/create")):
        reply = requests.request(method, helios.url + path, auth=auth, timeout=5)
        assert (reply.status_code, reply.json()["error"]["code"]) == (200, 3), (method, path)


@pytest.mark.helios(clock="virtual")
def test_phone_status_register_time_only_when_registered(helios):
    auth = requests.auth.HTTPDigestAuth(*ADMIN)
    accounts = requests.get(helios.url + "/api/phone/status", auth=auth, timeout=5).json()["result"]["accounts"]
    assert "registerTime" not in accounts[0] and accounts[0]["registered"] is False
    helios.advance(2)
    accounts = requests.get(helios.url + "/api/phone/status", auth=auth, timeout=5).json()["result"]["accounts"]
    assert accounts[0]["registered"] is True and isinstance(accounts[0]["registerTime"], int)
    for key in ("account", "sipNumber", "registered", "enabled", "registrationEnabled"):
        assert key in accounts[1], key


@pytest.mark.helios(clock="virtual")
def test_subscribe_limits_and_128_events_per_pull(helios):
    auth = requests.auth.HTTPDigestAuth(*ADMIN)
    with requests.Session() as s:
        s.auth = auth
        for duration in (3600, 7200):  # the maximum, and past it (clamped, not refused)
            reply = s.get(helios.url + "/api/log/subscribe", params={"duration": duration, "filter": "KeyPressed"},
                          timeout=5).json()
            assert reply["success"] is True and 0 < reply["result"]["id"] < 2**32
        channel = reply["result"]["id"]
        for _ in range(100):
            helios.press("1")  # 100 KeyPressed (and 100 KeyReleased, filtered out)
        helios.press("%1")
        helios.press("%1")
        for _ in range(30):
            helios.press("2")
        first = s.get(helios.url + "/api/log/pull", params={"id": channel}, timeout=5).json()["result"]["events"]
        second = s.get(helios.url + "/api/log/pull", params={"id": channel}, timeout=5).json()["result"]["events"]
    assert (len(first), len(second)) == (128, 4)
    assert all(e["event"] == "KeyPressed" for e in first + second)
    ids = [e["id"] for e in first + second]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for event in first[:3]:
        event_shape_ok(event)


@pytest.mark.helios(clock="virtual")
async def test_concurrent_long_polls_and_polling(helios):
    """Several clients' long-polls in flight while others poll switch/status: nothing waits."""
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s:
        async def get(path, **params):
            async with s.get(helios.url + path, params=params) as resp:
                return await resp.json()

        channels = [(await get("/api/log/subscribe", filter="SwitchStateChanged"))["result"]["id"] for _ in range(5)]
        pulls = [asyncio.create_task(get("/api/log/pull", id=c, timeout=60)) for c in channels]
        await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull", 5)
        polls = await asyncio.wait_for(asyncio.gather(*(get("/api/switch/status") for _ in range(20))), 5)
        assert all(p["success"] for p in polls)
        assert not any(p.done() for p in pulls)
        await get("/api/switch/ctrl", switch=1, action="on")  # every channel gets the event
        results = await asyncio.wait_for(asyncio.gather(*pulls), 5)
    assert all([e["event"] for e in r["result"]["events"]] == ["SwitchStateChanged"] for r in results)


@pytest.mark.helios(clock="virtual")
def test_channel_does_not_expire_while_a_pull_waits(helios):
    """A 5 s channel with a 60 s pull: the waiting pull keeps it alive, and the pull extends it."""
    auth = requests.auth.HTTPDigestAuth(*ADMIN)
    channel = requests.get(helios.url + "/api/log/subscribe", params={"duration": 5, "filter": "KeyPressed"},
                           auth=auth, timeout=5).json()["result"]["id"]
    pull = InThread(lambda: requests.get(helios.url + "/api/log/pull", params={"id": channel, "timeout": 60},
                                         auth=requests.auth.HTTPDigestAuth(*ADMIN), timeout=10).json())
    wait_until_waiting(helios, "/api/log/pull")
    helios.advance(60)
    assert pull.result() == {"success": True, "result": {"events": []}}
    helios.advance(4.9)
    reply = requests.get(helios.url + "/api/log/pull", params={"id": channel}, auth=auth, timeout=5).json()
    assert reply == {"success": True, "result": {"events": []}}
    helios.advance(5.1)
    reply = requests.get(helios.url + "/api/log/pull", params={"id": channel}, auth=auth, timeout=5).json()
    assert reply["success"] is False and reply["error"]["code"] == 12
