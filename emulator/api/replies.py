"""Replies on the wire: the 2N JSON envelope and the exact Content-Type strings clients compare.

aiohttp appends `; charset=utf-8` when a response is built with `text=`; real clients (twoen,
py2n) string-compare the type, so every reply here is built from bytes with the type given.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from aiohttp import web

from emulator.errors import ApiError, ErrorCode

JSON = "application/json"
XML = "application/xml"
JPEG = "image/jpeg"
TEXT = "text/plain"
PCAP = "application/vnd.tcpdump.pcap"

SUCCESS = b'{"success":true}'


@dataclass(slots=True)
class Raw:
    """A reply that is not the JSON envelope: XML, text, an image, a file."""

    body: bytes
    content_type: str
    after: Callable[[], None] | None = None  # runs once the reply is on the wire (a restart)


class Stream(web.StreamResponse):
    """A reply a handler writes itself (MJPEG); `abandoned` when the client went away."""

    abandoned = False


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # one, not one per call


def dumps(data: Any) -> bytes:
    return _ENCODER.encode(data).encode()


def success(result: Any = None) -> bytes:
    if result is None:
        return SUCCESS
    return b'{"success":true,"result":' + dumps(result) + b"}"


def error_response(error: ApiError, server: str, challenge: list[str] | None = None) -> web.Response:
    """The one place a 2N error becomes a response: HTTP 200, except code 9 (401 + challenge)."""
    unauthorized = error.code == ErrorCode.AUTH_REQUIRED
    reply = response(dumps(error.envelope()), JSON, server, status=401 if unauthorized else 200)
    if unauthorized:
        for value in challenge or ():
            reply.headers.add("WWW-Authenticate", value)
    return reply


def response(body: bytes, content_type: str, server: str, status: int = 200) -> web.Response:
    return web.Response(status=status, body=body, headers={"Server": server, "Content-Type": content_type})
