"""Model profiles: one TOML file per model and firmware generation.

A profile says what the hardware is (switches, ports, camera, display, keypad, card reader),
who the device is (identity strings), which firmware it runs (so which API functions and reply
fields exist), its licences, its security settings and its factory configuration. Code asks a
profile about capabilities (`profile.camera is not None`, `profile.api_level >= (2, 36)`); it
never asks for a model name.

A profile may `extends = "other"`: tables merge key by key, arrays replace. Every key is
checked at load; a bad file fails with its path, the key and the reason.
"""

from __future__ import annotations

import functools
import hashlib
import re
import tomllib
import uuid
import zoneinfo
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.device.security import ALL_PRIVILEGES, Account, Service, parse_privileges
from emulator.errors import did_you_mean
from emulator.resources import data_dir

PROFILE_DIR = data_dir("profiles")
ASSETS = data_dir("assets")
DEFAULT_PROFILE = "verso"

# Firmware from which no function needs the Enhanced Integration licence (manual overview, 2.35).
LICENCE_FREE_FROM = (2, 35)

SERVICES = ("system", "switch", "io", "phone", "camera", "display", "logging", "audio", "email", "automation")
AUTH_METHODS = ("none", "basic", "digest")
TRANSPORTS = ("http", "https")
LICENCES = ("enhanced-integration", "enhanced-audio")
SWITCH_MODES = ("monostable", "bistable")
SWITCH_TYPES = ("normal", "security", "inverted")
PORT_TYPES = ("input", "output")
ACCOUNT_TYPES = ("general", "local", "msteams")
DIGEST_ALGORITHMS = ("MD5", "SHA-256")


class ProfileError(Exception):
    """A profile file that cannot be used, with where and why."""

    def __init__(self, file: str, key: str, reason: str):
        super().__init__(f"{file}: {key}: {reason}")
        self.file = file
        self.key = key
        self.reason = reason


# ----------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class Identity:
    variant: str
    serial_number: str
    hw_version: str
    sw_version: str
    build_type: str
    device_name: str
    bootloader_version: str
    mac_address: str
    dev_type: str
    variant_id: int
    customer_id: int
    firmware_package: str


@dataclass(frozen=True)
class Resolution:
    width: int
    height: int

    def __str__(self) -> str:
        return f"{self.width}x{self.height}"


@dataclass(frozen=True)
class Camera:
    sources: tuple[str, ...]
    default_source: str
    resolutions: tuple[Resolution, ...]
    lenient_resolution: bool
    stills: dict[str, str]  # source -> image behind its test card (an absolute path)


@dataclass(frozen=True)
class Display:
    name: str
    width: int
    height: int


@dataclass(frozen=True)
class Hardware:
    keypad: bool
    card_reader: str  # reader name in CardEntered ("internal", "external", "ext7"), "" = none
    tamper: bool
    microphone: bool
    buttons: int  # quick-dial buttons %1..%N


@dataclass(frozen=True)
class SwitchSettings:
    enabled: bool
    mode: str
    duration: int
    type: str
    output: str  # the port the switch drives, "" for none
    codes: tuple[str, ...]


@dataclass(frozen=True)
class PortSettings:
    port: str
    type: str


@dataclass(frozen=True)
class Door:
    input: str  # door-contact input; "" = no door monitoring
    switch: int  # the lock switch
    open_too_long: float


@dataclass(frozen=True)
class SipAccountSettings:
    number: str
    domain: str
    display_name: str
    enabled: bool
    registration_enabled: bool
    account_type: str  # general | local | msteams (phone/status accountType)


@dataclass(frozen=True)
class Calls:
    ring_delay: float  # connecting -> ringing
    answer_delay: float  # ringing -> connected when the peer answers by itself; 0 = never
    register_delay: float  # SIP registration after boot


@dataclass(frozen=True)
class User:
    name: str
    uuid: str
    peers: tuple[str, ...]
    buttons: tuple[int, ...]
    cards: tuple[str, ...]
    codes: tuple[str, ...]
    switch: int


