"""Every function of the route table over real HTTP, with the reply shape the manual documents.

Time-driven behaviour (switch auto-off, call progress, SIP registration, audio test, restarts)
runs on a VirtualClock that the test advances; nothing here sleeps for device time.
"""

from __future__ import annotations

import io

import aiohttp
import dpkt
import pytest
from lxml import etree
from PIL import Image

from emulator.device import firmware
from emulator.device.clock import VirtualClock
from support import form

VERSO_INFO_KEYS = {"devType", "variant", "variantId", "customerId", "serialNumber", "macAddr", "hwVersion",
                   "swVersion", "buildType", "firmwarePackage", "deviceName", "bootUuid"}
INFO_2_15_KEYS = {"variant", "serialNumber", "hwVersion", "swVersion", "buildType", "deviceName"}


# ----------------------------------------------------------------------------- helpers




def gif(width: int = 320, height: int = 240) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, height), 3).save(out, "GIF")
    return out.getvalue()


async def virtual(make_emulator, make_client, **settings):
    clock = VirtualClock()
    emu = await make_emulator(clock=clock, **settings)
    return emu, make_client(emu), clock


async def subscribe(api, **params) -> int:
    return (await api.get("/api/log/subscribe", **params)).result["id"]


async def pull(api, channel: int) -> list[dict]:
    return (await api.get("/api/log/pull", id=channel, timeout=0)).result["events"]


async def switch_state(api, number: int) -> dict:
    return (await api.get("/api/switch/status", switch=number)).result["switches"][0]


# ----------------------------------------------------------------------------- system


async def test_system_info_current_firmware_has_exact_key_set(api):
    reply = await api.get("/api/system/info")
    assert reply.content_type == "application/json"
    info = reply.result
    assert set(info) == VERSO_INFO_KEYS
    assert info["variant"] == "2N IP Verso"
    assert info["macAddr"] == "7c-1e-b3-0a-2f-51"
    assert info["devType"] == "2-14-0-0"
    assert info["variantId"] == 14 and info["customerId"] == 0
    assert info["firmwarePackage"] == "verso"  # the package's name, as in the manual's 5.1.1 example


