"""helios-emulator capture, tested without a device: the emulator itself is the device.

The round trip: for every bundled profile, capture a running emulator, load the captured profile
into a second emulator, and send both the same requests, one or more for every function of the
route table (functions added later get a plain GET), with the same physical-world actions in
between. Their replies must be equal once normalised, and only what must differ between two
devices or two boots is normalised: times (systemTime, upTime, utcTime, registerTime), ids made at
random (bootUuid, the directory's series, a firmware upload's fileId, a subscription's id), the
pixels of a snapshot (its size and type are compared) and the bytes of a pcap trace (its type and
magic are compared).
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import tomllib
from PIL import Image

from emulator import capture as capture_
from emulator.api.routes import ROUTES
from emulator.capture import Answer, Builder, Report, capture, normalise
from emulator.cli import main
from emulator.device import firmware
from emulator.device import profile as profiles
from support import form

NEW_USER = "0A0B0C0D-0000-4000-8000-00000000000A"


async def capture_to(tmp_path: Path, url: str, password: str = "2n", **options: Any) -> tuple[Path, str, Report]:
    options.setdefault("with_secrets", True)
    text, report = await capture(url, "admin", password, **options)
    path = tmp_path / "captured.toml"
    path.write_text(text, encoding="utf-8")
    return path, text, report


def recipes(original: profiles.Profile) -> list[tuple[str, str, dict[str, Any]]]:
    """One or more requests per function, in an order that makes each one do something; then a
    plain GET for every function of the route table not named here."""
    outputs = [p.port for p in original.ports if p.type == "output"]
    size = original.camera.resolutions[0] if original.camera else None
    image = firmware.image(original.identity.hw_version, original.identity.sw_version)
    user = {"uuid": NEW_USER, "name": "New", "callPos": [{"peer": "sip:7@x"}], "access": {"card": ["0A0B0C0D"]}}
    steps: list[tuple[str, str, dict[str, Any]]] = [
        ("GET", "/api/system/info", {}),
        ("GET", "/api/system/status", {}),
        ("GET", "/api/system/caps", {}),
        ("GET", "/api/system/time", {}),
        ("GET", "/api/system/timezone", {}),
        ("GET", "/api/system/timezone/caps", {}),
        ("GET", "/api/config", {}),
        ("GET", "/api/firmware/apply", {}),  # nothing uploaded yet (applying restarts the device)
        ("PUT", "/api/firmware", {"data": {"blob-fw": image}}),
        ("GET", "/api/firmware/reject", {}),
        ("GET", "/api/switch/caps", {}),
        ("GET", "/api/switch/ctrl", {"params": {"switch": "1", "action": "on"}}),
        ("GET", "/api/switch/status", {}),
        ("GET", "/api/switch/ctrl", {"params": {"switch": "2", "action": "trigger", "response": "OK"}}),
        ("GET", "/api/switch/ctrl", {"params": {"switch": "4", "action": "on"}}),
        ("GET", "/api/io/caps", {}),
        ("GET", "/api/io/ctrl", {"params": {"port": outputs[-1] if outputs else "relay1", "action": "on"}}),
        ("GET", "/api/io/status", {}),
        ("GET", "/api/phone/status", {}),
        ("GET", "/api/phone/config", {}),
        ("GET", "/api/call/dial", {"params": {"number": "sip:200@example.com"}}),
        ("GET", "/api/call/status", {}),
        ("GET", "/api/call/answer", {"params": {"session": "1"}}),
        ("GET", "/api/call/hangup", {"params": {"session": "1"}}),
        ("GET", "/api/camera/caps", {}),
        ("GET", "/api/camera/snapshot", {"params": {"width": str(size.width), "height": str(size.height)}}
         if size else {"params": {"width": "640", "height": "480"}}),
        ("GET", "/api/display/caps", {}),
        ("DELETE", "/api/display/image", {"params": {"display": "internal"}}),
        ("GET", "/api/log/caps", {}),
        ("GET", "/api/audio/test", {}),
        ("GET", "/api/email/send", {"params": {"to": "a@example.com", "subject": "door"}}),
        ("GET", "/api/pcap/restart", {}),
        ("GET", "/api/pcap/stop", {}),
        ("GET", "/api/pcap", {}),
        ("GET", "/api/dir/template", {}),
        ("POST", "/api/dir/query", {"json": {}}),
        ("PUT", "/api/dir/create", {"json": {"users": [user]}}),
        ("PUT", "/api/dir/update", {"json": {"users": [{"uuid": NEW_USER, "name": "Renamed"}]}}),
        ("POST", "/api/dir/get", {"json": {"users": [{"uuid": NEW_USER}]}}),
        ("PUT", "/api/dir/delete", {"json": {"users": [{"uuid": NEW_USER}]}}),
        ("POST", "/api/dir/query", {"json": {"iterator": {"timestamp": 1}}}),
        ("GET", "/api/log/subscribe", {"params": {"include": "all"}}),
        ("GET", "/api/log/pull", {"params": {"id": "{channel}", "timeout": "0"}}),
        ("GET", "/api/log/unsubscribe", {"params": {"id": "{channel}"}}),
        ("GET", "/api/nothing/here", {}),
    ]
    named = {path for _, path, _ in steps}
    steps += [("GET", path, {}) for path in ROUTES if path not in named and path not in LAST]
    return steps + [("GET", path, {}) for path in LAST]


LAST = ("/api/system/restart", "/api/config/factoryreset")  # both restart the device: at the end


async def reply(session: aiohttp.ClientSession, base: str, method: str, path: str, spec: dict[str, Any],
                channel: str) -> Any:
    """A request's reply, normalised (see the module's docstring)."""
    kwargs = dict(spec)
    if "params" in kwargs:
        kwargs["params"] = {k: channel if v == "{channel}" else v for k, v in kwargs["params"].items()}
    if "data" in kwargs:
        kwargs["data"] = form(**kwargs["data"])
    async with session.request(method, base + path, **kwargs) as resp:
        body = await resp.read()
        kind = resp.headers.get("Content-Type", "")
        status = resp.status
    if kind == "image/jpeg":
        content: Any = Image.open(io.BytesIO(body)).size
    elif kind == "application/vnd.tcpdump.pcap":
        content = body[:4]
    elif kind == "application/json":
        content = normalise(json.loads(body))
        if path == "/api/log/subscribe" and content.get("success"):
            content["result"]["id"] = "*"
    else:
        content = body
    return status, kind, content


def digest() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),))


async def act(base: str, session: aiohttp.ClientSession, name: str, body: dict[str, Any]) -> int:
    async with session.post(f"{base}/_emulator/actions/{name}", json=body) as resp:
        return resp.status


ACTIONS = [("press", {"key": "%1"}), ("card", {"uid": "1A2B3C4D"}), ("code", {"code": "1234"}),
           ("code", {"code": "00112233"}), ("input", {"port": "input1", "state": True}), ("motion", {"active": True}),
           ("noise", {"active": True}), ("tamper", {"active": True}), ("incoming-call", {"peer": "sip:9@x"})]


async def script(emulator, session: aiohttp.ClientSession, original: profiles.Profile) -> list[Any]:
    """Every request of `recipes`, with the physical world acting half way, on a fresh boot."""
    base = emulator.url
    async with session.post(f"{base}/_emulator/reset") as resp:
        assert resp.status == 200
    async with session.post(f"{base}/_emulator/clock", json={"advance": 2}) as resp:  # SIP registers
        assert resp.status == 200
    out: list[Any] = []
    channel = ""
    for i, (method, path, spec) in enumerate(recipes(original)):
        if path == "/api/log/caps":
            out += [(name, await act(base, session, name, body)) for name, body in ACTIONS]
            async with session.post(f"{base}/_emulator/clock", json={"advance": 1}) as resp:
                assert resp.status == 200
        result = await reply(session, base, method, path, spec, channel)
        if path == "/api/log/subscribe" and result[2].get("success"):
            async with session.request(method, base + path, **spec) as resp:  # a second channel, its id kept
                channel = str((await resp.json())["result"]["id"])
        out.append((i, method, path, result))
        if path in LAST:  # back up before the next request
            async with session.post(f"{base}/_emulator/clock", json={"advance": 10}) as resp:
                assert resp.status == 200
    return out


@pytest.mark.parametrize("name", profiles.available())
async def test_a_captured_profile_answers_every_function_as_the_original(name, make_emulator, tmp_path):
    original = await make_emulator(profile=name, clock="virtual", seed=7)
    if original.profile.hardware.card_reader:  # a device in use: its history names its card reader
        original.device.swipe_card("0A0B0C0D0E")
    path, _, report = await capture_to(tmp_path, original.url)
    assert report.differs == []  # the capture's own comparison found nothing either
    captured = await make_emulator(profile=str(path), clock="virtual", seed=7)

    async with digest() as one, digest() as other:  # one Digest session per device
        expected = await script(original, one, original.profile)
        got = await script(captured, other, original.profile)
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected, strict=True):
        assert mine == theirs
    requested = {step[2] for step in expected if isinstance(step[0], int)}
    assert set(ROUTES) <= requested  # every function of the table was compared


async def test_the_round_trip_fails_when_a_profile_loses_something(make_emulator, tmp_path):
    """The comparison above can fail: a captured profile with one camera size less answers camera/caps
    differently, and the capture's own comparison reports it."""
    original = await make_emulator(clock="virtual")
    text, _ = await capture(original.url, "admin", "2n", with_secrets=True)
    data = tomllib.loads(text)
    data["camera"]["resolutions"] = data["camera"]["resolutions"][1:]
    report = Report()
    await capture_.compare(data, {"camera": Answer("/api/camera/caps", result=(await _caps(original)))}, original.url,
                           "admin", "2n", "digest", 5, report, None)
    assert any(line.startswith("/api/camera/caps: jpegResolution") for line in report.differs)


