"""The configuration file of /api/config: export from live state, parse, apply, round trip."""

from __future__ import annotations

import dataclasses
import json

import pytest
from lxml import etree

from emulator.device import config
from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.directory import merge
from emulator.device.profile import load
from emulator.device.security import Account, Service
from emulator.errors import ApiError, ErrorCode

SECTIONS = ["Network", "System", "Phone", "Switches", "HttpApi", "AccessPoints", "Directory"]


def make(profile: str = "verso") -> Device:
    device = Device(load(profile), VirtualClock(start=1_700_000_000.0))
    device.boot()
    return device


def upload(device: Device, blob: bytes) -> None:
    """What PUT /api/config does: parse (may raise), then apply."""
    config.apply(device, config.parse(device, blob))


def sections(blob: bytes) -> dict[str, bytes]:
    root = etree.fromstring(blob)
    return {child.tag: etree.tostring(child) for child in root}


def document(*sections_: str) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<DeviceDatabase Version="4">'
            + "".join(sections_) + "</DeviceDatabase>").encode()


def customise(device: Device) -> None:
    """Change something in every section the file carries."""
    device.rename("Back gate")
    device.events.tz_shift = -120
    sip = device.phone.account(2)
    sip.number, sip.domain, sip.display_name, sip.enabled = "4002", "pbx.example.org", "Back", False
    c = device.switches.get(2).config
    c.mode, c.duration, c.type, c.output, c.codes = "bistable", 17, "security", "led_secured", ["4321", "99"]
    device.switches.get(3).config.enabled = True
    device.security.services["camera"] = Service(enabled=False, transport="https", auth="basic")
    device.security.accounts.append(Account("viewer", "secret", frozenset({"camera", "io-monitoring"})))
    template = device.directory.template
    alice = device.directory.new_user("ABC-1", 2)
    alice.record = merge(alice.record, {"name": "Alice", "callPos": [{"peer": "sip:1@x"}], "buttons": "1,3",
                                        "access": {"card": ["0A0B0C"], "pin": "55"}}, template)
    bob = device.directory.new_user("ABC-2", 1)
    bob.record = merge(bob.record, {"name": "Bob"}, template)
    device.directory.replace([alice, bob])
    device.access.points[1].blocked = True


def test_export_is_xml_describing_the_live_device():
    device = make()
    blob = config.export(device)
    root = etree.fromstring(blob)
    assert root.tag == "DeviceDatabase" and root.get("Version") == "4"
    assert [child.tag for child in root] == SECTIONS
    assert root.findtext("System/DeviceName") == "2N IP Verso"
    assert root.findtext("System/TimeZoneShift") == "60"
    assert root.findtext("Network/MacAddress") == "7C-1E-B3-0A-2F-51"
    assert [s.get("Id") for s in root.findall("Switches/Switch")] == ["1", "2", "3", "4"]
    first = root.find("Switches/Switch[@Id='1']")
    assert first.findtext("Duration") == "5" and first.findtext("Mode") == "0"
    assert first.findtext("Output") == "relay1"
    assert [c.text for c in first.findall("Codes/Code")] == ["00112233"]
    assert root.findtext("Switches/Switch[@Id='3']/Enabled") == "0"
    assert root.findtext("HttpApi/Service[@Name='switch']/Auth") == "2"  # digest
    assert root.findtext("HttpApi/Account/Name") == "admin"
    assert [json.loads(u.findtext("Record"))["name"] for u in root.findall("Directory/User")] == ["Reception", "Flat 2"]
    assert [(p.get("Id"), p.findtext("Enabled"), p.findtext("Blocked")) for p in root.findall("AccessPoints/AccessPoint")] \
        == [("0", "1", "0"), ("1", "1", "0")]
    # The head comment names the device, as the real file does.
    assert b"Serial number: 54-2040-0137" in blob


def test_export_follows_live_changes():
    device = make()
    device.rename("Lobby")
    device.switches.get(1).config.duration = 9
    root = etree.fromstring(config.export(device))
    assert root.findtext("System/DeviceName") == "Lobby"
    assert root.findtext("Switches/Switch[@Id='1']/Duration") == "9"


@pytest.mark.parametrize("profile", ["verso", "vario-2.15", "access-unit", "uni", "force"])
def test_round_trip_is_identical(profile):
    device = make(profile)
    before = config.export(device)
    version = device.config_version
    upload(device, before)
    assert config.export(device) == before
    assert device.config_version > version


