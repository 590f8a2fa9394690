"""Property-based fuzzing of the HTTP API: whatever a client sends, the emulator answers.

Random paths (the route table, mutated: extra segments, percent-escapes, unicode, very long),
random methods, random parameters (the names the handlers read, with huge, negative, binary and
unicode values, plus random names) and random bodies (forms, multipart, broken multipart, JSON,
invalid JSON, compressed junk, raw bytes under any Content-Type) are thrown at real emulators on
real sockets. For every request:

- the HTTP status is below 500 and the request completes within a few seconds (no hang);
- an /api reply is the 2N envelope (or the function's own XML/JPEG/text/pcap), with the exact
  Content-Type, `Server: HIP...`, 200 for every error but code 9 (401 with a challenge);
- nothing is logged at ERROR or above and no traceback appears in the logs.

The emulators run in a background thread with their own event loop; the test drives them with
`requests` (and, for what `requests` cannot send, a raw socket), so hypothesis stays synchronous.
Functions that would take the device down (restart, factory reset, firmware apply) are left out.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import inspect
import io
import json
import logging
import posixpath
import socket
import threading
import time
import zlib
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlsplit

import pytest
import requests
import yarl
from hypothesis import HealthCheck, example, given, note, settings
from hypothesis import strategies as st
from PIL import Image

from emulator.api.routes import ROUTES
from emulator.app import Emulator
from emulator.control.actions import ACTIONS
from emulator.control.faults import KINDS
from emulator.device import firmware
from emulator.device.profile import load
from emulator.errors import ErrorCode
from emulator.settings import Settings

TIMEOUT = 10.0  # seconds a request may take before it counts as a hang
DANGEROUS = {"/api/system/restart", "/api/config/factoryreset", "/api/firmware/apply"}
SAFE_ROUTES = sorted(p for p in ROUTES if p not in DANGEROUS)
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
REPLY_TYPES = {"application/json", "application/xml", "image/jpeg", "text/plain",
               "application/vnd.tcpdump.pcap"}
ERROR_CODES = {int(code) for code in ErrorCode}
WATCHED_LOGGERS = ("emulator", "aiohttp", "asyncio")
VERSO = load("verso")
USER_UUIDS = [u.uuid for u in VERSO.users]
RESOLUTIONS = [(r.width, r.height) for r in VERSO.camera.resolutions]

# ----------------------------------------------------------------------------- the emulators


class Emulators:
    """Emulators serving from one background event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fuzzed-emulators", daemon=True)
        self.thread.start()
        self.started: list[Emulator] = []

    def run(self, coro: Any, timeout: float = 30) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def start(self, **settings: Any) -> Emulator:
        async def make() -> Emulator:
            emulator = Emulator(Settings(port=0, https_port=None, **settings))
            await emulator.start()
            return emulator

        emulator = self.run(make())
        self.started.append(emulator)
        return emulator

    def close(self) -> None:
        for emulator in self.started:
            with contextlib.suppress(Exception):
                self.run(emulator.stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()


@dataclass
class Target:
    name: str
    emulator: Emulator
    auth: str  # none | digest | basic

    @property
    def base(self) -> str:
        return self.emulator.url


# ----------------------------------------------------------------------------- strategies

SAFE_TEXT = st.characters(exclude_categories=("Cs",))  # anything a client can encode as UTF-8
junk_text = st.text(SAFE_TEXT, max_size=40)
junk_bytes = st.binary(max_size=64)
long_text = st.integers(256, 6000).map(lambda n: "9" * n)

# Numbers as a client might (mis)spell them; the unicode digits are true for str.isdigit().
TRICKY_NUMBERS = ["²", "-²", "+²", "1²", "٣", "١٢", "１", "-٣", "໑", "1\u200b", "1e3", "0x10", "1.5", "NaN",
                  "inf", "+", "-", "", " ", " 1 ", "1\x00", "--1", "+-1"]
PLAIN_NUMBERS = ["0", "1", "2", "3", "4", "5", "-1", "-0", "+1", "99", "100", "255", "256", "65535", "86400",
                 "86401", "2147483647", "2147483648", "4294967295", "4294967296", "999999999999", "9999999999999",
                 "99999999999999999999999999", "-99999999999"]
NUMBERS = TRICKY_NUMBERS + PLAIN_NUMBERS
numbers = st.one_of(st.sampled_from(TRICKY_NUMBERS), st.sampled_from(PLAIN_NUMBERS),
                    st.integers(-(2**70), 2**70).map(str))
junk_values = st.one_of(junk_text, junk_bytes, long_text, numbers)


def values_for(*choices: str) -> st.SearchStrategy:
    return st.one_of(st.sampled_from(choices), st.sampled_from(choices), junk_values)


# Values of the parameters that could make a request wait: never a long-poll over a second,
# never a running MJPEG stream.
timeouts = st.sampled_from(["0", "1", "", "-1", "x", "1e3", "99999999999999", "+1", " 0", "²", "1.5", "٣"])
fps_values = st.sampled_from(["0", "", "-1", "16", "100", "99999999999999", "abc", "²", "0.5", "1e1", "٣"])

EVENT_NAMES = ["DeviceState", "KeyPressed", "SwitchStateChanged", "CallStateChanged", "Bogus", ""]
# Channel ids of real subscriptions, filled in when the emulators start (so pull and unsubscribe
# reach a live channel now and then).
CHANNEL_IDS: list[str] = []

PARAMS: dict[str, st.SearchStrategy] = {
    "switch": st.one_of(st.sampled_from(["1", "2", "3", "4"]), numbers, junk_values),
    "action": values_for("on", "off", "trigger", "lock", "unlock", "hold", "release", "ON", "toggle"),
    "port": values_for("relay1", "output1", "led_secured", "input1", "tamper", "relay9"),
    "id": st.one_of(st.integers(0, 7).map(lambda i: CHANNEL_IDS[i % len(CHANNEL_IDS)] if CHANNEL_IDS else "1"),
                    numbers, junk_values),
    "timeout": timeouts,
    "width": st.one_of(st.sampled_from([str(w) for w, _ in RESOLUTIONS]), numbers),
    "height": st.one_of(st.sampled_from([str(h) for _, h in RESOLUTIONS]), numbers),
    "fps": fps_values,
    "number": values_for("4002", "sip:200@sip.example.com", "sip:x@[::1]", "\x01\x02", " ", "a" * 300, "\u2028"),
    "session": st.one_of(st.sampled_from(["1", "2", "3"]), numbers, junk_values),
    "include": values_for("new", "all", "-10", "-0", "-", "-99999999999999999999", "-²", "-٣", "--1", "all ", "-1e3"),
    "filter": st.one_of(st.lists(st.sampled_from(EVENT_NAMES), max_size=5).map(",".join), junk_values),
    "duration": st.one_of(numbers, junk_values),
    "to": values_for("someone@example.com", "a@b", "@", "x@y.z,w@v.u", "x@" + "y" * 300 + ".cz"),
    "subject": values_for("Door", "line\nbreak", "s" * 300),
    "body": junk_values,
    "pictureCount": st.one_of(st.sampled_from(["0", "1", "5", "6"]), numbers),
    "response": junk_values,
    "account": st.one_of(st.sampled_from(["1", "2", "3"]), numbers, junk_values),
    "reason": values_for("normal", "rejected", "busy", "nope"),
    "users": values_for(",".join(USER_UUIDS), USER_UUIDS[0], ",", "nobody", USER_UUIDS[0].lower()),
    "source": values_for("internal", "external", "nope"),
    "time": st.one_of(st.sampled_from(["0", "-30", "-31", "1"]), numbers),
    "display": values_for("internal", "external"),
    "automatic": values_for("0", "1", "2"),
    "utcTime": st.one_of(st.sampled_from(["0", "1700000000", "4294967295"]), numbers, junk_values),
    "zone": values_for("Europe/Prague", "UTC", "Etc/GMT+12", "../../etc/passwd", "Nowhere/City", "custom"),
    "custom": values_for("UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "UTC-08:00", "UTC+99:99", "<+05", ",M13.9.9"),
    "fileid": values_for("0000abcd", "ZZZZZZZZ", "1", "ABCDEF12"),
}
KNOWN = set(PARAMS)

# What each function reads (the handlers in emulator/api/); the fuzzer mostly sends those, so
# requests get past the first parameter check and deep into the functions.
ROUTE_PARAMS: dict[str, tuple[str, ...]] = {
    "/api/system/time": ("automatic", "utcTime"),
    "/api/system/time/set": ("automatic", "utcTime"),
    "/api/system/timezone": ("automatic", "zone", "custom"),
    "/api/firmware/reject": ("fileid",),
    "/api/switch/caps": ("switch",),
    "/api/switch/status": ("switch",),
    "/api/switch/ctrl": ("switch", "action", "timeout", "response"),
    "/api/io/caps": ("port",),
    "/api/io/status": ("port",),
    "/api/io/ctrl": ("port", "action", "response"),
    "/api/phone/status": ("account",),
    "/api/call/status": ("session",),
    "/api/call/dial": ("number", "users"),
    "/api/call/answer": ("session",),
    "/api/call/hangup": ("session", "reason"),
    "/api/camera/snapshot": ("width", "height", "source", "fps", "time"),
    "/api/display/image": ("display",),
    "/api/log/subscribe": ("include", "filter", "duration"),
    "/api/log/unsubscribe": ("id",),
    "/api/log/pull": ("id", "timeout"),
    "/api/email/send": ("to", "subject", "body", "pictureCount", "width", "height"),
}
JSON_ROUTES = {p for p in ROUTES if p.startswith("/api/dir/")} | {"/api/phone/config"}
BLOB_ROUTES = {"/api/firmware": "blob-fw", "/api/config": "blob-cfg", "/api/display/image": "blob-image",
               "/api/cert/ca": "blob-cert", "/api/cert/user": "blob-pk"}
random_names = st.one_of(junk_text, st.sampled_from(["blob-fw", "blob-cfg", "blob-image", "Switch", "ID", ""])) \
    .filter(lambda n: n not in KNOWN)


@st.composite
def parameters(draw: st.DrawFn, route: str | None) -> list[tuple[str, Any]]:
    own = ROUTE_PARAMS.get(route or "", ())
    names = [name for name in own if draw(st.integers(0, 9)) < 7]
    names += draw(st.lists(st.sampled_from(sorted(KNOWN)), max_size=2 if own else 5))
    out = [(name, draw(PARAMS[name])) for name in names]
    if draw(st.integers(0, 4)) == 0:
        out += draw(st.lists(st.tuples(random_names, junk_values), min_size=1, max_size=2))
    return draw(st.permutations(out)) if out else out


# -- paths


def encode_segment(text: str, escape_all: bool) -> str:
    return quote(text, safe="" if escape_all else "!$&'()*+,;=:@~-._")


@st.composite
def mutated_route(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(SAFE_ROUTES))
    kind = draw(st.sampled_from(["escape", "suffix", "slash", "case", "segment", "double", "nul"]))
    if kind == "escape":
        return "".join(f"%{ord(c):02X}" if c != "/" and draw(st.booleans()) else c for c in path)
    if kind == "suffix":
        return path + draw(st.sampled_from(["/", "/x", "//", "/..", "/.", "%2F", "%00", ";a=b", "/%FF"]))
    if kind == "slash":
        return path.replace("/", "//", 1)
    if kind == "case":
        return path.upper()
    if kind == "double":
        return path + path
    if kind == "nul":
        return path + "%00"
    return path + "/" + encode_segment(draw(junk_text), draw(st.booleans()))


@st.composite
def random_api_path(draw: st.DrawFn) -> str:
    segments = draw(st.lists(st.one_of(
        junk_text, st.sampled_from(["system", "switch", "io", "log", "..", ".", "", "api", "%", "%zz", "%FF",
                                    "%C3%28", "%E2%82", "%ED%A0%80", "%25", "%2e%2e"])), min_size=1, max_size=5))
    escape = draw(st.booleans())
    return "/api/" + "/".join(s if s.startswith("%") else encode_segment(s, escape) for s in segments)


paths = st.one_of(
    st.sampled_from(SAFE_ROUTES),
    st.sampled_from(SAFE_ROUTES),
    st.sampled_from(SAFE_ROUTES),
    st.sampled_from(SAFE_ROUTES),
    mutated_route(),
    random_api_path(),
    st.integers(1000, 12000).map(lambda n: "/api/" + "a" * n),  # past the request-line limit too
    st.sampled_from(["/api", "/api/", "/", "/index.html", "/_emulator/health", "/favicon.ico", "/%FF", "/api%2Fsystem"]),
)


def decoded(path: str) -> set[str]:
    """The paths a server could route this to, whichever way it (or the client, removing dot
    segments) decodes it."""
    out = {unquote(path), unquote(path, errors="replace"), unquote(posixpath.normpath(path))}
    with contextlib.suppress(Exception):
        out.add(yarl.URL.build(path=path, encoded=True).path)
    return out | {posixpath.normpath(p) for p in out}


def route_of(path: str) -> str | None:
    return next((p for p in decoded(path) if p in ROUTES), None)


def is_api(path: str) -> bool:
    return any(p == "/api" or p.startswith("/api/") for p in decoded(path))


# -- bodies


def gif(width: int = 320, height: int = 240) -> bytes:
    out = io.BytesIO()
    Image.new("P", (width, height)).save(out, "GIF")
    return out.getvalue()


BLOBS = [
    b"",
    firmware.image("570v1", "2.51.0.80.1", 256),
    firmware.image("535v1", "2.51.0.80.1", 256),
    b"2N-FIRMWARE 570v1 2.51.0.80.1\n" + bytes(range(256)),
    b"2N-FIRMWARE 570v1 99999999999999999999.0.0.0.0\n",
    gif(),
    gif(32, 24),
    b"GIF89a" + bytes(40),
    b"GIF89a\xff\xff\xff\xff" + bytes(20),
    b"<?xml version='1.0'?><DeviceDatabase/>",
    b"<DeviceDatabase><System><DeviceName>Fuzzed</DeviceName></System></DeviceDatabase>",
    b"\x89PNG\r\n\x1a\n" + bytes(30),
]

xml_values = st.one_of(st.sampled_from(NUMBERS),
                       st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30))


@st.composite
def config_xml(draw: st.DrawFn) -> bytes:
    """Configuration files that reach deep into the parser (never the HttpApi section, so the
    fuzzed emulators keep their authentication)."""

    def esc(text: str) -> str:
        return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")

    parts = []
    if draw(st.booleans()):
        parts.append(f"<System><DeviceName>{esc(draw(xml_values))}</DeviceName>"
                     f"<TimeZoneShift>{esc(draw(xml_values))}</TimeZoneShift></System>")
    if draw(st.booleans()):
        tags = draw(st.lists(st.sampled_from(["Enabled", "Mode", "Duration", "Type", "Output"]), max_size=3))
        inner = "".join(f"<{t}>{esc(draw(xml_values))}</{t}>" for t in tags)
        codes = "".join(f"<Code>{esc(draw(xml_values))}</Code>" for _ in range(draw(st.integers(0, 2))))
        switch = draw(st.one_of(st.sampled_from(["1", "2", "3", "4"]), xml_values))
        parts.append(f'<Switches><Switch Id="{esc(switch)}">{inner}<Codes>{codes}</Codes></Switch></Switches>')
    if draw(st.booleans()):
        account = draw(st.one_of(st.sampled_from(["1", "2"]), xml_values))
        parts.append(f'<Phone><SipAccount Id="{esc(account)}"><Number>{esc(draw(xml_values))}</Number>'
                     f"<Enabled>{esc(draw(xml_values))}</Enabled></SipAccount></Phone>")
    if draw(st.booleans()):
        parts.append(f'<Directory><User Uuid="{esc(draw(xml_values))}"><Name>{esc(draw(xml_values))}</Name>'
                     f"<Button>{esc(draw(xml_values))}</Button><Switch>{esc(draw(xml_values))}</Switch>"
                     f"<Extra>{esc(draw(xml_values))}</Extra></User></Directory>")
    root = draw(st.sampled_from(["DeviceDatabase", "DeviceDatabase", "Config"]))
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} Version="4">{"".join(parts)}</{root}>'.encode()


