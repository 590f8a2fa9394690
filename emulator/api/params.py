"""Request parameters, read the way the device reads them (manual 2.2).

Parameters come from the query string (any method), from an x-www-form-urlencoded body and from
a multipart/form-data body; when one appears more than once the last occurrence wins. `blob-`
parameters are read only from multipart bodies. Newer firmware also takes JSON bodies (dir/*,
phone/config) and a raw octet-stream body for PUT /api/firmware. Unknown parameters are ignored.
Bodies are read within a limit; past it the reply is error 13 naming the parameter.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError  # a multipart part with broken headers
from multidict import MultiMapping

from emulator.errors import ApiError, ErrorCode, invalid, missing

FORM_LIMIT = 64 * 1024  # a form or JSON body; nothing the device takes that way is bigger
# Parts of a multipart body: no function takes more than a few. aiohttp spends some 100 us on each
# part's headers, so 1,700 tiny parts in 128 KB would cost 170 ms of CPU per request.
MAX_PARTS = 128
_CHUNK = 64 * 1024


class Params:
    __slots__ = ("values", "blobs", "json", "body")

    def __init__(self, values: dict[str, str] | None = None, blobs: dict[str, bytes] | None = None,
                 json_body: Any = None, body: bytes | None = None):
        self.values = values or {}
        self.blobs = blobs or {}
        self.json = json_body
        self.body = body

    def get(self, name: str, default: str | None = None) -> str | None:
        return self.values.get(name, default)

    def required(self, name: str) -> str:
        value = self.values.get(name)
        if value is None:
            raise missing(name)
        return value

    def int(self, name: str, default: int | None = None, *, lo: int = 0, hi: int = 2**32 - 1,
            required: bool = False) -> int | None:
        text = self.required(name) if required else self.values.get(name)
        if text is None:
            return default
        text = text.strip()
        # ASCII digits only: "²".isdigit() is true, but int("²") fails (and "١٢" is no number on the device)
        if not text or len(text) > 12 or not text.isascii() or \
                not (text.isdigit() or (text[0] in "+-" and text[1:].isdigit())):
            raise invalid(name)
        value = int(text)
        if not lo <= value <= hi:
            raise invalid(name)
        return value

    def choice(self, name: str, choices: tuple[str, ...], default: str | None = None, *,
               required: bool = False) -> str | None:
        value = self.required(name) if required else self.values.get(name, default)
        if value is not None and value not in choices:
            raise invalid(name)
        return value

    def blob(self, name: str) -> bytes:
        value = self.blobs.get(name)
        if value is None:
            raise missing(name)
        return value


NONE = Params()  # the parameters of a request that has none (shared: handlers only read parameters)


def _query(query: MultiMapping[str]) -> dict[str, str]:
    # dict() of the items keeps the last value of a repeated name.
    return {k: v for k, v in query.items() if not k.startswith("blob-")}


async def read(request: web.BaseRequest, limit: int, raw_param: str | None) -> Params:
    """Collect the parameters of a request. `limit` bounds the body; `raw_param` names the
    parameter a raw (non-form) body stands for, e.g. blob-fw for PUT /api/firmware."""
    params = Params(_query(request.rel_url.query) if request.query_string else {})
    if not request.can_read_body:
        return params
    ctype = request.content_type
    try:
        if ctype == "multipart/form-data":
            await _multipart(request, params, limit)
        elif ctype == "application/x-www-form-urlencoded":
            text = (await _body(request, FORM_LIMIT, None)).decode("utf-8", "replace")
            params.values.update(
                (k, v) for k, v in parse_qsl(text, keep_blank_values=True) if not k.startswith("blob-"))
        elif ctype == "application/json":
            data = await _body(request, FORM_LIMIT, None)
            params.json = json.loads(data) if data.strip() else None
        else:
            params.body = await _body(request, limit, raw_param)
    except (ValueError, AssertionError, UnicodeDecodeError, RuntimeError, HttpProcessingError,
            web.RequestPayloadError):  # web.RequestPayloadError: a body aiohttp cannot decode
        # An unreadable body (a broken multipart, invalid JSON): the device cannot process it.
        raise ApiError(ErrorCode.PROCESSING_ERROR, description="malformed request body") from None
    return params


async def _body(request: web.BaseRequest, limit: int, param: str | None) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise ApiError(ErrorCode.PARAMETER_TOO_BIG, param)
    chunks = []
    size = 0
    while chunk := await request.content.read(_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ApiError(ErrorCode.PARAMETER_TOO_BIG, param)
        chunks.append(chunk)
    return b"".join(chunks)


async def _multipart(request: web.BaseRequest, params: Params, limit: int) -> None:
    if request.content_length is not None and request.content_length > limit + FORM_LIMIT:
        raise ApiError(ErrorCode.PARAMETER_TOO_BIG)
    reader = await request.multipart()
    total = 0
    parts = 0
    while (part := await reader.next()) is not None:
        parts += 1
        if parts > MAX_PARTS:
            raise ApiError(ErrorCode.PARAMETER_TOO_BIG)
        name = getattr(part, "name", None)
        if not name:
            await part.release()
            continue
        blob = name.startswith("blob-") or part.filename is not None
        part_limit = limit if blob else FORM_LIMIT
        data = bytearray()
        while chunk := await part.read_chunk(_CHUNK):
            data += chunk
            total += len(chunk)
            if len(data) > part_limit or total > limit + FORM_LIMIT:
                raise ApiError(ErrorCode.PARAMETER_TOO_BIG, name)
        if blob:
            params.blobs[name] = bytes(data)
        else:
            params.values[name] = data.decode("utf-8", "replace")
