"""Helpers shared by the real-client and replay tests in this directory (research/clients.md).

The emulator under test is always the `helios` fixture (emulator/control/pytest_plugin.py): a real emulator
on free HTTP and HTTPS ports in a background thread. Clients talk to it over real sockets with
their own HTTP library; nothing here stands in for the emulator.
"""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

ADMIN = ("admin", "2n")  # the verso profile's API account
JPEG_SOI = b"\xff\xd8"

# Error codes the clients know (clients.md 1, "Response handling"): py2n raises
# DeviceUnsupportedError("invalid error code") on anything else.
PY2N_CODES = {1, 2, 3, 4, 7, 8, 9, 10, 11, 12, 13, 14, 15, 17, 18, 19}


def basic_authorization(user: str, password: str) -> str:
    """The preemptive `Authorization: Basic ...` value (what aiohttp.BasicAuth / axios `auth:` send)."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode("latin-1")).decode("ascii")


def port_of(url: str) -> int:
    port = urlsplit(url).port
    assert port is not None, url
    return port


def host_port(url: str) -> str:
    """"127.0.0.1:PORT", the `host` the clients that take host[:port] are configured with."""
    return urlsplit(url).netloc


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from the SOF marker of a baseline or progressive JPEG; fails on non-JPEG."""
    assert data[:2] == JPEG_SOI, f"not a JPEG: {data[:60]!r}"
    i = 2
    while i + 4 <= len(data):
        assert data[i] == 0xFF, f"broken JPEG marker at {i}"
        marker = data[i + 1]
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:
            i += 2
            continue
        (length,) = struct.unpack(">H", data[i + 2:i + 4])
        if marker in (0xC0, 0xC1, 0xC2):
            height, width = struct.unpack(">HH", data[i + 5:i + 9])
            return width, height
        i += 2 + length
    raise AssertionError("no SOF marker in the JPEG")


def event_shape_ok(event: dict[str, Any]) -> None:
    """Every pulled event is {id, tzShift, utcTime, upTime, event, params} (clients.md 11), with a
    `hash` after the id on current firmware."""
    assert set(event) >= {"id", "tzShift", "utcTime", "upTime", "event", "params"}, event
    assert isinstance(event["id"], int) and isinstance(event["utcTime"], int) and isinstance(event["upTime"], int)
    assert isinstance(event["tzShift"], int) and isinstance(event["event"], str)
    assert isinstance(event["params"], dict)


class InThread:
    """Run a blocking client call (requests, a long-poll) in a thread while the test drives the
    emulator's virtual clock; `result()` re-raises what the call raised."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any):
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, fn, args, kwargs) -> None:
        try:
            self._value = fn(*args, **kwargs)
        except BaseException as exc:  # noqa: BLE001 - handed to the test's thread
            self._error = exc

    def done(self) -> bool:
        return not self._thread.is_alive()

    def result(self, timeout: float = 15) -> Any:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the client call did not return"
        if self._error is not None:
            raise self._error
        return self._value


def wait_until_waiting(helios, path: str, count: int = 1, timeout: float = 5) -> None:
    """Block until `count` long-polls on `path` have reached the emulator and wait there.

    The journal records a request when it is answered, so a waiting pull is not in it yet; the
    emulator's channels are asked instead (a channel with a waiter is a pull in progress).
    """
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = helios._call(lambda: sum(1 for c in helios.device.channels if c._waiter is not None
                                           and not c._waiter.done()))
        if waiting >= count:
            return
        time.sleep(0.01)
    raise AssertionError(f"no pull is waiting on {path}")


# -- a hand-written Digest client (2n-doorman style; the py2n-intercom bug reproduced) ---------


_CHALLENGE_PARAM = re.compile(r'([A-Za-z0-9_-]+)\s*=\s*("([^"]*)"|[^,\s]*)')


def parse_challenge(header: str) -> dict[str, str]:
    out = {}
    for key, raw, quoted in _CHALLENGE_PARAM.findall(header):
        out[key.lower()] = quoted if raw.startswith('"') else raw
    return out


def digest_header(user: str, password: str, method: str, uri: str, challenge: dict[str, str], nc: int,
                  cnonce: str = "0a4f113b") -> str:
    """An RFC 2617 MD5 / qop=auth Authorization value for `uri` exactly as given."""
    def h(text: str) -> str:
        return hashlib.md5(text.encode()).hexdigest()

    realm, nonce = challenge["realm"], challenge["nonce"]
    ha1 = h(f"{user}:{realm}:{password}")
    ha2 = h(f"{method}:{uri}")
    ncs = f"{nc:08x}"
    response = h(f"{ha1}:{nonce}:{ncs}:{cnonce}:auth:{ha2}")
    parts = [f'username="{user}"', f'realm="{realm}"', f'nonce="{nonce}"', f'uri="{uri}"',
             f'response="{response}"', "algorithm=MD5", "qop=auth", f"nc={ncs}", f'cnonce="{cnonce}"']
    if "opaque" in challenge:
        parts.append(f'opaque="{challenge["opaque"]}"')
    return "Digest " + ", ".join(parts)


def digest_challenge(headers) -> dict[str, str] | None:
    """The Digest challenge among possibly several WWW-Authenticate headers."""
    values = headers.getall("WWW-Authenticate", []) if hasattr(headers, "getall") else \
        [v for k, v in headers.items() if k.lower() == "www-authenticate"]
    for value in values:
        if value.strip().lower().startswith("digest"):
            return parse_challenge(value.strip()[len("digest"):])
    return None
