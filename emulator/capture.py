"""`helios-emulator capture URL`: read a real 2N device through its documented API and write a
profile that makes the emulator that device (its model, firmware, hardware and configuration).

What is read, and what each reply gives the profile (READS below, one line per function):
system/info (identity), system/caps (hardware, licences), switch/caps and status (switches),
io/caps (ports, in the device's order), phone/status and phone/config (SIP accounts),
camera/caps (sources, the exact resolution list), display/caps, log/caps (the event types, and
the hardware on firmware without system/caps, the Bluetooth reader from MobKeyEntered),
dir/template (the directory's model family, from its fields), dir/query (the directory: names,
peers, buttons, cards, PINs), system/timezone, and /api/config (the configuration XML: names,
switch outputs and codes, SIP settings, HTTP API services and accounts, the access points, the
directory's records and each user's switch). The event history tells the card
reader's name and the quick-dial buttons in use; a few requests without credentials tell the
services' authentication and the Digest realm.

Nothing is written to the device (no ctrl, no restart, no test): every read is a GET, but
dir/query (a POST with a JSON query, as the manual has it) and one empty POST to log/caps that
shows whether the firmware refuses an empty octet-stream body.

A function that answers an error, times out or is not licensed does not stop the capture: the
profile gets a default there and the report says what could not be read and what was used
instead. The finished profile is loaded by the emulator's own profile reader before it is
written, and (unless --no-verify) an emulator built from it is captured the same way and
compared with the device: where it would answer differently, the report says so.

Secrets (API account passwords, switch codes, users' PINs) are left out unless --with-secrets;
the accounts then get the factory password "2n".
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime
import json
import re
import ssl
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
import tomlkit
from lxml import etree

from emulator.device import levels
from emulator.recording import public_url
from emulator.device import profile as profiles
from emulator.device.dir_templates import META, TEMPLATES
from emulator.device.security import ALL_PRIVILEGES, Account, parse_privileges

DEFAULT_TIMEOUT = 15.0
FACTORY_PASSWORD = "2n"  # 2N's factory password, and the emulator's default
MAX_PULLS = 100  # event history read at most 100 x 128 events
# Values that differ between any two boots or devices: compared as "*" (the verify step, the tests):
# times, the boot's id, the directory's series, an upload's id, and an event's hash (current
# firmware's, made per boot).
VOLATILE = frozenset({"bootUuid", "systemTime", "upTime", "utcTime", "registerTime", "series", "fileId", "hash"})
# The sections of the configuration XML the emulator writes (emulator/device/config.py).
CONFIG_SECTIONS = ("Network", "System", "Phone", "Switches", "HttpApi", "Directory")
_CHALLENGE = re.compile(r'(\w+)=("([^"]*)"|[^,\s]+)')


# ----------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Read:
    key: str
    path: str
    method: str = "GET"
    json: Any = None
    xml: bool = False  # the reply is XML (/api/config), not the JSON envelope
    static: bool = True  # depends only on the configuration: compared by the verify step


READS = (
    Read("info", "/api/system/info"),
    Read("caps", "/api/system/caps"),
    Read("switches", "/api/switch/caps"),
    Read("switch_status", "/api/switch/status", static=False),
    Read("ports", "/api/io/caps"),
    Read("phone", "/api/phone/status", static=False),
    Read("phone_config", "/api/phone/config"),
    Read("camera", "/api/camera/caps"),
    Read("display", "/api/display/caps"),
    Read("events", "/api/log/caps"),
    Read("template", "/api/dir/template", static=False),  # its series is the directory's
    Read("directory", "/api/dir/query", method="POST", json={}, static=False),
    Read("timezone", "/api/system/timezone"),
    Read("config", "/api/config", xml=True, static=False),
)


@dataclass
class Answer:
    """One reply: `result` (JSON result or XML bytes) when it was read, else `error` says why."""

    path: str
    result: Any = None
    error: str | None = None
    code: int | None = None  # the 2N error code
    status: int | None = None
    headers: Any = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def missing_function(self) -> bool:
        """The firmware does not have it (2) or the model lacks it (1): not a failure."""
        return self.code in (1, 2)


class Reader:
    """Requests to one device: with the account (Digest or Basic), and without credentials."""

    def __init__(self, url: str, user: str, password: str, auth: str = "digest", insecure: bool = False,
                 timeout: float = DEFAULT_TIMEOUT, progress: Callable[[str], None] | None = None):
        self.url = url.rstrip("/")
        self.user, self.password, self.auth = user, password, auth
        self.timeout = timeout
        self.progress = progress or (lambda line: None)
        self.insecure = insecure
        self.server: str | None = None  # the Server header: HIP<swVersion>

    async def __aenter__(self) -> Reader:
        context: Any = None
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        timeout = aiohttp.ClientTimeout(total=self.timeout)
        middlewares: tuple[Any, ...] = ()
        headers = {}
        if self.auth == "digest":
            middlewares = (aiohttp.DigestAuthMiddleware(self.user, self.password, preemptive=True),)
        else:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        self.session = aiohttp.ClientSession(middlewares=middlewares, headers=headers, timeout=timeout,
                                             connector=aiohttp.TCPConnector(ssl=context))
        self.bare = aiohttp.ClientSession(timeout=timeout, connector=aiohttp.TCPConnector(ssl=context))
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.session.close()
        await self.bare.close()

    async def read(self, read: Read) -> Answer:
        answer = await self.fetch(read.path, method=read.method, json_body=read.json, xml=read.xml)
        self.progress(f"{read.method} {read.path}: {'ok' if answer.ok else answer.error}")
        return answer

    async def fetch(self, path: str, *, method: str = "GET", params: dict[str, str] | None = None,
                    json_body: Any = None, data: bytes | None = None, headers: dict[str, str] | None = None,
                    xml: bool = False, credentials: bool = True) -> Answer:
        session = self.session if credentials else self.bare
        answer = Answer(path)
        try:
            async with session.request(method, self.url + path, params=params, json=json_body, data=data,
                                       headers=headers) as resp:
                body = await resp.read()
                answer.status, answer.headers = resp.status, resp.headers
                self.server = resp.headers.get("Server", self.server)
        except TimeoutError:
            answer.error = f"no answer within {self.timeout:g} s"
            return answer
        except (aiohttp.ClientError, OSError, ValueError) as exc:
            answer.error = f"cannot connect: {exc or type(exc).__name__}"
            return answer
        content_type = resp.headers.get("Content-Type", "")
        if xml and resp.status == 200 and "xml" in content_type:
            answer.result = body
            return answer
        try:
            envelope = json.loads(body)
        except ValueError:
            answer.error = f"not the 2N JSON envelope (HTTP {resp.status}, {content_type or 'no Content-Type'})"
            return answer
        if not isinstance(envelope, dict) or "success" not in envelope:
            answer.error = f"not the 2N JSON envelope (HTTP {resp.status})"
        elif envelope["success"] is True:
            answer.result = envelope.get("result", {})
            if xml:
                answer.error = "JSON instead of the XML file"
        else:
            error = envelope.get("error") if isinstance(envelope.get("error"), dict) else {}
            answer.code = error.get("code")
            answer.error = f"error {answer.code}: {error.get('description', 'no description')}"
        return answer


# ----------------------------------------------------------------------------- the report


@dataclass
class Report:
    """What the capture could not read, what it assumed, what it left out, and where an emulator
    built from the profile answers differently from the device."""

    unread: list[str] = field(default_factory=list)
    assumed: list[str] = field(default_factory=list)
    left_out: list[str] = field(default_factory=list)
    differs: list[str] = field(default_factory=list)

    SECTIONS = (("unread", "could not be read (a default was used instead)"),
                ("assumed", "not readable through the API, so assumed"),
                ("left_out", "read but not kept"),
                ("differs", "an emulator built from this profile answers differently"))

    def lines(self) -> list[str]:
        out = []
        for name, title in self.SECTIONS:
            items = getattr(self, name)
            if items:
                out.append(f"{title}:")
                out.extend(f"  - {item}" for item in items)
        return out


# ----------------------------------------------------------------------------- building the profile


def _yes(value: Any) -> bool:
    return isinstance(value, str) and value.split(",")[0] == "active"


# Hardware the profile knows -> (system/caps option, log/caps event only a device with it lists).
HARDWARE = {
    "keypad": ("keypad", "CodeEntered"),
    "card_reader": ("cardReader", "CardEntered"),
    "tamper": ("tamperSwitch", "TamperSwitchActivated"),
    "microphone": ("noiseDetection", "NoiseDetected"),
    "bluetooth": ("bluetooth", "MobKeyEntered"),  # current firmware's log/caps lists mobile keys
}
# Licences -> system/caps option.
LICENCE_OPTIONS = {"enhanced-integration": "enhancedIntegration", "enhanced-audio": "enhancedAudio"}
# Profile key of a SIP account -> (phone/config key, config XML tag).
SIP_FIELDS = {
    "number": ("sipNumber", "Number"),
    "domain": ("domain", "Domain"),
    "display_name": ("displayName", "DisplayName"),
    "enabled": ("enabled", "Enabled"),
    "registration_enabled": ("registrationEnabled", "RegistrationEnabled"),
    "domain_port": ("domainPort", "DomainPort"),
    "proxy_address": ("proxyAddress", "ProxyAddress"),
    "proxy_port": ("proxyPort", "ProxyPort"),
    "registrar_address": ("registrarAddress", "RegistrarAddress"),
    "registrar_port": ("registrarPort", "RegistrarPort"),
}
SIP_DEFAULTS = {"number": "", "domain": "", "display_name": "", "enabled": True, "registration_enabled": True,
                "account_type": "general", "domain_port": 5060, "proxy_address": "", "proxy_port": 5060, "registrar_address": "",
                "registrar_port": 5060}
# Profile key of [identity] -> system/info key.
IDENTITY_FIELDS = {
    "variant": "variant", "serial_number": "serialNumber", "hw_version": "hwVersion", "sw_version": "swVersion",
    "build_type": "buildType", "device_name": "deviceName", "mac_address": "macAddr", "dev_type": "devType",
    "variant_id": "variantId", "customer_id": "customerId", "firmware_package": "firmwarePackage",
}
# A request without credentials that shows a service's authentication without acting (audio/test
# would run the test on a service without authentication, so audio is not probed).
SERVICE_PROBES = {
    "system": "/api/system/status", "switch": "/api/switch/caps", "io": "/api/io/caps",
    "phone": "/api/phone/status", "camera": "/api/camera/caps", "display": "/api/display/caps",
    "logging": "/api/log/caps", "email": "/api/email/send",
}
# Events that only a device with a door contact lists.
DOOR_EVENTS = ("UnauthorizedDoorOpen", "DoorOpenTooLong", "DoorStateChanged")


class Builder:
    """The profile, as TOML data with comments, from what the device answered."""

    def __init__(self, url: str, answers: dict[str, Answer], history: list[dict], probes: dict[str, Answer],
                 user: str, password: str, with_secrets: bool, report: Report):
        self.url = url
        self.a = answers
        self.history = history
        self.probes = probes
        self.user, self.password = user, password
        self.with_secrets = with_secrets
        self.report = report
        self.notes: dict[str, str] = {}  # key path -> comment
        self.config = self._config()
        self.level = (2, 15)

    # -- helpers ---------------------------------------------------------------------------

    def result(self, key: str, why_needed: str) -> Any:
        """The read result, or None with a line in the report (a function the firmware or model
        lacks is no failure and is not reported)."""
        answer = self.a[key]
        if answer.ok:
            return answer.result
        if not answer.missing_function:
            self.report.unread.append(f"{answer.path}: {answer.error} -> {why_needed}")
        return None

    def note(self, path: str, text: str) -> None:
        self.notes[path] = text

    def _config(self) -> Any:
        answer = self.a["config"]
        if not answer.ok:
            self.report.unread.append(f"/api/config: {answer.error} -> switch outputs and codes, services, accounts "
                                      "and the directory's switches from the other functions")
            return None
        try:
            root = etree.fromstring(answer.result, etree.XMLParser(resolve_entities=False, no_network=True))
        except etree.XMLSyntaxError as exc:
            self.report.unread.append(f"/api/config: not readable XML ({exc}) -> the other functions only")
            return None
        if root.tag != "DeviceDatabase":
            self.report.unread.append(f"/api/config: root element <{root.tag}>, not <DeviceDatabase>")
            return None
        unknown = [child.tag for child in root if isinstance(child.tag, str) and child.tag not in CONFIG_SECTIONS]
        if unknown:
            self.report.left_out.append("/api/config sections the profile has no place for: " + ", ".join(unknown))
        return root

    def xml(self, path: str) -> list[Any]:
        return [] if self.config is None else self.config.findall(path)

    def xml_text(self, path: str) -> str | None:
        return None if self.config is None else self.config.findtext(path)

    def config_comment(self, label: str) -> str | None:
        """A line of the comment at the head of the configuration file ("Bootloader version")."""
        if self.config is None:
            return None
        comment = self.config.getprevious()
        match = re.search(rf"^\s*{label}:\s*(.+?)\s*$", comment.text or "", re.M) if comment is not None else None
        return match.group(1) if match else None

    # -- the profile -----------------------------------------------------------------------

    def profile(self) -> dict[str, Any]:
        identity = self.identity()
        data: dict[str, Any] = {"description": f"{identity['variant']} captured from {public_url(self.url)} on "
                                               f"{datetime.date.today().isoformat()}"}
        data["identity"] = identity
        data["time"] = self.time()
        camera, display = self.camera(), self.display()
        data["camera"] = camera if camera is not None else False
        data["display"] = display if display is not None else False
        licences = self.licences()
        data["hardware"] = self.hardware()
        data["ports"] = self.ports()
        data["switches"] = self.switches(data["ports"])
        data["door"] = self.door(data["ports"])
        data["sip_accounts"] = self.sip_accounts()
        data["directory"] = {"template": self.family()}
        self.note("directory", "max_users is not readable through the API: the default")
        data["access"] = self.access_points()
        data["users"] = self.users(len(data["switches"]), data["directory"]["template"])
        data["hardware"]["buttons"] = self.buttons(data["users"])
        data["licence"] = {"installed": licences}
        data["services"] = self.services()
        data["accounts"] = self.accounts()
        data["security"] = self.security()
        data["events"] = {"history": 10000 if self.level >= levels.CURRENT else 500}
        self.note("events.history", "not readable: 500 events on firmware 2.15, 10,000 on current firmware")
        data["quirks"] = {"octet_stream_empty_post": self.octet_stream_quirk()}
        for drop in [k for k, v in data.items() if v in ({}, [])]:
            del data[drop]
        return data

    def identity(self) -> dict[str, Any]:
        info = self.result("info", "identity from the Server header and defaults") or {}
        out: dict[str, Any] = {}
        for key, wire in IDENTITY_FIELDS.items():
            if wire in info and info[wire] is not None:
                out[key] = info[wire]
        sw = out.get("sw_version")
        server = self.a["info"].headers.get("Server", "") if self.a["info"].headers else ""
        if not sw or not re.match(r"^\d+\.\d+\.\d+\.\d+\.\d+$", str(sw)):
            from_server = server[3:] if server.startswith("HIP") else ""
            sw = from_server if re.match(r"^\d+\.\d+\.\d+\.\d+\.\d+$", from_server) else "2.15.0.0.0"
            self.report.assumed.append(f"identity.sw_version: {sw} (from the Server header or the oldest level)")
            out["sw_version"] = sw
        self.level = profiles.version_tuple(out["sw_version"])[:2]
        for key, default in (("variant", "2N IP intercom"), ("serial_number", "00-0000-0000"),
                             ("hw_version", "unknown")):
            if not out.get(key):
                out[key] = default
                self.report.assumed.append(f"identity.{key}: {default!r} (system/info did not say)")
        if not re.match(r"^\d{2}-\d{4}-\d{4}$", out["serial_number"]):
            self.report.assumed.append(f"identity.serial_number: {out['serial_number']!r} is not NN-NNNN-NNNN; "
                                       "00-0000-0000 used")
            out["serial_number"] = "00-0000-0000"
        mac = out.get("mac_address") or self.xml_text("Network/MacAddress")
        if mac:
            mac = mac.upper().replace(":", "-")
            if re.match(r"^([0-9A-F]{2}-){5}[0-9A-F]{2}$", mac):
                out["mac_address"] = mac
            else:
                out.pop("mac_address", None)
                self.report.assumed.append(f"identity.mac_address: {mac!r} is not a MAC address; one made from "
                                           "the serial number")
        bootloader = self.config_comment("Bootloader version")
        if bootloader:
            out["bootloader_version"] = bootloader
            self.note("identity.bootloader_version", "from the head of /api/config")
        name = self.xml_text("System/DeviceName")
        if name and "device_name" not in out:
            out["device_name"] = name
        return out

    def time(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        shift = self.xml_text("System/TimeZoneShift")
        if shift is not None and re.match(r"^-?\d+$", shift.strip()):
            out["tz_shift"] = int(shift)
        elif self.history:
            out["tz_shift"] = int(self.history[-1].get("tzShift", 0))
            self.note("time.tz_shift", "the last event's tzShift")
        zone = self.result("timezone", "the fixed tz_shift") if self.level >= levels.TIMEZONE else None
        if isinstance(zone, dict) and isinstance(zone.get("zone"), str):
            if zone["zone"] in profiles.zones():
                out["zone"] = zone["zone"]
            else:
                self.report.left_out.append(f"system/timezone: zone {zone['zone']!r} is not an IANA zone the "
                                            "emulator knows; tz_shift used")
        return out

    def camera(self) -> dict[str, Any] | None:
        caps = self.result("camera", "no camera")
        if not isinstance(caps, dict):
            return None
        sizes = [f"{r['width']}x{r['height']}" for r in caps.get("jpegResolution", [])
                 if isinstance(r, dict) and isinstance(r.get("width"), int) and isinstance(r.get("height"), int)]
        sources = [s["source"] for s in caps.get("sources", []) if isinstance(s, dict) and s.get("source")]
        if not sizes:
            self.report.unread.append("/api/camera/caps: no resolutions -> 640x480")
            sizes = ["640x480"]
        out = {"sources": sources or ["internal"], "resolutions": sizes}
        self.note("camera.resolutions", "exactly camera/caps's list, in its order")
        self.report.assumed.append("camera.default_source: the first source (not readable through the API); "
                                   "snapshots are the emulator's test cards")
        return out

    def display(self) -> dict[str, Any] | None:
        caps = self.result("display", "no display")
        displays = caps.get("displays", []) if isinstance(caps, dict) else []
        if not displays:
            return None
        first = displays[0]
        if len(displays) > 1:
            self.report.left_out.append(f"display/caps: {len(displays) - 1} more display(s); the profile has one")
        resolution = first.get("resolution", {})
        return {"name": first.get("display", "internal"), "width": resolution.get("width", 320),
                "height": resolution.get("height", 240)}

    def _event_types(self) -> list[str] | None:
        caps = self.a["events"].result if self.a["events"].ok else None
        events = caps.get("events") if isinstance(caps, dict) else None
        return [e for e in events if isinstance(e, str)] if isinstance(events, list) else None

    def hardware(self) -> dict[str, Any]:
        caps = self.result("caps", "hardware from log/caps") if self.level >= levels.CURRENT else None
        options = caps.get("options", {}) if isinstance(caps, dict) else {}
        events = self._event_types()
        if events is None:
            self.result("events", "hardware and event types worked out from the rest")
        out: dict[str, Any] = {}
        for key, (option, event) in HARDWARE.items():
            if option in options:
                out[key] = _yes(options[option])
            elif events is not None:
                out[key] = event in events
                self.note(f"hardware.{key}", f"{event} in log/caps" if out[key] else f"no {event} in log/caps")
            else:
                self.report.assumed.append(f"hardware.{key}: false (neither system/caps nor log/caps read)")
                out[key] = False
        if out["card_reader"]:
            readers = [e["params"].get("reader") for e in self.history if e.get("event") == "CardEntered"
                       and isinstance(e.get("params"), dict) and isinstance(e["params"].get("reader"), str)]
            if readers:
                out["card_reader"] = readers[-1]
                self.note("hardware.card_reader", "the reader named by the last CardEntered in the history")
            else:
                out["card_reader"] = "internal"
                self.report.assumed.append("hardware.card_reader: 'internal' (no CardEntered in the event "
                                           "history to name the reader)")
        else:
            out["card_reader"] = ""
        return out

    def buttons(self, users: list[dict[str, Any]]) -> int:
        seen = [b for u in users for b in u.get("buttons", [])]
        seen += [int(e["params"]["key"][1:]) for e in self.history if e.get("event") == "KeyPressed"
                 and str(e.get("params", {}).get("key", "")).startswith("%")
                 and str(e["params"]["key"][1:]).isdigit()]
        count = max(seen, default=0)
        self.report.assumed.append(f"hardware.buttons: {count}, the highest quick-dial button the directory and "
                                   "the event history use (the API does not say how many there are)")
        return count

    def licences(self) -> list[str]:
        caps = self.a["caps"].result if self.a["caps"].ok and self.level >= levels.CURRENT else None
        options = caps.get("options", {}) if isinstance(caps, dict) else {}
        installed = []
        for licence, option in LICENCE_OPTIONS.items():
            if option in options:
                if _yes(options[option]):
                    installed.append(licence)
                continue
            if licence == "enhanced-integration":
                refused = [a.path for a in self.a.values() if a.code == 5]
                if refused:
                    self.report.unread.append(f"the Enhanced Integration licence is missing: {', '.join(refused)} "
                                              "answered 5 (the emulator will too)")
                else:
                    installed.append(licence)
            else:
                events = self._event_types() or []
                if "AudioLoopTest" in events or "NoiseDetected" not in events:
                    installed.append(licence)
                    if "AudioLoopTest" not in events:
                        self.report.assumed.append("licence enhanced-audio: installed (no way to tell)")
        return installed

    def ports(self) -> list[dict[str, Any]]:
        caps = self.result("ports", "no I/O ports")
        ports = caps.get("ports", []) if isinstance(caps, dict) else []
        out = [{"port": p["port"], "type": p["type"]} for p in ports
               if isinstance(p, dict) and isinstance(p.get("port"), str) and p.get("type") in profiles.PORT_TYPES]
        if out:
            self.note("ports", "io/caps, in the device's order")
        return out

    def switches(self, ports: list[dict[str, Any]]) -> list[dict[str, Any]]:
        caps = self.result("switches", "4 monostable switches of 5 s, driving no port")
        entries = caps.get("switches", []) if isinstance(caps, dict) else []
        if not entries:
            status = self.a["switch_status"].result if self.a["switch_status"].ok else {}
            entries = [{"switch": s.get("switch"), "enabled": True} for s in (status or {}).get("switches", [])]
        xml = {el.get("Id"): el for el in self.xml("Switches/Switch")}
        entries = [e for e in entries if isinstance(e, dict)][:4] or \
            [{"enabled": _int(el, "Enabled") != 0} for el in list(xml.values())[:4]] or \
            [{"enabled": True} for _ in range(4)]
        outputs = {p["port"] for p in ports if p["type"] == "output"}
        out = []
        for i, entry in enumerate(entries, start=1):
            switch: dict[str, Any] = {"enabled": bool(entry.get("enabled", True))}
            el = xml.get(str(i))
            mode = entry.get("mode") or _index(el, "Mode", profiles.SWITCH_MODES)
            if mode in profiles.SWITCH_MODES:
                switch["mode"] = mode
            duration = entry.get("switchOnDuration", _int(el, "Duration"))
            if isinstance(duration, int) and 1 <= duration <= 86400:
                switch["duration"] = duration
            kind = entry.get("type") or _index(el, "Type", profiles.SWITCH_TYPES)
            if kind in profiles.SWITCH_TYPES:
                switch["type"] = kind
            elif kind:
                self.report.left_out.append(f"switch {i}: type {kind!r} is not one the emulator knows; normal")
            output = el.findtext("Output") if el is not None else None
            if output and output in outputs:
                switch["output"] = output
            elif switch["enabled"] and el is None:
                self.report.assumed.append(f"switches[{i - 1}].output: none (the port a switch drives is not "
                                           "readable without the emulator's configuration layout)")
            if el is not None and self.with_secrets:
                codes = [c.text for c in el.findall("Codes/Code") if c.text and re.match(r"^\d{2,16}$", c.text)]
                if codes:
                    switch["codes"] = codes
            out.append(switch)
        return out

    def door(self, ports: list[dict[str, Any]]) -> dict[str, Any]:
        events = self._event_types() or []
        inputs = [p["port"] for p in ports if p["type"] == "input" and p["port"] != "tamper"]
        if any(e in events for e in DOOR_EVENTS) and inputs:
            self.report.assumed.append(f"door.input: {inputs[0]} (log/caps lists door events; the contact's "
                                       "input is not readable)")
            return {"input": inputs[0], "switch": 1}
        return {}

    def sip_accounts(self) -> list[dict[str, Any]]:
        accounts: dict[int, dict[str, Any]] = {}
        status = self.result("phone", "SIP accounts from the configuration")
        for entry in (status or {}).get("accounts", []) if isinstance(status, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("account"), int):
                acc = accounts.setdefault(entry["account"], {})
                for key in ("number", "enabled", "registration_enabled"):
                    wire = SIP_FIELDS[key][0]
                    if wire in entry:
                        acc[key] = entry[wire]
                kind = entry.get("accountType", "general")  # current firmware's phone/status says it
                if kind in profiles.ACCOUNT_TYPES:
                    acc["account_type"] = kind
                else:
                    self.report.left_out.append(f"SIP account {entry['account']}: accountType {kind!r} "
                                                "(not one the emulator knows; general)")
        for el in self.xml("Phone/SipAccount"):
            if (el.get("Id") or "").isdigit():
                acc = accounts.setdefault(int(el.get("Id")), {})
                for key, (_, tag) in SIP_FIELDS.items():
                    text = el.findtext(tag)
                    if text is not None:
                        acc[key] = _typed(text, SIP_DEFAULTS[key])
        config = self.result("phone_config", "SIP settings from phone/status and the configuration") \
            if self.level >= levels.CURRENT else None
        for entry in (config or {}).get("accounts", []) if isinstance(config, dict) else []:
            if isinstance(entry, dict) and isinstance(entry.get("account"), int):
                acc = accounts.setdefault(entry["account"], {})
                for key, (wire, _) in SIP_FIELDS.items():
                    if wire in entry and type(entry[wire]) is type(SIP_DEFAULTS[key]):
                        acc[key] = entry[wire]
        numbers = sorted(n for n in accounts if 1 <= n <= 4)
        if not numbers:
            self.report.assumed.append("sip_accounts: one unregistered account (none could be read)")
            return [{"number": "", "registration_enabled": False}]
        out = []
        for n in range(1, numbers[-1] + 1):  # the profile numbers accounts by position
            acc = {k: v for k, v in accounts.get(n, {}).items() if v != SIP_DEFAULTS[k] or k == "number"}
            out.append(acc)
        if self.with_secrets is False:
            self.note("sip_accounts", "SIP passwords are not readable through the API")
        return out

    def family(self) -> str:
        """The directory's model family: the one whose record has the very fields of dir/template's
        entry (or, on firmware without dir/*, of a user's record in the configuration)."""
        template = self.result("template", "the directory's family from the records or the firmware package") \
            if self.level >= levels.CURRENT else None
        entries = template.get("users") if isinstance(template, dict) else None
        samples = [e for e in (entries or [])[:1] if isinstance(e, dict)]
        samples += [r for r in map(_xml_record, self.xml("Directory/User")) if r is not None][:1]
        for sample in samples:
            for name, fields in TEMPLATES.items():
                if _shape(fields) == _shape(sample):
                    self.note("directory.template", "the family whose fields the device's user record has")
                    return name
        info = self.a["info"].result
        package = info.get("firmwarePackage") if isinstance(info, dict) else None
        family = package if package in TEMPLATES else "verso"
        self.report.assumed.append(f"directory.template: {family!r} (no user record with the fields of a family the "
                                   "emulator knows; " + ("the firmware package" if family == package else "default")
                                   + ")")
        return family

    def access_points(self) -> dict[str, bool]:
        """Access point 0 (Entry) and 1 (Exit) enabled, from the configuration."""
        points = {el.get("Id"): el for el in self.xml("AccessPoints/AccessPoint")}
        out = {key: points[ap].findtext("Enabled") == "1" for key, ap in (("entry", "0"), ("exit", "1"))
               if ap in points and points[ap].findtext("Enabled") in ("0", "1")}
        if any(el.findtext("Blocked") == "1" for el in points.values()):
            self.report.left_out.append("access points blocked now (accesspoint/blocking/ctrl): a boot unblocks them")
        return out

    def users(self, switch_count: int, family: str) -> list[dict[str, Any]]:
        """The directory: dir/query's records, then the configuration's (which say each user's switch)."""
        records: dict[str, dict[str, Any]] = {}
        query = self.result("directory", "the directory from the configuration") \
            if self.level >= levels.CURRENT else None
        for record in (query or {}).get("users", []) if isinstance(query, dict) else []:
            if isinstance(record, dict) and not record.get("deleted") and isinstance(record.get("uuid"), str):
                records[record["uuid"].upper()] = record
        switches: dict[str, int] = {}
        for el in self.xml("Directory/User"):
            uuid = (el.get("Uuid") or "").upper()
            record = _xml_record(el)
            if uuid and record is not None:
                records.setdefault(uuid, record)
            switch = el.findtext("Switch")
            if switch and switch.isdigit() and 1 <= int(switch) <= switch_count:
                switches[uuid] = int(switch)
        blank = TEMPLATES[family]
        extras: set[str] = set()
        out = []
        for uuid, record in records.items():
            if not isinstance(record.get("name"), str) or not record["name"]:
                continue
            access = record.get("access") if isinstance(record.get("access"), dict) else {}
            calls = [p for p in record.get("callPos", []) if isinstance(p, dict)]
            buttons = str(record.get("buttons", "")).replace(";", ",").split(",")
            pin = str(access.get("pin") or "")
            user = {"name": record["name"], "uuid": uuid,
                    "peers": [p["peer"] for p in calls if p.get("peer")],
                    "buttons": [int(b) for b in buttons if b.strip().isdigit() and 1 <= int(b) <= 150],
                    "cards": [c for c in (str(c).upper() for c in access.get("card", []) or [])
                              if re.match(r"^[0-9A-F]{6,16}$", c)],
                    "pin": pin if self.with_secrets and re.match(r"^\d{2,16}$", pin) else "",
                    "switch": switches.get(uuid)}
            out.append({k: v for k, v in user.items() if v not in ([], "", None)})
            # What the record holds beyond the profile's keys (a value other than the template's).
            if [{**p, "peer": ""} for p in calls] != blank.get("callPos", []):
                extras.add("callPos (but the peers)")
            extras |= {k for k, v in record.items() if k not in (*META, "name", "callPos", "buttons", "access")
                       and v != blank.get(k)}
            extras |= {f"access.{k}" for k, v in access.items() if k not in ("card", "pin")
                       and v != blank.get("access", {}).get(k)}
        if extras:
            self.report.left_out.append("directory fields the profile has no place for: " + ", ".join(sorted(extras)))
        if out and not self.with_secrets:
            self.note("users", "users' PINs left out (capture --with-secrets keeps them)")
        return out

    def services(self) -> dict[str, Any]:
        services: dict[str, dict[str, Any]] = {}
        for el in self.xml("HttpApi/Service"):
            name = el.get("Name")
            if name not in profiles.SERVICES:
                self.report.left_out.append(f"/api/config: HTTP API service {name!r} the emulator does not have")
                continue
            service = services[name] = {}
            enabled, transport, auth = el.findtext("Enabled"), _index(el, "Transport", profiles.TRANSPORTS), \
                _index(el, "Auth", profiles.AUTH_METHODS)
            if enabled in ("0", "1"):
                service["enabled"] = enabled == "1"
            if transport:
                service["transport"] = transport
            if auth:
                service["auth"] = auth
        observed = self._probed_services()
        overruled = [n for n, o in observed.items() if "auth" in o and services.get(n, {}).get("auth", o["auth"])
                     != o["auth"]]
        for name, seen in observed.items():  # what the device does wins over its configuration file
            services.setdefault(name, {}).update(seen)
        if overruled:  # the file is not what the device does: what could not be observed goes with the rest
            auths = [o["auth"] for o in observed.values() if "auth" in o]
            usual = max(set(auths), key=auths.count)
            for name in profiles.SERVICES:
                if "auth" not in observed.get(name, {}):
                    services.setdefault(name, {})["auth"] = usual
                    self.report.assumed.append(f"services.{name}.auth: {usual!r} as the other services (the "
                                               "configuration file said otherwise for them; this one did not show)")
        full = {n: {"enabled": True, "transport": "http", "auth": "digest", **services.get(n, {})}
                for n in profiles.SERVICES}
        triples = [tuple(s.values()) for s in full.values()]
        common = max(set(triples), key=triples.count)
        out: dict[str, Any] = dict(zip(("enabled", "transport", "auth"), common, strict=True))
        for name, service in full.items():
            if tuple(service.values()) != common:
                out[name] = {k: v for k, v in service.items() if out[k] != v}
        return out

    def _probed_services(self) -> dict[str, dict[str, Any]]:
        """Each service's settings as a request without credentials shows them."""
        services: dict[str, dict[str, Any]] = {}
        for name, answer in self.probes.items():
            if name not in profiles.SERVICES:
                continue
            service = services[name] = {}
            if answer.status == 401:
                schemes = " ".join(answer.headers.getall("WWW-Authenticate", [])).lower()
                service["auth"] = "digest" if "digest" in schemes else "basic"
            elif answer.code == 4:
                service["enabled"] = False
            elif answer.code == 7:
                service["transport"] = "https"
            elif answer.ok or answer.code in (10, 11, 12):
                service["auth"] = "none"
        if self.config is None:
            unknown = sorted(set(profiles.SERVICES) - {n for n, s in services.items() if s})
            self.report.assumed.append("services: from requests without credentials (the configuration was not "
                                       "read)" + (f"; {', '.join(unknown)} as the others" if unknown else ""))
        return services

    def accounts(self) -> list[dict[str, Any]]:
        out = []
        for el in self.xml("HttpApi/Account"):
            name = el.findtext("Name")
            if not name:
                continue
            try:
                privileges = sorted(parse_privileges((el.findtext("Privileges") or "").split(",")))
            except ValueError as exc:
                self.report.left_out.append(f"account {name!r}: {exc}")
                privileges = []
            password = el.findtext("Password") or "" if self.with_secrets else FACTORY_PASSWORD
            out.append({"name": name, "password": password,
                        "privileges": ["all"] if set(privileges) == ALL_PRIVILEGES else privileges})
        if not out:
            out = [{"name": self.user, "password": self.password if self.with_secrets else FACTORY_PASSWORD,
                    "privileges": ["all"]}]
            self.report.assumed.append(f"accounts: only {self.user!r}, with every privilege (the configuration "
                                       "was not read)")
        if not self.with_secrets:
            self.note("accounts", f"passwords left out: each is the factory {FACTORY_PASSWORD!r} (capture "
                                  "--with-secrets keeps them; --user on the emulator replaces the accounts)")
        return out[:5]

    def security(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        answer = self.probes.get("system")
        challenges = answer.headers.getall("WWW-Authenticate", []) if answer is not None and answer.headers else []
        for challenge in challenges:
            scheme, _, rest = challenge.partition(" ")
            fields = {k.lower(): (quoted if quoted else raw) for k, raw, quoted in _CHALLENGE.findall(rest)}
            if "realm" in fields:
                out["realm"] = fields["realm"]
            if scheme.lower() == "digest" and fields.get("algorithm", "MD5").upper() in profiles.DIGEST_ALGORITHMS:
                out["digest_algorithm"] = fields.get("algorithm", "MD5").upper()
        if out:
            self.note("security", "from the device's authentication challenge")
        return out

    def octet_stream_quirk(self) -> bool:
        answer = self.probes.get("octet-stream")
        quirk = answer is not None and answer.code == 14 and "content-type" in (answer.error or "").lower()
        self.note("quirks.octet_stream_empty_post", "an empty application/octet-stream POST to log/caps was "
                  + ("refused" if quirk else "answered"))
        return quirk


def _index(el: Any, tag: str, choices: tuple[str, ...]) -> str | None:
    """A configuration setting stored as an index counted from 0."""
    text = el.findtext(tag) if el is not None else None
    return choices[int(text)] if text is not None and text.isdigit() and int(text) < len(choices) else None


def _xml_record(el: Any) -> dict[str, Any] | None:
    """A directory user's record in the configuration: its Record JSON (the template's fields)."""
    try:
        record = json.loads(el.findtext("Record") or "")
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _shape(value: Any) -> Any:
    """A record's fields without their values: keys, list lengths and types (not uuid, deleted, timestamp)."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items() if k not in META}
    if isinstance(value, list):
        return [_shape(v) for v in value]
    return type(value).__name__


def _int(el: Any, tag: str) -> int | None:
    text = el.findtext(tag) if el is not None else None
    return int(text) if text is not None and text.isdigit() else None


def _typed(text: str, like: Any) -> Any:
    if isinstance(like, bool):
        return text.strip() == "1"
    if isinstance(like, int):
        return int(text) if text.strip().isdigit() else like
    return text


# ----------------------------------------------------------------------------- TOML


def render(data: dict[str, Any], notes: dict[str, str], head: Sequence[str]) -> str:
    """The profile as commented TOML."""
    doc = tomlkit.document()
    for line in head:
        doc.add(tomlkit.comment(line.removeprefix(" ")) if line else tomlkit.nl())
    _fill(doc, data, notes, "")
    return tomlkit.dumps(doc)


def _fill(container: Any, data: dict[str, Any], notes: dict[str, str], prefix: str) -> None:
    def order(item: tuple[str, Any]) -> int:  # TOML: plain keys, then tables, then arrays of tables
        value = item[1]
        return 2 if _is_aot(value) else 1 if isinstance(value, dict) else 0

    for key, value in sorted(data.items(), key=order):
        path = prefix + key
        if isinstance(value, dict):
            table = tomlkit.table()
            _fill(table, value, notes, path + ".")
            if path in notes:
                table.comment(notes[path])
            container.add(key, table)
        elif _is_aot(value):
            container.add(tomlkit.nl())
            if path in notes:
                container.add(tomlkit.comment(notes[path]))
            aot = tomlkit.aot()
            for i, item in enumerate(value):
                table = tomlkit.table()
                _fill(table, item, notes, f"{path}[{i}].")
                aot.append(table)
            container.add(key, aot)
        else:
            item = tomlkit.item(value)
            if path in notes:
                item.comment(notes[path])
            container.add(key, item)


def _is_aot(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def checked(data: dict[str, Any], report: Report) -> profiles.Profile:
    """Load the profile with the emulator's own reader; a value it refuses is left out (its default
    is used) and reported. Returns the loaded profile."""
    refused: set[str] = set()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "captured.toml"
        while True:
            path.write_text(tomlkit.dumps(data), encoding="utf-8")
            try:
                return profiles.load(str(path))
            except profiles.ProfileError as exc:
                if exc.key in refused or not _drop(data, exc.key):
                    raise
                refused.add(exc.key)
                report.left_out.append(f"{exc.key}: {exc.reason} (the emulator's default used)")


def _drop(data: dict[str, Any], key: str) -> bool:
    """Remove a key named as the profile reader names it ("switches[0].output")."""
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", key)
    node: Any = data
    for part in parts[:-1]:
        node = node[int(part[1:-1])] if part.startswith("[") else node.get(part) if isinstance(node, dict) else None
        if node is None:
            return False
    last = parts[-1] if parts else ""
    if isinstance(node, dict) and last in node:
        del node[last]
        return True
    return False


# ----------------------------------------------------------------------------- the whole capture


async def read_device(reader: Reader) -> tuple[dict[str, Answer], list[dict], dict[str, Answer]]:
    """Every READ, the event history and the probes."""
    answers = {read.key: await reader.read(read) for read in READS}
    history: list[dict] = []
    subscribed = await reader.fetch("/api/log/subscribe", params={"include": "all"})
    if subscribed.ok and isinstance(subscribed.result, dict) and "id" in subscribed.result:
        channel = str(subscribed.result["id"])
        for _ in range(MAX_PULLS):
            pulled = await reader.fetch("/api/log/pull", params={"id": channel, "timeout": "0"})
            events = pulled.result.get("events") if pulled.ok and isinstance(pulled.result, dict) else None
            if not events:
                break
            history.extend(e for e in events if isinstance(e, dict))
        await reader.fetch("/api/log/unsubscribe", params={"id": channel})
        reader.progress(f"event history: {len(history)} events")
    probes = {name: await reader.fetch(path, credentials=False) for name, path in SERVICE_PROBES.items()}
    probes["octet-stream"] = await reader.fetch("/api/log/caps", method="POST", data=b"",
                                                headers={"Content-Type": "application/octet-stream"})
    reader.progress("services probed without credentials")
    return answers, history, probes


async def capture(url: str, user: str, password: str, *, auth: str = "digest", insecure: bool = False,
                  with_secrets: bool = False, timeout: float = DEFAULT_TIMEOUT, verify: bool = True,
                  progress: Callable[[str], None] | None = None) -> tuple[str, Report]:
    """Read the device at `url` and return the profile's TOML text and the report."""
    report = Report()
    async with Reader(url, user, password, auth, insecure, timeout, progress) as reader:
        answers, history, probes = await read_device(reader)
    if not any(a.ok or a.code is not None for a in answers.values()):
        raise CaptureError(f"{public_url(url)} did not answer as a 2N device: {answers['info'].error}")
    builder = Builder(url, answers, history, probes, user, password, with_secrets, report)
    data = builder.profile()
    profile = checked(data, report)
    overrides(profile, answers, data, builder.notes)
    checked(data, report)
    if verify:
        await compare(data, answers, url, user, password, auth, timeout, report, progress)
    head = [f" {data['description']}, by helios-emulator capture.",
            " Load it with: helios-emulator --profile THIS-FILE.toml",
            " Every key is described in the README (Profiles)."]
    if not with_secrets:
        head.append(" Secrets (passwords, switch codes, PINs) are left out; capture --with-secrets keeps them.")
    lines = report.lines()
    if lines:
        head += [""] + [" " + line for line in lines]
    return render(data, builder.notes, head + [""]), report


def overrides(profile: profiles.Profile, answers: dict[str, Answer], data: dict[str, Any],
              notes: dict[str, str]) -> None:
    """What the emulator would work out from the hardware but the device reports otherwise: the
    exact log/caps list and system/caps options go into the profile."""
    from emulator.api.system import options
    from emulator.device.device import Device

    device = Device(profile)
    events = answers["events"].result.get("events") if answers["events"].ok else None
    if isinstance(events, list) and all(isinstance(e, str) for e in events) and events != device.event_types():
        data.setdefault("events", {})["types"] = events
        notes["events.types"] = "exactly log/caps's list (the emulator would list others)"
    caps = answers["caps"].result.get("options") if answers["caps"].ok and isinstance(answers["caps"].result, dict) \
        else None
    if isinstance(caps, dict):
        # Compared with an emulator without an RTSP server (as the verify step's): a device whose
        # rtspServer is active keeps it in the profile, whether or not its emulator serves RTSP.
        derived = options(device, rtsp=False)
        extra = {k: v for k, v in caps.items() if isinstance(v, str) and derived.get(k) != v}
        if extra:
            data["system_caps"] = extra
            notes["system_caps"] = "system/caps options the emulator would not work out from the hardware"


async def compare(data: dict[str, Any], answers: dict[str, Answer], url: str, user: str, password: str,
                  auth: str, timeout: float, report: Report, progress: Callable[[str], None] | None) -> None:
    """Capture an emulator built from the profile and report where it answers otherwise."""
    from emulator.app import Emulator
    from emulator.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "captured.toml"
        path.write_text(tomlkit.dumps(data), encoding="utf-8")
        scheme = urlsplit(url).scheme or "http"
        emulator = Emulator(Settings(host="127.0.0.1", port=0, https_port=0, profile=str(path), clock="virtual",
                                     users=[Account(user, password, ALL_PRIVILEGES)]))
        await emulator.start()
        try:
            async with Reader(emulator.urls[scheme], user, password, auth, True, timeout) as mirror:
                for read in READS:
                    original = answers.get(read.key)
                    if not read.static or original is None or not original.ok:
                        continue
                    again = await mirror.fetch(read.path, method=read.method, json_body=read.json, xml=read.xml)
                    report.differs.extend(f"{read.path}: {d}"
                                          for d in differences(normalise(original.result), normalise(again.result)
                                                               if again.ok else again.error))
        finally:
            await emulator.stop()
    if progress is not None:
        progress(f"compared with an emulator built from the profile: {len(report.differs)} difference(s)")


def normalise(value: Any) -> Any:
    """A reply with what differs between any two boots (VOLATILE keys) replaced by "*"."""
    if isinstance(value, dict):
        return {k: "*" if k in VOLATILE else normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v) for v in value]
    return value


def differences(device: Any, emulator: Any, where: str = "", limit: int = 5) -> list[str]:
    """Where two replies differ, as "path: device X, emulator Y" (at most `limit`)."""
    out: list[str] = []
    if isinstance(device, dict) and isinstance(emulator, dict):
        for key in list(device) + [k for k in emulator if k not in device]:
            if len(out) >= limit:
                break
            sub = f"{where}.{key}" if where else key
            if key not in emulator:
                out.append(f"{sub}: device {_short(device[key])}, emulator none")
            elif key not in device:
                out.append(f"{sub}: device none, emulator {_short(emulator[key])}")
            else:
                out += differences(device[key], emulator[key], sub, limit - len(out))
    elif isinstance(device, list) and isinstance(emulator, list) and len(device) == len(emulator):
        for i, (a, b) in enumerate(zip(device, emulator, strict=True)):
            out += differences(a, b, f"{where}[{i}]", limit - len(out))
            if len(out) >= limit:
                break
    elif device != emulator:
        out.append(f"{where or 'reply'}: device {_short(device)}, emulator {_short(emulator)}")
    return out[:limit]


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, bytes) else f"{len(value)} bytes"
    return text if len(text) <= 80 else text[:77] + "..."


class CaptureError(Exception):
    pass


# ----------------------------------------------------------------------------- command line


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="helios-emulator capture",
        description="Read a 2N device through its HTTP API and print a profile that makes the emulator that "
                    "device (helios-emulator --profile FILE). Progress and the report go to stderr.")
    p.add_argument("url", help="the device, e.g. https://192.168.1.50")
    p.add_argument("--user", required=True, metavar="NAME:PASSWORD", help="an API account of the device")
    p.add_argument("--auth", choices=("digest", "basic"), default="digest",
                   help="how to authenticate (default digest, as the device's factory setting)")
    p.add_argument("--insecure", action="store_true", help="accept the device's self-signed HTTPS certificate")
    p.add_argument("--with-secrets", action="store_true",
                   help="keep account passwords, switch codes and PINs in the profile")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds to wait for each reply (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--no-verify", dest="verify", action="store_false",
                   help="do not compare the device with an emulator built from the profile")
    p.add_argument("-o", "--output", type=Path, help="write the profile here instead of stdout")
    return p


def main(argv: Sequence[str]) -> None:
    args = parser().parse_args(argv)
    user, sep, password = args.user.partition(":")
    if not sep or not user:
        raise SystemExit("helios-emulator capture: --user NAME:PASSWORD")
    if not urlsplit(args.url).scheme:
        args.url = "http://" + args.url

    def progress(line: str) -> None:
        print(f"capture: {line}", file=sys.stderr, flush=True)

    try:
        text, report = asyncio.run(capture(args.url, user, password, auth=args.auth, insecure=args.insecure,
                                           with_secrets=args.with_secrets, timeout=args.timeout,
                                           verify=args.verify, progress=progress))
    except CaptureError as exc:
        raise SystemExit(f"helios-emulator capture: {exc}") from None
    for line in report.lines() or ["everything read; no differences"]:
        print(f"capture: {line}", file=sys.stderr)
    if args.output is not None:
        args.output.write_text(text, encoding="utf-8")
        print(f"capture: profile written to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
