"""Recordings of a client talking to a real device: the file format, the removal of secrets, and
the lookup the emulator's replay uses.

The format is JSON lines (UTF-8, one JSON object per line). The first line says what the file is:

    {"recording": "helios-emulator", "version": 1, "target": "https://192.168.1.50", "started": "2026-...Z"}

Each further line is one exchange:

    {"seq": 1, "at": "2026-12-05T10:00:00.123Z", "ms": 41.2, "method": "GET", "path": "/api/switch/caps",
     "params": {"switch": "1"}, "auth": "digest",
     "status": 200, "type": "application/json", "body": "{\"success\": true, ...}"}

- `params`: the query string and any form body (the last occurrence of a name wins, as on the
  device); a JSON request body is `json`; a multipart body is `parts` (name -> size; contents are
  not kept).
- `auth`: the scheme of the client's Authorization header (`digest`, `basic`) or null; the header
  itself is never written.
- the reply: `status` (null when the device closed the connection without one), `type` (its
  Content-Type), and the body as text in `body` or, when it is not UTF-8 text, base64 in
  `body_b64`; `truncated: true` when it was longer than the recorder's limit (an MJPEG stream
  is kept up to it); `size` is the number of bytes the client received.
- Secrets are replaced by "***" before anything is written: parameters whose name says password,
  pass, pin, secret or token; the same keys anywhere in JSON bodies, and a "code" that is a string
  or a list of strings (keypad, switch and users' access codes; numeric error codes stay);
  <Password>, <Code> and <Pin> elements of XML bodies, and the same JSON keys in a directory
  user's <Record>. Bodies of network traces (application/vnd.tcpdump.pcap), which carry whole HTTP
  exchanges, are not kept at all.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape, unescape

FORMAT = "helios-emulator"
VERSION = 1
SECRET = "***"
_SECRET_NAME = re.compile(r"pass|pwd|pin$|^pin|secret|token", re.I)
_SECRET_XML = re.compile(rb"<(Password|Code|Pin)>[^<]*</\1>")
_RECORD_XML = re.compile(rb"<Record>([^<]*)</Record>")  # a directory user's fields, as JSON
UNKEPT_TYPES = ("application/vnd.tcpdump.pcap",)  # traces carry whole exchanges, credentials too
MAX_FILE = 512 * 1024 * 1024  # a recording larger than this is refused at load


class RecordingError(ValueError):
    """A recording file that cannot be replayed, with where and why."""


# ----------------------------------------------------------------------------- secrets


def public_url(url: str) -> str:
    """The URL without any user:password@ in it."""
    parts = urlsplit(url)
    if not parts.hostname:
        return url
    return parts._replace(netloc=parts.hostname + (f":{parts.port}" if parts.port else "")).geturl()


def scrub_params(params: dict[str, str]) -> dict[str, str]:
    return {k: SECRET if _SECRET_NAME.search(k) and v else v for k, v in params.items()}


def scrub_json(value: Any) -> Any:
    """Secrets replaced; empty ones (a template's "pin": "") stay, they hide nothing."""
    if isinstance(value, dict):
        return {k: _scrub_field(k, v) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_json(v) for v in value]
    return value


def _scrub_field(key: str, value: Any) -> Any:
    if value in ("", None):
        return value
    if _SECRET_NAME.search(key) or key == "code" and isinstance(value, str):
        return SECRET
    if key == "code" and isinstance(value, list):  # a directory user's access codes
        return [SECRET if isinstance(c, str) and c else c for c in value]
    return scrub_json(value)


def _scrub_record(match: re.Match[bytes]) -> bytes:
    """A directory user's <Record> in the configuration XML: JSON, scrubbed as a JSON body is."""
    try:
        record = scrub_json(json.loads(unescape(match.group(1).decode("utf-8"))))
    except ValueError:  # not JSON (or cut short): nothing of it is kept
        return b"<Record>" + SECRET.encode() + b"</Record>"
    return b"<Record>" + escape(json.dumps(record, ensure_ascii=False)).encode() + b"</Record>"


def scrub_body(body: bytes, content_type: str) -> bytes:
    """A reply or request body with the device's secrets replaced (JSON and XML)."""
    if "json" in content_type:
        try:
            return json.dumps(scrub_json(json.loads(body)), ensure_ascii=False).encode()
        except ValueError:
            return body  # cut short (truncated) or not JSON after all: kept as it is
    if "xml" in content_type:
        body = _SECRET_XML.sub(lambda m: b"<%s>%s</%s>" % (m.group(1), SECRET.encode(), m.group(1)), body)
        return _RECORD_XML.sub(_scrub_record, body)
    return body


def body_fields(body: bytes, content_type: str) -> dict[str, Any]:
    """The body as the file keeps it: text, or base64 when it is not UTF-8."""
    if any(content_type.startswith(t) for t in UNKEPT_TYPES):
        return {}
    body = scrub_body(body, content_type)
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"body_b64": base64.b64encode(body).decode("ascii")}