async def test_system_info_2_15_has_the_manuals_six_keys(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    info = (await api.get("/api/system/info")).result
    assert set(info) == INFO_2_15_KEYS
    assert info == {"variant": "2N Helios IP Vario", "serialNumber": "08-1860-0035", "hwVersion": "535v1",
                    "swVersion": "2.15.0.27.3", "buildType": "", "deviceName": "2N Helios IP Vario"}


async def test_system_status_reports_integer_time_and_uptime(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    clock.advance(42)
    status = (await api.get("/api/system/status")).result
    assert set(status) == {"systemTime", "upTime"}
    assert type(status["systemTime"]) is int and type(status["upTime"]) is int
    assert status["upTime"] == 42
    assert status["systemTime"] == int(clock.time())


async def test_system_caps_lists_options_on_current_firmware(api):
    options = (await api.get("/api/system/caps")).result["options"]
    assert options["camera"] == "active"
    assert options["display"] == "active"
    assert options["motionDetection"] == "active,licensed"
    assert all(isinstance(v, str) for v in options.values())


async def test_system_caps_marks_missing_hardware_inactive(make_emulator, make_client):
    api = make_client(await make_emulator(profile="access-unit"))
    options = (await api.get("/api/system/caps")).result["options"]
    assert options["camera"] == "inactive"
    assert options["display"] == "inactive"


async def test_system_time_get_reports_automatic_time(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    time = (await api.get("/api/system/time")).result
    assert time == {"utcTime": int(clock.time()), "source": "ntp", "automatic": True}


async def test_system_time_set_changes_device_time(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    assert (await api.get("/api/system/time/set", automatic=0, utcTime=1700000000)).json == {"success": True}
    time = (await api.get("/api/system/time")).result
    assert time["utcTime"] == 1700000000 and time["automatic"] is False
    assert (await api.get("/api/system/status")).result["systemTime"] == 1700000000


async def test_system_time_put_sets_time(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    reply = await api.request("PUT", "/api/system/time", params={"automatic": "0", "utcTime": "1600000000"})
    assert reply.json == {"success": True}
    assert (await api.get("/api/system/time")).result["utcTime"] == 1600000000


async def test_system_time_put_automatic_0_alone_switches_to_manual_time(make_emulator, make_client):
    """PUT automatic=0 without utcTime: the device stops following NTP and keeps its time (what a
    client does before it sets the time itself, or to freeze NTP corrections)."""
    emu, api, clock = await virtual(make_emulator, make_client)
    reply = await api.request("PUT", "/api/system/time", params={"automatic": "0"})
    assert reply.json == {"success": True}
    time = (await api.get("/api/system/time")).result
    assert time == {"utcTime": int(clock.time()), "source": "api", "automatic": False}
    clock.advance(10)
    assert (await api.get("/api/system/time")).result["utcTime"] == int(clock.time())  # the clock still runs
    await api.request("PUT", "/api/system/time", params={"automatic": "1"})
    assert (await api.get("/api/system/time")).result["automatic"] is True


async def test_system_timezone_automatic_is_stored_not_derived(api):
    """Choosing the profile's own zone by hand is still a manual setting, and automatic=1 is the
    detected zone (the profile's) again."""
    assert (await api.get("/api/system/timezone")).result == {"automatic": True, "zone": "Europe/Prague"}
    put = await api.request("PUT", "/api/system/timezone", params={"automatic": "0", "zone": "Europe/Prague"})
    assert put.json == {"success": True}
    assert (await api.get("/api/system/timezone")).result == {"automatic": False, "zone": "Europe/Prague"}
    await api.request("PUT", "/api/system/timezone", params={"automatic": "0", "zone": "Europe/London"})
    await api.request("PUT", "/api/system/timezone", params={"automatic": "1", "zone": "Asia/Tokyo"})
    assert (await api.get("/api/system/timezone")).result == {"automatic": True, "zone": "Europe/Prague"}


@pytest.mark.parametrize("rule, winter, summer", [
    ("UTC0", 0, 0),
    ("CET-1CEST,M3.5.0,M10.5.0/3", 60, 120),
    ("EST5EDT,M3.2.0,M11.1.0", -300, -240),
    ("<+0530>-5:30", 330, 330),
    ("UTC-08:00", -480, -480),  # the manual's own form: eight hours west
    ("UTC\u221208:00", -480, -480),  # ... written with the manual's minus sign
    ("UTC+03:00", 180, 180),
])
async def test_system_timezone_custom_rule_sets_tzshift(make_emulator, make_client, rule, winter, summer):
    """zone=custom&custom=<rule>: a POSIX TZ rule or the manual's UTC±HH:MM; events carry its offset."""
    for when, expected in ((1_700_000_000, winter), (1_690_000_000, summer)):  # November, July 2023
        emu = await make_emulator(clock=VirtualClock(start=when))
        api = make_client(emu)
        reply = await api.request("PUT", "/api/system/timezone",
                                  params={"automatic": "0", "zone": "custom", "custom": rule})
        assert reply.json == {"success": True}
        assert (await api.get("/api/system/timezone")).result == {"automatic": False, "zone": "custom",
                                                                  "custom": rule}
        channel = (await api.get("/api/log/subscribe")).result["id"]
        emu.device.press("1")
        events = (await api.get("/api/log/pull", id=channel)).result["events"]
        assert {e["tzShift"] for e in events} == {expected}, (rule, when)


@pytest.mark.parametrize("params, code, param", [
    ({"zone": "custom"}, 11, "custom"),
    ({"zone": "custom", "custom": ""}, 12, "custom"),
    ({"zone": "custom", "custom": "junk"}, 12, "custom"),
    ({"zone": "custom", "custom": "CET-1CEST,M3.5.0"}, 12, "custom"),
    ({"zone": "custom", "custom": "UTC+15:00"}, 12, "custom"),
    ({"zone": "custom", "custom": "A" * 65}, 12, "custom"),
    ({"zone": "Mars/Olympus"}, 12, "zone"),
])
async def test_system_timezone_bad_custom_rule_changes_nothing(api, params, code, param):
    reply = await api.request("PUT", "/api/system/timezone", params={"automatic": "0", **params})
    assert reply.error["code"] == code and reply.error["param"] == param
    assert (await api.get("/api/system/timezone")).result == {"automatic": True, "zone": "Europe/Prague"}


async def test_system_restart_drops_connections_then_boots_fresh(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    await api.get("/api/switch/ctrl", switch=1, action="on")  # something in the history
    clock.advance(30)
    assert (await api.get("/api/system/restart")).json == {"success": True}
    with pytest.raises(aiohttp.ClientError):
        await api.get("/api/system/status")  # the device is down
    clock.advance(emu.profile.timing.restart_seconds)
    assert (await api.get("/api/system/status")).result["upTime"] == 0
    events = await pull(api, await subscribe(api, include="all"))
    assert events[0]["id"] == 1
    assert events[0]["event"] == "DeviceState" and events[0]["params"] == {"state": "startup"}
    assert "SwitchStateChanged" not in [e["event"] for e in events]  # history is empty after a restart


async def test_system_restart_stays_down_until_restart_seconds_pass(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    await api.get("/api/system/restart")
    clock.advance(emu.profile.timing.restart_seconds - 0.5)
    with pytest.raises(aiohttp.ClientError):
        await api.get("/api/system/info")
    clock.advance(0.5)
    assert (await api.get("/api/system/info")).status == 200


async def test_system_restart_gives_a_new_boot_uuid(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    before = (await api.get("/api/system/info")).result["bootUuid"]
    await api.get("/api/system/restart")
    clock.advance(emu.profile.timing.restart_seconds)
    assert (await api.get("/api/system/info")).result["bootUuid"] != before


# ----------------------------------------------------------------------------- firmware


async def test_firmware_put_multipart_returns_file_id_version_downgrade_note(api):
    reply = await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("570v1", "2.51.0.80.1")}))
    result = reply.result
    assert set(result) == {"fileId", "version", "downgrade", "note"}
    assert result["version"] == "2.51.0.80.1" and result["downgrade"] is False
    assert len(result["fileId"]) == 8 and int(result["fileId"], 16) >= 0
    assert isinstance(result["note"], str)


async def test_firmware_put_raw_octet_stream_body(api):
    reply = await api.request("PUT", "/api/firmware", data=firmware.image("570v1", "2.51.0.80.1"),
                              headers={"Content-Type": "application/octet-stream"})
    assert reply.result["version"] == "2.51.0.80.1"


async def test_firmware_put_older_image_is_a_downgrade(api):
    reply = await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("570v1", "2.40.0.1.1")}))
    assert reply.result["downgrade"] is True


async def test_firmware_put_on_2_15_has_only_version_and_downgrade(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    reply = await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("535v1", "2.16.0.1.1")}))
    assert reply.result == {"version": "2.16.0.1.1", "downgrade": False}


