"""The directory of newer firmware (2N's manual 5.14): dir/template, dir/query, dir/get (POST),
dir/create, dir/update, dir/delete (PUT).

The request is JSON: an application/json body, or the same JSON in a multipart part, `blob-json`
for dir/query and dir/get and `blob-dir_new` for dir/create, dir/update and dir/delete (what
2n-helios-client and a device test suite send). A user on the wire has every field of the model's
template (dir/template), e.g. for a Verso:

    {"uuid": "...", "deleted": false, "owner": "", "name": "Reception", "photo": "", "email": "",
     "treepath": "/", "virtNumber": "", "deputy": "", "buttons": "1",
     "callPos": [{"peer": "sip:100@sip.example.com", "profiles": "", "grouped": false, "ipEye": ""}, ...],
     "access": {"validFrom": "0", "validTo": "0", "accessPoints": [{"enabled": true, "profiles": ""}, ...],
                "pairingExpired": false, "virtCard": "", "card": ["1A2B3C4D", ""], "mobkey": "", "fpt": "",
                "pin": "1234", "accessException": false, "code": ["", "", "", ""], "licensePlates": "",
                "liftFloors": ""},
     "timestamp": 7}

dir/query and dir/get return the fields named in `fields` ("name", "access.pin", "callPos.peer",
"callPos[1].grouped"; unknown names are ignored), every field for `"fields": []`, and the fields
with non-default values when `fields` is absent (manual 5.14.5, 5.14.6). Every change takes the
directory's next timestamp; dir/query with `iterator.timestamp` returns what changed since,
tombstones of deleted users included.

Where the manual has the device process each entry of a request on its own and report the
entries it refused, the emulator refuses the whole request (12 `users`) and changes nothing: the
shape of those per-entry errors is not public.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from emulator.api.call import Call
from emulator.device.directory import DirectoryUser, RecordError, merge, new_uuid
from emulator.errors import ApiError, ErrorCode, failed, invalid, missing

_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
_SEGMENT = re.compile(r"^([A-Za-z]+)(?:\[(\d{1,3})\])?$")
MAX_ENTRIES = 1000  # users in one request
PARAM = "users"
RESERVED = "00000000-0000-0000-0000-000000000000"  # the all-zero uuid is reserved
READ_BLOB = "blob-json"  # dir/query, dir/get
WRITE_BLOB = "blob-dir_new"  # dir/create, dir/update, dir/delete
_MISSING = object()


# ----------------------------------------------------------------------------- rendering


def render(user: DirectoryUser, template: dict[str, Any], fields: list[str] | None = None) -> dict[str, Any]:
    if user.deleted:
        return {"uuid": user.uuid, "deleted": True, "timestamp": user.timestamp}
    meta = {"uuid": user.uuid, "deleted": False, "timestamp": user.timestamp}
    full = {key: meta[key] if key in meta else copy.deepcopy(user.record[key]) for key in template}
    if fields is None:  # "all fields with non-default values"
        return {"uuid": user.uuid, **_non_default(full, template)}
    if not fields:  # "if an empty array is submitted, all available fields are returned"
        return full
    out: dict[str, Any] = {"uuid": user.uuid}
    for path in fields:
        segments = _segments(path)
        picked = _pick(full, segments) if segments else _MISSING
        if picked is not _MISSING:
            _combine(out, picked)
    return out


def _non_default(value: dict[str, Any], default: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, item in value.items():
        if isinstance(item, dict):
            item = _non_default(item, default[key])
            if item:
                out[key] = item
        elif item != default[key]:
            out[key] = item
    return out


def _segments(path: str) -> list[tuple[str, int | None]] | None:
    out = []
    for part in path.split("."):
        match = _SEGMENT.match(part)
        if match is None:
            return None
        out.append((match.group(1), None if match.group(2) is None else int(match.group(2))))
    return out


def _pick(value: Any, segments: list[tuple[str, int | None]]) -> Any:
    """The part of a user a field path names ("callPos[1].grouped" -> {"callPos": [{}, {"grouped": ..}, {}]})."""
    name, index = segments[0]
    if not isinstance(value, dict) or name not in value:
        return _MISSING
    child = value[name]
    if index is not None:
        if not isinstance(child, list) or index >= len(child):
            return _MISSING
        sub = _pick_rest(child[index], segments[1:])
        return _MISSING if sub is _MISSING else {name: [sub if i == index else {} for i in range(len(child))]}
    sub = _pick_rest(child, segments[1:])
    return _MISSING if sub is _MISSING else {name: sub}


def _pick_rest(value: Any, rest: list[tuple[str, int | None]]) -> Any:
    if not rest:
        return copy.deepcopy(value)
    if isinstance(value, list):
        subs = [_pick(item, rest) for item in value]
        return _MISSING if all(s is _MISSING for s in subs) else [{} if s is _MISSING else s for s in subs]
    return _pick(value, rest)


def _combine(into: Any, part: Any) -> Any:
    if isinstance(into, dict) and isinstance(part, dict):
        for key, value in part.items():
            into[key] = _combine(into[key], value) if key in into else value
        return into
    if isinstance(into, list) and isinstance(part, list) and len(into) == len(part):
        return [_combine(a, b) for a, b in zip(into, part, strict=True)]
    return part


# ----------------------------------------------------------------------------- requests


def _body(call: Call, blob: str) -> dict[str, Any]:
    """The request's JSON: an application/json body or the multipart part `blob`."""
    body = call.params.json
    if body is None and blob in call.params.blobs:
        try:
            body = json.loads(call.params.blobs[blob]) if call.params.blobs[blob].strip() else None
        except (ValueError, RecursionError):  # not JSON (UnicodeDecodeError is a ValueError), or nested too deep
            raise ApiError(ErrorCode.PROCESSING_ERROR, description="malformed request body") from None
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid(PARAM)
    return body