@dataclass(frozen=True)
class HttpTrigger:
    """An HttpTrigger block of the device's Automation (automation/trigger, /enu/trigger/<name>)."""

    name: str
    switch: int  # the switch its Action activates (originator "automation"); 0 = none


@dataclass(frozen=True)
class Security:
    realm: str
    digest_algorithm: str
    nonce_lifetime: float
    login_attempts: int
    login_block_seconds: float


@dataclass(frozen=True)
class Events:
    history: int
    max_channels: int
    channel_queue: int


@dataclass(frozen=True)
class Timing:
    restart_seconds: float  # offline time of a restart
    audio_test_seconds: float
    audio_test_result: str
    config_apply_delay: float
    firmware_reject_after: float


@dataclass(frozen=True)
class Quirks:
    """Behaviour of a real firmware that is unkind to clients, on by default where the profile's
    firmware has it (an emulator kinder than the device hides client bugs); --no-quirks."""

    octet_stream_empty_post: bool  # fw 2.50: POST with an empty octet-stream body -> 14


NO_QUIRKS = Quirks(octet_stream_empty_post=False)


@dataclass(frozen=True)
class Email:
    smtp: str  # "host:port" or ""
    sender: str


@dataclass(frozen=True)
class Profile:
    name: str
    path: str
    description: str
    identity: Identity
    tz_shift: int
    time_zone: str  # an IANA zone ("Europe/Prague"); "" = the fixed tz_shift
    camera: Camera | None
    display: Display | None
    hardware: Hardware
    switches: tuple[SwitchSettings, ...]
    ports: tuple[PortSettings, ...]
    door: Door
    sip_accounts: tuple[SipAccountSettings, ...]
    calls: Calls
    users: tuple[User, ...]
    http_triggers: tuple[HttpTrigger, ...]
    licences: frozenset[str]
    services: dict[str, Service]
    accounts: tuple[Account, ...]
    security: Security
    events: Events
    timing: Timing
    quirks: Quirks
    email: Email
    api_level: tuple[int, int] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_level", version_tuple(self.identity.sw_version)[:2])

    def resolution(self, width: int, height: int) -> Resolution | None:
        if self.camera is None:
            return None
        wanted = Resolution(width, height)
        return wanted if wanted in self.camera.resolutions else None


@functools.cache
def zones() -> frozenset[str]:
    """The IANA time zone names (from the tzdata package where the system has none)."""
    return frozenset(zoneinfo.available_timezones())


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


# ----------------------------------------------------------------------------- loading


def available() -> list[str]:
    return sorted(p.stem for p in PROFILE_DIR.glob("*.toml"))


def load(name_or_path: str = DEFAULT_PROFILE) -> Profile:
    """Load a shipped profile by name ("verso") or any profile file by path."""
    return read(name_or_path)[0]


def read(name_or_path: str) -> tuple[Profile, dict[str, Any], dict[str, Any]]:
    """A profile, what the loader took its keys to be (the description of the format, see _Table),
    and what each key came to (defaults included)."""
    path = _locate(name_or_path)
    data = _read_with_parents(path, seen=())
    reader = _Reader(data, str(path))
    return reader.profile(path), reader.root.spec, reader.root.values


def _locate(name_or_path: str) -> Path:
    candidate = Path(name_or_path)
    if candidate.suffix == ".toml" or "/" in name_or_path or candidate.exists():
        if not candidate.is_file():
            raise ProfileError(name_or_path, "-", "no such profile file")
        return candidate.resolve()
    shipped = PROFILE_DIR / f"{name_or_path}.toml"
    if not shipped.is_file():
        raise ProfileError(name_or_path, "-", f"unknown profile; shipped profiles: {', '.join(available())}")
    return shipped


