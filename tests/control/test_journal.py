"""The journal: what was asked of the device (every /api request) and what the device did, in
device terms (a switch on, then off after so long; a call dialled, connected, hung up; an e-mail;
a restart and boot). Read and filtered with GET /_emulator/journal, cleared with DELETE, and
bounded by journal_size however long the emulator runs.
"""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import aiohttp
import pytest

from emulator.device.clock import VirtualClock
from tests.support import form


@pytest.fixture
async def emu(make_emulator):
    """Digest as admin/2n on every service, HTTP and HTTPS, a virtual clock."""
    emulator = await make_emulator(clock=VirtualClock())
    emulator.clock.advance(2)  # past the SIP registration at boot
    emulator.journal.clear()
    return emulator


@pytest.fixture
async def api(emu, make_client):
    return make_client(emu)


@pytest.fixture
async def control(emu):
    session = aiohttp.ClientSession()

    async def call(method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with session.request(method, emu.url + "/_emulator" + path, **kwargs) as r:
            return r.status, await r.json()

    yield call
    await session.close()


class Control:
    """GET /_emulator/journal of one emulator, page by page."""

    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.session, self.base = session, base

    async def page_at(self, url: str) -> tuple[list[dict], dict[str, str]]:
        async with self.session.get(url) as r:
            assert r.status == 200
            return await r.json(), {str(link["rel"]): str(link["url"]) for link in r.links.values()}

    async def page(self, **query: Any) -> tuple[list[dict], dict[str, str]]:
        return await self.page_at(self.base + "/_emulator/journal?" + "&".join(f"{k}={v}" for k, v in query.items()))

    async def journal(self, **query: Any) -> list[dict]:
        return (await self.page(**query))[0]


@pytest.fixture
async def control_of():
    async with aiohttp.ClientSession() as session:
        yield lambda emu: Control(session, emu.url)


async def journal(control, **query: Any) -> list[dict]:
    status, entries = await control("GET", "/journal", params={k: str(v) for k, v in query.items()})
    assert status == 200
    return entries


async def advance(control, seconds: float) -> None:
    assert (await control("POST", "/clock", json={"advance": seconds}))[0] == 200


# -- request entries -------------------------------------------------------------------------------


async def test_a_request_entry_says_who_asked_what_and_how_it_went(api, control):
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).result is None
    [entry] = await journal(control, kind="request", status=200)  # after the Digest challenge (401)
    assert entry["method"] == "GET"
    assert entry["path"] == "/api/switch/ctrl"
    assert entry["params"] == {"switch": "1", "action": "on"}
    assert entry["account"] == "admin"
    assert entry["transport"] == "http"
    assert entry["status"] == 200
    assert entry["code"] is None
    assert isinstance(entry["duration_ms"], (int, float)) and 0 <= entry["duration_ms"] < 5000
    assert entry["faults"] == []
    assert isinstance(entry["seq"], int) and isinstance(entry["time"], float)


async def test_the_challenge_and_errors_are_journalled_with_their_2n_code(api, control):
    await api.get("/api/switch/ctrl", switch=1, action="explode")  # Digest: a 401 first, then 12
    entries = await journal(control, kind="request")
    assert [(e["status"], e["code"], e["account"]) for e in entries] == [(401, 9, None), (200, 12, "admin")]


async def test_https_requests_say_so(emu, make_client, control):
    client = make_client(emu, scheme="https")
    await client.get("/api/system/status")
    assert {e["transport"] for e in await journal(control, kind="request")} == {"https"}


async def test_posted_parameters_are_journalled_and_passwords_are_not(api, control):
    await api.post("/api/system/info", data={"password": "hunter2", "x": "1"})
    [entry] = await journal(control, kind="request", path="/api/system/info")
    assert entry["method"] == "POST"
    assert entry["params"] == {"password": "***", "x": "1"}
    assert "hunter2" not in str(await journal(control))


async def test_the_control_plane_is_not_journalled(control):
    await control("GET", "/health")
    await control("GET", "/state")
    await control("GET", "/faults")
    assert await journal(control) == []