async def test_firmware_apply_restarts_into_the_new_version(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    upload = (await api.request("PUT", "/api/firmware",
                                data=form(**{"blob-fw": firmware.image("570v1", "2.51.0.80.1")}))).result
    assert (await api.get("/api/firmware/apply", fileid=upload["fileId"])).json == {"success": True}
    with pytest.raises(aiohttp.ClientError):
        await api.get("/api/system/info")
    clock.advance(emu.profile.timing.restart_seconds)
    reply = await api.get("/api/system/info")
    assert reply.result["swVersion"] == "2.51.0.80.1"
    assert reply.headers["Server"] == "HIP2.51.0.80.1"


async def test_firmware_apply_without_fileid_on_2_15(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client, profile="vario-2.15")
    await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("535v1", "2.16.0.1.1")}))
    assert (await api.get("/api/firmware/apply")).json == {"success": True}
    clock.advance(emu.profile.timing.restart_seconds)
    assert (await api.get("/api/system/info")).result["swVersion"] == "2.16.0.1.1"


async def test_firmware_reject_discards_the_upload(api):
    upload = (await api.request("PUT", "/api/firmware",
                                data=form(**{"blob-fw": firmware.image("570v1", "2.51.0.80.1")}))).result
    assert (await api.get("/api/firmware/reject", fileid=upload["fileId"])).json == {"success": True}
    error = (await api.get("/api/firmware/apply", fileid=upload["fileId"])).error
    assert error == {"code": 14, "description": "new firmware not found"}
    assert (await api.get("/api/system/info")).result["swVersion"] == "2.50.0.76.2"


async def test_factory_reset_keeps_the_installed_firmware(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("570v1", "2.51.0.80.1")}))
    await api.get("/api/firmware/apply")
    clock.advance(emu.profile.timing.restart_seconds)
    await api.get("/api/config/factoryreset")
    clock.advance(emu.profile.timing.restart_seconds)
    reply = await api.get("/api/system/info")
    assert reply.result["swVersion"] == "2.51.0.80.1"
    assert reply.headers["Server"] == "HIP2.51.0.80.1"


async def test_upgrade_from_2_15_gives_current_reply_and_event_shapes(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client, profile="vario-2.15")
    await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": firmware.image("535v1", "2.50.0.76.2")}))
    await api.get("/api/firmware/apply")
    clock.advance(emu.profile.timing.restart_seconds)
    assert "macAddr" in (await api.get("/api/system/info")).result
    assert "locked" in (await switch_state(api, 1))
    channel = await subscribe(api, filter="SwitchStateChanged")
    await api.get("/api/switch/ctrl", switch=1, action="on")
    (event,) = await pull(api, channel)
    assert event["params"] == {"switch": 1, "state": True, "originator": "api"}


