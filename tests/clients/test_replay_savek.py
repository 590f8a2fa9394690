"""Replay of the savek-cc fork of ha-2N-intercom 1.3.1 (Home Assistant; aiohttp; written against a
real 2N IP Verso on fw 2.50.0.76.2; GitHub only).

Written from research/clients.md section 6b (no client code copied). What makes it savek:
- aiohttp.DigestAuthMiddleware(user, pw, preemptive=False): every request first goes out
  without credentials, gets the 401 challenge and is resent with Digest; when the challenge says
  Basic, the same request is retried with BasicAuth (2N picks the method per service);
- system/caps `options`, phone/status, switch caps/status, io caps/status, switch/ctrl with
  `duration`, GET call/answer and call/hangup;
- log/subscribe with ONLY `filter` (device defaults include=new, duration=90), including names
  the v2.15 device does not know; log/pull timeout=1 in a tight loop with an 11 s client budget;
- ring detection from CallSessionStateChanged (a CallStateChanged ring with direction outgoing
  is ignored);
- snapshots with Accept: image/jpeg, code 12 -> retry at 640x480; MJPEG with fps=N and
  Accept: multipart/x-mixed-replace,image/jpeg, requiring "multipart/" in the Content-Type;
  one unauthenticated MJPEG probe.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from client_helpers import ADMIN, basic_authorization, event_shape_ok, jpeg_size

FILTER = ["CallStateChanged", "CallSessionStateChanged", "SwitchStateChanged", "InputChanged", "OutputChanged",
          "RegistrationStateChanged", "ConfigurationChanged", "CapabilitiesChanged", "DeviceState", "MotionDetected"]
ON_VALUES = (1, True, "1", "on", "true")


class SavekApi:
    def __init__(self, base: str, user=ADMIN):
        self.base = base
        self.user = user
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=False),
            middlewares=(aiohttp.DigestAuthMiddleware(*user, preemptive=False),))
        self.basic_fallbacks = 0

    async def close(self) -> None:
        await self.session.close()

    async def _request(self, path: str, params=None, headers=None, timeout: float = 10) -> aiohttp.ClientResponse:
        url = self.base + path
        client_timeout = aiohttp.ClientTimeout(total=timeout)
        resp = await self.session.get(url, params=params, headers=headers, timeout=client_timeout)
        if resp.status == 401 and "basic" in resp.headers.get("WWW-Authenticate", "").lower():
            resp.release()
            self.basic_fallbacks += 1
            auth = {"Authorization": basic_authorization(*self.user)}
            resp = await self.session.get(url, params=params, headers={**(headers or {}), **auth},
                                          timeout=client_timeout)
        return resp

    async def get(self, path: str, **params) -> dict:
        resp = await self._request(path, params)
        async with resp:
            if resp.status == 401:
                raise PermissionError("invalid credentials")
            return await resp.json()

    async def pull(self, channel: int, timeout: int) -> dict:
        """log/pull?id&timeout with savek's client budget of timeout + 10 s."""
        resp = await self._request("/api/log/pull", {"id": channel, "timeout": timeout}, timeout=timeout + 10)
        async with resp:
            return await resp.json()

    async def result(self, path: str, **params) -> dict:
        data = await self.get(path, **params)
        assert data["success"] is True, data
        return data.get("result", {})

    async def snapshot(self, width: int, height: int, source: str = "internal") -> bytes | None:
        params = {"source": source, "width": width, "height": height}
        resp = await self._request("/api/camera/snapshot", params, headers={"Accept": "image/jpeg"})
        async with resp:
            if resp.headers.get("Content-Type", "").startswith("image/"):
                return await resp.read()
            error = (await resp.json(content_type=None)).get("error", {})
        if error.get("code") == 12 and (width, height) != (640, 480):
            return await self.snapshot(640, 480, source)
        return None

    async def mjpeg(self, fps: int, width: int = 640, height: int = 480) -> tuple[str, bytes]:
        params = {"source": "internal", "width": width, "height": height, "fps": fps}
        resp = await self._request("/api/camera/snapshot", params,
                                   headers={"Accept": "multipart/x-mixed-replace,image/jpeg"})
        try:
            ctype = resp.headers.get("Content-Type", "")
            first = await asyncio.wait_for(resp.content.read(200), 10)
        finally:
            resp.close()
        return ctype, first


