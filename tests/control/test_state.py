"""The device's state from outside: GET /_emulator/state to look, PUT it back to restore,
POST /_emulator/reset for a clean device; and --state-dir, which keeps what a user configured
(configuration, display image, installed firmware, certificates) across a restart of the emulator, written
atomically, with the command line still winning over the saved file.
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import io
import json
import threading
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from lxml import etree
from PIL import Image

from emulator.app import Emulator
from emulator.control.state import StateError
from emulator.device.firmware import image as firmware_image
from emulator.settings import Settings, parse_user
from support import form

ADMIN = aiohttp.DigestAuthMiddleware("admin", "2n")
NEW_FIRMWARE = "2.51.0.80.1"


class Client:
    """An API client (Digest as admin/2n unless the emulator needs none) and a control client."""

    def __init__(self, emu: Emulator, user: tuple[str, str] | None = ("admin", "2n")):
        self.emu = emu
        middlewares = () if user is None else (aiohttp.DigestAuthMiddleware(*user),)
        self.api_session = aiohttp.ClientSession(middlewares=middlewares)
        self.control_session = aiohttp.ClientSession()

    async def request(self, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        async with self.api_session.request(method, self.emu.url + path, **kwargs) as r:
            return r.status, await r.read()

    async def result(self, path: str, method: str = "GET", **kwargs: Any) -> Any:
        status, body = await self.request(method, path, **kwargs)
        data = json.loads(body)
        assert status == 200 and data["success"] is True, data
        return data.get("result")

    async def control(self, method: str, path: str, **kwargs: Any) -> tuple[int, Any]:
        async with self.control_session.request(method, self.emu.url + "/_emulator" + path, **kwargs) as r:
            return r.status, await r.json()

    async def state(self) -> dict:
        status, body = await self.control("GET", "/state")
        assert status == 200
        return body

    async def advance(self, seconds: float) -> None:
        assert (await self.control("POST", "/clock", json={"advance": seconds}))[0] == 200

    # -- what a user configures, through the API --------------------------------------------

    async def device_name(self) -> str:
        return (await self.result("/api/system/info"))["deviceName"]

    async def switch_duration(self, number: int = 1) -> int:
        return (await self.result("/api/switch/caps", params={"switch": str(number)}))["switches"][0]["switchOnDuration"]

    async def switch_active(self, number: int = 1) -> bool:
        return (await self.result("/api/switch/status", params={"switch": str(number)}))["switches"][0]["active"]

    async def configure(self, name: str | None = None, duration: int | None = None) -> None:
        _, xml = await self.request("GET", "/api/config")
        await self.result("/api/config", method="PUT", data=form(**{"blob-cfg": edited(xml, name, duration)}))

    async def close(self) -> None:
        await self.api_session.close()
        await self.control_session.close()


def edited(xml: bytes | str, name: str | None = None, duration: int | None = None) -> bytes:
    root = etree.fromstring(xml.encode() if isinstance(xml, str) else xml)
    if name is not None:
        root.find("System/DeviceName").text = name
    if duration is not None:
        root.find("Switches/Switch[@Id='1']/Duration").text = str(duration)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")




def gif(width: int = 320, height: int = 240, colour: int = 3) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, height), colour).save(out, "GIF")
    return out.getvalue()


@pytest.fixture
async def start():
    """Start emulators (virtual clock, HTTP only) and clients; stop them after the test."""
    running: list[tuple[Emulator, Client]] = []

    async def make(user: tuple[str, str] | None = ("admin", "2n"), **settings: Any) -> Client:
        settings = {"port": 0, "https_port": None, "clock": "virtual", **settings}
        emu = Emulator(Settings(**settings))
        await emu.start()
        client = Client(emu, user)
        running.append((emu, client))
        return client

    yield make
    for emu, client in running:
        await client.close()
        if emu.runner is not None:
            await emu.stop()


@pytest.fixture
async def dev(start) -> Client:
    client = await start()
    await client.advance(2)  # SIP registered
    return client


# -- GET /_emulator/state ------------------------------------------------------------------------------


async def test_state_shape(dev):
    await dev.result("/api/switch/ctrl", params={"switch": "1", "action": "on"})
    state = await dev.state()
    assert set(state) >= {"profile", "online", "uptime", "time", "bootUuid", "identity", "licences", "config",
                          "switches", "ports", "registrations", "calls", "channels", "events", "outbox", "motion",
                          "noise"}
    assert state["profile"] == "verso" and state["online"] is True and state["uptime"] == 2
    assert state["identity"]["deviceName"] == "2N IP Verso"
    assert state["identity"]["swVersion"] == state["config"]["swVersion"]
    assert state["bootUuid"] == (await dev.result("/api/system/info"))["bootUuid"]
    assert state["switches"][0] == {"switch": 1, "active": True, "locked": False, "held": False}
    assert {"port": "relay1", "type": "output", "state": True} in state["ports"]
    assert state["registrations"][0] == {"account": 1, "registered": True}
    assert state["calls"] == [] and state["channels"] == 0
    assert state["events"][0]["event"] == "DeviceState" and state["events"][-1]["event"] == "OutputChanged"
    assert etree.fromstring(state["config"]["configXml"].encode()).findtext("System/DeviceName") == "2N IP Verso"
    assert state["config"]["displayImage"] is None
    json.dumps(state)  # plain JSON all the way down


async def test_state_follows_calls_and_channels(dev):
    await dev.control("POST", "/actions/incoming-call", json={"peer": "sip:7@x"})
    await dev.result("/api/log/subscribe")
    state = await dev.state()
    assert state["calls"] == [{"session": 1, "call": 1, "direction": "incoming", "peer": "sip:7@x",
                               "state": "ringing"}]
    assert state["channels"] == 1


# -- PUT /_emulator/state ------------------------------------------------------------------------------


async def test_put_back_a_snapshot_restores_it(dev):
    before = await dev.state()
    await dev.configure(name="Back door", duration=9)
    await dev.result("/api/switch/ctrl", params={"switch": "2", "action": "on"})
    await dev.control("POST", "/actions/registration", json={"account": 1, "state": "unregistered"})
    assert await dev.device_name() == "Back door" and await dev.switch_active(2) is True
    status, restored = await dev.control("PUT", "/state", json=before)
    assert status == 200
    assert await dev.device_name() == "2N IP Verso"
    assert await dev.switch_duration(1) == 5
    assert await dev.switch_active(2) is False
    assert (await dev.result("/api/phone/status", params={"account": "1"}))["accounts"][0]["registered"] is True
    assert restored["identity"] == before["identity"]
    assert restored["config"]["configXml"] == before["config"]["configXml"]


async def test_put_a_changed_state_renames_the_device(dev):
    state = await dev.state()
    state["config"]["configXml"] = edited(state["config"]["configXml"], name="Gate").decode()
    state["switches"][0]["active"] = True
    status, _ = await dev.control("PUT", "/state", json=state)
    assert status == 200
    assert await dev.device_name() == "Gate"
    assert await dev.switch_active(1) is True


async def test_put_only_part_of_a_state(dev):
    status, _ = await dev.control("PUT", "/state", json={"switches": [{"switch": 2, "active": True}]})
    assert status == 200
    assert await dev.switch_active(2) is True
    assert await dev.device_name() == "2N IP Verso"


@pytest.mark.parametrize("bad", [
    [1, 2],
    {"config": {"configXml": "<DeviceDatabase"}},
    {"config": {"swVersion": "two"}},
    {"config": {"displayImage": "***"}},
    {"switches": [{"switch": 99, "active": True}]},
    {"ports": [{"port": "nope", "state": True}]},
    {"switchs": [{"switch": 1, "active": True}]},
    {"config": {"swVersion": "2.50"}},
    {"config": {"displayImage": base64.b64encode(gif(100, 100)).decode()}},
    {"config": {"deviceName": "Gate"}},
    {"switches": [{"switch": 1, "active": "yes"}]},
    {"switches": [{"switch": 1, "actve": True}]},
    {"switches": [{"active": True}]},
    {"registrations": [{"account": 9, "registered": False}]},
])
async def test_a_bad_state_is_400_and_changes_nothing_of_the_config(dev, bad):
    before = await dev.state()
    status, body = await dev.control("PUT", "/state", json=bad)
    assert status == 400 and "error" in body
    after = await dev.state()
    assert after["config"] == before["config"]


@pytest.mark.parametrize(("bad", "message"), [
    ({"switchs": []}, "state: switchs: unknown key; did you mean 'switches'?"),
    ({"switches": [{"switch": 1, "actve": True}]}, "switches[0]: actve: unknown key; did you mean 'active'?"),
    ({"switches": [{"switch": 1, "active": 1}]}, "switches[0].active: expected bool, got 1"),
    ({"config": {"swVersion": "2.50"}}, "config: swVersion: '2.50' is not a firmware version like 2.50.0.76.2"),
    ({"config": {"displayImage": base64.b64encode(gif(100, 100)).decode()}},
     "config: displayImage: not a GIF of the display's size"),
])
async def test_a_bad_state_says_what_is_wrong(dev, bad, message):
    status, body = await dev.control("PUT", "/state", json=bad)
    assert (status, body["error"]) == (400, message)


async def test_a_bad_state_changes_nothing_at_all(dev):
    status, _ = await dev.control("PUT", "/state", json={"switches": [{"switch": 1, "active": True},
                                                                      {"switch": 99, "active": True}]})
    assert status == 400
    assert await dev.switch_active(1) is False  # the good item before the bad one was not applied either


# -- POST /_emulator/reset -------------------------------------------------------------------------------


async def test_reset_is_a_clean_freshly_booted_device(dev):
    await dev.configure(name="Back door", duration=9)
    await dev.result("/api/switch/ctrl", params={"switch": "1", "action": "on"})
    channel = (await dev.result("/api/log/subscribe"))["id"]
    await dev.control("POST", "/faults", json={"kind": "delay", "ms": 1, "path": "/api/io/*"})
    await dev.control("POST", "/scenarios", data='[[steps]]\nat = 10\nfault = { kind = "status", status = 503 }\n')
    await dev.advance(100)  # the scenario ran; uptime 102
    await dev.control("POST", "/scenarios", data='[[steps]]\nat = 10\nfault = { kind = "status", status = 502 }\n')
    before = await dev.state()

    status, after = await dev.control("POST", "/reset")
    assert status == 200
    assert after["identity"]["deviceName"] == "2N IP Verso"
    assert after["bootUuid"] != before["bootUuid"] and after["uptime"] == 0
    assert [e["event"] for e in after["events"]] == ["DeviceState"] and after["events"][0]["id"] == 1
    assert (await dev.control("GET", "/faults"))[1] == []
    assert (await dev.control("GET", "/journal"))[1] == []
    assert (await dev.control("GET", "/scenarios"))[1] == []
    assert after["channels"] == 0 and after["switches"][0]["active"] is False
    await dev.advance(10)  # the scenario's step still to come does not happen after the reset
    assert (await dev.control("GET", "/faults"))[1] == []
    assert await dev.device_name() == "2N IP Verso"
    assert await dev.switch_duration(1) == 5
    pull = json.loads((await dev.request("GET", "/api/log/pull", params={"id": str(channel)}))[1])
    assert pull["error"]["code"] == 12


async def test_reset_during_a_reboot_boots_once(dev):
    await dev.control("POST", "/faults", json={"kind": "reboot", "seconds": 10})
    status, state = await dev.control("POST", "/reset")
    assert status == 200 and state["online"] is True
    channel = (await dev.result("/api/log/subscribe", params={"include": "all"}))["id"]
    await dev.advance(30)
    events = (await dev.result("/api/log/pull", params={"id": str(channel)}))["events"]
    assert [e["event"] for e in events].count("DeviceState") == 1  # the pending reboot did not boot again
    assert (await dev.state())["uptime"] == 30


async def test_reset_keeps_the_command_line(start):
    client = await start(user=("ha", "pw"), users=[parse_user("ha:pw")])
    assert (await client.control("POST", "/reset"))[0] == 200
    assert (await client.device_name()) == "2N IP Verso"  # ha still works, as --user said


# -- --state-dir -----------------------------------------------------------------------------------------


async def test_state_dir_keeps_config_display_image_and_firmware(start, tmp_path):
    first = await start(state_dir=tmp_path)
    await first.configure(name="Back door", duration=7)
    picture = gif()
    await first.result("/api/display/image", method="PUT", data=form(display="internal", **{"blob-image": picture}))
    upload = await first.result("/api/firmware", method="PUT",
                                data=form(**{"blob-fw": firmware_image("570v1", NEW_FIRMWARE)}))
    assert upload["version"] == NEW_FIRMWARE
    await first.result("/api/firmware/apply")
    await first.advance(5)
    assert (await first.result("/api/system/info"))["swVersion"] == NEW_FIRMWARE
    await first.emu.stop()

    second = await start(state_dir=tmp_path)
    info = await second.result("/api/system/info")
    assert info["deviceName"] == "Back door"
    assert info["swVersion"] == NEW_FIRMWARE
    assert await second.switch_duration(1) == 7
    assert base64.b64decode((await second.state())["config"]["displayImage"]) == picture
    assert not list(tmp_path.glob(".config-*"))  # no temporary files left behind


async def test_state_dir_keeps_the_certificates(start, tmp_path):
    """cert/ca and cert/user are configuration: kept in the state directory across restarts."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Kept")])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=9))
            .sign(key, hashes.SHA256())).public_bytes(serialization.Encoding.PEM)
    pem_key = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    first = await start(state_dir=tmp_path)
    ca = await first.result("/api/cert/ca", method="PUT", params={"id": "@root"}, data=form(**{"blob-cert": cert}))
    user = await first.result("/api/cert/user", method="PUT", data=form(**{"blob-cert": cert, "blob-pk": pem_key}))
    await first.emu.stop()

    second = await start(state_dir=tmp_path)
    assert await second.result("/api/cert/ca") == ca
    assert await second.result("/api/cert/user") == user
    assert second.emu.device.certificates.user.certificates[0].key is not None