async def test_faulted_requests_name_their_faults(api, control):
    assert (await control("POST", "/faults", json={"kind": "status", "status": 503, "times": 1}))[0] == 201
    await api.get("/api/system/status")
    # The Digest challenge (401) is neither faulted nor counted: the real request gets the fault.
    assert [(e["status"], e["faults"]) for e in await journal(control, kind="request")] == \
        [(401, []), (503, ["status"])]


# -- action entries --------------------------------------------------------------------------------


async def test_switch_on_then_off_with_its_duration(api, control):
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    await advance(control, 30)
    entries = await journal(control, kind="action", action="switch")
    assert [(e["switch"], e["state"], e.get("duration")) for e in entries] == [(1, "on", None), (1, "off", 5.0)]


async def test_switch_held_on_by_hand_for_so_long(api, control):
    await api.get("/api/switch/ctrl", switch=2, action="on")
    await advance(control, 2.5)
    await api.get("/api/switch/ctrl", switch=2, action="off")
    entries = await journal(control, kind="action", action="switch", switch=2)
    assert [(e["state"], e.get("duration")) for e in entries] == [("on", None), ("off", 2.5)]


async def test_the_relay_output_is_journalled_too(api, control):
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    await advance(control, 5)
    entries = await journal(control, kind="action", action="output")
    assert [(e["port"], e["state"]) for e in entries] == [("relay1", "on"), ("relay1", "off")]


async def test_a_call_dialled_connected_and_hung_up(api, control):
    session = (await api.get("/api/call/dial", number="sip:200@sip.example.com")).result["session"]
    await advance(control, 1)
    assert (await control("POST", "/actions/peer-answers", json={"session": session}))[0] == 200
    await api.get("/api/call/hangup", session=session)
    entries = await journal(control, kind="action", action="call")
    assert [(e["event"], e["session"], e["peer"], e["direction"]) for e in entries] == [
        ("dial", session, "sip:200@sip.example.com", "outgoing"),
        ("connected", session, "sip:200@sip.example.com", "outgoing"),
        ("hangup", session, "sip:200@sip.example.com", "outgoing")]
    assert entries[-1]["reason"] == "normal"


async def test_an_incoming_call(control):
    status, body = await control("POST", "/actions/incoming-call", json={"peer": "sip:300@x"})
    assert status == 200
    [entry] = await journal(control, kind="action", action="call")
    assert entry["event"] == "incoming" and entry["direction"] == "incoming"
    assert entry["session"] == body["result"]["session"]


async def test_an_email(api, control):
    await api.get("/api/email/send", to="someone@example.com", subject="Doorbell")
    [entry] = await journal(control, kind="action", action="email")
    assert entry["to"] == "someone@example.com" and entry["subject"] == "Doorbell"
    assert entry["pictures"] == 0


async def test_a_restart_and_the_boot_after_it(api, control):
    await api.get("/api/system/restart")
    assert [e["action"] for e in await journal(control, kind="action")] == ["restart"]
    await advance(control, 3)
    assert [e["action"] for e in await journal(control, kind="action")][:2] == ["restart", "boot"]


async def test_entries_are_in_order_and_timed_on_the_device_clock(api, control):
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    await advance(control, 10)
    await api.get("/api/system/status")
    entries = await journal(control)
    seqs = [e["seq"] for e in entries]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    times = [e["time"] for e in entries]
    assert times == sorted(times)
    assert times[-1] - times[0] == pytest.approx(10, abs=0.01)


# -- filters, clearing, bounds ----------------------------------------------------------------


async def test_filters_kind_path_prefix_and_code(api, control):
    await api.get("/api/switch/ctrl", switch=1, action="explode")  # 12
    await api.get("/api/switch/status", switch=77)  # 12
    await api.get("/api/switch/status")  # fine
    await api.get("/api/system/info", x="explode")  # another service
    found = await journal(control, kind="request", path="/api/switch/*", code=12)
    assert [(e["path"], e["code"]) for e in found] == [("/api/switch/ctrl", 12), ("/api/switch/status", 12)]
    assert len(await journal(control, kind="request", path="/api/switch/*")) == 4  # and the first challenge
    assert [e["path"] for e in await journal(control, kind="request", path="/api/system/info")] == ["/api/system/info"]
    assert await journal(control, kind="request", path="/api/switch") == []  # no "*": exact
    assert len(await journal(control, kind="request", status=401)) == 1  # the first Digest challenge
    assert await journal(control, kind="nonsense") == []


