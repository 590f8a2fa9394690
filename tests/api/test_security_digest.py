"""HTTP authentication on the wire: Digest (RFC 2617 / 7616) and Basic (RFC 7617).

Three independent client stacks (aiohttp's DigestAuthMiddleware, requests' HTTPDigestAuth,
httpx's DigestAuth) plus curl, over HTTP and HTTPS, and Authorization headers built by hand from
a 401 challenge for what the stacks cannot be made to send: a uri without the query string (as
py2n-intercom and 2n-doorman send it), a uri naming another path, a replayed nc, an expired nonce.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import textwrap

import aiohttp
import httpx
import pytest
import requests
from requests.auth import HTTPDigestAuth

from emulator.device.clock import VirtualClock
from emulator.settings import parse_user

ADMIN = ("admin", "2n")
UNAUTHORISED = {"success": False, "error": {"code": 9, "description": "authorisation required"}}
WRONG_METHOD = {"success": False, "error": {"code": 8, "description": "invalid authentication method"}}
_CHALLENGE_PARAM = re.compile(r'([A-Za-z0-9_-]+)=(?:"([^"]*)"|([^,\s]*))')
HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}


def profile(tmp_path, body: str) -> str:
    path = tmp_path / "custom.toml"
    path.write_text('extends = "verso"\n' + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def parse_challenge(value: str) -> dict[str, str]:
    scheme, _, rest = value.partition(" ")
    assert scheme == "Digest", value
    return {m.group(1).lower(): m.group(2) if m.group(2) is not None else m.group(3)
            for m in _CHALLENGE_PARAM.finditer(rest)}


class Digest:
    """An Authorization header built by hand (hashlib) from one challenge."""

    def __init__(self, challenge: dict[str, str], user: str = "admin", password: str = "2n"):
        self.challenge = challenge
        self.user = user
        self.password = password

    def header(self, method: str, uri: str, nc: int = 1, *, cnonce: str = "0a4f113b", quoted: bool = False,
               algorithm: str | None = None, realm: str | None = None, password: str | None = None) -> str:
        ch = self.challenge
        algorithm = algorithm or ch.get("algorithm", "MD5")
        realm = ch["realm"] if realm is None else realm
        password = self.password if password is None else password

        def h(text: str) -> str:
            return HASHES[algorithm](text.encode()).hexdigest()

        ha1 = h(f"{self.user}:{realm}:{password}")
        ha2 = h(f"{method}:{uri}")
        count = f"{nc:08x}"
        answer = h(f"{ha1}:{ch['nonce']}:{count}:{cnonce}:auth:{ha2}")
        alg, qop = (f'"{algorithm}"', '"auth"') if quoted else (algorithm, "auth")
        return (f'Digest username="{self.user}", realm="{realm}", nonce="{ch["nonce"]}", uri="{uri}", '
                f'algorithm={alg}, response="{answer}", opaque="{ch.get("opaque", "")}", qop={qop}, '
                f'nc={count}, cnonce="{cnonce}"')


@pytest.fixture
async def raw():
    """An aiohttp session that sends exactly the headers it is given."""
    async with aiohttp.ClientSession() as session:
        yield session


async def fetch(session: aiohttp.ClientSession, url: str, authorization: str | None = None):
    headers = {"Authorization": authorization} if authorization is not None else {}
    async with session.get(url, headers=headers) as resp:
        return resp.status, resp.headers.getall("WWW-Authenticate", []), await resp.json()


async def challenge(session: aiohttp.ClientSession, url: str) -> dict[str, str]:
    status, challenges, body = await fetch(session, url)
    assert status == 401 and body == UNAUTHORISED
    (value,) = challenges
    return parse_challenge(value)


# -- the challenge --------------------------------------------------------------------------


async def test_challenge_offers_qop_auth_only_md5_and_an_opaque(emu, raw):
    ch = await challenge(raw, emu.url + "/api/switch/caps")
    assert ch["realm"] == "HTTP API"
    assert ch["qop"] == "auth"  # never auth-int: aiohttp would pick it and hash the body
    assert ch["algorithm"] == "MD5"
    assert re.fullmatch(r"[0-9a-f]{16,}", ch["nonce"])
    assert ch["opaque"]
    assert "stale" not in ch
    again = await challenge(raw, emu.url + "/api/switch/caps")
    assert again["nonce"] != ch["nonce"]


# -- three client stacks and curl -----------------------------------------------------------


def sent_digest(resp: aiohttp.ClientResponse) -> dict[str, str]:
    """The Authorization header the client finally sent (after any 401 the middleware handled)."""
    return parse_challenge(resp.request_info.headers["Authorization"])


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_aiohttp_digest_middleware_reuses_the_nonce(emu, scheme):
    sent = []
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),),
                                     connector=aiohttp.TCPConnector(ssl=False)) as s:
        async with s.get(emu.urls[scheme] + "/api/switch/ctrl", params={"switch": "1", "action": "on"}) as r:
            assert r.status == 200 and await r.json() == {"success": True}
            sent.append(sent_digest(r))
        for _ in range(4):
            async with s.get(emu.urls[scheme] + "/api/switch/status", params={"switch": "1"}) as r:
                assert (await r.json())["result"]["switches"][0]["active"] is True
                sent.append(sent_digest(r))
    # One challenge, then the same nonce with nc 1, 2, 3, ... (a refusal would have made the
    # middleware fetch a new nonce and start again at 1); uri = path + query.
    assert len({d["nonce"] for d in sent}) == 1
    assert [d["nc"] for d in sent] == ["00000001", "00000002", "00000003", "00000004", "00000005"]
    assert sent[-1]["uri"] == "/api/switch/status?switch=1"


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_requests_http_digest_auth(emu, scheme):
    url = emu.urls[scheme]

    def run():
        with requests.Session() as s:
            s.auth = HTTPDigestAuth(*ADMIN)
            # verify per request: REQUESTS_CA_BUNDLE in the environment would override s.verify
            first = s.get(url + "/api/switch/ctrl", params={"switch": 2, "action": "on"}, timeout=10,
                          verify=False)
            later = [s.get(url + "/api/io/status", timeout=10, verify=False) for _ in range(3)]
            wrong = requests.get(url + "/api/io/status", auth=HTTPDigestAuth("admin", "nope"), verify=False,
                                 timeout=10)
            return first, later, wrong

    first, later, wrong = await asyncio.to_thread(run)
    assert first.status_code == 200 and first.json() == {"success": True}
    assert [r.status_code for r in first.history] == [401]
    # requests quotes algorithm and qop; the emulator takes them.
    assert 'algorithm="MD5"' in first.request.headers["Authorization"]
    assert 'qop="auth"' in first.request.headers["Authorization"]
    for reply in later:
        assert reply.status_code == 200 and reply.history == []  # the nonce is reused
        assert reply.json()["success"] is True
    assert wrong.status_code == 401 and wrong.json() == UNAUTHORISED
    assert emu.device.switches.get(2).active is True


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_httpx_digest_auth(emu, scheme):
    async with httpx.AsyncClient(auth=httpx.DigestAuth(*ADMIN), verify=False, base_url=emu.urls[scheme]) as c:
        first = await c.get("/api/switch/ctrl", params={"switch": 1, "action": "on"})
        assert first.status_code == 200 and first.json() == {"success": True}
        assert [r.status_code for r in first.history] == [401]
        for _ in range(3):
            reply = await c.get("/api/switch/status")
            assert reply.status_code == 200 and reply.history == []
            assert reply.json()["result"]["switches"][0]["active"] is True
    async with httpx.AsyncClient(auth=httpx.DigestAuth("admin", "nope"), verify=False) as c:
        reply = await c.get(emu.urls[scheme] + "/api/switch/status")
        assert reply.status_code == 401 and reply.json() == UNAUTHORISED


async def test_concurrent_requests_on_one_nonce(emu):
    """Integrations poll several endpoints at once over one session (asyncio.gather)."""
    paths = ["/api/switch/status", "/api/io/status", "/api/call/status", "/api/system/status"] * 8
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s:

        async def one(path: str) -> int:
            async with s.get(emu.url + path) as r:
                return r.status

        assert await one("/api/system/status") == 200
        assert set(await asyncio.gather(*(one(p) for p in paths))) == {200}
    async with httpx.AsyncClient(auth=httpx.DigestAuth(*ADMIN), base_url=emu.url) as c:
        assert (await c.get("/api/system/status")).status_code == 200
        assert {r.status_code for r in await asyncio.gather(*(c.get(p) for p in paths))} == {200}


async def test_post_with_a_form_body(emu):
    form = {"switch": "1", "action": "on"}
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s:
        async with s.post(emu.url + "/api/switch/ctrl", data=form) as r:
            assert await r.json() == {"success": True}
    assert emu.device.switches.get(1).active is True
    form["switch"] = "2"
    reply = await asyncio.to_thread(requests.post, emu.url + "/api/switch/ctrl", data=form,
                                    auth=HTTPDigestAuth(*ADMIN), timeout=10)
    assert reply.json() == {"success": True} and emu.device.switches.get(2).active is True
    async with httpx.AsyncClient(auth=httpx.DigestAuth(*ADMIN)) as c:
        reply = await c.post(emu.url + "/api/switch/ctrl", data={"switch": "1", "action": "off"})
        assert reply.json() == {"success": True}
    assert emu.device.switches.get(1).active is False


async def curl(*args: str) -> tuple[int, object]:
    proc = await asyncio.create_subprocess_exec(
        "curl", "-sk", "--max-time", "10", "-w", "\n%{http_code}", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 0, err
    body, _, status = out.rpartition(b"\n")
    return int(status), json.loads(body)


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_curl_digest(emu, scheme):
    url = emu.urls[scheme]
    assert await curl("--digest", "-u", "admin:2n", url + "/api/switch/ctrl?switch=1&action=on") == \
        (200, {"success": True})
    status, body = await curl("--digest", "-u", "admin:2n", url + "/api/switch/status?switch=1")
    assert status == 200 and body["result"]["switches"][0]["active"] is True
    assert await curl("--digest", "-u", "admin:wrong", url + "/api/switch/status") == (401, UNAUTHORISED)
    assert await curl("--basic", "-u", "admin:2n", url + "/api/switch/status") == (200, WRONG_METHOD)


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_curl_basic(make_emulator, scheme):
    emu = await make_emulator(auth="basic")
    url = emu.urls[scheme]
    status, body = await curl("--basic", "-u", "admin:2n", url + "/api/io/status")
    assert status == 200 and body["result"]["ports"]
    assert await curl("--basic", "-u", "admin:wrong", url + "/api/io/status") == (401, UNAUTHORISED)
    assert await curl(url + "/api/io/status") == (401, UNAUTHORISED)


# -- SHA-256 --------------------------------------------------------------------------------


async def test_sha256_profile_with_every_client(make_emulator, tmp_path, raw):
    emu = await make_emulator(profile=profile(tmp_path, """
        [security]
        digest_algorithm = "SHA-256"
    """))
    url = emu.url + "/api/system/status"
    ch = await challenge(raw, url)
    assert ch["algorithm"] == "SHA-256" and ch["qop"] == "auth"

    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s:
        async with s.get(url) as r:
            assert r.status == 200 and (await r.json())["success"] is True
            assert "algorithm=SHA-256" in r.request_info.headers["Authorization"]
    async with httpx.AsyncClient(auth=httpx.DigestAuth(*ADMIN)) as c:
        assert (await c.get(url)).json()["success"] is True
    reply = await asyncio.to_thread(requests.get, url, auth=HTTPDigestAuth(*ADMIN), timeout=10)
    assert reply.status_code == 200 and reply.json()["success"] is True
    status, body = await curl("--digest", "-u", "admin:2n", url)
    assert status == 200 and body["success"] is True
    # An MD5 answer to a SHA-256 challenge is refused.
    header = Digest(ch).header("GET", "/api/system/status", algorithm="MD5")
    assert (await fetch(raw, url, header))[0] == 401
    assert (await fetch(raw, url, Digest(ch).header("GET", "/api/system/status")))[0] == 200


# -- hand-built headers ---------------------------------------------------------------------


async def test_uri_without_the_query_string_is_accepted(emu, raw):
    """py2n-intercom and 2n-doorman hash HA2 over the path alone."""
    url = emu.url + "/api/switch/ctrl?switch=1&action=on"
    digest = Digest(await challenge(raw, url))
    status, _, body = await fetch(raw, url, digest.header("GET", "/api/switch/ctrl"))
    assert (status, body) == (200, {"success": True})
    assert emu.device.switches.get(1).active is True
    # The full request-target works too, and so does a uri with the query on the next call.
    status, _, body = await fetch(raw, emu.url + "/api/switch/status?switch=1",
                                  digest.header("GET", "/api/switch/status?switch=1", nc=2))
    assert status == 200 and body["result"]["switches"][0]["active"] is True
    # An absolute URI names the path as well (RFC 7616 allows the absolute form).
    status, _, body = await fetch(raw, emu.url + "/api/switch/status",
                                  digest.header("GET", emu.url + "/api/switch/status#top", nc=3))
    assert status == 200 and body["success"] is True


async def test_uri_naming_another_path_is_refused(emu, raw):
    url = emu.url + "/api/switch/ctrl?switch=1&action=on"
    digest = Digest(await challenge(raw, url))
    for n, uri in enumerate(["/api/switch/caps", "/api/switch/status?switch=1&action=on", "/api/switch",
                             "/api/switch/ctrl/", "/"], start=1):
        status, challenges, body = await fetch(raw, url, digest.header("GET", uri, nc=n))
        assert (status, body) == (401, UNAUTHORISED), uri
        assert challenges
    assert emu.device.switches.get(1).active is False


async def test_method_is_part_of_the_answer(emu, raw):
    url = emu.url + "/api/switch/caps"
    digest = Digest(await challenge(raw, url))
    assert (await fetch(raw, url, digest.header("POST", "/api/switch/caps")))[0] == 401
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=2)))[0] == 200


async def test_replayed_nc_is_refused(emu, raw):
    url = emu.url + "/api/switch/caps"
    digest = Digest(await challenge(raw, url))
    first = digest.header("GET", "/api/switch/caps", nc=1)
    assert (await fetch(raw, url, first))[0] == 200
    status, challenges, body = await fetch(raw, url, first)  # the very same header again
    assert (status, body) == (401, UNAUTHORISED) and challenges
    # A new cnonce does not make an old nc acceptable either.
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=1, cnonce="ffff")))[0] == 401
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=2)))[0] == 200
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=7)))[0] == 200  # gaps are fine
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=6)))[0] == 401  # backwards
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=8)))[0] == 200


async def test_replayed_switch_command_does_not_act_twice(emu, raw):
    url = emu.url + "/api/switch/ctrl?switch=1&action=on"
    digest = Digest(await challenge(raw, url))
    header = digest.header("GET", "/api/switch/ctrl?switch=1&action=on")
    assert (await fetch(raw, url, header))[2] == {"success": True}
    switch = emu.device.switches.get(1)
    assert switch.active is True
    switch.off()
    assert (await fetch(raw, url, header))[:3:2] == (401, UNAUTHORISED)  # someone replays the capture
    assert switch.active is False


async def test_each_nonce_counts_on_its_own(emu, raw):
    url = emu.url + "/api/io/caps"
    one, two = Digest(await challenge(raw, url)), Digest(await challenge(raw, url))
    assert (await fetch(raw, url, one.header("GET", "/api/io/caps", nc=1)))[0] == 200
    assert (await fetch(raw, url, two.header("GET", "/api/io/caps", nc=1)))[0] == 200
    assert (await fetch(raw, url, one.header("GET", "/api/io/caps", nc=2)))[0] == 200


@pytest.mark.parametrize("quoted", [False, True], ids=["unquoted", "quoted"])
async def test_algorithm_and_qop_quoted_or_not(emu, raw, quoted):
    url = emu.url + "/api/system/status"
    header = Digest(await challenge(raw, url)).header("GET", "/api/system/status", quoted=quoted)
    assert ('algorithm="MD5"' in header) is quoted and ('qop="auth"' in header) is quoted
    status, _, body = await fetch(raw, url, header)
    assert status == 200 and body["success"] is True


async def test_wrong_realm_is_refused(emu, raw):
    url = emu.url + "/api/system/status"
    header = Digest(await challenge(raw, url)).header("GET", "/api/system/status", realm="Other")
    assert (await fetch(raw, url, header))[:3:2] == (401, UNAUTHORISED)


async def test_made_up_nonce_is_not_accepted(emu, raw):
    url = emu.url + "/api/system/status"
    header = Digest({"realm": "HTTP API", "nonce": "00" * 16, "opaque": ""}).header("GET", "/api/system/status")
    status, challenges, body = await fetch(raw, url, header)
    assert (status, body) == (401, UNAUTHORISED)
    fresh = parse_challenge(challenges[0])
    assert fresh["nonce"] != "00" * 16
    assert (await fetch(raw, url, Digest(fresh).header("GET", "/api/system/status")))[0] == 200


@pytest.mark.parametrize("header", [
    "Digest",
    "Digest ",
    "Digest ,,,,",
    'Digest username="admin"',
    'Digest username="admin", realm="HTTP API", nonce="x", uri="/api/system/status", response="00"',
    'Digest username=admin realm=HTTP nonce=1',
    'Digest username="admin", realm="HTTP API", nonce="\\"", uri="\\',
    "Bearer abc",
    "Negotiate YII=",
    "Basicx YWRtaW46Mm4=",
])
async def test_malformed_authorization_is_a_plain_401(emu, raw, header):
    status, challenges, body = await fetch(raw, emu.url + "/api/system/status", header)
    assert (status, body) == (401, UNAUTHORISED)
    assert challenges[0].startswith("Digest ")


async def test_digest_answer_without_qop_fields_is_refused(emu, raw):
    url = emu.url + "/api/system/status"
    header = Digest(await challenge(raw, url)).header("GET", "/api/system/status")
    no_cnonce = re.sub(r', cnonce="[^"]*"', "", header)
    assert (await fetch(raw, url, no_cnonce))[0] == 401
    bad_nc = header.replace("nc=00000001", "nc=zzzzzzzz")
    assert (await fetch(raw, url, bad_nc))[0] == 401


async def test_an_rfc_2069_answer_without_qop_is_refused(emu, raw):
    """The challenge offers qop="auth"; an answer without qop has no nc, so a captured header could
    be replayed with any query for the nonce's lifetime: it is a wrong answer (401, counted)."""
    url = emu.url + "/api/switch/ctrl?switch=1&action=on"
    ch = await challenge(raw, url)

    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    answer = h(f"{h('admin:HTTP API:2n')}:{ch['nonce']}:{h('GET:/api/switch/ctrl')}")
    header = (f'Digest username="admin", realm="HTTP API", nonce="{ch["nonce"]}", uri="/api/switch/ctrl", '
              f'response="{answer}", opaque="{ch["opaque"]}", algorithm=MD5')
    for _ in range(2):
        status, challenges, body = await fetch(raw, url, header)
        assert (status, body) == (401, UNAUTHORISED) and challenges
    assert emu.device.switches.get(1).active is False