async def _caps(emulator) -> dict:
    async with digest() as session:
        async with session.get(f"{emulator.url}/api/camera/caps") as resp:
            return (await resp.json())["result"]


async def test_secrets_stay_out_unless_asked_for(make_emulator, tmp_path):
    source = tmp_path / "secret.toml"
    source.write_text('extends = "verso"\n[[accounts]]\nname = "admin"\npassword = "s3cret"\n')
    emulator = await make_emulator(profile=str(source), clock="virtual")
    _, text, _ = await capture_to(tmp_path, emulator.url, "s3cret", with_secrets=False)
    assert "s3cret" not in text
    assert "00112233" not in text and '"1234"' not in text  # the switch code, a user's PIN
    data = tomllib.loads(text)
    assert data["accounts"] == [{"name": "admin", "password": "2n", "privileges": ["all"]}]
    assert "codes" not in data["switches"][0]
    assert data["users"][0]["cards"] == ["1A2B3C4D"]  # card numbers are no secret
    _, text, _ = await capture_to(tmp_path, emulator.url, "s3cret", with_secrets=True)
    data = tomllib.loads(text)
    assert data["accounts"][0]["password"] == "s3cret"
    assert data["switches"][0]["codes"] == ["00112233"]
    assert data["users"][0]["pin"] == "1234"  # `pin`, the current key (`codes` is its older name)