async def test_delete_clears_and_recording_goes_on(api, control):
    await api.get("/api/system/status")
    assert await journal(control) != []
    assert await control("DELETE", "/journal") == (200, {"ok": True})
    assert await journal(control) == []
    await api.get("/api/system/status")
    assert [e["path"] for e in await journal(control)] == ["/api/system/status"]


async def test_bounded_by_journal_size(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock(), journal_size=50, auth="none")
    api = make_client(emu, user=None)
    for i in range(200):
        await api.get("/api/system/status", n=i)
    entries = emu.journal.find()
    assert len(entries) == 50
    async with aiohttp.ClientSession() as session, session.get(emu.url + "/_emulator/journal") as r:
        served = await r.json()
    assert len(served) == 50
    assert [e["params"]["n"] for e in served] == [str(i) for i in range(150, 200)]  # the newest kept


# -- memory: what one entry keeps, the journal in bytes, and pages ------------------------------------


async def test_one_entry_keeps_short_values_and_says_what_it_cut(make_emulator, control_of):
    emu = await make_emulator(https_port=None, auth="none")
    fields = {"big": "x" * 65_000, "y" * 300: "1", **{f"p{i}": str(i) for i in range(100)}}
    async with aiohttp.ClientSession() as session:
        async with session.post(emu.url + "/api/system/info", data=form(**fields)) as r:
            assert r.status == 200
    [entry] = await control_of(emu).journal(path="/api/system/info")
    params = entry["params"]
    assert len(params) == 64
    assert params["big"] == "x" * 256 + "…"
    assert params["y" * 256 + "…"] == "1"
    assert entry["truncated"] == {"values": {"big": 65_000}, "params": 102}


async def test_bounded_in_bytes_as_well_as_entries(make_emulator, make_client):
    emu = await make_emulator(https_port=None, auth="none", journal_size=100_000, journal_bytes=1 << 20)
    api = make_client(emu, user=None)
    fields = {f"p{i}": "v" * 300 for i in range(64)}
    for _ in range(100):
        assert (await api.post("/api/system/info", data=form(**fields))).status == 200
    assert emu.journal.bytes <= 1 << 20
    kept = emu.journal.find()
    assert 20 < len(kept) < 100
    assert kept[-1]["seq"] == 101  # the newest are kept, the oldest (from the boot on) went


async def test_the_journal_is_served_in_pages_with_links(make_emulator, make_client, control_of):
    emu = await make_emulator(https_port=None, auth="none", clock=VirtualClock())
    api = make_client(emu, user=None)
    for i in range(25):
        await api.get("/api/system/status", n=i)
    control = control_of(emu)
    newest, links = await control.page(limit=10)
    assert [e["params"]["n"] for e in newest] == [str(i) for i in range(15, 25)]
    assert set(links) == {"prev"}
    older, links = await control.page_at(links["prev"])
    assert [e["params"]["n"] for e in older] == [str(i) for i in range(5, 15)]
    assert set(links) == {"prev", "next"}
    first, links = await control.page(kind="request", after=0, limit=10)
    assert [e["params"]["n"] for e in first] == [str(i) for i in range(10)]
    rest = []
    while "next" in links:
        page, links = await control.page_at(links["next"])
        rest += page
    assert [e["params"]["n"] for e in first + rest] == [str(i) for i in range(25)]
    # Filters carry over to the other pages.
    page, links = await control.page(kind="request", path="/api/system/*", limit=1)
    assert [e["params"]["n"] for e in page] == ["24"] and set(links) == {"prev"}
    page, links = await control.page_at(links["prev"])
    assert [(e["kind"], e["params"]["n"]) for e in page] == [("request", "23")]
    assert len((await control.page())[0]) == 26  # the boot and the requests: 1000 at most by default