@pytest.fixture(params=["https", "http"])
async def api(request, helios):
    client = SavekApi(helios.https_url if request.param == "https" else helios.url)
    yield client
    await client.close()


# -- auth: unauthenticated first, then Digest; Basic when challenged so --------------------------


@pytest.mark.helios(clock="virtual")
async def test_every_request_is_challenged_then_digest(helios, api):
    info = await api.result("/api/system/info")
    assert {k: info[k] for k in ("variant", "deviceName", "swVersion", "serialNumber", "hwVersion", "macAddr")} == {
        "variant": "2N IP Verso", "deviceName": "2N IP Verso", "swVersion": "2.50.0.76.2",
        "serialNumber": "54-2040-0137", "hwVersion": "570v1", "macAddr": "7c-1e-b3-0a-2f-51"}
    await api.result("/api/switch/caps")
    await api.result("/api/switch/status")
    assert [(r["path"], r["status"]) for r in helios.requests()] == [
        ("/api/system/info", 200),  # public: no challenge
        ("/api/switch/caps", 401), ("/api/switch/caps", 200),
        ("/api/switch/status", 401), ("/api/switch/status", 200)]
    assert api.basic_fallbacks == 0


@pytest.mark.helios(auth="basic", clock="virtual")
async def test_basic_challenge_gets_the_basic_retry(helios, api):
    await api.result("/api/switch/caps")
    await api.result("/api/switch/ctrl", switch=1, action="on")
    assert api.basic_fallbacks == 2
    assert [(r["path"], r["status"], r["account"]) for r in helios.requests()] == [
        ("/api/switch/caps", 401, None), ("/api/switch/caps", 200, "admin"),
        ("/api/switch/ctrl", 401, None), ("/api/switch/ctrl", 200, "admin")]


@pytest.mark.helios(clock="virtual")
async def test_wrong_password_is_401(helios):
    client = SavekApi(helios.url, ("admin", "wrong"))
    try:
        with pytest.raises(PermissionError):
            await client.get("/api/switch/caps")
    finally:
        await client.close()


# -- the functions it reads ---------------------------------------------------------------------


@pytest.mark.helios(clock="virtual")
async def test_caps_phone_switches_io(helios, api):
    options = (await api.result("/api/system/caps"))["options"]
    assert options["motionDetection"].startswith("active")  # -> MotionDetected joins the filter
    assert options["enhancedVideo"] == "active,licensed" and options["rtspServer"].endswith("licensed")

    helios.advance(2)  # SIP registration completes
    accounts = (await api.result("/api/phone/status"))["accounts"]
    assert (accounts[0]["registrationEnabled"], accounts[0]["registered"]) == (True, True)
    assert (accounts[1]["registrationEnabled"], accounts[1]["registered"]) == (False, False)

    caps = (await api.result("/api/switch/caps"))["switches"]
    assert [(s["switch"], s["enabled"], s.get("switchOnDuration")) for s in caps] == [
        (1, True, 5), (2, True, 5), (3, False, None), (4, False, None)]
    assert await api.result("/api/switch/ctrl", switch=1, action="trigger", duration=2000) == {}
    assert await api.result("/api/switch/ctrl", switch=2, action="on") == {}
    status = (await api.result("/api/switch/status"))["switches"]
    assert [(s["active"], s["held"]) for s in status[:2]] == [(True, False), (True, False)]

    ports = {p["port"]: p["type"] for p in (await api.result("/api/io/caps"))["ports"]}
    assert ports["input1"] == "input"
    helios.set_input("input1", True)
    state = {p["port"]: p["state"] for p in (await api.result("/api/io/status"))["ports"]}
    assert state["input1"] in ON_VALUES and state["relay1"] in ON_VALUES  # relay1: switch 1 is on


@pytest.mark.helios(clock="virtual")
async def test_answer_and_hangup_by_get_and_session_not_found(helios, api):
    session = helios.incoming_call("sip:100@sip.example.com")
    sessions = (await api.result("/api/call/status"))["sessions"]
    assert [(s["session"], s["direction"], s["state"]) for s in sessions] == [(session, "incoming", "ringing")]
    assert await api.result("/api/call/answer", session=session) == {}
    assert (await api.result("/api/call/status"))["sessions"][0]["state"] == "connected"
    assert await api.result("/api/call/hangup", session=session, reason="normal") == {}
    again = await api.get("/api/call/hangup", session=session)
    assert again == {"success": False, "error": {"code": 14, "description": "session not found"}}
    assert {r["method"] for r in helios.requests(path="/api/call/hangup")} == {"GET"}