# -- nonce expiry ---------------------------------------------------------------------------


async def expiring(make_emulator, tmp_path, **settings):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock, profile=profile(tmp_path, """
        [security]
        nonce_lifetime = 5
    """), **settings)
    return emu, clock


async def test_expired_nonce_gets_stale_true(make_emulator, tmp_path, raw):
    emu, clock = await expiring(make_emulator, tmp_path)
    url = emu.url + "/api/switch/caps"
    digest = Digest(await challenge(raw, url))
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=1)))[0] == 200
    clock.advance(4)
    assert (await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=2)))[0] == 200
    clock.advance(2)
    status, challenges, body = await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=3))
    assert (status, body) == (401, UNAUTHORISED)
    fresh = parse_challenge(challenges[0])
    assert fresh["stale"].lower() == "true"
    assert fresh["nonce"] != digest.challenge["nonce"]
    # The new nonce works, the old one stays dead.
    assert (await fetch(raw, url, Digest(fresh).header("GET", "/api/switch/caps")))[0] == 200
    status, challenges, _ = await fetch(raw, url, digest.header("GET", "/api/switch/caps", nc=4))
    assert status == 401


async def test_expired_nonce_with_a_wrong_password_is_not_stale(make_emulator, tmp_path, raw):
    emu, clock = await expiring(make_emulator, tmp_path)
    url = emu.url + "/api/switch/caps"
    digest = Digest(await challenge(raw, url))
    clock.advance(6)
    status, challenges, body = await fetch(raw, url, digest.header("GET", "/api/switch/caps", password="x"))
    assert (status, body) == (401, UNAUTHORISED)
    assert "stale" not in parse_challenge(challenges[0])