def _read_with_parents(path: Path, seen: tuple[Path, ...]) -> dict[str, Any]:
    if path in seen:
        raise ProfileError(str(path), "extends", "profiles extend each other in a circle")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(str(path), "-", f"cannot read: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(str(path), "-", f"not valid TOML: {exc}") from None
    parent = data.pop("extends", None)
    if parent is None:
        return data
    if not isinstance(parent, str):
        raise ProfileError(str(path), "extends", "must be a profile name or path")
    parent_path = path.parent / parent if parent.endswith(".toml") else _locate(parent)
    base = _read_with_parents(parent_path, seen + (path,))
    base.pop("name", None)
    base.pop("description", None)
    return _merge(base, data)


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


_MISSING = object()
_SERIAL = re.compile(r"^\d{2}-\d{4}-\d{4}$")
SW_VERSION = re.compile(r"^\d+\.\d+\.\d+\.\d+\.\d+$")
_TRIGGER_NAME = re.compile(r"^[A-Za-z0-9]{1,64}$")  # "alphabetical characters and digits" (Automation manual)
_MAC = re.compile(r"^([0-9A-F]{2}-){5}[0-9A-F]{2}$")
_RESOLUTION = re.compile(r"^(\d{2,4})x(\d{2,4})$")
_HEX_UID = re.compile(r"^[0-9A-F]{6,16}$")
_CODE = re.compile(r"^\d{2,16}$")


class _Table:
    """Typed access to one TOML table; every key read is remembered, unknown keys are errors.

    Each read also says what the key is: its type, default, allowed values, unit and meaning
    (`doc`). The loader so describes the format as it reads it: `spec` gathers those descriptions
    (the JSON Schema for editors and the per-key reference are made from it, see profile_docs.py)
    and `values` what each key came to, defaults included (--print-profile)."""

    def __init__(self, data: dict[str, Any], file: str, prefix: str, spec: dict[str, Any] | None = None):
        self.data = data
        self.file = file
        self.prefix = prefix
        self.used: set[str] = set()
        self.spec: dict[str, Any] = {} if spec is None else spec  # key -> what it is
        self.values: dict[str, Any] = {}  # key -> what it came to

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"

    def fail(self, name: str, reason: str) -> ProfileError:
        return ProfileError(self.file, self.key(name), reason)

    def _value(self, name: str, kind: type | tuple[type, ...], default: Any) -> Any:
        self.used.add(name)
        if name not in self.data:
            if default is _MISSING:
                raise self.fail(name, "missing")
            return default
        value = self.data[name]
        # bool is an int in Python; a profile saying `duration = true` is still wrong.
        if isinstance(value, bool) and kind in (int, float, (int, float)):
            raise self.fail(name, f"expected {_kind_name(kind)}, got a boolean")
        if not isinstance(value, kind):
            raise self.fail(name, f"expected {_kind_name(kind)}, got {type(value).__name__}")
        return value

    def get(self, name: str, kind: type | tuple[type, ...], default: Any = _MISSING, **about: Any) -> Any:
        """The key's value. `about`: doc, unit, derived (what the default is made from, when it is
        not a constant), choices, pattern, lo, hi, items (the type of a list's items)."""
        value = self._value(name, kind, default)
        entry = self.spec.setdefault(name, {})
        entry.update(kind=kind, **{k: v for k, v in about.items() if v is not None})
        if default is _MISSING:
            entry["required"] = True
        elif "derived" not in about:
            entry["default"] = default
        self.values[name] = value
        return value

    def str(self, name: str, default: Any = _MISSING, *, pattern: re.Pattern[str] | None = None,
            choices: tuple[str, ...] | None = None, **about: Any) -> str:
        value = self.get(name, str, default, pattern=pattern, choices=choices, **about)
        if choices is not None and value not in choices:
            raise self.fail(name, f"{value!r} is not one of {', '.join(choices)}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(name, f"{value!r} does not match {pattern.pattern}")
        return value

    def bool(self, name: str, default: Any = _MISSING, **about: Any) -> bool:
        return self.get(name, bool, default, **about)

    def int(self, name: str, default: Any = _MISSING, *, lo: int | None = None, hi: int | None = None,
            bound: str | None = None, **about: Any) -> int:
        """`bound`: the range in words when it depends on the profile ("1 to the number of switches")."""
        spec = {"bound": bound} if bound else {"lo": lo, "hi": hi}
        return self._ranged(name, self.get(name, int, default, **spec, **about), lo, hi)

    def number(self, name: str, default: Any = _MISSING, *, lo: float | None = None,
               hi: float | None = None, **about: Any) -> float:
        return float(self._ranged(name, self.get(name, (int, float), default, lo=lo, hi=hi, **about), lo, hi))

    def _ranged(self, name: str, value: Any, lo: Any, hi: Any) -> Any:
        if lo is not None and value < lo:
            raise self.fail(name, f"{value} is below the minimum {lo}")
        if hi is not None and value > hi:
            raise self.fail(name, f"{value} is above the maximum {hi}")
        return value

    def strings(self, name: str, default: Any = _MISSING, *, pattern: re.Pattern[str] | None = None,
                choices: tuple[str, ...] | None = None, **about: Any) -> tuple[str, ...]:
        values = self.get(name, list, default, pattern=pattern, choices=choices, items=str, **about)
        for i, value in enumerate(values):
            if not isinstance(value, str):
                raise self.fail(f"{name}[{i}]", "expected a string")
            if choices is not None and value not in choices:
                raise self.fail(f"{name}[{i}]", f"{value!r} is not one of {', '.join(choices)}")
            if pattern is not None and not pattern.match(value):
                raise self.fail(f"{name}[{i}]", f"{value!r} does not match {pattern.pattern}")
        return tuple(values)

    def table(self, name: str, optional: bool = False, doc: str = "") -> _Table | None:
        """A sub-table; an optional one may be absent or `false` (a child profile removing it)."""
        value = self._value(name, (dict, bool) if optional else dict, None if optional else {})
        if value is True:
            raise self.fail(name, "expected a table or false")
        node = self.spec.setdefault(name, {"kind": "table", "keys": {}})
        node.update(optional=optional, doc=doc)
        if value is None or value is False:
            self.values[name] = False
            return None
        child = _Table(value, self.file, self.key(name) + ".", node["keys"])
        self.values[name] = child.values
        return child

    def tables(self, name: str, doc: str = "") -> list[_Table]:
        """An array of tables (each item described by the same keys)."""
        values = self._value(name, list, [])
        node = self.spec.setdefault(name, {"kind": "tables", "keys": {}})
        node["doc"] = doc
        out = []
        for i, value in enumerate(values):
            if not isinstance(value, dict):
                raise self.fail(f"{name}[{i}]", "expected a table")
            out.append(_Table(value, self.file, f"{self.key(name)}[{i}].", node["keys"]))
        self.values[name] = [t.values for t in out]
        return out

    def done(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise self.fail(unknown[0], "unknown key" + (did_you_mean(unknown[0], self.used) or
                                                         f"; known here: {', '.join(sorted(self.used))}"))


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", int: "an integer", bool: "a boolean", list: "an array", dict: "a table",
             (int, float): "a number", (dict, bool): "a table or false"}
    return names.get(kind, str(kind))  # type: ignore[call-overload]


class _Reader:
    def __init__(self, data: dict[str, Any], file: str):
        self.root = _Table(data, file, "")
        self.file = file
        self.path = Path(file)

    def profile(self, path: Path) -> Profile:
        r = self.root
        name = r.str("name", path.stem, derived="the file's name", doc="the profile's name")
        description = r.str("description", "", doc="what the profile is, in words")
        identity = self.identity(r.table("identity", doc="who the device is: system/info's strings"))
        tz = r.table("time", doc="the device's time zone")
        tz_shift = tz.int("tz_shift", 0, lo=-720, hi=840, unit="minutes", doc="ahead of UTC (events' tzShift)")
        time_zone = tz.str("zone", "", doc="an IANA zone (\"Europe/Prague\"); empty: the fixed tz_shift")
        if time_zone and time_zone not in zones():
            raise tz.fail("zone", f"{time_zone!r} is not an IANA time zone")
        tz.done()
        camera = self.camera(r.table("camera", optional=True, doc="the camera"))
        display = self.display(r.table("display", optional=True, doc="the display"))
        hardware = self.hardware(r.table("hardware", doc="what else the model has"))
        ports = tuple(self.port(t) for t in r.tables("ports", doc="the digital inputs and outputs"))
        port_names = [p.port for p in ports]
        if len(set(port_names)) != len(port_names):
            raise ProfileError(self.file, "ports", "port names must be unique")
        outputs = {p.port for p in ports if p.type == "output"}
        inputs = {p.port for p in ports if p.type == "input"}
        switches = tuple(self.switch(t, outputs) for t in r.tables("switches", doc="the switches, 1 to 4"))
        if not 1 <= len(switches) <= 4:
            raise ProfileError(self.file, "switches", "a device has 1 to 4 switches")
        door = self.door(r.table("door", doc="the door: its contact and lock"), inputs, len(switches))
        sip = tuple(self.sip_account(t) for t in r.tables("sip_accounts", doc="the SIP accounts, 1 to 4"))
        if not 1 <= len(sip) <= 4:
            raise ProfileError(self.file, "sip_accounts", "a device has 1 to 4 SIP accounts")
        calls = self.calls(r.table("calls", doc="how calls go"))
        users = tuple(self.user(t, len(switches), hardware.buttons)
                      for t in r.tables("users", doc="the directory: who is called, whose cards and codes open"))
        triggers = tuple(self.http_trigger(t, len(switches))
                         for t in r.tables("http_triggers", doc="Automation's HttpTrigger blocks: "
                                                                "/api/automation/trigger and /enu/trigger/<name>"))
        if len({t.name for t in triggers}) != len(triggers):
            raise ProfileError(self.file, "http_triggers", "trigger names must be unique")
        lic = r.table("licence", doc="the licences installed")
        licences = frozenset(lic.strings("installed", list(LICENCES), choices=LICENCES,
                                         doc="Enhanced Integration is needed before firmware 2.35"))
        lic.done()
        services = self.services(r.table("services", doc="per API service: enabled, transport, authentication; "
                                                         "its keys here are every service's defaults"))
        accounts = tuple(self.account(t) for t in r.tables("accounts", doc="the API accounts, at most five"))
        if len(accounts) > 5:
            raise ProfileError(self.file, "accounts", "at most five API accounts")
        if len({a.name for a in accounts}) != len(accounts):
            raise ProfileError(self.file, "accounts", "account names must be unique")
        security = self.security(r.table("security", doc="authentication and login blocking"))
        events = self.events(r.table("events", doc="the event log and its subscription channels"))
        timing = self.timing(r.table("timing", doc="how long things take"))
        q = r.table("quirks", doc="the firmware's oddities, where a client may trip on them")
        quirks = Quirks(octet_stream_empty_post=q.bool("octet_stream_empty_post", False, doc=(
            "answer a POST with an empty application/octet-stream body with 14 Unsupported Content-Type, "
            "as firmware 2.50 does")))
        q.done()
        em = r.table("email", doc="e-mail delivery of email/send")
        email = Email(smtp=em.str("smtp", "", doc="host:port of an SMTP server; empty: kept in the outbox only"),
                      sender=em.str("sender", "intercom@helios.invalid", doc="the From address"))
        em.done()
        r.done()
        profile = Profile(
            name=name, path=str(path), description=description, identity=identity, tz_shift=tz_shift,
            time_zone=time_zone,
            camera=camera, display=display, hardware=hardware, switches=switches, ports=ports, door=door,
            sip_accounts=sip, calls=calls, users=users, http_triggers=triggers, licences=licences, services=services,
            accounts=accounts, security=security, events=events, timing=timing, quirks=quirks, email=email,
        )
        return profile

    def identity(self, t: _Table) -> Identity:
        variant = t.str("variant", doc="the model (\"2N IP Verso\")")
        sw = t.str("sw_version", pattern=SW_VERSION, doc="the firmware; its first two numbers decide which "
                                                         "functions and reply fields exist")
        serial = t.str("serial_number", pattern=_SERIAL)
        identity = Identity(
            variant=variant,
            serial_number=serial,
            hw_version=t.str("hw_version", doc="the board (\"570v1\"); a firmware image must name it"),
            sw_version=sw,
            build_type=t.str("build_type", ""),
            device_name=t.str("device_name", variant, derived="the variant"),
            bootloader_version=t.str("bootloader_version", sw, derived="sw_version"),
            mac_address=t.str("mac_address", _mac_from_serial(serial), pattern=_MAC,
                              derived="made from the serial number"),
            dev_type=t.str("dev_type", ""),
            variant_id=t.int("variant_id", 0, lo=0),
            customer_id=t.int("customer_id", 0, lo=0),
            firmware_package=t.str("firmware_package", "", doc="system/info firmwarePackage (\"verso\" in the "
                                   "manual's example); kept when another firmware is installed"),
        )
        t.done()
        return identity

    def camera(self, t: _Table | None) -> Camera | None:
        if t is None:
            return None
        sources = t.strings("sources", ["internal"], doc="the camera's sources")
        if not sources:
            raise t.fail("sources", "a camera has at least one source")
        default = t.str("default_source", sources[0], derived="the first source", doc="one of sources")
        if default not in sources:
            raise t.fail("default_source", f"{default!r} is not one of {', '.join(sources)}")
        resolutions = []
        for text in t.strings("resolutions", pattern=_RESOLUTION, doc="the JPEG sizes camera/caps lists, "
                                                                       "\"WxH\""):
            w, h = map(int, _RESOLUTION.match(text).groups())  # type: ignore[union-attr]
            resolutions.append(Resolution(w, h))
        if not resolutions:
            raise t.fail("resolutions", "a camera has at least one resolution")
        stills = {}
        for source, image in t.get("stills", dict, {}, items=str, doc=(
                "source -> an image behind its test card: a file next to the profile, or a shipped "
                "asset")).items():
            key = f"stills.{source}"
            if source not in sources:
                raise t.fail(key, f"{source!r} is not a source of this camera")
            if not isinstance(image, str):
                raise t.fail(key, "expected a file name")
            path = Path(image) if Path(image).is_absolute() else self.path.parent / image
            if not path.is_file():
                path = ASSETS / image
            if not path.is_file():
                raise t.fail(key, f"no image {image!r} next to the profile or in the shipped assets")
            stills[source] = str(path)
        camera = Camera(sources=sources, default_source=default, resolutions=tuple(resolutions),
                        lenient_resolution=t.bool("lenient_resolution", False, doc=(
                            "a size the camera does not list gets the nearest one instead of error 12")),
                        stills=stills)
        t.done()
        return camera

    def display(self, t: _Table | None) -> Display | None:
        if t is None:
            return None
        display = Display(name=t.str("name", "internal"), width=t.int("width", lo=16, hi=4096, unit="pixels"),
                          height=t.int("height", lo=16, hi=4096, unit="pixels"))
        t.done()
        return display

    def hardware(self, t: _Table) -> Hardware:
        hw = Hardware(keypad=t.bool("keypad", False, doc="a keypad: codes, KeyPressed for 0-9 * #"),
                      card_reader=t.str("card_reader", "", doc="the reader's name in CardEntered (\"internal\"); "
                                                               "empty: no card reader"),
                      tamper=t.bool("tamper", False, doc="a tamper switch"), microphone=t.bool("microphone", True, doc="a microphone: audio/test, NoiseDetected"),
                      buttons=t.int("buttons", 1, lo=0, hi=150, doc="quick-dial buttons %1..%N"))
        t.done()
        return hw

    def port(self, t: _Table) -> PortSettings:
        port = PortSettings(port=t.str("port", doc="its name (\"relay1\", \"input1\")"),
                            type=t.str("type", choices=PORT_TYPES))
        t.done()
        return port

    def switch(self, t: _Table, outputs: set[str]) -> SwitchSettings:
        output = t.str("output", "", doc="the output port it drives; empty: none")
        if output and output not in outputs:
            raise t.fail("output", f"{output!r} is not an output port of this profile")
        sw = SwitchSettings(
            enabled=t.bool("enabled", True),
            mode=t.str("mode", "monostable", choices=SWITCH_MODES,
                       doc="monostable: on for `duration`, then off; bistable: on until switched off"),
            duration=t.int("duration", 5, lo=1, hi=86400, unit="seconds", doc="how long a monostable switch stays on"),
            type=t.str("type", "normal", choices=SWITCH_TYPES),
            output=output,
            codes=t.strings("codes", [], pattern=_CODE, doc="keypad codes that switch it on"),
        )
        t.done()
        return sw

    def door(self, t: _Table, inputs: set[str], switch_count: int) -> Door:
        door_input = t.str("input", "", doc="the input of the door contact; empty: no door monitoring")
        if door_input and door_input not in inputs:
            raise t.fail("input", f"{door_input!r} is not an input port of this profile")
        door = Door(input=door_input, switch=t.int("switch", 1, lo=1, hi=switch_count, bound="1 to the number of switches",
                                              doc="the lock's switch"),
                    open_too_long=t.number("open_too_long", 30, lo=1, hi=86400, unit="seconds",
                                           doc="DoorOpenTooLong after the door stays open this long"))
        t.done()
        return door

    def sip_account(self, t: _Table) -> SipAccountSettings:
        acc = SipAccountSettings(
            number=t.str("number", ""), domain=t.str("domain", ""), display_name=t.str("display_name", ""),
            enabled=t.bool("enabled", True), registration_enabled=t.bool("registration_enabled", True),
            account_type=t.str("account_type", "general", choices=ACCOUNT_TYPES, doc="local: calls on the "
                                 "local network, never registers; msteams: a Microsoft Teams account"),
        )
        t.done()
        return acc

    def calls(self, t: _Table) -> Calls:
        calls = Calls(ring_delay=t.number("ring_delay", 0.5, lo=0, hi=60, unit="seconds",
                                          doc="an outgoing call is connecting this long, then ringing"),
                      answer_delay=t.number("answer_delay", 0, lo=0, hi=3600, unit="seconds",
                                            doc="the peer answers after ringing this long; 0: only when a test says"),
                      register_delay=t.number("register_delay", 1, lo=0, hi=600, unit="seconds",
                                              doc="SIP accounts register this long after a boot"))
        t.done()
        return calls

    def user(self, t: _Table, switch_count: int, buttons: int) -> User:
        name = t.str("name")
        user = User(
            name=name,
            uuid=t.str("uuid", str(uuid.UUID(bytes=hashlib.md5(name.encode()).digest())).upper(),
                       derived="made from the name"),
            peers=t.strings("peers", [], doc="whom a call to this user dials (\"sip:100@example.com\")"),
            buttons=tuple(t.get("buttons", list, [], items=int, bound="1 to hardware.buttons",
                                doc="the quick-dial buttons that call them")),
            cards=t.strings("cards", [], pattern=_HEX_UID, doc="card UIDs (hexadecimal) that open their switch"),
            codes=t.strings("codes", [], pattern=_CODE, doc="keypad codes that open their switch"),
            switch=t.int("switch", 1, lo=1, hi=switch_count, bound="1 to the number of switches",
                         doc="the switch their card or code opens"),
        )
        for i, button in enumerate(user.buttons):
            if isinstance(button, bool) or not isinstance(button, int) or not 1 <= button <= max(buttons, 1):
                raise t.fail(f"buttons[{i}]", f"expected a button number 1..{buttons}")
        t.done()
        return user

    def http_trigger(self, t: _Table, switch_count: int) -> HttpTrigger:
        trigger = HttpTrigger(name=t.str("name", pattern=_TRIGGER_NAME, doc="letters and digits: what "
                                         "automation/trigger?id= and /enu/trigger/<name> call it"),
                              switch=t.int("switch", 0, lo=0, hi=switch_count, doc="the switch its action "
                                           "opens; 0: none"))
        t.done()
        return trigger

    def services(self, t: _Table) -> dict[str, Service]:
        transport_doc = "https: the service answers only over HTTPS (7 otherwise)"
        default = Service(enabled=t.bool("enabled", True),
                          transport=t.str("transport", "http", choices=TRANSPORTS, doc=transport_doc),
                          auth=t.str("auth", "digest", choices=AUTH_METHODS, doc="what credentials it asks for"))
        out = {}
        for service in SERVICES:
            s = t.table(service, doc=f"the {service} service")
            defaults = "[services]' own"
            out[service] = Service(enabled=s.bool("enabled", default.enabled, derived=defaults),
                                   transport=s.str("transport", default.transport, choices=TRANSPORTS,
                                                   derived=defaults, doc=transport_doc),
                                   auth=s.str("auth", default.auth, choices=AUTH_METHODS, derived=defaults))
            s.done()
        t.done()
        return out

    def account(self, t: _Table) -> Account:
        name = t.str("name")
        privileges = t.strings("privileges", ["all"], doc="all, or some of: " + ", ".join(sorted(ALL_PRIVILEGES)))
        try:
            privs = parse_privileges(privileges)
        except ValueError as exc:
            raise t.fail("privileges", str(exc)) from None
        acc = Account(name=name, password=t.str("password"), privileges=privs)
        t.done()
        return acc

    def security(self, t: _Table) -> Security:
        sec = Security(
            realm=t.str("realm", "HTTP API", doc="the Digest and Basic realm"),
            digest_algorithm=t.str("digest_algorithm", "MD5", choices=DIGEST_ALGORITHMS),
            nonce_lifetime=t.number("nonce_lifetime", 300, lo=1, hi=86400, unit="seconds",
                                    doc="a Digest nonce is stale after this long"),
            login_attempts=t.int("login_attempts", 10, lo=1, hi=1000, doc="failed logins that block an address"),
            login_block_seconds=t.number("login_block_seconds", 60, lo=1, hi=86400, unit="seconds"),
        )
        t.done()
        return sec

    def events(self, t: _Table) -> Events:
        ev = Events(history=t.int("history", 500, lo=1, hi=100_000, unit="events", doc="events the log keeps"),
                    max_channels=t.int("max_channels", 1024, lo=1, hi=100_000, doc="subscriptions at once"),
                    channel_queue=t.int("channel_queue", 1000, lo=1, hi=100_000, unit="events",
                                        doc="a channel's queue; the oldest go when it is full"))
        t.done()
        return ev

    def timing(self, t: _Table) -> Timing:
        timing = Timing(
            restart_seconds=t.number("restart_seconds", 3, lo=0, hi=600, unit="seconds", doc="offline time of a restart"),
            audio_test_seconds=t.number("audio_test_seconds", 2, lo=0, hi=60, unit="seconds",
                                        doc="AudioLoopTest follows audio/test after this long"),
            audio_test_result=t.str("audio_test_result", "passed", choices=("passed", "failed")),
            config_apply_delay=t.number("config_apply_delay", 0, lo=0, hi=600, unit="seconds"),
            firmware_reject_after=t.number("firmware_reject_after", 300, lo=1, hi=86400, unit="seconds",
                                           doc="an uploaded image not applied is rejected after this long"),
        )
        t.done()
        return timing


def _mac_from_serial(serial: str) -> str:
    digest = hashlib.sha1(serial.encode()).digest()
    return "7C-1E-B3-" + "-".join(f"{b:02X}" for b in digest[:3])
