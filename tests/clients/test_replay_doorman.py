"""Replay of dougrathbone/2n-doorman (Home Assistant; user and credential management; own aiohttp
Digest; GitHub only).

Written from a study of the client's published source (no client code copied). What makes it doorman:
- HTTPS, and its own Digest: the first request goes out unauthenticated; it picks the Digest
  challenge among the WWW-Authenticate headers, refuses -sess algorithms, reuses the nonce with a
  growing nc, and on a 401 with stale=true takes the new nonce and retries once;
- its Digest `uri` leaves out the query string (like py2n-intercom): HA2 is over the bare path;
- directory management: dir/template, dir/query, dir/create, dir/update, dir/delete (JSON);
- log/subscribe with no include (new), pull timeout 20 s; a backfill subscription with
  include=-604800 (falling back to include=all);
- the doorbell is KeyPressed with key "%1"; a badge gives UserAuthenticated {name, uuid, ap, session}.

doorman's client sends PUT for dir/create, dir/update and dir/delete, the only method 2N's manual
(5.14) gives them; accesspoint/grantaccess is a GET with `id` (1 by default) and `user`.
"""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from client_helpers import (
    ADMIN,
    digest_challenge,
    digest_header,
    event_shape_ok,
    wait_until_waiting,
)

pytestmark = pytest.mark.helios(clock="virtual")


class DoormanDigest:
    """aiohttp with doorman's hand-made Digest (uri without the query string)."""

    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.user = user
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False))
        self.challenge: dict[str, str] | None = None
        self.nc = 0
        self.stale_retries = 0

    async def close(self) -> None:
        await self.session.close()

    def _authorization(self, method: str, path: str) -> str:
        self.nc += 1
        return digest_header(*self.user, method, path, self.challenge, self.nc)  # uri = path only

    def _take_challenge(self, resp: aiohttp.ClientResponse) -> dict[str, str]:
        challenge = digest_challenge(resp.headers)
        assert challenge is not None, "no Digest challenge"
        assert not challenge.get("algorithm", "MD5").upper().endswith("-SESS"), "doorman refuses -sess"
        self.challenge, self.nc = challenge, 0
        return challenge

    async def request(self, method: str, path: str, *, params=None, json=None, timeout: float = 10) -> dict:
        url = self.base + path
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        headers = {} if self.challenge is None else {"Authorization": self._authorization(method, path)}
        resp = await self.session.request(method, url, params=params, json=json, headers=headers, timeout=client_timeout)
        for _ in range(2):
            if resp.status != 401:
                break
            challenge = digest_challenge(resp.headers) or {}
            if headers and challenge.get("stale", "").lower() != "true":
                break  # a real refusal, not an expired nonce
            if headers:
                self.stale_retries += 1
            resp.release()
            self._take_challenge(resp)
            headers = {"Authorization": self._authorization(method, path)}
            resp = await self.session.request(method, url, params=params, json=json, headers=headers,
                                              timeout=client_timeout)
        async with resp:
            if resp.status == 401:
                raise PermissionError("Invalid credentials")
            return await resp.json()

    async def result(self, method: str, path: str, **kwargs) -> dict:
        data = await self.request(method, path, **kwargs)
        assert data["success"] is True, data
        return data.get("result", {})


@pytest.fixture
async def doorman(helios):
    client = DoormanDigest(helios.https_url)
    yield client
    await client.close()


async def test_digest_uri_without_query_is_accepted(helios, doorman):
    await doorman.result("GET", "/api/switch/caps")
    await doorman.result("GET", "/api/switch/ctrl", params={"switch": 1, "action": "on"})
    await doorman.result("GET", "/api/switch/status", params={"switch": 1})
    assert [(r["path"], r["status"], r["account"]) for r in helios.requests()] == [
        ("/api/switch/caps", 401, None), ("/api/switch/caps", 200, "admin"),
        ("/api/switch/ctrl", 200, "admin"), ("/api/switch/status", 200, "admin")]  # nonce reused


async def test_a_uri_naming_another_path_is_refused(helios, doorman):
    """The tolerance is for a missing query only: a uri for another path must not authorise."""
    await doorman.result("GET", "/api/switch/caps")
    doorman.nc += 1
    header = digest_header(*ADMIN, "GET", "/api/system/status", doorman.challenge, doorman.nc)
    async with doorman.session.get(helios.https_url + "/api/switch/ctrl", params={"switch": 1, "action": "on"},
                                   headers={"Authorization": header}) as resp:
        assert resp.status == 401
    assert not helios.device.switches.get(1).active