async def test_aiohttp_client_carries_on_across_nonce_expiry(make_emulator, tmp_path):
    emu, clock = await expiring(make_emulator, tmp_path)
    sent = []
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware(*ADMIN),)) as s:
        for step in range(6):
            async with s.get(emu.url + "/api/io/status") as r:
                assert r.status == 200, step
                sent.append(sent_digest(r))
            clock.advance(2)
    # 0 s, 2 s, 4 s on the first nonce; at 6 s it is stale and the client takes the new one.
    assert [d["nc"] for d in sent] == ["00000001", "00000002", "00000003", "00000001", "00000002", "00000003"]
    assert sent[0]["nonce"] == sent[2]["nonce"] != sent[3]["nonce"] == sent[5]["nonce"]


async def test_httpx_client_carries_on_across_nonce_expiry(make_emulator, tmp_path):
    emu, clock = await expiring(make_emulator, tmp_path)
    async with httpx.AsyncClient(auth=httpx.DigestAuth(*ADMIN)) as c:
        for step in range(3):
            assert (await c.get(emu.url + "/api/io/status")).status_code == 200, step
            clock.advance(6)


# -- Basic (RFC 7617) -----------------------------------------------------------------------


def basic(user: str, password: str, scheme: str = "Basic") -> str:
    return f"{scheme} " + base64.b64encode(f"{user}:{password}".encode()).decode()