blob_contents = st.one_of(st.sampled_from(BLOBS), st.binary(max_size=512), config_xml())

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("inf"), float("-inf"), float("nan"), 1e308, -0.0, 2**64]),
    junk_text, st.sampled_from(USER_UUIDS), st.sampled_from(["1", "1,2", "1;200", "", "0000", "1A2B3C4D", "²"]))
json_values = st.recursive(json_scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(junk_text, children, max_size=4)), max_leaves=12)

user_objects = st.fixed_dictionaries({}, optional={
    "uuid": st.one_of(st.sampled_from(USER_UUIDS), json_values),
    "name": st.one_of(junk_text, json_values),
    "callPos": st.one_of(st.lists(st.fixed_dictionaries({"peer": json_values}), max_size=2), json_values),
    "buttons": st.one_of(st.sampled_from(["1", "1,2", "200", "x", "", "²"]), st.lists(json_scalars, max_size=3),
                         st.sampled_from([[float("inf")], [float("nan")], [1e300], [True], [[1]], [{"a": 1}]])),
    "access": st.one_of(st.fixed_dictionaries({}, optional={"pin": json_scalars,
                                                            "card": st.one_of(st.lists(json_scalars, max_size=2),
                                                                              json_scalars)}), json_values),
    "email": json_values,
})
account_objects = st.fixed_dictionaries({}, optional={
    "account": st.one_of(st.integers(-1, 5), json_scalars), "sipNumber": json_scalars,
    "domain": json_scalars, "displayName": json_scalars, "enabled": json_scalars,
    "registrationEnabled": json_scalars})