async def test_stale_nonce_retried_once(helios, doorman):
    await doorman.result("GET", "/api/switch/status")
    helios.expire_nonces()  # the device rotated its nonces
    status = await doorman.result("GET", "/api/switch/status")
    assert len(status["switches"]) == 4
    assert doorman.stale_retries == 1
    assert [r["status"] for r in helios.requests(path="/api/switch/status")] == [401, 200, 401, 200]
    helios.advance(400)  # past the profile's nonce lifetime (300 s): stale again, and recovered again
    await doorman.result("GET", "/api/switch/status")
    assert doorman.stale_retries == 2


async def test_directory_management(helios, doorman):
    template = (await doorman.result("GET", "/api/dir/template"))["users"][0]
    assert {"uuid", "name", "callPos", "access"} <= set(template)

    created = (await doorman.result("PUT", "/api/dir/create", json={"users": [
        {"name": "Courier", "access": {"pin": "4711", "card": ["0A0B0C0D"]}}]}))["users"]
    uuid = created[0]["uuid"]
    users = (await doorman.result("POST", "/api/dir/query", json={}))["users"]
    assert any(u["uuid"] == uuid and u["name"] == "Courier" for u in users)

    await doorman.result("PUT", "/api/dir/update", json={"users": [{"uuid": uuid, "name": "Courier (DHL)"}]})
    assert helios.card("0A0B0C0D") is True  # the credential works on the device

    await doorman.result("PUT", "/api/dir/delete", json={"users": [{"uuid": uuid}]})
    users = (await doorman.result("POST", "/api/dir/query", json={}))["users"]
    assert all(u["uuid"] != uuid for u in users)
    assert helios.card("0A0B0C0D") is False


async def test_events_doorbell_key_and_user_authenticated(helios, doorman):
    channel = (await doorman.result("GET", "/api/log/subscribe",
                                    params={"filter": "KeyPressed,UserAuthenticated"}))["id"]
    helios.ring(1)
    assert helios.card("1A2B3C4D") is True  # Reception's card
    events = (await doorman.result("GET", "/api/log/pull", params={"id": channel, "timeout": 20}, timeout=30))["events"]
    for event in events:
        event_shape_ok(event)
    assert {"event": "KeyPressed", "params": {"key": "%1"}}.items() <= events[0].items()
    auth = next(e["params"] for e in events if e["event"] == "UserAuthenticated")
    assert auth["name"] == "Reception" and {"uuid", "ap", "session"} <= set(auth)


async def test_pull_timeout_20_returns_empty_at_20s(helios, doorman):
    channel = (await doorman.result("GET", "/api/log/subscribe", params={"filter": "KeyPressed"}))["id"]
    pull = asyncio.create_task(doorman.result("GET", "/api/log/pull", params={"id": channel, "timeout": 20},
                                              timeout=30))
    await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull")
    await asyncio.to_thread(helios.advance, 19.9)
    await asyncio.sleep(0.1)
    assert not pull.done()
    await asyncio.to_thread(helios.advance, 0.1)
    assert (await asyncio.wait_for(pull, 5))["events"] == []


async def test_backfill_include_minus_a_week(helios, doorman):
    helios.advance(10)
    helios.press("%1")
    helios.advance(10)
    sub = await doorman.request("GET", "/api/log/subscribe", params={"include": "-604800", "filter": "KeyPressed"})
    assert sub["success"] is True, sub  # accepted, so the include=all fallback is not needed
    events = (await doorman.result("GET", "/api/log/pull", params={"id": sub["result"]["id"], "timeout": 0}))["events"]
    assert [e["params"]["key"] for e in events] == ["%1"]
    fallback = await doorman.result("GET", "/api/log/subscribe", params={"include": "all", "filter": "KeyPressed"})
    assert isinstance(fallback["id"], int)


async def test_grant_access_opens_the_door_and_caps_is_not_a_function(helios, doorman):
    """grant_access(access_point_id=1, user_uuid): the door switch opens for a directory user.
    accesspoint/caps is not in 2N's manual (5.17 has blocking/ctrl, blocking/status and
    grantaccess): code 2, a clean JSON failure doorman tolerates."""
    reception = next(u for u in helios.device.directory if u.name == "Reception")
    data = await doorman.request("GET", "/api/accesspoint/grantaccess", params={"id": 1, "user": reception.uuid})
    assert data == {"success": True, "result": {"accessGranted": True}}
    assert helios.device.switches.get(helios.device.profile.door.switch).active
    data = await doorman.request("GET", "/api/accesspoint/caps")
    assert data == {"success": False, "error": {"code": 2, "description": "invalid request path"}}