async def test_what_the_hardware_would_not_tell_goes_into_the_profile_exactly(make_emulator, tmp_path):
    """A device whose log/caps list and system/caps differ from what the emulator works out of its
    hardware: the captured profile keeps both exactly (new profile keys events.types, system_caps)."""
    source = tmp_path / "odd.toml"
    source.write_text('extends = "verso"\n[events]\nhistory = 10000\n'
                      'types = ["KeyPressed", "DeviceState", "CardEntered", "DtmfSent"]\n'
                      '[system_caps]\nrtspServer = "active,licensed"\nbluetooth = "inactive"\n')
    original = await make_emulator(profile=str(source), clock="virtual")
    path, text, report = await capture_to(tmp_path, original.url)
    data = tomllib.loads(text)
    assert data["events"]["types"] == ["KeyPressed", "DeviceState", "CardEntered", "DtmfSent"]
    assert data["system_caps"] == {"rtspServer": "active,licensed", "bluetooth": "inactive"}
    assert report.differs == []
    captured = profiles.load(str(path))
    assert captured.events.types == ("KeyPressed", "DeviceState", "CardEntered", "DtmfSent")


async def test_the_directory_family_access_points_and_mobile_keys_are_captured(make_emulator, tmp_path):
    """The model family comes from dir/template's fields, the access points from the configuration,
    the Bluetooth reader from log/caps; a user's PIN only with --with-secrets."""
    source = tmp_path / "unit.toml"
    source.write_text('extends = "access-unit"\n[access]\nexit = false\n')
    original = await make_emulator(profile=str(source), clock="virtual")
    path, text, report = await capture_to(tmp_path, original.url)
    data = tomllib.loads(text)
    assert data["directory"] == {"template": "accessunit"}
    assert data["access"] == {"entry": True, "exit": False}
    assert data["hardware"]["bluetooth"] is True
    assert [(u["name"], u.get("pin"), u.get("switch", 1)) for u in data["users"]] == [("Reception", "1234", 1),
                                                                                      ("Flat 2", None, 2)]
    assert report.differs == []
    _, text, _ = await capture_to(tmp_path, original.url, with_secrets=False)
    assert "pin" not in tomllib.loads(text)["users"][0]