json_documents = st.one_of(
    json_values,
    st.fixed_dictionaries({"users": st.one_of(st.lists(user_objects, max_size=3), json_values)},
                          optional={"fields": st.one_of(st.lists(junk_text, max_size=3), json_values),
                                    "series": json_scalars}),
    st.fixed_dictionaries({}, optional={"iterator": st.one_of(st.fixed_dictionaries({"timestamp": json_scalars}),
                                                              json_values),
                                        "series": json_scalars, "fields": json_values}),
    st.fixed_dictionaries({"accounts": st.one_of(st.lists(account_objects, max_size=3), json_values)}),
)


def json_text(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


BROKEN_JSON = [b"{", b"[1,", b'{"users": [}', b"\xff\xfe{}", b'"\\ud800"', b'{"users": [{"name": "\\ud800"}]}',
               b"[" * 5000 + b"]" * 5000, b"[" * 100000, b"nul", b"{'a': 1}", b"1e99999", b"-", b" ", b"\x00"]

BOUNDARY = "fuzzBoundary7MA4YWxk"


@st.composite
def broken_multipart(draw: st.DrawFn) -> bytes:
    """Multipart bodies a careful client would never send."""
    pieces = draw(st.lists(st.sampled_from([
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"switch\"\r\n\r\n1\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name*=bogus''x\r\n\r\nv\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name*=utf-8''%FF%FE\r\n\r\nv\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"blob-fw\"; filename*=x''y\r\n\r\nv\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: attachment\r\n\r\nv\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"action\"\r\nContent-Length: x\r\n\r\non\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"action\"\r\nContent-Length: 999\r\n\r\non\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Transfer-Encoding: bogus\r\n\r\nx\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"a\"\r\nContent-Encoding: gzip\r\n\r\nnotgzip\r\n",
        f"--{BOUNDARY}\r\nContent-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\n\r\nx\r\n--inner--\r\n",
        f"--{BOUNDARY}\r\nContent-Type: multipart/mixed\r\n\r\nx\r\n",
        f"--{BOUNDARY}\r\nno colon here\r\n\r\nx\r\n",
        f"--{BOUNDARY}\r\n: empty name\r\n\r\nx\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"blob-cfg\"; filename=\"c.xml\"\r\n\r\n<x>\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"x\"\r\n" + "X-Long: " + "h" * 9000 + "\r\n\r\nx\r\n",
        f"--{BOUNDARY}\r\n\r\n",
        f"--{BOUNDARY}",
        f"--{BOUNDARY}--\r\n",
        "--wrong\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n",
        "preamble only\r\n",
        "\r\n",
        f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"\xe9\"\r\n\r\n\xff\r\n",
    ]), max_size=5))
    if draw(st.booleans()):
        pieces.append(f"--{BOUNDARY}--\r\n")
    return "".join(pieces).encode("utf-8", "surrogateescape")


CONTENT_TYPES = [
    "multipart/form-data",
    "multipart/form-data; boundary=",
    f"multipart/form-data; boundary={BOUNDARY}",
    f"multipart/form-data; boundary=\"{BOUNDARY}\"",
    "multipart/form-data; boundary=" + "b" * 200,
    "multipart/form-data; boundary=\"unterminated",
    "multipart/mixed; boundary=x",
    "application/json",
    "application/json; charset=latin-1",
    "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=bogus",
    "application/octet-stream",
    "text/plain",
    "text/xml",
    "image/gif",
    "",
    ";;;",
    "application/",
    "x/y; a=\"\xe9\"",
]


@dataclass
class Body:
    kind: str
    data: Any = None
    files: Any = None
    content_type: str | None = None
    content_encoding: str | None = None


@st.composite
def bodies(draw: st.DrawFn, route: str | None) -> Body:
    kinds = ["none", "none", "form", "multipart", "json", "raw", "raw", "broken-multipart", "compressed"]
    if route in JSON_ROUTES:
        kinds += ["json"] * 6
    if route in BLOB_ROUTES:
        kinds += ["multipart"] * 4 + ["raw"] * 2
    kind = draw(st.sampled_from(kinds))
    if kind == "none":
        return Body(kind)
    if kind == "form":
        return Body(kind, data=draw(parameters(route)))
    if kind == "multipart":
        blob_name = BLOB_ROUTES.get(route or "", "blob-cfg")
        files = [(draw(st.sampled_from([blob_name, blob_name, "blob-fw", "blob-cfg", "blob-image", "file"])),
                  (draw(st.one_of(st.none(), st.sampled_from(["a.bin", "c.xml", "é.gif", ""]))),
                   draw(blob_contents), draw(st.sampled_from(["application/octet-stream", "text/xml", "image/gif"]))))
                 for _ in range(draw(st.integers(0, 2)))]
        data = draw(parameters(route))
        if not files and not data:
            files = [(blob_name, ("blob", draw(blob_contents), "application/octet-stream"))]
        return Body(kind, data=data, files=files)
    if kind == "json":
        data = draw(st.one_of(json_documents.map(json_text), json_documents.map(json_text),
                              st.sampled_from(BROKEN_JSON)))
        return Body(kind, data=data, content_type=draw(st.sampled_from(["application/json",
                                                                        "application/json; charset=utf-8"])))
    if kind == "broken-multipart":
        return Body(kind, data=draw(broken_multipart()), content_type=draw(st.sampled_from(CONTENT_TYPES[:7])))
    if kind == "compressed":
        payload = draw(st.one_of(st.binary(max_size=200), st.just(b"switch=1&action=on")))
        encoding = draw(st.sampled_from(["gzip", "deflate", "br", "zstd", "bogus", "identity", "gzip, deflate"]))
        if draw(st.booleans()):
            payload = gzip.compress(payload) if encoding == "gzip" else zlib.compress(payload)
        return Body(kind, data=payload, content_encoding=encoding,
                    content_type=draw(st.sampled_from(["application/x-www-form-urlencoded", "application/json",
                                                       "application/octet-stream",
                                                       f"multipart/form-data; boundary={BOUNDARY}"])))
    size = draw(st.sampled_from([0, 1, 100, 1000, 70 * 1024]))
    data = draw(st.one_of(st.binary(max_size=min(size, 2000)), st.sampled_from(BLOBS), config_xml()))
    if size > 2000:
        data = data + bytes(size)
    return Body(kind, data=data, content_type=draw(st.sampled_from(CONTENT_TYPES)))


# -- authorization headers a client could get wrong

header_junk = st.text(st.characters(min_codepoint=0x21, max_codepoint=0xFF), max_size=60)
DIGEST_FIELDS = {  # the values most likely to get far into the check come first
    "username": st.sampled_from(["admin", "adm\xefn", "nobody", "", "\\\"", "a" * 300]),
    "realm": st.sampled_from(["HTTP API", "HTTP API", "HTTP API", "other", ""]),
    "nonce": st.one_of(st.sampled_from(["0" * 32, "x", "\xe9", ""]), header_junk),
    "uri": st.sampled_from(["//[", "/api/system/status", "http://[::1", "/\xe9", "http://a:b@[x]/", "", "?", "%FF",
                            "/api/system/status?x", "//h:99999999/p"]),
    "response": st.one_of(st.sampled_from(["0" * 32, "\xe9" * 32, ""]), header_junk),
    "algorithm": st.sampled_from(["MD5", "md5-sess", "SHA-256", "SHA-512", "\"MD5\"", ""]),
    "qop": st.sampled_from(["auth", "auth-int", "\"auth\"", ""]),
    "nc": st.sampled_from(["00000001", "zz", "", "ffffffffffffffffffff"]),
    "cnonce": st.sampled_from(["abc", "", "\xe9"]),
    "opaque": header_junk,
}


@st.composite
def authorization(draw: st.DrawFn, scheme: str) -> bytes:
    """A wrong Authorization header; mostly of the scheme the service wants (so it is parsed)."""
    kind = scheme if draw(st.integers(0, 2)) else draw(st.sampled_from(["basic", "digest", "other"]))
    if kind == "basic":
        token = draw(st.one_of(st.sampled_from(["\xe9", "YWRtaW46Mm4=\xff", "admin:2n", "YWRtaW46Mm4=", "YWRtaW4=",
                                                "////", "="]),
                               header_junk, st.binary(max_size=30).map(lambda b: base64.b64encode(b).decode())))
        text = "Basic " + token
    elif kind == "digest":
        # Mostly with the fields the device needs before it hashes anything, so the junk gets far.
        chosen = [name for name in DIGEST_FIELDS
                  if draw(st.integers(0, 9)) < (8 if name in ("username", "realm", "nonce", "uri", "response") else 4)]
        fields = []
        for name in chosen:
            value = draw(DIGEST_FIELDS[name])
            quoted = name == "realm" or draw(st.booleans())
            fields.append(f'{name}="{value}"' if quoted else f"{name}={value}")
        text = "Digest " + ", ".join(fields)
    else:
        text = draw(st.sampled_from(["Bearer x", "Basic", "Digest", "Digest ,,,", "", "Negotiate abc"])) + draw(header_junk)
    return text.strip().encode("latin-1", "replace") or b"x"


# -- one request


@dataclass
class Request:
    target: str
    method: str
    path: str
    params: list[tuple[str, Any]]
    body: Body
    credentials: str  # valid | junk | none
    authorization: bytes | None
    raw: bytes | None  # sent over a plain socket instead of with requests
    sent_path: str | None = None  # the path on the wire


@st.composite
def raw_requests(draw: st.DrawFn, path: str, method: str) -> bytes:
    """What `requests` refuses to send: broken framing, odd headers, odd request lines."""
    body = draw(st.one_of(st.binary(max_size=100), st.sampled_from([b"switch=1&action=on", b"{}"])))
    framing = draw(st.sampled_from(["length", "chunked", "bad-chunked", "two-lengths", "negative-length",
                                    "te-and-length", "none", "http10", "long-header", "many-headers",
                                    "bad-header", "expect"]))
    ctype = draw(st.sampled_from(CONTENT_TYPES + ["application/x-www-form-urlencoded"] * 3))
    head = [f"{method} {path} HTTP/1.1", "Host: fuzz", "Connection: close"]
    if ctype:
        head.append(f"Content-Type: {ctype}")
    payload = body
    if framing == "length":
        head.append(f"Content-Length: {len(body)}")
    elif framing == "chunked":
        head.append("Transfer-Encoding: chunked")
        payload = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    elif framing == "bad-chunked":
        head.append("Transfer-Encoding: chunked")
        payload = draw(st.sampled_from([b"zz\r\nabc\r\n0\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n",
                                        b"-1\r\n\r\n", b"ffffffffffffffffffff\r\n", b"3;ext=\x01\r\nabc\r\n0\r\n\r\n"]))
        payload += b"\r\n\r\n"
    elif framing == "two-lengths":
        head += [f"Content-Length: {len(body)}", "Content-Length: 0"]
    elif framing == "negative-length":
        head.append("Content-Length: -5")
    elif framing == "te-and-length":
        head += ["Transfer-Encoding: chunked", f"Content-Length: {len(body)}"]
        payload = b"0\r\n\r\n"
    elif framing == "http10":
        head[0] = f"{method} {path} HTTP/1.0"
        head.append(f"Content-Length: {len(body)}")
    elif framing == "long-header":
        head += [f"Content-Length: {len(body)}", "X-Fuzz: " + "x" * draw(st.sampled_from([100, 9000, 20000]))]
    elif framing == "many-headers":
        head += [f"Content-Length: {len(body)}"] + [f"X-{i}: {i}" for i in range(draw(st.sampled_from([50, 200])))]
    elif framing == "bad-header":
        head += [f"Content-Length: {len(body)}", draw(st.sampled_from(["No colon", "Bad Name: x", ": x",
                                                                       "X: \x01", "X:\xe9\xff"]))]
    elif framing == "expect":
        head += [f"Content-Length: {len(body)}", "Expect: 100-continue"]
    else:
        payload = b""
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1", "replace") + payload


TARGETS = ["none", "none", "none", "none", "none", "digest", "digest", "basic", "basic-2.15"]


@st.composite
def fuzzed_requests(draw: st.DrawFn) -> Request:
    target = draw(st.sampled_from(TARGETS))
    path = draw(paths)
    if any(p in DANGEROUS for p in decoded(path)):
        path = "/api/system/status"
    route = route_of(path)
    allowed = sorted(ROUTES[route].methods) if route is not None else ["GET", "POST"]
    # Mostly a method the function takes, so the request gets past the method check.
    method = draw(st.sampled_from(METHODS)) if draw(st.integers(0, 3)) == 0 else draw(st.sampled_from(allowed))
    params = draw(parameters(route))
    body = draw(bodies(route))
    credentials = "none" if target.startswith("none") else draw(st.sampled_from(["valid", "junk", "junk", "none"]))
    auth_header = draw(authorization("digest" if target == "digest" else "basic")) if credentials == "junk" else None
    raw = draw(raw_requests(path, method)) if credentials != "valid" and draw(st.integers(0, 11)) == 0 else None
    return Request(target, method, path, params, body, credentials, auth_header, raw)


def _request(target: str, path: str, params: list | None = None, body: Body | None = None,
         authorization: bytes | None = None, method: str = "GET") -> Request:
    return Request(target, method, path, params or [], body or Body("none"), "junk" if authorization else "none",
                   authorization, None)


# Requests that broke the emulator once: they always run first.
REGRESSIONS = [
    # str.isdigit() is true for "²", int() refuses it: a ValueError in params.int and in log/subscribe.
    _request("none", "/api/switch/status", [("switch", "²")]),
    _request("none", "/api/log/subscribe", [("include", "-²")]),
    _request("none", "/api/log/subscribe", [("duration", "²")]),
    # A Basic credential that is not ASCII: base64 refuses the str (ValueError).
    _request("basic", "/api/system/status", authorization="Basic \xe9".encode("latin-1")),
    # Digest: a uri urlsplit cannot parse; a username or response that is not UTF-8.
    _request("digest", "/api/system/status", authorization=b'Digest username="admin", realm="HTTP API", nonce="x", '
                                                      b'uri="//[", response="abc"'),
    _request("digest", "/api/system/status", authorization=b'Digest username="admin", realm="HTTP API", nonce="x", '
                                                      b'uri="http://a:b@[x]/", response="abc"'),
    _request("digest", "/api/system/status", authorization=b'Digest username="adm\xefn", realm="HTTP API", nonce="x", '
                                                      b'uri="/api/system/status", response="abc"'),
    # dir/update with a button number of Infinity: int(inf) is an OverflowError.
    _request("none", "/api/dir/update", method="PUT", body=Body(
        "json", data=b'{"users": [{"uuid": "%s", "buttons": [Infinity]}]}' % USER_UUIDS[0].encode(),
        content_type="application/json")),
    # A compressed body aiohttp cannot decode: an exception while reading it, an ERROR log, or
    # (deflate) a request that never ends.
    _request("none", "/api/dir/query", method="POST", body=Body(
        "compressed", data=b"W\xfa\xb9e\x96", content_type=f"multipart/form-data; boundary={BOUNDARY}",
        content_encoding="gzip")),
    _request("none", "/api/switch/ctrl", method="POST", body=Body(
        "compressed", data=b"\x00\x01", content_type="application/x-www-form-urlencoded", content_encoding="deflate")),
    _request("none", "/api/switch/ctrl", method="POST", body=Body(
        "compressed", data=b"abc", content_type="application/octet-stream", content_encoding="br")),
    # A request line over aiohttp's limit: a 400 that aiohttp logs as an ERROR with a traceback.
    _request("none", "/api/" + "a" * 9000),
]


# ----------------------------------------------------------------------------- checks


def check_reply(req: Request, status: int, headers: Any, body: bytes) -> None:
    assert status < 500, f"HTTP {status}: {body[:300]!r}"
    server = headers.get("Server", "")
    from_dispatcher = server.startswith("HIP")
    if is_api(req.sent_path or req.path) and not from_dispatcher:
        # Only the HTTP layer itself may answer an /api path without the device: a request it
        # could not parse.
        assert 400 <= status < 500 and status != 401, (status, dict(headers), body[:300])
        return
    if not from_dispatcher:
        return
    ctype = headers.get("Content-Type", "")
    assert ctype in REPLY_TYPES, ctype
    if status == 401:
        assert headers.get("WWW-Authenticate"), dict(headers)
    else:
        assert status == 200, status
    if req.method == "HEAD" or ctype != "application/json":
        return
    reply = json.loads(body)
    assert isinstance(reply, dict) and reply.get("success") in (True, False), reply
    if reply["success"] is False:
        error = reply["error"]
        assert error["code"] in ERROR_CODES, error
        assert isinstance(error["description"], str) and error["description"], error
        assert (error["code"] == 9) == (status == 401), (error, status)
        assert set(error) <= {"code", "param", "description"}, error
    else:
        assert set(reply) <= {"success", "result"}, reply
        assert status == 200


def send(target: Target, req: Request) -> tuple[int, Any, bytes]:
    if req.raw is not None:
        return send_raw(target, req.raw)
    headers: dict[str, Any] = {}
    kwargs: dict[str, Any] = {}
    body = req.body
    if body.kind == "form":
        kwargs["data"] = body.data
    elif body.kind == "multipart":
        kwargs["data"] = body.data
        kwargs["files"] = body.files
    elif body.kind != "none":
        kwargs["data"] = body.data
    if body.content_type is not None:
        headers["Content-Type"] = body.content_type.encode("latin-1", "replace")
    if body.content_encoding is not None:
        headers["Content-Encoding"] = body.content_encoding
    auth = None
    if req.credentials == "valid":
        auth = requests.auth.HTTPDigestAuth("admin", "2n") if target.auth == "digest" else ("admin", "2n")
    elif req.authorization is not None:
        headers["Authorization"] = req.authorization
    reply = requests.request(req.method, target.base + req.path, params=req.params, headers=headers, auth=auth,
                             timeout=TIMEOUT, allow_redirects=False, **kwargs)
    req.sent_path = urlsplit(reply.request.url).path  # the client may have removed dot segments
    return reply.status_code, reply.headers, reply.content


def send_raw(target: Target, data: bytes) -> tuple[int, Any, bytes]:
    port = target.emulator.ports["http"]
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        with contextlib.suppress(ConnectionResetError, BrokenPipeError):
            sock.sendall(data)
        chunks = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            assert time.monotonic() < deadline, "no reply within the timeout"
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    reply = b"".join(chunks)
    assert reply, "the connection closed without a reply"
    while True:
        head, _, body = reply.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if status >= 200:
            break
        reply = body  # an interim reply (100 Continue): the real one follows
    headers = requests.structures.CaseInsensitiveDict(
        line.split(":", 1) for line in lines[1:] if ":" in line)
    headers = requests.structures.CaseInsensitiveDict({k: v.strip() for k, v in headers.items()})
    if headers.get("Transfer-Encoding", "").lower() == "chunked":
        body = dechunk(body)
    return status, headers, body


def dechunk(data: bytes) -> bytes:
    out = bytearray()
    while data:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            break
        out += data[:size]
        data = data[size + 2:]
    return bytes(out)


def describe(req: Request) -> str:
    return (f"{req.method} {req.path} target={req.target} credentials={req.credentials} params={req.params!r} "
            f"body={req.body!r} authorization={req.authorization!r} raw={req.raw!r}")


# ----------------------------------------------------------------------------- the test


@pytest.fixture
def emulators(tmp_path):
    # Junk credentials must not get the test's own address blocked.
    lenient = tmp_path / "lenient.toml"
    lenient.write_text('extends = "verso"\n[security]\nlogin_attempts = 1000\nlogin_block_seconds = 1\n')
    old = tmp_path / "lenient-2.15.toml"
    old.write_text('extends = "vario-2.15"\n[security]\nlogin_attempts = 1000\nlogin_block_seconds = 1\n')
    pool = Emulators()
    try:
        targets = {
            "none": Target("none", pool.start(auth="none", seed=1), "none"),
            "digest": Target("digest", pool.start(profile=str(lenient), seed=2), "digest"),
            "basic": Target("basic", pool.start(profile=str(lenient), auth="basic", seed=3), "basic"),
            "basic-2.15": Target("basic-2.15", pool.start(profile=str(old), auth="basic", seed=4), "basic"),
        }
        CHANNEL_IDS.clear()
        for _ in range(3):
            reply = requests.get(targets["none"].base + "/api/log/subscribe", params={"duration": "3600"},
                                 timeout=TIMEOUT)
            CHANNEL_IDS.append(str(reply.json()["result"]["id"]))
        yield targets
    finally:
        CHANNEL_IDS.clear()
        pool.close()


def wait_online(target: Target) -> None:
    deadline = time.monotonic() + 15
    while not target.emulator.device.online:
        assert time.monotonic() < deadline, f"{target.name} stayed offline"
        time.sleep(0.05)


def bad_records(records: list[logging.LogRecord]) -> list[logging.LogRecord]:
    return [r for r in records
            if r.levelno >= logging.ERROR or r.exc_info or "Traceback" in r.getMessage()
            or "Traceback" in (r.exc_text or "")]


def render(record: logging.LogRecord) -> str:
    text = f"{record.levelname} {record.name}: {record.getMessage()}"
    if record.exc_info and record.exc_info[1] is not None:
        text += f" [{type(record.exc_info[1]).__name__}: {record.exc_info[1]}]"
    return text


def exercise(emulators: dict[str, Target], records: list[logging.LogRecord], req: Request) -> list[str]:
    """Send one request; every way it broke the emulator."""
    target = emulators[req.target]
    start = len(records)
    began = time.monotonic()
    try:
        status, headers, body = send(target, req)
    except requests.exceptions.Timeout:
        return [f"request hung for {TIMEOUT} s"]
    except requests.exceptions.ConnectionError as exc:
        return [f"connection dropped without a reply ({exc})"]
    except (AssertionError, OSError) as exc:  # the raw socket's own checks
        return [f"raw request: {exc}"]
    problems = []
    if time.monotonic() - began >= TIMEOUT:
        problems.append("request took too long")
    try:
        check_reply(req, status, headers, body)
    except (AssertionError, ValueError, KeyError, TypeError) as exc:
        problems.append(f"bad reply {status}: {exc!r}")
    # Give the server a moment to log anything it does after the reply went out.
    time.sleep(0.002)
    problems += [render(r) for r in bad_records(records[start:])]
    wait_online(target)
    return problems


def test_random_requests_never_break_the_emulator(emulators, caplog):
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.WARNING, logger=name)

    def regressions(test):
        for req in reversed(REGRESSIONS):
            test = example(req)(test)
        return test

    @regressions
    @settings(max_examples=300, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                     HealthCheck.function_scoped_fixture])
    @given(fuzzed_requests())
    def throw(req: Request) -> None:
        note(describe(req))
        problems = exercise(emulators, caplog.records, req)
        assert not problems, "\n".join(problems) + "\n" + describe(req)

    throw()
    assert not bad_records(caplog.records)
    # The emulators are still serving after all that.
    for target in emulators.values():
        wait_online(target)
        reply = requests.get(target.base + "/api/system/info", timeout=TIMEOUT)
        assert reply.status_code == 200 and reply.json()["success"] is True