@pytest.mark.helios(clock="virtual")
async def test_directory_query_like_mastalir(api):
    body = {"iterator": {"timestamp": 0}, "fields": ["name", "callPos.peer"]}
    resp = await api.session.post(api.base + "/api/dir/query", json=body)
    if resp.status == 401:  # preemptive=False: challenged first, then the middleware answers it
        pytest.fail("the digest middleware did not answer the challenge")
    async with resp:
        data = await resp.json()
    peers = [p["peer"] for u in data["result"]["users"] for p in u["callPos"]]
    assert peers == ["sip:100@sip.example.com", "sip:4374834473@proxy.my2n.com"]


# -- events ---------------------------------------------------------------------------------------


@pytest.mark.helios(clock="virtual")
async def test_subscribe_with_only_filter_uses_defaults_new_and_90s(helios, api):
    helios.press("1")  # before the subscription: include=new must leave it out
    sub = await api.get("/api/log/subscribe", filter=",".join(FILTER + ["KeyPressed"]))
    assert sub["success"] is True, sub  # unknown names (ConfigurationChanged, ...) are accepted
    channel = sub["result"]["id"]
    assert (await api.result("/api/log/pull", id=channel, timeout=0))["events"] == []  # new: no KeyPressed
    helios.advance(89)  # the channel lives 90 s without a pull; SIP registration happened at 1 s
    events = (await api.result("/api/log/pull", id=channel, timeout=0))["events"]
    assert {e["event"] for e in events} == {"RegistrationStateChanged"}
    helios.advance(89.5)  # the pull at 89 s extended it to 179 s
    assert (await api.result("/api/log/pull", id=channel, timeout=0))["events"] == []
    helios.advance(90.5)  # no pull for longer than the default 90 s: the channel is gone
    gone = await api.get("/api/log/pull", id=channel, timeout=0)
    assert gone["success"] is False and gone["error"]["code"] == 12  # -> savek resubscribes


@pytest.mark.helios(clock="virtual")
async def test_doorbell_is_a_call_session_state_changed_ringing(helios, api):
    channel = (await api.result("/api/log/subscribe", filter=",".join(FILTER)))["id"]
    helios.advance(2)
    await api.result("/api/log/pull", id=channel, timeout=0)  # registration events, drained
    helios.ring()
    helios.advance(1)
    events = (await api.result("/api/log/pull", id=channel, timeout=1))["events"]
    for event in events:
        event_shape_ok(event)
    # savek reads CallSessionStateChanged as: state|status, session from sessionNumber|session, the
    # peer from address|peer, and a ring when the state is ringing and direction is not "outgoing".
    # 2N's params are session and state (no peer, no direction): it still sees the ring and the
    # session, and takes the peer from call/status.
    sessions = [e["params"] for e in events if e["event"] == "CallSessionStateChanged"]
    ringing = [p for p in sessions if (p.get("state") or p.get("status")) == "ringing"]
    assert ringing and (ringing[0].get("sessionNumber") or ringing[0].get("session")) == 1
    assert ringing[0].get("direction", "") != "outgoing"
    assert "address" not in ringing[0] and "sessionNumber" not in ringing[0]
    # The CallStateChanged of the same ring is outgoing, which savek ignores for ring detection.
    calls = [e["params"] for e in events if e["event"] == "CallStateChanged" and e["params"]["state"] == "ringing"]
    assert calls and calls[0]["direction"] == "outgoing"
    status = await api.result("/api/call/status")
    assert status["sessions"][0]["calls"][0]["peer"] == "sip:100@sip.example.com"