async def test_a_device_serving_rtsp_says_so_in_the_profile(make_emulator, tmp_path):
    """rtspServer active is kept: the verify step's emulator (and one run without RTSP) says so too."""
    original = await make_emulator(clock="virtual", rtsp_port=0)
    path, text, report = await capture_to(tmp_path, original.url)
    assert tomllib.loads(text)["system_caps"]["rtspServer"] == "active,licensed"
    assert report.differs == []


async def test_sip_proxy_and_registrar_are_captured(make_emulator, tmp_path, make_client):
    original = await make_emulator(clock="virtual")
    change = {"accounts": [{"account": 1, "proxyAddress": "proxy.example.com", "proxyPort": 5070,
                            "registrarAddress": "reg.example.com", "registrarPort": 5080, "domainPort": 5062}]}
    assert (await make_client(original).request("PUT", "/api/phone/config", json=change)).json["success"]
    _, text, report = await capture_to(tmp_path, original.url)
    account = tomllib.loads(text)["sip_accounts"][0]
    assert (account["proxy_address"], account["proxy_port"], account["registrar_address"],
            account["registrar_port"], account["domain_port"]) == ("proxy.example.com", 5070, "reg.example.com",
                                                                  5080, 5062)
    assert report.differs == []


async def test_local_and_teams_accounts_are_captured_with_their_type(make_emulator, tmp_path):
    """phone/status says each account's accountType (phone/config covers the SIP accounts only)."""
    source = tmp_path / "types.toml"
    source.write_text('extends = "verso"\n[[sip_accounts]]\nnumber = "4001"\n[[sip_accounts]]\n'
                      'account_type = "local"\nnumber = "2NIPVerso-1"\n[[sip_accounts]]\n'
                      'account_type = "msteams"\nnumber = "+1784973567"\n')
    original = await make_emulator(profile=str(source), clock="virtual")
    path, text, report = await capture_to(tmp_path, original.url)
    accounts = tomllib.loads(text)["sip_accounts"]
    assert [a.get("account_type", "general") for a in accounts] == ["general", "local", "msteams"]
    assert [a.account_type for a in profiles.load(str(path)).sip_accounts] == ["general", "local", "msteams"]
    assert report.differs == []


async def test_errors_and_timeouts_end_in_a_profile_and_a_report(make_emulator, make_client, tmp_path):
    original = await make_emulator(clock="virtual")
    control = make_client(original, user=None)
    for fault in ({"kind": "error", "code": 14, "description": "busy", "path": "/api/phone/*"},
                  {"kind": "hang", "path": "/api/camera/caps"},
                  {"kind": "status", "status": 500, "body": "oops", "path": "/api/io/caps"},
                  {"kind": "error", "code": 10, "path": "/api/config"}):
        assert (await control.post("/_emulator/faults", json=fault)).status == 201
    path, text, report = await capture_to(tmp_path, original.url, timeout=3, verify=False)
    unread = "\n".join(report.unread)
    assert "/api/phone/status: error 14: busy" in unread
    assert "/api/camera/caps: no answer within 3 s -> no camera" in unread
    assert "/api/io/caps: not the 2N JSON envelope (HTTP 500" in unread
    assert "/api/config: error 10: insufficient user privileges" in unread
    assert "could not be read (a default was used instead):" in text  # the report heads the profile too
    profile = profiles.load(str(path))
    assert profile.camera is None and profile.ports == ()
    assert profile.identity.serial_number == original.profile.identity.serial_number
    # Without the configuration, services and the realm came from requests without credentials.
    assert profile.services["switch"].auth == "digest" and profile.security.realm == "HTTP API"