# ----------------------------------------------------------------------------- the control plane
#
# Random bytes, headers (Authorization included), JSON and TOML at every /_emulator endpoint of
# two emulators: one open to loopback clients, one with a control token. Every reply is below 500
# and JSON (an error reply an object with an "error" string), nothing is logged at ERROR or with a
# traceback, and the faults and scenarios the fuzzer manages to add never break a later /api
# request either.

CONTROL_TOKEN = "fuzz-token"
CONTROL_ROUTES = [  # (method, path); {name} and {id} are filled in
    ("GET", "/_emulator/health"), ("GET", "/_emulator/ready"), ("GET", "/_emulator/actions"),
    ("POST", "/_emulator/actions/{name}"), ("GET", "/_emulator/clock"), ("POST", "/_emulator/clock"),
    ("GET", "/_emulator/faults"), ("POST", "/_emulator/faults"), ("DELETE", "/_emulator/faults"),
    ("DELETE", "/_emulator/faults/{id}"), ("GET", "/_emulator/journal"), ("DELETE", "/_emulator/journal"),
    ("GET", "/_emulator/state"), ("PUT", "/_emulator/state"), ("POST", "/_emulator/reset"),
    ("GET", "/_emulator/scenarios"), ("POST", "/_emulator/scenarios"),
]
CONTROL_BODIES = [(m, p) for m, p in CONTROL_ROUTES if m in ("POST", "PUT")]  # drawn half the time
ACTION_PARAMS = {name: list(inspect.signature(fn).parameters)[1:] for name, fn in ACTIONS.items()}
FAULT_PARAMS = sorted({p for cls in KINDS.values() for p in cls.params} | {"path", "methods", "times", "probability",
                                                                             "seed"})