async def test_switch_events_on_2_15_have_no_originator(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    channel = await subscribe(api, filter="SwitchStateChanged")
    await api.get("/api/switch/ctrl", switch=1, action="on")
    (event,) = await pull(api, channel)
    assert event["params"] == {"switch": 1, "state": True}


# ----------------------------------------------------------------------------- config


def config_with(xml: bytes, device_name: str | None = None, switch: dict[str, str] | None = None) -> bytes:
    root = etree.fromstring(xml)
    if device_name is not None:
        root.find("System/DeviceName").text = device_name
    for key, value in (switch or {}).items():
        root.find(f"Switches/Switch[@Id='1']/{key}").text = value
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


async def test_config_get_is_application_xml_with_comment_head(api):
    reply = await api.get("/api/config")
    assert reply.content_type == "application/xml"
    assert reply.body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<!--')
    assert b"Product name: 2N IP Verso" in reply.body
    assert b"Serial number: 54-2040-0137" in reply.body
    assert b"Software version: 2.50.0.76.2" in reply.body
    root = etree.fromstring(reply.body)
    assert root.tag == "DeviceDatabase"
    assert root.findtext("System/DeviceName") == "2N IP Verso"


async def test_config_post_returns_the_same_xml(api):
    get = await api.get("/api/config")
    post = await api.post("/api/config", data={})  # a form POST (a body-less one is refused by fw 2.50)
    assert post.content_type == "application/xml"
    assert post.body == get.body


async def test_config_put_changes_device_name_and_switch(api):
    xml = (await api.get("/api/config")).body
    changed = config_with(xml, "Back door", {"Mode": "0", "Duration": "9"})
    reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": changed}))
    assert reply.json == {"success": True}
    assert (await api.get("/api/system/info")).result["deviceName"] == "Back door"
    caps = (await api.get("/api/switch/caps", switch=1)).result["switches"][0]
    assert caps["switchOnDuration"] == 9
    assert etree.fromstring((await api.get("/api/config")).body).findtext("System/DeviceName") == "Back door"


async def test_config_round_trips_unchanged(api):
    first = (await api.get("/api/config")).body
    assert (await api.request("PUT", "/api/config", data=form(**{"blob-cfg": first}))).json == {"success": True}
    assert (await api.get("/api/config")).body == first


async def test_config_factory_reset_restores_profile_defaults_after_restart(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    xml = (await api.get("/api/config")).body
    await api.request("PUT", "/api/config", data=form(**{"blob-cfg": config_with(xml, "Renamed", {"Mode": "1"})}))
    assert (await api.get("/api/system/info")).result["deviceName"] == "Renamed"
    assert (await api.get("/api/config/factoryreset")).json == {"success": True}
    clock.advance(emu.profile.timing.restart_seconds)
    assert (await api.get("/api/system/info")).result["deviceName"] == "2N IP Verso"
    caps = (await api.get("/api/switch/caps", switch=1)).result["switches"][0]
    assert caps["mode"] == "monostable" and caps["switchOnDuration"] == 5


# ----------------------------------------------------------------------------- switch


async def test_switch_caps_lists_four_switches_disabled_ones_bare(api):
    switches = (await api.get("/api/switch/caps")).result["switches"]
    assert switches == [
        {"switch": 1, "enabled": True, "mode": "monostable", "switchOnDuration": 5, "type": "normal"},
        {"switch": 2, "enabled": True, "mode": "monostable", "switchOnDuration": 5, "type": "normal"},
        {"switch": 3, "enabled": False},
        {"switch": 4, "enabled": False},
    ]


async def test_switch_caps_one_switch(api):
    switches = (await api.get("/api/switch/caps", switch=2)).result["switches"]
    assert [s["switch"] for s in switches] == [2]


async def test_switch_caps_bistable_has_no_duration(make_emulator, make_client):
    api = make_client(await make_emulator(profile="access-unit"))
    switches = (await api.get("/api/switch/caps")).result["switches"]
    assert switches[1] == {"switch": 2, "enabled": True, "mode": "bistable", "type": "normal"}


async def test_switch_status_current_firmware_has_locked_and_held(api):
    switches = (await api.get("/api/switch/status")).result["switches"]
    assert [s["switch"] for s in switches] == [1, 2, 3, 4]
    assert all(s["active"] is False and s["locked"] is False and s["held"] is False for s in switches)


async def test_switch_status_2_15_has_only_switch_and_active(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    switches = (await api.get("/api/switch/status")).result["switches"]
    assert switches == [{"switch": n, "active": False} for n in (1, 2, 3, 4)]


async def test_switch_on_then_off(api):
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert (await switch_state(api, 1))["active"] is True
    assert (await api.get("/api/switch/ctrl", switch=1, action="off")).json == {"success": True}
    assert (await switch_state(api, 1))["active"] is False


async def test_monostable_switch_turns_off_after_switch_on_duration(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    clock.advance(4.9)
    assert (await switch_state(api, 1))["active"] is True
    clock.advance(0.1)
    assert (await switch_state(api, 1))["active"] is False


async def test_bistable_switch_trigger_toggles(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client, profile="access-unit")
    await api.get("/api/switch/ctrl", switch=2, action="trigger")
    clock.advance(60)
    assert (await switch_state(api, 2))["active"] is True  # no auto-off
    await api.get("/api/switch/ctrl", switch=2, action="trigger")
    assert (await switch_state(api, 2))["active"] is False


async def test_switch_made_bistable_by_config_toggles(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    xml = (await api.get("/api/config")).body
    await api.request("PUT", "/api/config", data=form(**{"blob-cfg": config_with(xml, switch={"Mode": "1"})}))
    caps = (await api.get("/api/switch/caps", switch=1)).result["switches"][0]
    assert caps["mode"] == "bistable" and "switchOnDuration" not in caps
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    clock.advance(60)
    assert (await switch_state(api, 1))["active"] is True
    await api.get("/api/switch/ctrl", switch=1, action="trigger")
    assert (await switch_state(api, 1))["active"] is False


async def test_switch_lock_keeps_it_off_until_unlock(api):
    assert (await api.get("/api/switch/ctrl", switch=1, action="lock")).json == {"success": True}
    # holdTimeout only while a hold with a timeout is in force (manual 5.4.2)
    assert await switch_state(api, 1) == {"switch": 1, "active": False, "locked": True, "held": False}
    refused = await api.get("/api/switch/ctrl", switch=1, action="on")
    assert refused.json["success"] is False
    assert (await switch_state(api, 1))["active"] is False
    assert (await api.get("/api/switch/ctrl", switch=1, action="unlock")).json == {"success": True}
    await api.get("/api/switch/ctrl", switch=1, action="on")
    assert (await switch_state(api, 1))["active"] is True


async def test_switch_hold_keeps_it_on_until_release(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    assert (await api.get("/api/switch/ctrl", switch=1, action="hold")).json == {"success": True}
    clock.advance(60)
    state = await switch_state(api, 1)
    assert state["active"] is True and state["held"] is True and "holdTimeout" not in state  # held, no timeout
    assert (await api.get("/api/switch/ctrl", switch=1, action="release")).json == {"success": True}
    state = await switch_state(api, 1)
    assert state["active"] is False and state["held"] is False


async def test_switch_hold_with_timeout_releases_by_itself(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    await api.get("/api/switch/ctrl", switch=1, action="hold", timeout=10)
    state = await switch_state(api, 1)
    assert state["held"] is True and state["holdTimeout"] == 10
    clock.advance(9.9)
    assert (await switch_state(api, 1))["active"] is True
    clock.advance(0.1)
    state = await switch_state(api, 1)
    assert state["active"] is False and state["held"] is False and "holdTimeout" not in state


async def test_switch_ctrl_response_gives_that_text(api):
    reply = await api.get("/api/switch/ctrl", switch=1, action="on", response="Door open")
    assert reply.status == 200
    assert reply.content_type == "text/plain"
    assert reply.body == b"Door open"


async def test_switch_ctrl_empty_response_gives_empty_text(api):
    reply = await api.get("/api/switch/ctrl", switch=1, action="on", response="")
    assert reply.content_type == "text/plain"
    assert reply.body == b""
    assert (await switch_state(api, 1))["active"] is True


# ----------------------------------------------------------------------------- io


async def test_io_caps_lists_ports_with_types(api):
    ports = (await api.get("/api/io/caps")).result["ports"]
    assert ports == [{"port": "relay1", "type": "output"}, {"port": "output1", "type": "output"},
                     {"port": "led_secured", "type": "output"}, {"port": "input1", "type": "input"},
                     {"port": "tamper", "type": "input"}]


async def test_io_caps_one_port(api):
    assert (await api.get("/api/io/caps", port="input1")).result == {"ports": [{"port": "input1", "type": "input"}]}


async def test_io_status_state_is_integer(api):
    ports = (await api.get("/api/io/status")).result["ports"]
    assert [p["port"] for p in ports] == ["relay1", "output1", "led_secured", "input1", "tamper"]
    assert all(type(p["state"]) is int and p["state"] == 0 for p in ports)


async def test_io_ctrl_sets_an_output(api):
    assert (await api.get("/api/io/ctrl", port="led_secured", action="on")).json == {"success": True}
    port = (await api.get("/api/io/status", port="led_secured")).result["ports"][0]
    assert port == {"port": "led_secured", "state": 1} and type(port["state"]) is int
    await api.get("/api/io/ctrl", port="led_secured", action="off")
    assert (await api.get("/api/io/status", port="led_secured")).result["ports"][0]["state"] == 0


async def test_io_status_shows_a_physical_input(emu, api):
    emu.device.set_input("input1", True)
    assert (await api.get("/api/io/status", port="input1")).result["ports"] == [{"port": "input1", "state": 1}]


async def test_io_ctrl_response_gives_that_text(api):
    reply = await api.get("/api/io/ctrl", port="relay1", action="on", response="relay on")
    assert reply.content_type == "text/plain"
    assert reply.body == b"relay on"


async def test_switch_drives_its_output_port(api):
    await api.get("/api/switch/ctrl", switch=1, action="on")
    assert (await api.get("/api/io/status", port="relay1")).result["ports"][0]["state"] == 1


# ----------------------------------------------------------------------------- phone and calls


async def test_phone_status_register_time_only_when_registered(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    accounts = (await api.get("/api/phone/status")).result["accounts"]
    assert [a["account"] for a in accounts] == [1, 2]
    assert all(a["registered"] is False and "registerTime" not in a for a in accounts)
    clock.advance(emu.profile.calls.register_delay + 1)
    first, second = (await api.get("/api/phone/status")).result["accounts"]
    assert first["registered"] is True and first["sipNumber"] == "4001"
    assert type(first["registerTime"]) is int and abs(first["registerTime"] - clock.time()) < 5
    assert second["registered"] is False and "registerTime" not in second


async def test_phone_status_2_15_keys(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client, profile="vario-2.15")
    clock.advance(emu.profile.calls.register_delay + 1)
    first, second = (await api.get("/api/phone/status")).result["accounts"]
    assert set(first) == {"account", "sipNumber", "registered", "registerTime"}
    assert set(second) == {"account", "sipNumber", "registered"}


async def test_phone_status_one_account(api):
    accounts = (await api.get("/api/phone/status", account=2)).result["accounts"]
    assert [a["account"] for a in accounts] == [2]


async def test_phone_config_get_lists_accounts(api):
    accounts = (await api.get("/api/phone/config")).result["accounts"]
    assert accounts[0]["account"] == 1 and accounts[0]["sipNumber"] == "4001"
    assert accounts[0]["domain"] == "sip.example.com" and accounts[0]["displayName"] == "Front door"


async def test_phone_config_put_json_changes_account(api):
    reply = await api.request("PUT", "/api/phone/config",
                              json={"accounts": [{"account": 1, "sipNumber": "4999", "displayName": "Gate"}]})
    assert reply.json == {"success": True}
    first = (await api.get("/api/phone/config")).result["accounts"][0]
    assert first["sipNumber"] == "4999" and first["displayName"] == "Gate"
    assert (await api.get("/api/phone/status", account=1)).result["accounts"][0]["sipNumber"] == "4999"


FOUR_ACCOUNTS = """
extends = "verso"

[[sip_accounts]]
number = "4001"
domain = "sip.example.com"

[[sip_accounts]]
number = ""
enabled = false
registration_enabled = false

[[sip_accounts]]
account_type = "local"
number = "2NIPVerso-5420400137"

[[sip_accounts]]
account_type = "msteams"
number = "+1784973567"
"""


async def test_phone_status_local_and_msteams_accounts_have_the_manuals_keys(make_emulator, make_client, tmp_path):
    """Manual 5.6.1's example: a local account is account, accountType, enabled, sipNumber (no
    registration); a Microsoft Teams account is shaped like a SIP account and registers."""
    path = tmp_path / "four.toml"
    path.write_text(FOUR_ACCOUNTS)
    emu, api, clock = await virtual(make_emulator, make_client, profile=str(path))
    clock.advance(emu.profile.calls.register_delay + 1)
    accounts = (await api.get("/api/phone/status")).result["accounts"]
    when = accounts[0]["registerTime"]
    assert accounts == [
        {"account": 1, "accountType": "general", "enabled": True, "sipNumber": "4001", "registrationEnabled": True,
         "registered": True, "registerTime": when},
        {"account": 2, "accountType": "general", "enabled": False, "sipNumber": "", "registrationEnabled": False,
         "registered": False},
        {"account": 3, "accountType": "local", "enabled": True, "sipNumber": "2NIPVerso-5420400137"},
        {"account": 4, "accountType": "msteams", "enabled": True, "sipNumber": "+1784973567",
         "registrationEnabled": True, "registered": True, "registerTime": when},
    ]
    assert [list(a) for a in accounts][:1] == [["account", "accountType", "enabled", "sipNumber",
                                                "registrationEnabled", "registered", "registerTime"]]
    # phone/config is about the SIP accounts (manual 5.6.3: account 1 or 2).
    config = (await api.get("/api/phone/config")).result["accounts"]
    assert [a["account"] for a in config] == [1, 2]
    assert (await api.get("/api/phone/config", account=3)).error["param"] == "account"
    reply = await api.request("PUT", "/api/phone/config", json={"accounts": [{"account": 4, "sipNumber": "1"}]})
    assert reply.error["code"] == 12


async def test_phone_config_has_the_manuals_keys(api):
    accounts = (await api.get("/api/phone/config")).result["accounts"]
    assert list(accounts[0]) == ["account", "enabled", "displayName", "sipNumber", "domain", "domainPort", "authId",
                                 "proxyAddress", "proxyPort", "registrationEnabled", "registrarAddress",
                                 "registrarPort", "answerMode"]


def test_a_bad_account_type_fails_at_start(tmp_path):
    from emulator.device.profile import ProfileError, load

    path = tmp_path / "bad.toml"
    path.write_text('extends = "verso"\n[[sip_accounts]]\naccount_type = "skype"\n')
    with pytest.raises(ProfileError, match="account_type"):
        load(str(path))


async def test_call_status_empty_without_calls(api):
    assert (await api.get("/api/call/status")).result == {"sessions": []}


async def test_call_dial_connects_then_rings(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    session = (await api.get("/api/call/dial", number="sip:100@sip.example.com")).result["session"]
    assert type(session) is int
    sessions = (await api.get("/api/call/status")).result["sessions"]
    assert sessions[0]["session"] == session and sessions[0]["direction"] == "outgoing"
    assert sessions[0]["state"] == "connecting"
    assert sessions[0]["calls"][0]["peer"] == "sip:100@sip.example.com"
    clock.advance(emu.profile.calls.ring_delay)
    assert (await api.get("/api/call/status", session=session)).result["sessions"][0]["state"] == "ringing"
    assert (await api.get("/api/call/hangup", session=session)).json == {"success": True}
    assert (await api.get("/api/call/status")).result == {"sessions": []}


async def test_incoming_call_answer_and_hangup(emu, api):
    session = emu.device.phone.incoming("sip:200@example.com").session
    ringing = (await api.get("/api/call/status")).result["sessions"][0]
    assert ringing["direction"] == "incoming" and ringing["state"] == "ringing"
    assert (await api.get("/api/call/answer", session=session)).json == {"success": True}
    connected = (await api.get("/api/call/status")).result["sessions"][0]
    assert connected["state"] == "connected"
    assert connected["calls"] == [{"id": connected["calls"][0]["id"], "peer": "sip:200@example.com",
                                   "state": "connected"}]
    assert (await api.get("/api/call/hangup", session=session, reason="busy")).json == {"success": True}
    assert (await api.get("/api/call/status")).result["sessions"] == []


async def test_call_status_2_15_has_no_calls_array(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client, profile="vario-2.15")
    session = (await api.get("/api/call/dial", number="sip:1@x")).result["session"]
    assert (await api.get("/api/call/status")).result["sessions"] == [
        {"session": session, "direction": "outgoing", "state": "connecting"}]


# ----------------------------------------------------------------------------- camera


async def test_camera_caps_lists_resolutions_and_sources(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    caps = (await api.get("/api/camera/caps")).result
    assert caps == {"jpegResolution": [{"width": w, "height": h} for w, h in
                                       ((160, 120), (176, 144), (320, 240), (352, 272), (352, 288), (640, 480))],
                    "sources": [{"source": "internal"}, {"source": "external"}]}


async def test_camera_caps_verso_lists_hd_sizes(api):
    sizes = [(r["width"], r["height"]) for r in (await api.get("/api/camera/caps")).result["jpegResolution"]]
    assert (1280, 720) in sizes and (640, 480) in sizes


async def test_camera_snapshot_is_a_jpeg_of_the_asked_size(api):
    reply = await api.get("/api/camera/snapshot", width=320, height=240, source="external")
    assert reply.content_type == "image/jpeg"
    with Image.open(io.BytesIO(reply.body)) as picture:
        assert picture.format == "JPEG" and picture.size == (320, 240)


async def test_camera_snapshot_with_fps_streams_mjpeg(emu, api):
    url = emu.url + "/api/camera/snapshot"
    async with api.session.get(url, params={"width": "160", "height": "120", "fps": "2"}) as resp:
        assert resp.content_type == "multipart/x-mixed-replace"
        reader = aiohttp.MultipartReader.from_response(resp)
        part = await reader.next()
        assert part.headers["Content-Type"] == "image/jpeg"
        data = await part.read()
    with Image.open(io.BytesIO(bytes(data))) as picture:
        assert picture.size == (160, 120)


# ----------------------------------------------------------------------------- display


async def test_display_caps(api):
    assert (await api.get("/api/display/caps")).result == {
        "displays": [{"display": "internal", "resolution": {"width": 320, "height": 240}}]}


async def test_display_image_put_and_delete(emu, api):
    picture = gif()
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": picture}))
    assert reply.json == {"success": True}
    assert emu.device.display.image == picture
    reply = await api.request("DELETE", "/api/display/image", params={"display": "internal"})
    assert reply.json == {"success": True}
    assert emu.device.display.image is None


# ----------------------------------------------------------------------------- log


async def test_log_caps_lists_event_types(api):
    events = (await api.get("/api/log/caps")).result["events"]
    assert {"DeviceState", "KeyPressed", "SwitchStateChanged", "CallStateChanged", "MotionDetected",
            "CardEntered", "CodeEntered", "AudioLoopTest"} <= set(events)
    assert len(events) == len(set(events))


async def test_log_subscribe_pull_unsubscribe(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    channel = await subscribe(api, include="new")
    assert type(channel) is int and 0 < channel < 2**32
    emu.device.press("5")
    events = await pull(api, channel)
    assert [e["event"] for e in events] == ["KeyPressed", "KeyReleased"]
    assert set(events[0]) == {"id", "hash", "tzShift", "utcTime", "upTime", "event", "params"}
    assert events[0]["params"] == {"key": "5"}
    assert await pull(api, channel) == []  # events leave the queue once returned
    assert (await api.get("/api/log/unsubscribe", id=channel)).json == {"success": True}
    assert (await api.get("/api/log/pull", id=channel)).error["param"] == "id"


async def test_log_subscribe_filter(emu, api):
    channel = await subscribe(api, filter="KeyReleased")
    emu.device.press("5")
    assert [e["event"] for e in await pull(api, channel)] == ["KeyReleased"]


# ----------------------------------------------------------------------------- audio, e-mail, pcap


async def test_audio_test_reports_audio_loop_test_later(make_emulator, make_client):
    emu, api, clock = await virtual(make_emulator, make_client)
    channel = await subscribe(api, filter="AudioLoopTest")
    assert (await api.get("/api/audio/test")).json == {"success": True}
    assert await pull(api, channel) == []
    clock.advance(emu.profile.timing.audio_test_seconds)
    events = await pull(api, channel)
    assert [(e["event"], e["params"]) for e in events] == [("AudioLoopTest", {"result": "passed"})]


async def test_email_send_is_kept_in_the_outbox(emu, api):
    reply = await api.get("/api/email/send", to="guard@example.com", subject="Visitor", body="At the door")
    assert reply.json == {"success": True}
    message = emu.device.outbox.messages[-1]
    assert (message.to, message.subject, message.body) == ("guard@example.com", "Visitor", "At the door")
    assert message.pictures == []


async def test_email_send_with_a_picture(emu, api):
    reply = await api.get("/api/email/send", to="guard@example.com", subject="Snap", pictureCount=1,
                          width=320, height=240)
    assert reply.json == {"success": True}
    (picture,) = emu.device.outbox.messages[-1].pictures
    with Image.open(io.BytesIO(picture)) as image:
        assert image.format == "JPEG" and image.size == (320, 240)


def http_request_lines(pcap: bytes) -> list[bytes]:
    lines = []
    for _ts, frame in dpkt.pcap.Reader(io.BytesIO(pcap)):
        payload = dpkt.ethernet.Ethernet(frame).data.data.data
        if payload:
            lines.append(payload.split(b"\r\n", 1)[0])
    return lines


async def test_pcap_captures_requests_after_restart(api):
    assert (await api.get("/api/pcap/restart")).json == {"success": True}
    await api.get("/api/io/status", port="relay1")
    reply = await api.get("/api/pcap")
    assert reply.content_type == "application/vnd.tcpdump.pcap"
    lines = http_request_lines(reply.body)
    assert b"GET /api/io/status?port=relay1 HTTP/1.1" in lines
    assert any(line.startswith(b"HTTP/1.1 200") for line in lines)


async def test_pcap_stop_ends_the_capture(api):
    await api.get("/api/pcap/restart")
    assert (await api.get("/api/pcap/stop")).json == {"success": True}
    await api.get("/api/io/status", port="input1")
    lines = http_request_lines((await api.get("/api/pcap")).body)
    assert b"GET /api/io/status?port=input1 HTTP/1.1" not in lines