def _entries(body: dict[str, Any], required: bool = True) -> list[dict[str, Any]]:
    if PARAM not in body:
        if required:
            raise missing(PARAM)
        return []
    users = body[PARAM]
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users) or len(users) > MAX_ENTRIES:
        raise invalid(PARAM)
    return users


def _fields(body: dict[str, Any]) -> list[str] | None:
    fields = body.get("fields")
    if fields is None:
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid("fields")
    return fields


def _uuid(item: dict[str, Any]) -> str:
    uuid = item.get("uuid")
    if not isinstance(uuid, str) or not _UUID.match(uuid.upper()) or uuid.upper() == RESERVED:
        raise invalid(PARAM)
    return uuid.upper()


def _merged(user: DirectoryUser, item: dict[str, Any], template: dict[str, Any]) -> DirectoryUser:
    try:
        user.record = merge(user.record, item, template)
    except RecordError:
        raise invalid(PARAM) from None
    return user


def _written(call: Call, users: list[DirectoryUser]) -> dict[str, Any]:
    directory = call.device.directory
    for user in users:  # every entry was checked first: nothing half-done
        directory.put(user)
    if users:
        call.device.configured()
    return {"series": directory.series, "users": [{"uuid": u.uuid, "timestamp": u.timestamp} for u in users]}


# ----------------------------------------------------------------------------- functions


def template(call: Call) -> dict:
    directory = call.device.directory
    return {"series": directory.series, "users": [copy.deepcopy(directory.template)]}


def query(call: Call) -> dict:
    body = _body(call, READ_BLOB)
    directory = call.device.directory
    iterator = body.get("iterator") or {}
    since = iterator.get("timestamp", 0) if isinstance(iterator, dict) else 0
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise invalid("iterator")
    if body.get("series") not in (None, directory.series):
        since = 0  # another series: the client must start over
    fields = _fields(body)
    users = [render(u, directory.template, fields) for u in directory.users.values()
             if u.timestamp > since and (since > 0 or not u.deleted)]
    return {"series": directory.series, "iterator": {"timestamp": directory.timestamp}, "users": users}


def get(call: Call) -> dict:
    body = _body(call, READ_BLOB)
    directory = call.device.directory
    fields = _fields(body)
    out = []
    for item in _entries(body, required=False):
        user = directory.users.get(str(item.get("uuid", "")).upper())
        out.append(render(user, directory.template, fields) if user is not None
                   else {"uuid": item.get("uuid"), "deleted": True})
    return {"series": directory.series, "users": out}


def create(call: Call) -> dict:
    """Create users (or, with force, overwrite them with a fresh record). Several users are
    created all or none: the cap, a taken uuid or a bad field refuses the whole request."""
    body = _body(call, WRITE_BLOB)
    directory = call.device.directory
    force = call.params.get("force", "0") == "1" or body.get("force") is True  # query (latest) or JSON (older)
    created: list[DirectoryUser] = []
    seen: set[str] = set()
    for item in _entries(body, required=False):
        uuid = _uuid(item) if "uuid" in item else new_uuid()
        if uuid in seen or (directory.get(uuid) is not None and not force):
            raise invalid(PARAM)
        seen.add(uuid)
        old = directory.get(uuid)
        user = directory.new_user(uuid, old.switch if old is not None else call.device.profile.door.switch)
        created.append(_merged(user, item, directory.template))
    if not created:  # "the device response contains only the key series" (manual 5.14.2)
        return {"series": directory.series}
    if not directory.room_for(sum(1 for u in created if directory.get(u.uuid) is None)):
        raise failed("directory full")
    return _written(call, created)


def update(call: Call) -> dict:
    body = _body(call, WRITE_BLOB)
    directory = call.device.directory
    changed: list[DirectoryUser] = []
    for item in _entries(body):
        user = directory.get(_uuid(item))
        if user is None or any(u.uuid == user.uuid for u in changed):
            raise invalid(PARAM)
        changed.append(_merged(user.copy(), item, directory.template))
    return _written(call, changed)


def delete(call: Call) -> dict:
    body = _body(call, WRITE_BLOB)
    directory = call.device.directory
    if "owner" in body and PARAM not in body:  # every user of a management system (manual 5.14.4)
        owner = body["owner"]
        if not isinstance(owner, str):
            raise invalid("owner")
        uuids = [u.uuid for u in directory if u.record.get("owner") == owner]
    else:
        uuids = [_uuid(item) for item in _entries(body)]
        if len(set(uuids)) != len(uuids) or any(directory.get(u) is None for u in uuids):
            raise invalid(PARAM)
    deleted = [user for uuid in uuids if (user := directory.delete(uuid)) is not None]
    if deleted:
        call.device.configured()
    return {"series": directory.series, "users": [{"uuid": u.uuid, "timestamp": u.timestamp} for u in deleted]}
