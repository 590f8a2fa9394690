"""The real PyPI client py2n (0.6.x, linusgke/py2n) against a live emulator, unmodified.

Every method py2n offers is called as an integration (helios2n-hass, hass-2n-verso) calls it,
over HTTP and HTTPS, with Basic (preemptive aiohttp.BasicAuth) and with Digest (aiohttp's
DigestAuthMiddleware). research/clients.md section 1 lists what py2n requests and what it reads;
its strictness (JSON Content-Type on every reply including 401s, a `success` key, error codes
from its enum) is checked on the way, since any slip raises DeviceUnsupportedError.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import aiohttp
import pytest

py2n = pytest.importorskip("py2n")
from client_helpers import ADMIN, event_shape_ok, host_port, wait_until_waiting
from py2n import Py2NConnectionData, Py2NDevice
from py2n.exceptions import (
    ApiError,
    DeviceApiError,
    DeviceConnectionError,
    DeviceUnsupportedError,
    Py2NError,
)

# py2n 0.6 uses aiohttp.BasicAuth and `auth=`, which aiohttp 3.14 deprecates: the client's business.
pytestmark = [pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")]

COMBOS = [
    pytest.param("http", "basic", marks=pytest.mark.helios(auth="basic", clock="virtual"), id="http-basic"),
    pytest.param("https", "basic", marks=pytest.mark.helios(auth="basic", clock="virtual"), id="https-basic"),
    pytest.param("http", "digest", marks=pytest.mark.helios(clock="virtual"), id="http-digest"),
    pytest.param("https", "digest", marks=pytest.mark.helios(clock="virtual"), id="https-digest"),
]


def options(helios, protocol: str, auth_method: str, user=ADMIN) -> Py2NConnectionData:
    url = helios.url if protocol == "http" else helios.https_url
    name, password = user if user is not None else (None, None)
    return Py2NConnectionData(host=host_port(url), username=name, password=password,
                              auth_method=auth_method, protocol=protocol)


async def create(helios, session, protocol: str, auth_method: str) -> Py2NDevice:
    return await Py2NDevice.create(session, options(helios, protocol, auth_method))


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_create_reads_identity_switches_ports_and_log_caps(helios, protocol, auth_method):
    ident = helios.device.identity
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        d = dev.data
    assert (d.name, d.model, d.serial, d.hardware) == ("2N IP Verso", "2N IP Verso", ident.serial_number, "570v1")
    assert d.mac == "7c-1e-b3-0a-2f-51"
    assert d.firmware == "2.50.0.76.2-release"  # f"{swVersion}-{buildType}"
    # Uptime = now - upTime: the device booted just now (py2n uses the wall clock).
    assert abs((datetime.now(UTC) - d.uptime).total_seconds()) < 5
    # Four switches: 1 and 2 enabled monostable, 3 and 4 disabled (no mode) - py2n 0.6 creates
    # entries for every switch, active or not.
    assert [(s.id, s.enabled, s.mode, s.active, s.locked) for s in d.switches] == [
        (1, True, "monostable", False, False), (2, True, "monostable", False, False),
        (3, False, None, False, False), (4, False, None, False, False)]
    # A port appears only when it is in both io/caps and io/status.
    assert [(p.id, p.type, p.state) for p in d.ports] == [
        ("relay1", "output", 0), ("output1", "output", 0), ("led_secured", "output", 0),
        ("input1", "input", 0), ("tamper", "input", 0)]
    assert {"AudioLoopTest", "SwitchStateChanged", "OutputChanged", "CallStateChanged"} <= set(d.log_caps)

    seen = [(r["path"], r["status"]) for r in helios.requests()]
    paths = [p for p, status in seen if status == 200]
    assert paths == ["/api/system/info", "/api/log/caps", "/api/io/caps", "/api/io/status", "/api/system/status",
                     "/api/switch/caps", "/api/switch/status"]
    assert all(r["transport"] == protocol for r in helios.requests())
    if auth_method == "digest":
        # aiohttp's middleware is preemptive: one 401 to learn the nonce (system/info is public,
        # so that first 401 comes with log/caps), then the same nonce with nc 2, 3, ...
        assert [p for p, status in seen if status == 401] == ["/api/log/caps"]
    else:
        assert all(status == 200 for _, status in seen)


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_set_switch_and_port_then_update_status(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        await dev.set_switch(1, True)
        await dev.update_switch_status()
        assert dev.get_switch(1) is True
        assert dev.data.switches[0].locked is False
        assert helios.device.switches.get(1).active
        await dev.set_switch(1, False)
        await dev.update_switch_status()
        assert dev.get_switch(1) is False

        # Monostable: "on" turns itself off after switchOnDuration (5 s in the profile).
        await dev.set_switch(2, True)
        helios.advance(5)
        await dev.update_switch_status()
        assert dev.get_switch(2) is False

        with pytest.raises(Py2NError, match="switch disabled"):
            await dev.set_switch(3, True)  # refused by py2n itself: caps say disabled

        await dev.set_port("output1", True)
        await dev.update_port_status()
        assert {p.id: p.state for p in dev.data.ports}["output1"] == 1
        await dev.set_port("output1", False)
        await dev.update_port_status()
        assert {p.id: p.state for p in dev.data.ports}["output1"] == 0
        with pytest.raises(Py2NError, match="input port"):
            await dev.set_port("input1", True)

    ctrl = [r["params"] for r in helios.requests(path="/api/switch/ctrl") if r["status"] == 200]
    assert ctrl == [{"switch": "1", "action": "on"}, {"switch": "1", "action": "off"}, {"switch": "2", "action": "on"}]
    io = [r["params"] for r in helios.requests(path="/api/io/ctrl") if r["status"] == 200]
    assert io == [{"port": "output1", "action": "on"}, {"port": "output1", "action": "off"}]


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_log_subscribe_pull_unsubscribe_with_filter(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        cid = await dev.log_subscribe(include="new", filter=["SwitchStateChanged"], duration=60)
        assert isinstance(cid, int) and 0 < cid < 2**32

        await dev.set_port("output1", True)  # OutputChanged: not in the filter
        await dev.set_switch(2, True)  # SwitchStateChanged (and OutputChanged of its output)
        events = await dev.log_pull(cid, timeout=2)  # queued: comes back at once
        assert [e["event"] for e in events] == ["SwitchStateChanged"]
        assert events[0]["params"]["switch"] == 2 and events[0]["params"]["state"] is True
        for event in events:
            event_shape_ok(event)

        # Nothing queued: the pull waits exactly `timeout` seconds of device time, then [].
        pull = asyncio.create_task(dev.log_pull(cid, timeout=3))
        await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull")
        await asyncio.to_thread(helios.advance, 2.9)
        await asyncio.sleep(0.2)
        assert not pull.done()
        await asyncio.to_thread(helios.advance, 0.1)
        assert await asyncio.wait_for(pull, 5) == []

        # The switch turns off after 5 s: that event arrives too.
        pull = asyncio.create_task(dev.log_pull(cid, timeout=10))
        await asyncio.to_thread(wait_until_waiting, helios, "/api/log/pull")
        await asyncio.to_thread(helios.advance, 3)
        events = await asyncio.wait_for(pull, 5)
        assert [(e["event"], e["params"]["switch"], e["params"]["state"]) for e in events] == [
            ("SwitchStateChanged", 2, False)]

        await dev.log_unsubscribe(cid)
        with pytest.raises(DeviceApiError) as err:
            await dev.log_pull(cid, timeout=0)
        assert err.value.error == ApiError.INVALID_PARAMETER_VALUE  # code 12: the client resubscribes


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_audio_test_reports_audio_loop_test(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        cid = await dev.log_subscribe(filter=["AudioLoopTest"])
        await dev.audio_test()
        helios.advance(2)  # the profile's audio_test_seconds
        events = await dev.log_pull(cid, timeout=0)
    assert [(e["event"], e["params"]) for e in events] == [("AudioLoopTest", {"result": "passed"})]


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_restart_goes_down_and_comes_back(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        boot = helios.device.boot_uuid
        helios.advance(100)
        await dev.update_system_status()
        await dev.restart()
        # The device is down: py2n sees a connection error, as with a real reboot.
        with pytest.raises(DeviceConnectionError):
            await dev.update()
        helios.advance(3)  # the profile's restart_seconds
        await dev.update()  # the same session and credentials work again
        assert helios.device.boot_uuid != boot
        assert helios.device.uptime == 0
        cid = await dev.log_subscribe(include="all")
        events = await dev.log_pull(cid)
    assert (events[0]["id"], events[0]["event"], events[0]["params"]) == (1, "DeviceState", {"state": "startup"})


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_directory_template_query_update(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        template = await dev.get_dir_template()
        assert isinstance(template, list) and {"uuid", "name", "callPos"} <= set(template[0])

        users = await dev.query_dir({})
        reception = next(u for u in users if u["name"] == "Reception")
        assert reception["callPos"][0]["peer"] == "sip:100@sip.example.com"
        assert reception["access"]["card"] == ["1A2B3C4D"]

        changed = await dev.update_dir([{"uuid": reception["uuid"], "name": "Front desk"}])
        assert [u["uuid"] for u in changed] == [reception["uuid"]]

        users = await dev.query_dir({"fields": ["name"]})
        names = {u["uuid"]: u["name"] for u in users}
        assert names[reception["uuid"]] == "Front desk"
    assert [r["method"] for r in helios.requests(path="/api/dir/update") if r["status"] == 200] == ["PUT"]
    assert {r["method"] for r in helios.requests(path="/api/dir/query") if r["status"] == 200} == {"POST"}


# -- py2n's strictness --------------------------------------------------------------------------


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_wrong_or_missing_credentials_are_json_401_code_9(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        for user in (("admin", "wrong"), None):
            with pytest.raises(DeviceApiError) as err:
                # system/info is public, so create() fails on log/caps: 401 + JSON code 9.
                await Py2NDevice.create(session, options(helios, protocol, auth_method, user))
            assert err.value.error == ApiError.AUTHORIZATION_REQUIRED
    assert {r["code"] for r in helios.requests(status=401)} == {9}


# Requests that fail on purpose, each with the code py2n must map to its enum.
ERRORS = [
    ("GET", "api/nothing/here", None, ApiError.INVALID_PATH),
    ("PUT", "api/switch/ctrl?switch=1&action=on", None, ApiError.INVALID_METHOD),
    ("GET", "api/firmware", None, ApiError.INVALID_METHOD),
    ("GET", "api/switch/ctrl?action=on", None, ApiError.MISSING_PARAMETER),
    ("GET", "api/switch/ctrl?switch=1&action=explode", None, ApiError.INVALID_PARAMETER_VALUE),
    ("GET", "api/io/ctrl?port=nope&action=on", None, ApiError.INVALID_PARAMETER_VALUE),
    ("GET", "api/camera/snapshot?width=81&height=80", None, ApiError.INVALID_PARAMETER_VALUE),
    ("GET", "api/camera/snapshot?width=640&height=480&fps=16", None, ApiError.INVALID_PARAMETER_VALUE),
    ("GET", "api/call/hangup?session=77", None, ApiError.PROCESSING_ERROR),
    ("GET", "api/firmware/apply", None, ApiError.PROCESSING_ERROR),
    ("GET", "api/call/dial?number=sip:1@x&users=AAAAAAAA-0000-0000-0000-000000000001",
     None, ApiError.PARAMETER_COLLISION),
    ("GET", "api/log/pull?id=1", None, ApiError.INVALID_PARAMETER_VALUE),
    ("PUT", "api/dir/update", {"users": "not a list"}, ApiError.INVALID_PARAMETER_VALUE),
]


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
async def test_errors_are_json_with_codes_from_py2n_enum(helios, protocol, auth_method):
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, protocol, auth_method)
        for method, endpoint, body, expected in ERRORS:
            with pytest.raises(DeviceApiError) as err:
                await dev.api_request(endpoint, method=method, json=body)
            assert err.value.error == expected, (method, endpoint)


@pytest.mark.helios(clock="virtual")
async def test_every_json_function_answers_in_py2n_terms(helios):
    """Every path of the route table, asked with GET and no parameters through py2n's own
    api_request: a JSON reply with `success`, and on failure a code py2n knows. Only functions
    whose reply is not JSON by design (config XML, pcap) or that reboot are left out."""
    from emulator.api.routes import ROUTES

    skip = {"/api/system/restart", "/api/config/factoryreset", "/api/config", "/api/pcap"}
    async with aiohttp.ClientSession() as session:
        dev = await create(helios, session, "http", "digest")
        for path in sorted(set(ROUTES) - skip):
            try:
                await dev.api_request(path)
            except DeviceApiError:
                pass  # a code from py2n's enum (DeviceUnsupportedError would escape)
            except DeviceUnsupportedError as exc:  # pragma: no cover - the failure being tested
                pytest.fail(f"{path}: py2n rejects the reply: {exc}")
    codes = {r["code"] for r in helios.requests() if r["code"] is not None}
    assert codes and codes <= {1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19}