async def test_a_device_without_its_licence(make_emulator, tmp_path):
    original = await make_emulator(profile="vario-2.15", licence=False, clock="virtual")
    path, _, report = await capture_to(tmp_path, original.url)
    assert any("Enhanced Integration licence is missing" in line for line in report.unread)
    profile = profiles.load(str(path))
    assert profile.licences == frozenset()
    assert profile.identity.sw_version == "2.15.0.27.3"
    assert len(profile.switches) == 4  # switch/caps answered 5: four switches by default
    captured = await make_emulator(profile=str(path), clock="virtual")
    assert report.differs == []
    async with digest() as session:
        async with session.get(f"{captured.url}/api/switch/caps") as resp:
            assert (await resp.json())["error"]["code"] == 5  # as the device


async def test_basic_auth_and_https(make_emulator, tmp_path):
    original = await make_emulator(profile="force", auth="basic", clock="virtual")
    path, _, report = await capture_to(tmp_path, original.urls["https"], auth="basic", insecure=True)
    profile = profiles.load(str(path))
    assert all(s.auth == "basic" for s in profile.services.values())
    assert report.differs == []


def builder(xml: bytes, **answers: Answer) -> Builder:
    base = {read.key: Answer(read.path, error="error 2: invalid request path", code=2) for read in capture_.READS}
    base["info"] = Answer("/api/system/info", result={"variant": "2N IP Verso", "serialNumber": "54-0000-0001",
                                                       "hwVersion": "570v1", "swVersion": "2.50.0.76.2"})
    base["config"] = Answer("/api/config", result=xml)
    base.update(answers)
    return Builder("http://device", base, [], {}, "admin", "2n", False, Report())


def test_config_sections_the_profile_cannot_hold_are_reported_not_fatal():
    xml = (b'<?xml version="1.0"?>\n<DeviceDatabase Version="4"><Network><MacAddress>7c:1e:b3:00:00:01</MacAddress>'
           b'</Network><Audio><Volume>7</Volume></Audio><Lift/><Switches><Switch Id="1"><Enabled>1</Enabled>'
           b'<Mode>9</Mode><Type>x</Type></Switch></Switches></DeviceDatabase>')
    b = builder(xml)
    data = b.profile()
    assert data["identity"]["mac_address"] == "7C-1E-B3-00-00-01"
    assert data["switches"] == [{"enabled": True}]  # a mode index out of range is not guessed
    assert "/api/config sections the profile has no place for: Audio, Lift" in b.report.left_out
    assert capture_.checked(data, b.report).identity.variant == "2N IP Verso"


@pytest.mark.parametrize("xml", [b"<not xml", b"<Other/>", b""])
def test_an_unreadable_configuration_file_is_reported(xml):
    b = builder(xml)
    capture_.checked(b.profile(), b.report)
    assert any(line.startswith("/api/config:") for line in b.report.unread)


def test_a_value_the_profile_reader_refuses_is_left_out_and_reported():
    b = builder(b"", camera=Answer("/api/camera/caps", result={
        "jpegResolution": [{"width": 640, "height": 480}], "sources": [{"source": "internal"}]}))
    data = b.profile()
    data["camera"]["default_source"] = "nowhere"
    profile = capture_.checked(data, b.report)
    assert profile.camera.default_source == "internal"
    assert any(line.startswith("camera.default_source:") for line in b.report.left_out)


def test_the_command_line(helios, tmp_path, capsys):
    out = tmp_path / "mine.toml"
    main(["capture", helios.url, "--user", "admin:2n", "-o", str(out)])
    err = capsys.readouterr().err
    assert "capture: GET /api/system/info: ok" in err and f"profile written to {out}" in err
    assert profiles.load(str(out)).identity.variant == "2N IP Verso"
    main(["capture", helios.url, "--user", "admin:2n", "--no-verify"])
    assert tomllib.loads(capsys.readouterr().out)["identity"]["variant"] == "2N IP Verso"


def test_the_command_line_refuses_a_device_that_is_not_there(capsys):
    with pytest.raises(SystemExit, match="did not answer as a 2N device: cannot connect"):
        main(["capture", "http://127.0.0.1:9", "--user", "admin:2n", "--timeout", "2"])