# Values that keep a fuzzed fault from making the follow-up /api request wait long.
short_numbers = st.one_of(st.integers(-5, 600), st.floats(-1, 2), st.sampled_from([1e300, -0.0, float("nan"), float("inf")]))
typed_values = {  # a fault parameter's value of its own type, within reach of every check
    float: st.one_of(st.floats(0, 3), st.integers(0, 3), st.sampled_from([-1.0, 1e300, float("nan")])),
    int: st.one_of(st.integers(-2, 600), st.sampled_from([9, 12, 99, 100, 204, 304, 599, 600, 2**31, 2**40])),
    str: st.one_of(st.sampled_from(["text/plain", "application/json", "corrupt", "truncate", "drop", "duplicate",
                                    "delay", "x\r\nX-Y: 1", "é", ""]), junk_text),
    list: st.lists(st.sampled_from(["KeyPressed", "SwitchStateChanged", "x"]), max_size=3),
}
control_values = st.one_of(json_values, short_numbers, st.sampled_from(["%1", "5", "1A2B3C4D", "input1", "in", "x\r\ny",
                                                                        "text/plain", "drop", "\x00", ""]))


@st.composite
def control_json(draw: st.DrawFn, route: str) -> Any:
    """JSON shaped like what the endpoint takes (so it gets past the first checks), or anything."""
    if draw(st.integers(0, 4)) == 0:
        return draw(json_values)
    if route == "/_emulator/faults":
        kind = draw(st.one_of(st.sampled_from(sorted(KINDS)), st.sampled_from(sorted(KINDS)), junk_text))
        own = KINDS[kind].params if kind in KINDS else {}
        spec: dict[str, Any] = {"kind": kind}
        for name in draw(st.lists(st.sampled_from(sorted(own) or FAULT_PARAMS), max_size=3, unique=True)):
            spec[name] = draw(typed_values[own[name][0]]) if name in own and draw(st.integers(0, 3)) else \
                draw(control_values)
        if draw(st.integers(0, 3)) == 0:
            spec[draw(st.sampled_from(FAULT_PARAMS))] = draw(control_values)
        return spec
    if route.startswith("/_emulator/actions/"):
        return {name: draw(control_values) for name in draw(st.lists(
            st.sampled_from(sorted({p for ps in ACTION_PARAMS.values() for p in ps})), max_size=3))}
    if route == "/_emulator/clock":
        return {"advance": draw(st.one_of(short_numbers, control_values, st.sampled_from([1e9, 86400 * 365])))}
    if route == "/_emulator/state":
        return draw(st.fixed_dictionaries({}, optional={
            "config": st.fixed_dictionaries({}, optional={"configXml": st.one_of(config_xml().map(bytes.decode),
                                                                                 control_values),
                                                          "swVersion": control_values,
                                                          "displayImage": control_values}),
            "switches": st.lists(st.fixed_dictionaries({"switch": control_values}, optional={
                "active": control_values, "locked": control_values, "held": control_values}), max_size=2),
            "ports": st.lists(st.fixed_dictionaries({"port": control_values, "state": control_values}), max_size=2),
            "registrations": st.lists(control_values, max_size=2)}))
    if route == "/_emulator/scenarios":
        return {"name": draw(control_values), "steps": draw(st.lists(st.one_of(
            st.fixed_dictionaries({"at": short_numbers, "action": st.sampled_from(sorted(ACTIONS))},
                                  optional={"key": control_values, "session": control_values}),
            st.fixed_dictionaries({"at": short_numbers, "fault": control_json("/_emulator/faults")}),
            json_values), max_size=3))}
    return draw(json_values)


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value).replace("inf", "inf").replace("nan", "nan")
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return '""'