async def test_basic_password_may_hold_colons_and_utf8(make_emulator, tmp_path, raw):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services]
        auth = "basic"
        [[accounts]]
        name = "door"
        password = "pa:ss:wörd"
    """))
    url = emu.url + "/api/system/status"
    status, _, body = await fetch(raw, url, basic("door", "pa:ss:wörd"))
    assert status == 200 and body["success"] is True
    for wrong in (basic("door", "pa"), basic("doo", "r:pa:ss:wörd"), basic("door", "pa:ss:word")):
        assert (await fetch(raw, url, wrong))[:3:2] == (401, UNAUTHORISED)
    status, body = await curl("--basic", "-u", "door:pa:ss:wörd", url)
    assert status == 200 and body["success"] is True


async def test_basic_scheme_name_is_case_insensitive(make_emulator, raw):
    emu = await make_emulator(auth="basic")
    url = emu.url + "/api/system/status"
    for scheme in ("Basic", "basic", "BASIC"):
        assert (await fetch(raw, url, basic("admin", "2n", scheme)))[0] == 200


@pytest.mark.parametrize("header", ["Basic", "Basic !!!!", "Basic YWRtaW4=", "Basic " + "A" * 5000,
                                    "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()])
async def test_malformed_basic_is_a_plain_401(make_emulator, raw, header):
    emu = await make_emulator(auth="basic")
    status, challenges, body = await fetch(raw, emu.url + "/api/system/status", header)
    assert (status, body) == (401, UNAUTHORISED)
    assert challenges == ['Basic realm="HTTP API"']


NON_ASCII = "pässwört"


async def test_non_ascii_password_with_every_basic_client(make_emulator):
    """requests and aiohttp.BasicAuth (py2n's default) encode Basic credentials in Latin-1;
    httpx and curl in UTF-8. The account works with all of them."""
    emu = await make_emulator(auth="basic", users=[parse_user(f"anna:{NON_ASCII}")])
    url = emu.url + "/api/system/status"
    reply = await asyncio.to_thread(requests.get, url, auth=("anna", NON_ASCII), timeout=10)
    assert reply.status_code == 200
    assert (await asyncio.to_thread(requests.get, url, auth=("anna", "passwort"), timeout=10)).status_code == 401
    for encoding in ("latin-1", "utf-8"):
        header = "Basic " + base64.b64encode(f"anna:{NON_ASCII}".encode(encoding)).decode()
        async with aiohttp.ClientSession() as s, s.get(url, headers={"Authorization": header}) as r:
            assert r.status == 200, encoding
    async with httpx.AsyncClient(auth=("anna", NON_ASCII)) as c:
        assert (await c.get(url)).status_code == 200
    assert (await curl("--basic", "-u", f"anna:{NON_ASCII}", url))[0] == 200


async def test_non_ascii_password_with_every_digest_client(make_emulator):
    emu = await make_emulator(users=[parse_user(f"anna:{NON_ASCII}")])
    url = emu.url + "/api/system/status"
    reply = await asyncio.to_thread(requests.get, url, auth=HTTPDigestAuth("anna", NON_ASCII), timeout=10)
    assert reply.status_code == 200
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("anna", NON_ASCII),)) as s:
        async with s.get(url) as r:
            assert r.status == 200
    async with httpx.AsyncClient(auth=httpx.DigestAuth("anna", NON_ASCII)) as c:
        assert (await c.get(url)).status_code == 200
    assert (await curl("--digest", "-u", f"anna:{NON_ASCII}", url))[0] == 200