async def test_state_dir_file_is_always_whole_json(start, tmp_path):
    client = await start(state_dir=tmp_path)
    path = tmp_path / "config.json"
    stop = threading.Event()
    reads: list[int] = []
    broken: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue  # not written yet
            try:
                json.loads(text)
            except ValueError:
                broken.append(text[:80])
            reads.append(len(text))

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    try:
        for i in range(25):
            await client.configure(name=f"Door {i}")
            await asyncio.sleep(0.08)  # one save per change (saves are batched for 50 ms)
    finally:
        stop.set()
        thread.join(5)
    assert broken == []
    assert len(reads) > 25
    saved = json.loads(path.read_text(encoding="utf-8"))
    assert etree.fromstring(saved["configXml"].encode()).findtext("System/DeviceName") == "Door 24"
    assert not list(tmp_path.glob(".config-*"))


async def test_the_command_line_auth_wins_over_the_saved_configuration(start, tmp_path):
    first = await start(state_dir=tmp_path)  # the profile's Digest, admin/2n
    await first.configure(name="Saved")
    await first.emu.stop()

    second = await start(state_dir=tmp_path, auth="none", user=None)
    assert await second.device_name() == "Saved"
    status, body = await second.request("GET", "/api/switch/status")  # no credentials at all
    assert status == 200 and json.loads(body)["success"] is True