# ----------------------------------------------------------------------------- replay


@dataclass
class Exchange:
    seq: int
    method: str
    path: str
    params: dict[str, str]
    json: Any
    auth: str | None
    status: int
    content_type: str
    body: bytes

    @property
    def code(self) -> int | None:
        """The 2N error code of a recorded error reply."""
        if "json" not in self.content_type:
            return None
        try:
            reply = json.loads(self.body)
        except ValueError:
            return None
        error = reply.get("error") if isinstance(reply, dict) and reply.get("success") is False else None
        return error.get("code") if isinstance(error, dict) else None


class Recording:
    """The exchanges of a recording, looked up by path.

    The rule: among the exchanges of the same path (401 challenges and dropped connections
    excluded: the emulator's own authentication answers those), the best is the one with the same
    method, then the same parameters exactly, then the most parameters with the same value, then
    the same JSON body. When several are equally good (a client polling the same request),
    successive requests get them in recorded order, and the last one again once they are used up.
    """

    def __init__(self, exchanges: list[Exchange], path: str = ""):
        self.path = path
        self.by_path: dict[str, list[Exchange]] = {}
        for exchange in exchanges:
            self.by_path.setdefault(exchange.path, []).append(exchange)
        self._next: dict[tuple[int, ...], int] = {}  # a group of equally good exchanges -> next one
        self.size = len(exchanges)

    @classmethod
    def load(cls, path: str | Path) -> Recording:
        path = Path(path)
        try:
            if path.stat().st_size > MAX_FILE:
                raise RecordingError(f"{path}: larger than {MAX_FILE // 2**20} MiB")
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise RecordingError(f"{path}: cannot read: {exc}") from None
        exchanges = []
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("not a JSON object")
                if number == 1 and "recording" in item:
                    if item.get("recording") != FORMAT or item.get("version") != VERSION:
                        raise ValueError(f"not a {FORMAT} recording of version {VERSION}")
                    continue
                if item.get("status") in (None, 401):
                    continue
                exchanges.append(_exchange(item))
            except (ValueError, TypeError, KeyError) as exc:
                raise RecordingError(f"{path}: line {number}: {exc}") from None
        return cls(exchanges, str(path))

    def answer(self, method: str, path: str, params: dict[str, str], json_body: Any = None) -> Exchange | None:
        candidates = self.by_path.get(path)
        if not candidates:
            return None

        def score(e: Exchange) -> tuple[bool, bool, int, bool]:
            same = sum(1 for k, v in params.items() if e.params.get(k) == v)
            return e.method == method, e.params == params, same, e.json == json_body

        best = max(score(e) for e in candidates)
        group = [e for e in candidates if score(e) == best]
        key = tuple(e.seq for e in group)
        index = self._next.get(key, 0)
        self._next[key] = min(index + 1, len(group) - 1)
        return group[index]


def _exchange(item: dict[str, Any]) -> Exchange:
    if "body_b64" in item:
        body = base64.b64decode(item["body_b64"], validate=True)
    else:
        body = str(item.get("body", "")).encode("utf-8")
    params = item.get("params") or {}
    if not isinstance(params, dict):
        raise ValueError("params: expected an object")
    status = item["status"]
    if not isinstance(status, int) or not 100 <= status <= 599:
        raise ValueError(f"status: {status!r} is not an HTTP status")
    path = item["path"]
    if not isinstance(path, str) or not path.startswith("/"):
        raise ValueError(f"path: {path!r}")
    return Exchange(seq=int(item.get("seq", 0)), method=str(item.get("method", "GET")).upper(), path=path,
                    params={str(k): str(v) for k, v in params.items()}, json=item.get("json"),
                    auth=item.get("auth") if item.get("auth") in ("digest", "basic") else None,
                    status=status, content_type=str(item.get("type") or "application/json"), body=body)