def test_a_customised_configuration_carries_over_to_a_fresh_device():
    source = make()
    customise(source)
    blob = config.export(source)
    target = make()
    assert config.export(target) != blob
    upload(target, blob)
    assert config.export(target) == blob
    assert target.identity.device_name == "Back gate"
    assert target.events.tz_shift == -120
    assert target.phone.account(2).number == "4002" and not target.phone.account(2).enabled
    c = target.switches.get(2).config
    assert (c.mode, c.duration, c.type, c.output, c.codes) == ("bistable", 17, "security", "led_secured", ["4321", "99"])
    assert target.switches.get(3).config.enabled
    assert target.security.services["camera"] == Service(enabled=False, transport="https", auth="basic")
    assert [a.name for a in target.security.accounts] == ["admin", "viewer"]
    assert target.security.account("viewer").privileges == frozenset({"camera", "io-monitoring"})
    assert sorted(target.directory.users) == ["ABC-1", "ABC-2"]
    assert target.directory.users["ABC-1"].buttons == [1, 3]
    assert target.directory.users["ABC-1"].pin == "55" and target.directory.users["ABC-1"].switch == 2
    assert [p.blocked for p in target.access] == [False, True]


def test_applied_switch_settings_take_effect():
    device = make()
    clock = device.clock
    upload(device, document('<Switches><Switch Id="1"><Duration>2</Duration></Switch></Switches>'))
    switch = device.switches.get(1)
    switch.act("on")
    clock.advance(2)
    assert not switch.active
    upload(device, document('<Switches><Switch Id="1"><Mode>1</Mode></Switch></Switches>'))
    switch.act("trigger")
    clock.advance(100)
    assert switch.active  # bistable now


def test_a_partial_file_changes_only_its_section():
    device = make()
    before = sections(config.export(device))
    upload(device, document("<System><DeviceName>Side door</DeviceName></System>"))
    after = sections(config.export(device))
    assert device.identity.device_name == "Side door"
    assert after["System"] != before["System"]
    assert etree.fromstring(after["System"]).findtext("TimeZoneShift") == "60"
    for name in SECTIONS:
        if name != "System":
            assert after[name] == before[name], name


def test_a_partial_switch_changes_only_that_switch_and_setting():
    device = make()
    before = sections(config.export(device))
    upload(device, document('<Switches><Switch Id="2"><Duration>10</Duration></Switch></Switches>'))
    assert device.switches.get(2).config.duration == 10
    assert device.switches.get(2).config.mode == "monostable"
    assert device.switches.get(2).config.output == "output1"
    assert device.switches.get(1).config.duration == 5
    after = sections(config.export(device))
    assert [n for n in SECTIONS if after[n] != before[n]] == ["Switches"]


def test_http_api_section_with_services_only_keeps_the_accounts():
    device = make()
    upload(device, document('<HttpApi><Service Name="switch"><Auth>0</Auth></Service></HttpApi>'))
    assert device.security.services["switch"].auth == "none"
    assert device.security.services["system"].auth == "digest"
    assert [a.name for a in device.security.accounts] == ["admin"]


def test_sip_settings_keep_the_registration_state():
    device = make()
    device.clock.advance(5)
    assert device.phone.account(1).registered
    upload(device, document('<Phone><SipAccount Id="1"><DisplayName>Gate</DisplayName></SipAccount></Phone>'))
    assert device.phone.account(1).display_name == "Gate"
    assert device.phone.account(1).registered
    assert device.phone.account(1).number == "4001"


def test_entities_are_not_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET")
    blob = (f'<?xml version="1.0"?><!DOCTYPE DeviceDatabase [<!ENTITY x SYSTEM "file://{secret}">]>'
            '<DeviceDatabase><System><DeviceName>Door &x;</DeviceName></System></DeviceDatabase>').encode()
    device = make()
    try:
        upload(device, blob)
    except ApiError as err:  # rejecting the file is fine too
        assert (err.code, err.param) == (12, "blob-cfg")
    assert "TOPSECRET" not in device.identity.device_name
    assert b"TOPSECRET" not in config.export(device)


