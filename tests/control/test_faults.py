"""Every fault kind, observed the way a real client observes it: over a socket, with aiohttp,
requests or py2n-intercom's own request function. Plus the rules every fault shares: which
requests it hits (path glob, methods), `times` then recover, seeded probability, and the
control API that lists, removes and rejects faults.

Device time is virtual throughout; only delay, slow_body and hang are about real time, and
those use loose bounds.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import io
import json
import time
from typing import Any

import aiohttp
import pytest
import requests
from PIL import Image
from py2n import utils as py2n_utils
from py2n.exceptions import ApiError as Py2nApiError
from py2n.exceptions import DeviceApiError, DeviceUnsupportedError
from py2n.model import Py2NConnectionData

from emulator.app import Emulator
from emulator.control.faults import KINDS
from emulator.errors import ErrorCode

CONNECTION_ERRORS = (aiohttp.ClientOSError, aiohttp.ServerDisconnectedError)


# -- helpers -------------------------------------------------------------------------------


@pytest.fixture
def start(make_emulator):
    """Emulators on a virtual clock, no API authentication, HTTP only (unless asked)."""
    return functools.partial(make_emulator, https_port=None, clock="virtual", auth="none")


@pytest.fixture
async def emu(start) -> Emulator:
    return await start()


@pytest.fixture
async def http():
    """A plain aiohttp client, one connection per request.

    Beware when reading hit counts: aiohttp (3.14) sends an idempotent request (GET) a second time
    when its connection is dropped or reset, so a GET that meets reset, hang or a reboot reaches the
    emulator twice, and a connection fault with times=1 is invisible to it. The connection faults
    here therefore have no `times`."""
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))
    yield session
    await session.close()


class Control:
    """The control plane over HTTP, on its own connections (as a test would use it)."""

    def __init__(self, base: str):
        self.base = base + "/_emulator"
        # No keep-alive: the server's connections are then only the API clients' own.
        self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True))

    async def call(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            return resp.status, await resp.json()

    async def fault(self, **spec: Any) -> dict[str, Any]:
        status, body = await self.call("POST", "/faults", json=spec)
        assert status == 201, body
        return body

    async def advance(self, seconds: float) -> None:
        status, body = await self.call("POST", "/clock", json={"advance": seconds})
        assert status == 200, body

    async def act(self, name: str, **params: Any) -> Any:
        status, body = await self.call("POST", f"/actions/{name}", json=params)
        assert status == 200, body
        return body["result"]


@pytest.fixture
async def ctl(emu):
    control = Control(emu.url)
    yield control
    await control.session.close()


async def get(session: aiohttp.ClientSession, emu: Emulator, path: str, method: str = "GET",
              **params: Any) -> tuple[int, Any, bytes]:
    async with session.request(method, emu.url + path, params=params) as resp:
        return resp.status, resp.headers, await resp.read()


def py2n_options(emu: Emulator) -> Py2NConnectionData:
    return Py2NConnectionData(host=f"127.0.0.1:{emu.ports['http']}")


async def events(session: aiohttp.ClientSession, emu: Emulator, channel: int) -> list[dict]:
    status, _, body = await get(session, emu, "/api/log/pull", id=channel)
    assert status == 200
    return json.loads(body)["result"]["events"]


async def subscribe(session: aiohttp.ClientSession, emu: Emulator, **params: Any) -> int:
    _, _, body = await get(session, emu, "/api/log/subscribe", **params)
    return json.loads(body)["result"]["id"]


# -- transport faults ------------------------------------------------------------------------


async def test_delay_answers_late_then_on_time(emu, ctl, http):
    await ctl.fault(kind="delay", ms=400, times=1)
    started = time.monotonic()
    status, _, body = await get(http, emu, "/api/system/info")
    late = time.monotonic() - started
    assert status == 200 and json.loads(body)["success"] is True
    assert 0.38 <= late < 5
    started = time.monotonic()
    await get(http, emu, "/api/system/info")
    assert time.monotonic() - started < 0.3  # times=1: the next one is on time


async def test_delay_with_jitter_stays_within_its_bounds(emu, ctl, http):
    await ctl.fault(kind="delay", ms=100, jitter_ms=200, seed=3)
    for _ in range(3):
        started = time.monotonic()
        await get(http, emu, "/api/system/status")
        assert 0.09 <= time.monotonic() - started < 3


async def test_slow_body_arrives_in_pieces_over_time_and_whole(emu, ctl, http):
    _, _, normal = await get(http, emu, "/api/system/info")
    await ctl.fault(kind="slow_body", chunk=64, interval_ms=100)
    arrivals: list[tuple[float, int]] = []
    started = time.monotonic()
    async with http.get(emu.url + "/api/system/info") as resp:
        assert resp.status == 200
        assert resp.headers["Content-Length"] == str(len(normal))
        received = b""
        async for piece in resp.content.iter_any():
            arrivals.append((time.monotonic() - started, len(piece)))
            received += piece
    assert received == normal  # slow, but the full, correct body
    assert len(arrivals) >= 4  # in pieces...
    assert arrivals[-1][0] - arrivals[0][0] >= 0.3  # ...spread over time
    assert max(size for _, size in arrivals) <= 64


async def test_reset_is_a_connection_error_not_a_reply(emu, ctl, http):
    await ctl.fault(kind="reset")
    with pytest.raises(CONNECTION_ERRORS):
        await get(http, emu, "/api/system/info")
    # requests (urllib3) sees it the same way
    with pytest.raises(requests.ConnectionError):
        await asyncio.to_thread(requests.get, emu.url + "/api/system/info", timeout=5)


async def test_hang_until_the_client_gives_up(emu, ctl, http):
    await ctl.fault(kind="hang")  # the default: 600 s
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        await get_with_timeout(http, emu, 1)
    assert 0.9 <= time.monotonic() - started < 3
    # The client gave up and closed its connection: the server lets go of it too.
    deadline = time.monotonic() + 3
    while emu.runner.server.connections:
        assert time.monotonic() < deadline, "the server still holds the hung connection"
        await asyncio.sleep(0.02)


async def get_with_timeout(session, emu, seconds):
    async with session.get(emu.url + "/api/system/info", timeout=aiohttp.ClientTimeout(total=seconds)) as resp:
        return await resp.read()


async def test_hang_ends_by_itself_after_its_seconds(emu, ctl, http):
    await ctl.fault(kind="hang", seconds=0.5)
    started = time.monotonic()
    with pytest.raises(aiohttp.ServerDisconnectedError):
        await get_with_timeout(http, emu, 10)
    assert 0.45 <= time.monotonic() - started < 5  # closed without a reply, not kept forever


async def test_truncate_sends_part_of_the_announced_body(emu, ctl, http):
    await ctl.fault(kind="truncate", fraction=0.5)
    with pytest.raises(aiohttp.ClientPayloadError):
        await get(http, emu, "/api/system/info")
    with pytest.raises(requests.exceptions.ChunkedEncodingError):  # urllib3's IncompleteRead
        await asyncio.to_thread(lambda: requests.get(emu.url + "/api/system/info", timeout=5).content)


# -- HTTP faults ------------------------------------------------------------------------------


async def test_status_replaces_the_reply(emu, ctl, http):
    await ctl.fault(kind="status", status=503, body="Service Unavailable")
    status, headers, body = await get(http, emu, "/api/system/info")
    assert status == 503
    assert body == b"Service Unavailable"
    assert headers["Server"].startswith("HIP")


async def test_content_type_fails_py2n_s_check(emu, ctl):
    async with aiohttp.ClientSession() as session:
        info = await py2n_utils.api_request(session, py2n_options(emu), "system/info")
        assert info["variant"] == "2N IP Verso"
        await ctl.fault(kind="content_type", value="text/html")
        with pytest.raises(DeviceUnsupportedError, match="content type"):
            await py2n_utils.api_request(session, py2n_options(emu), "system/info")
        async with session.get(emu.url + "/api/system/info") as resp:
            assert resp.content_type == "text/html"
            assert json.loads(await resp.read())["success"] is True  # the body itself is intact


async def test_html_page_instead_of_json(emu, ctl, http):
    await ctl.fault(kind="html", status=200)
    status, headers, body = await get(http, emu, "/api/system/info")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert body.lstrip().lower().startswith(b"<!doctype html")
    with pytest.raises(ValueError):
        json.loads(body)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeviceUnsupportedError):
            await py2n_utils.api_request(session, py2n_options(emu), "system/info")


# -- 2N envelope faults -----------------------------------------------------------------------


async def test_error_code_9_is_a_401_with_the_envelope(emu, ctl, http):
    await ctl.fault(kind="error", code=9)
    status, headers, body = await get(http, emu, "/api/switch/status")
    assert status == 401
    assert headers["Content-Type"].startswith("application/json")
    assert json.loads(body) == {"success": False, "error": {"code": 9, "description": ErrorCode(9).description}}


async def test_error_code_12_with_param(emu, ctl, http):
    await ctl.fault(kind="error", code=12, param="switch", path="/api/switch/ctrl")
    status, _, body = await get(http, emu, "/api/switch/ctrl", switch=1, action="on")
    assert status == 200
    error = json.loads(body)["error"]
    assert error["code"] == 12 and error["param"] == "switch"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeviceApiError) as raised:
            await py2n_utils.api_request(session, py2n_options(emu), "switch/ctrl?switch=1&action=on")
    assert raised.value.error is Py2nApiError.INVALID_PARAMETER_VALUE
    # the function never ran: the switch did not move
    _, _, body = await get(http, emu, "/api/switch/status", switch=1)
    assert json.loads(body)["result"]["switches"][0]["active"] is False


async def test_error_with_a_code_the_manual_does_not_define(emu, ctl, http):
    await ctl.fault(kind="error", code=4242, description="odd")
    _, _, body = await get(http, emu, "/api/system/info")
    assert json.loads(body)["error"] == {"code": 4242, "description": "odd"}


async def test_no_success_drops_the_success_key(emu, ctl, http):
    await ctl.fault(kind="no_success")
    status, _, body = await get(http, emu, "/api/system/info")
    data = json.loads(body)
    assert status == 200 and "success" not in data and data["result"]["variant"] == "2N IP Verso"
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeviceUnsupportedError, match="malformed"):
            await py2n_utils.api_request(session, py2n_options(emu), "system/info")


async def test_bad_json_does_not_parse(emu, ctl, http):
    await ctl.fault(kind="bad_json")
    status, headers, body = await get(http, emu, "/api/system/info")
    assert status == 200 and headers["Content-Type"].startswith("application/json")
    assert body.startswith(b"{")
    with pytest.raises(ValueError):
        json.loads(body)
    async with http.get(emu.url + "/api/system/info") as resp:
        with pytest.raises(json.JSONDecodeError):
            await resp.json()


# -- device faults ----------------------------------------------------------------------------


async def test_reboot_refuses_the_api_for_its_window_then_boots_fresh(emu, ctl, http):
    channel = await subscribe(http, emu)
    _, _, before = await get(http, emu, "/api/system/info")
    await ctl.advance(100)
    described = await ctl.fault(kind="reboot", seconds=5)
    assert described["scope"] == "device" and described["hits"] == 1
    with pytest.raises(CONNECTION_ERRORS):
        await get(http, emu, "/api/system/status")
    await ctl.advance(4.9)
    with pytest.raises(CONNECTION_ERRORS):
        await get(http, emu, "/api/system/info")
    await ctl.advance(0.1)
    status, _, body = await get(http, emu, "/api/system/status")
    assert status == 200 and json.loads(body)["result"]["upTime"] == 0
    _, _, after = await get(http, emu, "/api/system/info")
    assert json.loads(after)["result"]["bootUuid"] != json.loads(before)["result"]["bootUuid"]
    # the event log starts again: DeviceState, id 1
    fresh = await subscribe(http, emu, include="all")
    log = await events(http, emu, fresh)
    assert log[0]["id"] == 1 and log[0]["event"] == "DeviceState"
    # the old channel is gone
    _, _, body = await get(http, emu, "/api/log/pull", id=channel)
    assert json.loads(body)["error"]["code"] == 12


async def test_reboot_during_a_waiting_pull_closes_it_like_a_real_reboot(emu, ctl, http):
    channel = await subscribe(http, emu)

    async def long_pull():
        async with http.get(emu.url + "/api/log/pull", params={"id": channel, "timeout": 60}) as resp:
            return resp.status, await resp.read()

    pull = asyncio.create_task(long_pull())
    deadline = time.monotonic() + 5
    while not any(c.waiting for c in emu.device.channels):  # the pull reached the device and waits
        assert time.monotonic() < deadline
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await ctl.fault(kind="reboot", seconds=3)
    with pytest.raises(CONNECTION_ERRORS):
        await asyncio.wait_for(pull, 10)  # a connection error, not an empty reply
    assert time.monotonic() - started < 3  # promptly, not after the pull's 60 s
    await ctl.advance(3)
    _, _, body = await get(http, emu, "/api/log/pull", id=channel, timeout=0)
    assert json.loads(body) == {"success": False, "error": {"code": 12, "param": "id",
                                                            "description": ErrorCode(12).description}}
    status, _ = await ctl.call("GET", "/ready")
    assert status == 200


async def test_nonces_a_digest_client_gets_stale_once_and_recovers(start, ctl_for):
    emu = await start(auth="digest")
    ctl = await ctl_for(emu)
    seen: list[tuple[int, str | None]] = []

    async def recorder(request, handler):
        response = await handler(request)
        seen.append((response.status, response.headers.get("WWW-Authenticate")))
        return response

    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"), recorder)) as s:
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 200
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 200
        assert [status for status, _ in seen] == [401, 200, 200]  # the first challenge, then its nonce
        seen.clear()
        await ctl.fault(kind="nonces")
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 200  # recovered transparently
            assert (await resp.json())["success"] is True
        assert len(seen) == 2
        assert seen[0][0] == 401 and "stale=true" in seen[0][1]
        assert seen[1][0] == 200
        seen.clear()
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 200
        assert [status for status, _ in seen] == [200]  # once: the new nonce works


@pytest.fixture
async def ctl_for():
    controls: list[Control] = []

    async def make(emu: Emulator) -> Control:
        controls.append(Control(emu.url))
        return controls[-1]

    yield make
    for control in controls:
        await control.session.close()


async def test_events_drop_a_channel_misses_the_event(emu, ctl, http):
    channel = await subscribe(http, emu, filter="KeyPressed")
    await ctl.fault(kind="events", mode="drop", events=["KeyPressed"], times=1)
    await ctl.act("press", key="5")
    assert await events(http, emu, channel) == []
    await ctl.act("press", key="6")  # times=1: delivered again
    assert [e["params"]["key"] for e in await events(http, emu, channel)] == ["6"]


async def test_events_duplicate_the_same_event_twice(emu, ctl, http):
    channel = await subscribe(http, emu, filter="KeyPressed")
    await ctl.fault(kind="events", mode="duplicate", events=["KeyPressed"])
    await ctl.act("press", key="5")
    got = await events(http, emu, channel)
    assert len(got) == 2
    assert got[0] == got[1] and got[0]["params"]["key"] == "5"


async def test_events_delay_arrives_after_device_seconds(emu, ctl, http):
    channel = await subscribe(http, emu, filter="KeyPressed")
    await ctl.fault(kind="events", mode="delay", seconds=3, events=["KeyPressed"])
    await ctl.act("press", key="5")
    assert await events(http, emu, channel) == []
    await ctl.advance(2.9)
    assert await events(http, emu, channel) == []
    await ctl.advance(0.1)
    got = await events(http, emu, channel)
    assert [e["params"]["key"] for e in got] == ["5"]


async def test_events_fault_spares_the_events_it_does_not_name(emu, ctl, http):
    channel = await subscribe(http, emu, filter="KeyPressed,KeyReleased")
    await ctl.fault(kind="events", mode="drop", events=["KeyReleased"])
    await ctl.act("press", key="5")
    assert [e["event"] for e in await events(http, emu, channel)] == ["KeyPressed"]


async def snapshot(session, emu) -> bytes:
    status, headers, body = await get(session, emu, "/api/camera/snapshot", width=640, height=480)
    assert status == 200 and headers["Content-Type"] == "image/jpeg"
    assert int(headers["Content-Length"]) == len(body)
    return body


def decoded(jpeg: bytes) -> bytes | None:
    try:
        with Image.open(io.BytesIO(jpeg)) as picture:
            picture.load()
            return picture.tobytes()
    except OSError:
        return None


async def test_snapshot_corrupt_does_not_decode_to_the_real_picture(emu, ctl, http):
    real = await snapshot(http, emu)
    assert decoded(real) is not None
    await ctl.fault(kind="snapshot", mode="corrupt")
    corrupt = await snapshot(http, emu)
    assert len(corrupt) == len(real) and corrupt != real
    assert decoded(corrupt) != decoded(real)  # Pillow fails, or the picture differs


async def test_snapshot_truncate_is_shorter_than_a_real_one(emu, ctl, http):
    real = await snapshot(http, emu)
    await ctl.fault(kind="snapshot", mode="truncate")
    short = await snapshot(http, emu)  # Content-Length matches: the client reads all of it
    assert len(short) < len(real) and real.startswith(short)
    assert decoded(short) is None


async def test_snapshot_fault_leaves_other_functions_alone(emu, ctl, http):
    await ctl.fault(kind="snapshot")
    status, _, body = await get(http, emu, "/api/system/info")
    assert status == 200 and json.loads(body)["success"] is True


# -- which requests a fault hits ----------------------------------------------------------


async def test_path_glob_picks_the_functions(emu, ctl, http):
    await ctl.fault(kind="status", status=503, path="/api/switch/*")
    assert (await get(http, emu, "/api/switch/status"))[0] == 503
    assert (await get(http, emu, "/api/switch/caps"))[0] == 503
    assert (await get(http, emu, "/api/system/info"))[0] == 200
    assert (await get(http, emu, "/api/io/status"))[0] == 200


async def test_methods_pick_the_requests(emu, ctl, http):
    await ctl.fault(kind="status", status=503, methods=["post"])
    assert (await get(http, emu, "/api/system/info"))[0] == 200
    # With a body: fw 2.50 refuses an empty octet-stream POST (a refusal is not faulted).
    async with http.post(emu.url + "/api/system/info", data={"lang": "en"}) as resp:
        assert resp.status == 503


async def test_times_then_recover(emu, ctl, http):
    fault = await ctl.fault(kind="status", status=503, times=2)
    assert (await get(http, emu, "/api/system/info"))[0] == 503
    _, listed = await ctl.call("GET", "/faults")
    assert [(f["id"], f["hits"]) for f in listed] == [(fault["id"], 1)]
    assert (await get(http, emu, "/api/system/info"))[0] == 503
    assert (await get(http, emu, "/api/system/info"))[0] == 200  # the (times+1)th is normal
    assert (await get(http, emu, "/api/system/info"))[0] == 200
    assert (await ctl.call("GET", "/faults"))[1] == []


@pytest.mark.parametrize(("spec", "path"), [
    ({"kind": "content_type", "value": "text/html"}, "/api/system/info"),
    ({"kind": "no_success"}, "/api/system/info"),
    ({"kind": "bad_json"}, "/api/system/info"),
    ({"kind": "bad_json"}, "/api/switch/caps"),
    ({"kind": "slow_body", "interval_ms": 1}, "/api/system/info"),
    ({"kind": "truncate"}, "/api/switch/caps"),
    ({"kind": "snapshot", "mode": "corrupt"}, "/api/camera/snapshot?width=640&height=480"),
    ({"kind": "snapshot", "mode": "truncate"}, "/api/camera/snapshot?width=640&height=480"),
])
async def test_a_fault_that_recovered_leaves_no_trace_in_later_replies(emu, ctl, spec, path):
    """Replies may be cached (system/info, the caps, JPEGs): a fault must bend its own copy only."""
    async with aiohttp.ClientSession() as session:
        async def fetch() -> tuple[int, str, bytes]:
            async with session.get(emu.url + path) as resp:
                return resp.status, resp.headers["Content-Type"], await resp.read()

        before = await fetch()
        await ctl.fault(**spec, times=2)  # two: aiohttp retries a GET whose connection was cut
        for _ in range(2):
            try:
                await fetch()
            except aiohttp.ClientError:
                pass
        assert (await ctl.call("GET", "/faults"))[1] == []
        assert await fetch() == before
        assert await fetch() == before


async def test_times_counts_only_the_requests_it_hits(emu, ctl, http):
    await ctl.fault(kind="status", status=503, path="/api/switch/status", times=1)
    for _ in range(3):
        assert (await get(http, emu, "/api/system/info"))[0] == 200
    assert (await get(http, emu, "/api/switch/status"))[0] == 503
    assert (await get(http, emu, "/api/switch/status"))[0] == 200


async def hit_pattern(ctl, http, emu, seed: int | None, probability: float, n: int = 40) -> list[bool]:
    fault = await ctl.fault(kind="status", status=503, probability=probability, seed=seed)
    pattern = [(await get(http, emu, "/api/system/info"))[0] == 503 for _ in range(n)]
    await ctl.call("DELETE", f"/faults/{fault['id']}")
    return pattern


async def test_probability_with_a_seed_is_reproducible(emu, ctl, http):
    first = await hit_pattern(ctl, http, emu, seed=7, probability=0.5)
    again = await hit_pattern(ctl, http, emu, seed=7, probability=0.5)
    other = await hit_pattern(ctl, http, emu, seed=8, probability=0.5)
    assert first == again
    assert 0 < sum(first) < len(first)  # really random: some hit, some not
    assert other != first


async def test_probability_zero_never_fires_and_one_always_does(emu, ctl, http):
    assert not any(await hit_pattern(ctl, http, emu, seed=None, probability=0, n=100))
    assert all(await hit_pattern(ctl, http, emu, seed=None, probability=1, n=100))


async def test_faults_stack(emu, ctl, http):
    await ctl.fault(kind="delay", ms=200)
    await ctl.fault(kind="status", status=502)
    started = time.monotonic()
    assert (await get(http, emu, "/api/system/info"))[0] == 502
    assert time.monotonic() - started >= 0.19


async def test_faults_never_touch_the_control_plane(emu, ctl, http):
    await ctl.fault(kind="reset", path="*")
    status, _ = await ctl.call("GET", "/health")
    assert status == 200
    status, listed = await ctl.call("GET", "/faults")
    assert status == 200 and listed[0]["kind"] == "reset"


async def test_faulted_requests_are_journalled_with_their_faults(emu, ctl, http):
    await ctl.fault(kind="status", status=503, path="/api/switch/status", times=1)
    await get(http, emu, "/api/switch/status")
    await get(http, emu, "/api/switch/status")
    _, entries = await ctl.call("GET", "/journal", params={"kind": "request", "path": "/api/switch/status"})
    assert [(e["status"], e["faults"]) for e in entries] == [(503, ["status"]), (200, [])]


# -- the faults API ---------------------------------------------------------------------------


async def test_list_and_delete_faults(emu, ctl, http):
    a = await ctl.fault(kind="status", status=503, path="/api/system/info")
    b = await ctl.fault(kind="delay", ms=10, path="/api/io/*", methods=["GET"], times=3, probability=0.5, seed=1)
    status, listed = await ctl.call("GET", "/faults")
    assert status == 200
    assert [f["id"] for f in listed] == [a["id"], b["id"]]
    assert listed[1] == {"id": b["id"], "kind": "delay", "scope": "request", "path": "/api/io/*", "methods": ["GET"],
                         "authenticated": False,
                         "times": 3, "probability": 0.5, "seed": 1, "hits": 0, "ms": 10.0, "jitter_ms": 0.0}
    assert (await ctl.call("DELETE", f"/faults/{a['id']}")) == (200, {"ok": True})
    assert (await get(http, emu, "/api/system/info"))[0] == 200
    status, body = await ctl.call("DELETE", f"/faults/{a['id']}")
    assert status == 404 and "error" in body
    status, body = await ctl.call("DELETE", "/faults/abc")
    assert status == 404 and "error" in body
    assert [f["id"] for f in (await ctl.call("GET", "/faults"))[1]] == [b["id"]]
    assert (await ctl.call("DELETE", "/faults")) == (200, {"ok": True})
    assert (await ctl.call("GET", "/faults"))[1] == []


async def test_fault_ids_are_not_reused(emu, ctl):
    a = await ctl.fault(kind="status")
    await ctl.call("DELETE", "/faults")
    b = await ctl.fault(kind="status")
    assert b["id"] != a["id"]


@pytest.mark.parametrize(("spec", "named"), [
    ({"kind": "explode"}, "kind"),
    ({}, "kind"),
    ({"kind": "delay", "msec": 10}, "msec"),
    ({"kind": "delay", "ms": "slow"}, "ms"),
    ({"kind": "delay", "ms": -1}, "ms"),
    ({"kind": "delay", "ms": float("nan")}, "ms"),
    ({"kind": "slow_body", "interval_ms": float("inf")}, "interval_ms"),
    ({"kind": "events", "mode": "delay", "seconds": float("nan")}, "seconds"),
    ({"kind": "status", "status": 99}, "status"),
    ({"kind": "status", "times": 0}, "times"),
    ({"kind": "status", "probability": 1.5}, "probability"),
    ({"kind": "status", "seed": "x"}, "seed"),
    ({"kind": "status", "methods": "GET"}, "methods"),
    ({"kind": "error"}, "code"),
    ({"kind": "events", "mode": "scramble"}, "mode"),
    ({"kind": "snapshot", "mode": "blur"}, "mode"),
    ({"kind": "truncate", "fraction": 1}, "fraction"),
    ({"kind": "hang", "seconds": 0}, "seconds"),
    ({"kind": "reboot", "seconds": -1}, "seconds"),
    ({"kind": "stream", "mode": "freeze"}, "mode"),
    ({"kind": "stream", "seconds": 0}, "seconds"),
])
async def test_a_bad_fault_is_400_naming_the_field(emu, ctl, spec, named):
    status, body = await ctl.call("POST", "/faults", json=spec)
    assert status == 400
    assert named in body["error"]
    assert (await ctl.call("GET", "/faults"))[1] == []  # nothing half-added
    assert emu.device.online  # a bad reboot did not reboot


async def test_a_fault_that_is_not_an_object_is_400(emu, ctl):
    for body in ("[1, 2]", "not json"):
        async with ctl.session.post(ctl.base + "/faults", data=body,
                                    headers={"Content-Type": "application/json"}) as resp:
            assert resp.status == 400
            assert "error" in await resp.json()


async def test_a_stream_fault_without_an_rtsp_server_waits_for_streams_and_leaves_http_alone(emu, ctl, make_client):
    """What it does to live streams is in tests/media/test_rtsp.py; here: the registry keeps it."""
    fault = await ctl.fault(kind="stream", mode="cut", path="/h264_stream")
    assert fault["scope"] == "stream" and fault["hits"] == 0 and fault["seconds"] == 5.0
    assert (await make_client(emu).get("/api/system/info")).status == 200
    assert [f["kind"] for f in (await ctl.call("GET", "/faults"))[1]] == ["stream"]


def test_every_kind_has_a_test_here():
    """The registry and this file agree: a new fault kind needs its client-side test."""
    import inspect
    import sys

    source = inspect.getsource(sys.modules[__name__])
    missing = [kind for kind in KINDS if f'kind="{kind}"' not in source]
    assert missing == []


# -- faults and authentication -----------------------------------------------------------------------


async def test_a_digest_challenge_round_trip_does_not_use_up_times(start, ctl_for):
    """A Digest client's first request is answered with the challenge (401); `times: 1` must
    still hit the request it then sends with credentials."""
    emu = await start(auth="digest")
    ctl = await ctl_for(emu)
    await ctl.fault(kind="status", status=503, path="/api/system/status", times=1)
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as s:
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 503
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 200  # recovered after one hit
    assert [(e["status"], e["faults"]) for e in emu.journal.find("request")] == \
        [(401, []), (503, ["status"]), (200, [])]


async def test_authenticated_faults_hit_only_requests_that_authenticated(start, ctl_for):
    emu = await start(auth="digest")
    ctl = await ctl_for(emu)
    fault = await ctl.fault(kind="status", status=503, authenticated=True)
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as s:
        async with s.get(emu.url + "/api/system/info") as resp:
            assert resp.status == 200  # public: no account, not hit
        async with s.get(emu.url + "/api/system/status") as resp:
            assert resp.status == 503
    async with aiohttp.ClientSession() as s:
        basic = {"Authorization": "Basic " + base64.b64encode(b"admin:2n").decode()}
        async with s.get(emu.url + "/api/system/status", headers=basic) as resp:
            assert (await resp.json())["error"]["code"] == 8  # refused before any fault
    assert [f["hits"] for f in (await ctl.call("GET", "/faults"))[1] if f["id"] == fault["id"]] == [1]