@pytest.mark.helios(clock="virtual")
async def test_io_switch_registration_and_startup_events(helios, api):
    channel = (await api.result("/api/log/subscribe", filter=",".join(FILTER)))["id"]
    helios.advance(2)
    helios.set_input("input1", True)
    await api.result("/api/switch/ctrl", switch=1, action="on")
    events = (await api.result("/api/log/pull", id=channel, timeout=1))["events"]
    seen = {(e["event"], tuple(sorted(e["params"]))) for e in events}
    assert ("RegistrationStateChanged", ("sipAccount", "state")) in seen
    assert ("InputChanged", ("port", "state")) in seen
    assert ("OutputChanged", ("port", "state")) in seen
    assert any(name == "SwitchStateChanged" for name, _ in seen)
    # After a restart the old channel is gone (code 12); the history starts with DeviceState.
    helios.reboot()
    helios.advance(3)
    assert (await api.get("/api/log/pull", id=channel, timeout=0))["error"]["code"] == 12
    fresh = (await api.result("/api/log/subscribe", filter="DeviceState", include="all"))["id"]
    first = (await api.result("/api/log/pull", id=fresh, timeout=0))["events"][0]
    assert (first["id"], first["event"], first["params"]) == (1, "DeviceState", {"state": "startup"})


@pytest.mark.helios()  # the real clock: savek's loop is real time
async def test_tight_pull_loop_timeout_1_within_11s(helios):
    api = SavekApi(helios.url)
    try:
        channel = (await api.result("/api/log/subscribe", filter=",".join(FILTER)))["id"]
        await asyncio.sleep(1.5)  # SIP registration (1 s after boot) has happened
        await api.result("/api/log/pull", id=channel, timeout=0)
        for _ in range(3):  # a quiet device: each pull returns empty at 1 s, not later
            started = time.monotonic()
            data = await api.pull(channel, 1)
            elapsed = time.monotonic() - started
            assert data == {"success": True, "result": {"events": []}}
            assert 0.9 <= elapsed < 2.0, elapsed
        helios.ring()
        found = []
        deadline = time.monotonic() + 5
        while not found and time.monotonic() < deadline:
            events = (await api.pull(channel, 1))["result"]["events"]
            found = [e for e in events if e["event"] == "CallSessionStateChanged" and e["params"]["state"] == "ringing"]
        assert found
    finally:
        await api.close()


# -- camera -----------------------------------------------------------------------------------------


@pytest.mark.helios(clock="virtual")
async def test_camera_caps_parsed_generically(api):
    caps = await api.result("/api/camera/caps")
    sizes = {(r["width"], r["height"]) for r in caps["jpegResolution"]}
    assert {(1280, 720), (640, 360), (640, 480), (1280, 960)} <= sizes
    assert [s["source"] for s in caps["sources"]] == ["internal", "external"]


@pytest.mark.helios(clock="virtual")
async def test_snapshot_80x80_retried_at_640x480(helios, api):
    data = await api.snapshot(80, 80)
    assert data is not None and jpeg_size(data) == (640, 480)
    assert [r["code"] for r in helios.requests(path="/api/camera/snapshot", status=200)] == [12, None]


@pytest.mark.helios(clock="virtual")
@pytest.mark.parametrize("fps", [1, 10, 15])
async def test_mjpeg_is_multipart(api, fps):
    ctype, first = await api.mjpeg(fps)
    assert "multipart/" in ctype and ctype.startswith("multipart/x-mixed-replace")
    assert first.startswith(b"--") and b"image/jpeg" in first


@pytest.mark.helios(clock="virtual")
async def test_mjpeg_fps_16_is_code_12(api):
    ctype, first = await api.mjpeg(16)
    assert ctype == "application/json" and b'"code":12' in first


@pytest.mark.helios(clock="virtual")
async def test_unauthenticated_mjpeg_probe_is_401(helios):
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=False)) as session:
        for base in (helios.url, helios.https_url):
            async with session.get(base + "/api/camera/snapshot", params={"width": 640, "height": 480, "fps": 5},
                                   headers={"Accept": "multipart/x-mixed-replace,image/jpeg"}) as resp:
                assert resp.status == 401
                assert resp.headers["WWW-Authenticate"].startswith("Digest ")
                assert (await resp.json())["error"]["code"] == 9


async def test_a_configuration_upload_raises_configuration_changed(helios, api):
    """savek refetches the device's capabilities when ConfigurationChanged arrives."""
    channel = (await api.result("/api/log/subscribe", filter=",".join(FILTER)))["id"]
    config = {"accounts": [{"account": 1, "displayName": "Gate"}]}
    async with api.session.put(api.base + "/api/phone/config", json=config) as resp:
        assert (await resp.json())["success"] is True
    events = (await api.result("/api/log/pull", id=channel, timeout=0))["events"]
    assert [e["event"] for e in events] == ["ConfigurationChanged"]