@st.composite
def control_toml(draw: st.DrawFn) -> bytes:
    """Scenario TOML: well formed with random steps, broken, deeply nested, or not UTF-8."""
    kind = draw(st.sampled_from(["steps", "steps", "steps", "junk", "deep", "bytes"]))
    if kind == "junk":
        return draw(junk_text).encode()
    if kind == "bytes":
        return draw(junk_bytes)
    if kind == "deep":
        depth = draw(st.sampled_from([33, 200, 3000]))
        opening, closing = draw(st.sampled_from([("[", "]"), ("{a = ", "}")]))
        return f"a = {opening * depth}1{closing * depth}".encode()
    data = draw(control_json("/_emulator/scenarios"))
    lines = [f"name = {toml_value(data.get('name', 'x'))}"] if isinstance(data, dict) else []
    for step in data.get("steps", []) if isinstance(data, dict) else []:
        lines.append("[[steps]]")
        lines += [f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in (step.items() if isinstance(step, dict)
                                                                         else [("at", step)])]
    return "\n".join(lines).encode("utf-8", "surrogatepass")


@dataclass
class ControlRequest:
    target: str  # open | token
    method: str
    path: str
    query: list[tuple[str, str]]
    body: bytes | None
    headers: dict[str, bytes]


def fill(path: str, draw: st.DrawFn) -> str:
    path = path.replace("{name}", draw(st.one_of(st.sampled_from(sorted(ACTIONS)),
                                                 junk_text.map(lambda t: quote(t, safe="")))) or "x")
    return path.replace("{id}", draw(st.one_of(st.integers(0, 5).map(str), numbers.map(lambda t: quote(t, safe=""))))
                        or "1")