@pytest.mark.parametrize("query", ["limit=0", "limit=10001", "after=x", "before=-1", "limit=" + "9" * 5000])
async def test_a_bad_page_is_a_400(make_emulator, control_of, query):
    emu = await make_emulator(https_port=None, auth="none")
    async with aiohttp.ClientSession() as session, session.get(f"{emu.url}/_emulator/journal?{query}") as r:
        assert r.status == 400 and query.partition("=")[0] in (await r.json())["error"]


# -- requests the client abandons ------------------------------------------------------------------


async def until(condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("timed out")


async def test_a_pull_the_client_gives_up_on_is_journalled_as_abandoned(emu, api, control, caplog):
    caplog.set_level(logging.INFO, logger="emulator.requests")
    channel = (await api.get("/api/log/subscribe", filter="KeyPressed")).result["id"]
    pull = asyncio.create_task(api.get("/api/log/pull", id=channel, timeout=60))
    await until(lambda: any(c.waiting for c in emu.device.channels))
    assert await journal(control, path="/api/log/pull") == []  # still waiting: not journalled yet
    pull.cancel()  # the client closes its connection
    await until(lambda: emu.journal.find("request", path="/api/log/pull"))
    [entry] = await journal(control, path="/api/log/pull")
    assert (entry["ended"], entry["status"], entry["account"]) == ("abandoned", None, "admin")
    assert entry["params"] == {"id": str(channel), "timeout": "60"}
    line = [r.getMessage() for r in caplog.records if r.name == "emulator.requests"][-1]
    assert " GET /api/log/pull - account=admin " in line and line.endswith(" ended=abandoned")


async def test_an_mjpeg_stream_the_client_closes_is_journalled_as_abandoned(emu, api, control):
    async with api.session.get(emu.url + "/api/camera/snapshot",
                               params={"width": 640, "height": 480, "fps": 15}) as resp:
        assert resp.status == 200
        await resp.content.readexactly(1000)  # the first frame is on its way
        assert await journal(control, path="/api/camera/snapshot", status=200) == []  # still streaming
        resp.close()
    await until(lambda: emu.journal.find("request", path="/api/camera/snapshot", ended="abandoned"))
    [entry] = await journal(control, path="/api/camera/snapshot", ended="abandoned")
    assert (entry["status"], entry["account"], entry["params"]["fps"]) == (None, "admin", "15")


async def test_answered_and_dropped_requests_say_how_they_ended(api, control, emu):
    await api.get("/api/system/status")
    assert (await journal(control, status=200))[-1]["ended"] == "replied"
    assert (await control("POST", "/faults", json={"kind": "reset", "path": "/api/io/status"}))[0] == 201
    with pytest.raises(aiohttp.ClientError):
        await api.get("/api/io/status")
    entries = await journal(control, path="/api/io/status", ended="dropped")
    assert entries and all(e["status"] is None and e["faults"] == ["reset"] for e in entries)


async def test_a_short_reply_is_kept_with_passwords_hidden(api, control):
    await api.get("/api/switch/status", switch=1)
    [entry] = await journal(control, path="/api/switch/status", status=200)
    assert json.loads(entry["reply"])["result"]["switches"][0]["switch"] == 1
    reply = await api.get("/api/config")
    assert b"<Password>2n</Password>" in reply.body  # the device's configuration carries the passwords...
    [entry] = await journal(control, path="/api/config", status=200)
    assert "<Password>***</Password>" in entry["reply"] and ">2n<" not in entry["reply"]  # ...the journal not


def test_a_kept_json_reply_hides_every_password_field():
    from emulator.control.journal import Journal

    journal = Journal(lambda: 0.0)
    reply = b'{"success":true,"result":{"accounts":[{"sipNumber":"4001","password":"s1p"},{"authPassword":"x"}]}}'
    journal.request("GET", "/api/phone/config", {}, None, False, 200, None, 0.0, 0.001, (), reply=reply)
    journal.request("GET", "/api/camera/snapshot", {}, None, False, 200, None, 0.0, 0.001, (),
                    reply=b"\xff\xd8\xff\xe0 a tiny JPEG")
    first, second = journal.entries
    assert json.loads(first["reply"]) == {"success": True, "result": {"accounts": [
        {"sipNumber": "4001", "password": "***"}, {"authPassword": "***"}]}}
    assert second["reply"] == "(16 bytes, binary)"