INVALID = {
    "not xml": b"this is not xml",
    "empty": b"",
    "binary": bytes(range(256)),
    "truncated": document("<System><DeviceName>X</DeviceName></System>")[:-5],
    "wrong root": b"<Configuration><System><DeviceName>X</DeviceName></System></Configuration>",
    "namespaced root": b'<DeviceDatabase xmlns="urn:x"><System/></DeviceDatabase>',
    "empty name": document("<System><DeviceName></DeviceName></System>"),
    "blank name": document("<System><DeviceName>   </DeviceName></System>"),
    "long name": document(f"<System><DeviceName>{'n' * 256}</DeviceName></System>"),
    "tz shift": document("<System><TimeZoneShift>841</TimeZoneShift></System>"),
    "tz not a number": document("<System><TimeZoneShift>one</TimeZoneShift></System>"),
    "sip account id": document('<Phone><SipAccount Id="3"><Number>1</Number></SipAccount></Phone>'),
    "sip flag": document('<Phone><SipAccount Id="1"><Enabled>2</Enabled></SipAccount></Phone>'),
    "switch id 0": document('<Switches><Switch Id="0"/></Switches>'),
    "switch id 5": document('<Switches><Switch Id="5"/></Switches>'),
    "switch without id": document("<Switches><Switch><Duration>3</Duration></Switch></Switches>"),
    "duration 0": document('<Switches><Switch Id="1"><Duration>0</Duration></Switch></Switches>'),
    "duration too long": document('<Switches><Switch Id="1"><Duration>86401</Duration></Switch></Switches>'),
    "mode": document('<Switches><Switch Id="1"><Mode>2</Mode></Switch></Switches>'),
    "negative type": document('<Switches><Switch Id="1"><Type>-1</Type></Switch></Switches>'),
    "unknown output": document('<Switches><Switch Id="1"><Output>relay9</Output></Switch></Switches>'),
    "input as output": document('<Switches><Switch Id="1"><Output>input1</Output></Switch></Switches>'),
    "bad code": document('<Switches><Switch Id="1"><Codes><Code>12a</Code></Codes></Switch></Switches>'),
    "short code": document('<Switches><Switch Id="1"><Codes><Code>1</Code></Codes></Switch></Switches>'),
    "unknown service": document('<HttpApi><Service Name="ftp"><Auth>0</Auth></Service></HttpApi>'),
    "auth method": document('<HttpApi><Service Name="system"><Auth>3</Auth></Service></HttpApi>'),
    "transport": document('<HttpApi><Service Name="system"><Transport>2</Transport></Service></HttpApi>'),
    "privilege": document('<HttpApi><Account Id="1"><Name>a</Name><Privileges>root</Privileges></Account></HttpApi>'),
    "nameless account": document('<HttpApi><Account Id="1"><Password>x</Password></Account></HttpApi>'),
    "six accounts": document("<HttpApi>" + '<Account><Name>a</Name></Account>' * 6 + "</HttpApi>"),
    "user without uuid": document("<Directory><User><Name>A</Name></User></Directory>"),
    "user button": document('<Directory><User Uuid="U"><Name>A</Name><Button>151</Button></User></Directory>'),
    "user switch": document('<Directory><User Uuid="U"><Name>A</Name><Switch>5</Switch></User></Directory>'),
    "billion laughs": (b'<?xml version="1.0"?><!DOCTYPE DeviceDatabase [<!ENTITY a "aaaaaaaaaa">'
                       + b"".join(b'<!ENTITY %s "%s">' % (chr(98 + i).encode(), (b"&%s;" % chr(97 + i).encode()) * 10)
                                  for i in range(8))
                       + b"]><DeviceDatabase><System><DeviceName>&i;</DeviceName></System></DeviceDatabase>"),
    # A good section first, then a bad one: nothing of the file may be applied.
    "good then bad": document("<System><DeviceName>Changed</DeviceName></System>",
                              '<Switches><Switch Id="1"><Duration>0</Duration></Switch></Switches>'),
}


@pytest.mark.parametrize("name", sorted(INVALID))
def test_an_invalid_file_is_rejected_as_a_whole(name):
    device = make()
    before = config.export(device)
    version = device.config_version
    with pytest.raises(ApiError) as err:
        upload(device, INVALID[name])
    assert err.value.code == ErrorCode.INVALID_PARAMETER
    assert err.value.param == "blob-cfg"
    assert config.export(device) == before
    assert device.config_version == version
    assert device.identity.device_name == "2N IP Verso"


def test_parse_does_not_touch_the_device():
    device = make()
    before = config.export(device)
    switches = [dataclasses.replace(s.config) for s in device.switches]
    changes = config.parse(device, document(
        "<System><DeviceName>Elsewhere</DeviceName></System>",
        '<Switches><Switch Id="1"><Duration>9</Duration><Codes><Code>777</Code></Codes></Switch></Switches>'))
    assert changes.device_name == "Elsewhere"
    assert config.export(device) == before
    assert [s.config for s in device.switches] == switches


def test_a_directory_saved_by_an_earlier_version_still_loads():
    """Files of the earlier layout (a leaf per value, the rest as Extra JSON) keep their users."""
    device = make()
    upload(device, document(
        '<Directory><User Uuid="abc-1"><Name>Alice</Name><Switch>2</Switch><Peer>sip:1@x</Peer>'
        '<Button>3</Button><Card>0a0b0c</Card><Code>55</Code>'
        '<Extra>{"email": "alice@example.com", "owner": "My2N"}</Extra></User></Directory>'))
    [alice] = device.directory
    assert (alice.uuid, alice.name, alice.switch, alice.peers, alice.buttons, alice.cards, alice.pin) == (
        "ABC-1", "Alice", 2, ["sip:1@x"], [3], ["0A0B0C"], "55")
    assert (alice.record["email"], alice.record["owner"]) == ("alice@example.com", "My2N")
    assert device.enter_code("55") is True and device.switches.get(2).active


def test_a_bad_directory_record_refuses_the_whole_file():
    device = make()
    before = config.export(device)
    for record in ('{"name": "A", "albert": 1}', '{"access": {"pin": "x"}}', '[1]', '{'):
        with pytest.raises(ApiError) as err:
            upload(device, document(f'<Directory><User Uuid="A-1"><Record>{record}</Record></User></Directory>'))
        assert err.value.code == ErrorCode.INVALID_PARAMETER
    assert config.export(device) == before