@st.composite
def control_requests(draw: st.DrawFn) -> ControlRequest:
    target = draw(st.sampled_from(["open", "open", "token"]))
    method, path = draw(st.one_of(st.sampled_from(CONTROL_ROUTES), st.sampled_from(CONTROL_BODIES)))
    if draw(st.integers(0, 9)) == 0:
        method = draw(st.sampled_from(METHODS))
    if draw(st.integers(0, 19)) == 0:
        path = "/_emulator/" + "/".join(quote(s, safe="") for s in draw(st.lists(junk_text, min_size=1, max_size=3)))
    route = path
    path = fill(path, draw)
    query: list[tuple[str, str]] = []
    if route == "/_emulator/journal" or draw(st.integers(0, 9)) == 0:
        for name in draw(st.lists(st.sampled_from(["limit", "after", "before", "kind", "path", "status", "x"]),
                                  max_size=3)):
            query.append((name, draw(st.one_of(numbers, junk_text, st.sampled_from(["request", "action", "/api/*"])))))
    kind = draw(st.sampled_from(["none", "json", "json", "json", "toml", "bytes", "broken"]))
    content_type = "application/json"
    body: bytes | None = None
    if kind == "json":
        body = json.dumps(draw(control_json(route)), allow_nan=True).encode()
    elif kind == "toml":
        body, content_type = draw(control_toml()), draw(st.sampled_from(["text/plain", "application/toml", ""]))
    elif kind == "bytes":
        body = draw(st.one_of(junk_bytes, st.binary(max_size=2000)))
        content_type = draw(st.sampled_from(["application/json", "text/plain", "application/octet-stream", ""]))
    elif kind == "broken":
        body = draw(st.sampled_from(BROKEN_JSON + [b'{"a": "\\ud800"}', b"[" * 40 + b"]" * 40]))
    headers: dict[str, bytes] = {}
    if content_type:
        headers["Content-Type"] = content_type.encode()
    authorization = draw(st.sampled_from(["token", "token", "none", "junk", "bytes"]))
    if authorization == "token":
        headers["Authorization"] = b"Bearer " + CONTROL_TOKEN.encode()
    elif authorization == "junk":
        headers["Authorization"] = draw(authorization_headers)
    elif authorization == "bytes":
        headers["Authorization"] = b"Bearer " + draw(st.binary(min_size=1, max_size=20).filter(
            lambda b: b"\r" not in b and b"\n" not in b and b"\x00" not in b))
    for _ in range(draw(st.integers(0, 2))):
        headers[draw(st.sampled_from(["X-Fuzz", "Accept", "Content-Encoding", "Accept-Language"]))] = \
            draw(header_junk).encode("latin-1")
    if draw(st.integers(0, 9)) == 0:
        headers["Expect"] = draw(st.one_of(st.just(b"100-continue"), header_junk.map(lambda t: t.encode("latin-1"))))
    return ControlRequest(target, method, path, query, body, headers)