async def test_the_command_line_users_win_over_the_saved_accounts(start, tmp_path):
    first = await start(state_dir=tmp_path)  # the profile's admin/2n
    await first.configure(name="Saved")
    await first.emu.stop()

    second = await start(state_dir=tmp_path, users=[parse_user("ha:pw")], user=("ha", "pw"))
    assert await second.device_name() == "Saved"
    async with aiohttp.ClientSession(middlewares=(ADMIN,)) as admin, \
            admin.get(second.emu.url + "/api/switch/status") as r:
        assert r.status == 401  # the saved admin account lost to --user


async def test_a_command_line_option_is_not_saved_as_configuration(start, tmp_path):
    first = await start(state_dir=tmp_path, auth="none", user=None)
    await first.configure(name="Saved")
    await first.emu.stop()

    second = await start(state_dir=tmp_path, user=None)  # no --auth: the profile's Digest again
    assert await second.device_name() == "Saved"
    status, _ = await second.request("GET", "/api/switch/status")
    assert status == 401


async def test_a_broken_saved_file_stops_the_start_and_is_kept(tmp_path):
    path = tmp_path / "config.json"
    path.write_text('{"format": 1, "configXml": "<DeviceDatabase', encoding="utf-8")
    with pytest.raises(StateError, match="config.json"):
        Emulator(Settings(port=0, https_port=None, state_dir=tmp_path))
    assert path.read_text(encoding="utf-8") == '{"format": 1, "configXml": "<DeviceDatabase'


async def test_without_state_dir_nothing_is_kept(start, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    first = await start()
    await first.configure(name="Forgotten")
    await first.emu.stop()
    second = await start()
    assert await second.device_name() == "2N IP Verso"
    assert list(Path(tmp_path).iterdir()) == []