authorization_headers = st.one_of(
    st.sampled_from([b"Bearer", b"Bearer ", b"bearer " + CONTROL_TOKEN.encode(), CONTROL_TOKEN.encode(),
                     b"Basic YWRtaW46Mm4=", b"Bearer " + CONTROL_TOKEN.encode() + b" x"]),
    header_junk.map(lambda t: t.encode("latin-1")))


def send_control(emulator: Emulator, req: ControlRequest) -> tuple[int, dict[str, str], bytes]:
    target = req.path + ("?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in req.query)
                         if req.query else "")
    head = [f"{req.method} {target} HTTP/1.1".encode(), b"Host: fuzz", b"Connection: close"]
    head += [name.encode() + b": " + value for name, value in req.headers.items()]
    body = req.body or b""
    if req.body is not None:
        head.append(b"Content-Length: %d" % len(body))
    status, headers, reply = send_raw_to(emulator.ports["http"], b"\r\n".join(head) + b"\r\n\r\n" + body)
    return status, {k.lower(): v for k, v in headers.items()}, reply


def send_raw_to(port: int, data: bytes) -> tuple[int, Any, bytes]:
    return send_raw(type("Port", (), {"emulator": type("E", (), {"ports": {"http": port}})()})(), data)


def check_control_reply(req: ControlRequest, status: int, headers: dict[str, str], body: bytes) -> None:
    assert status < 500, f"HTTP {status}: {body[:300]!r}"
    if status == 400 and not headers.get("content-type", "").startswith("application/json"):
        return  # aiohttp's own answer to a request it could not parse (a header it refuses)
    assert headers.get("content-type", "").startswith("application/json"), (status, headers, body[:200])
    if req.method == "HEAD":
        return
    reply = json.loads(body)
    if status >= 400:
        assert isinstance(reply, dict) and isinstance(reply.get("error"), str) and reply["error"], reply


def control_aftermath(emulator: Emulator, pool: Emulators) -> list[str]:
    """Whatever the fuzzer left in force (faults, scenarios) must not break the next /api request;
    then back to a clean device for the next example."""
    problems = []
    try:
        reply = requests.get(emulator.url + "/api/system/info", timeout=1)
        if reply.status_code >= 500 and not emulator.faults.list():
            problems.append(f"/api/system/info answered {reply.status_code} after the control request")
    except requests.exceptions.RequestException:
        pass  # a delay, hang, reset or reboot the fuzzer asked for
    pool.run(_clean(emulator))
    return problems


async def _clean(emulator: Emulator) -> None:
    emulator.reset()


def test_random_control_requests_never_break_the_emulator(caplog):
    for name in WATCHED_LOGGERS:
        caplog.set_level(logging.WARNING, logger=name)
    pool = Emulators()
    try:
        targets = {"open": pool.start(auth="none", clock="virtual", seed=5),
                   "token": pool.start(auth="none", clock="virtual", seed=6, control_token=CONTROL_TOKEN)}

        @settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
        @given(control_requests())
        def throw(req: ControlRequest) -> None:
            note(repr(req))
            emulator = targets[req.target]
            start = len(caplog.records)
            status, headers, body = send_control(emulator, req)
            problems = []
            try:
                check_control_reply(req, status, headers, body)
            except (AssertionError, ValueError) as exc:
                problems.append(f"bad reply {status}: {exc!r}")
            problems += control_aftermath(emulator, pool)
            time.sleep(0.002)
            problems += [render(r) for r in bad_records(caplog.records[start:])]
            assert not problems, "\n".join(problems) + "\n" + repr(req)

        throw()
        assert not bad_records(caplog.records)
        for emulator in targets.values():
            assert requests.get(emulator.url + "/_emulator/health", timeout=TIMEOUT).status_code == 200
    finally:
        pool.close()
