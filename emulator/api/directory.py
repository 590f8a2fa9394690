"""The directory of newer firmware: dir/template, dir/query, dir/get, dir/create, dir/update,
dir/delete (JSON bodies).

A user on the wire:

    {"uuid": "...", "deleted": false, "timestamp": 7, "name": "Reception",
     "callPos": [{"peer": "sip:100@sip.example.com"}], "buttons": "1",
     "access": {"pin": "1234", "card": ["1A2B3C4D"]}}

Fields the model does not use (email, owner, photo, ...) are kept as given and returned. Every
change takes the directory's next timestamp; dir/query with `iterator.timestamp` returns what
changed since, tombstones of deleted users included.
"""

from __future__ import annotations

import json
import re
from typing import Any

from emulator.api.call import Call
from emulator.device.directory import DirectoryUser, new_uuid
from emulator.errors import failed, invalid

_UUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
_MODEL_FIELDS = {"uuid", "deleted", "timestamp", "name", "callPos", "buttons", "access"}
MAX_EXTRA = 4096  # bytes of JSON a client may store per user beyond the model's fields
PARAM = "users"
RESERVED = "00000000-0000-0000-0000-000000000000"  # the all-zero uuid is reserved


def render(user: DirectoryUser, fields: list[str] | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {"uuid": user.uuid, "deleted": user.deleted, "timestamp": user.timestamp}
    if not user.deleted:
        data.update(user.extra)
        data.update(name=user.name, callPos=[{"peer": p} for p in user.peers],
                    buttons=",".join(str(b) for b in user.buttons),
                    access={"pin": user.codes[0] if user.codes else "", "card": list(user.cards)})
    return data if fields is None else _only(data, fields)


def _only(data: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """Keep uuid and the requested fields; "callPos.peer" keeps only `peer` in each element."""
    out: dict[str, Any] = {"uuid": data["uuid"]}
    if data.get("deleted"):
        out["deleted"] = True
    for path in fields:
        head, _, rest = path.partition(".")
        if head not in data:
            continue
        value = data[head]
        if rest and isinstance(value, list):
            out[head] = [{rest: item.get(rest)} for item in value if isinstance(item, dict)]
        elif rest and isinstance(value, dict):
            out.setdefault(head, {})[rest] = value.get(rest)
        else:
            out[head] = value
    return out


def _body(call: Call) -> dict[str, Any]:
    body = call.params.json
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid(PARAM)
    return body


def _users(call: Call) -> list[dict[str, Any]]:
    users = call.json_object(PARAM)
    if not isinstance(users, list) or not all(isinstance(u, dict) for u in users) or len(users) > 1000:
        raise invalid(PARAM)
    return users


def _fields(body: dict[str, Any]) -> list[str] | None:
    fields = body.get("fields")
    if fields is None:
        return None
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise invalid("fields")
    return fields


def _apply(user: DirectoryUser, data: dict[str, Any]) -> None:
    """Change a user from a client's JSON; 12 users on anything the device would not take."""
    try:
        if "name" in data:
            if not isinstance(data["name"], str) or not data["name"].strip():
                raise ValueError("name")
            user.name = data["name"]
        if "callPos" in data:
            user.peers = [str(p["peer"]) for p in data["callPos"] if p.get("peer")]
        if "buttons" in data:
            buttons = data["buttons"]
            items = buttons.replace(";", ",").split(",") if isinstance(buttons, str) else list(buttons)
            user.buttons = [int(b) for b in items if str(b).strip()]
            if any(not 1 <= b <= 150 for b in user.buttons):
                raise ValueError("buttons")
        access = data.get("access")
        if access is not None:
            if "card" in access:
                cards = [str(c).upper() for c in access["card"]]
                if any(not re.fullmatch(r"[0-9A-F]{6,16}", c) for c in cards):
                    raise ValueError("card")
                user.cards = cards
            if "pin" in access:
                pin = str(access["pin"])
                if pin and not (pin.isdigit() and 2 <= len(pin) <= 16):
                    raise ValueError("pin")
                user.codes = [pin] if pin else []
        extra = {k: v for k, v in data.items() if k not in _MODEL_FIELDS}
        if extra:
            merged = {**user.extra, **extra}
            if len(json.dumps(merged)) > MAX_EXTRA:
                raise ValueError("too much data")
            user.extra = merged
    except (AttributeError, KeyError, OverflowError, TypeError, ValueError):
        raise invalid(PARAM) from None


def template(call: Call) -> dict:
    blank = DirectoryUser(uuid="", name="", peers=[""], buttons=[], cards=[], codes=[], switch=1)
    user = render(blank)
    user.update(uuid="", timestamp=0, email="", owner="", treepath="/")
    return {"series": call.device.directory.series, "users": [user]}


def query(call: Call) -> dict:
    body = _body(call)
    directory = call.device.directory
    iterator = body.get("iterator") or {}
    since = iterator.get("timestamp", 0) if isinstance(iterator, dict) else 0
    if isinstance(since, bool) or not isinstance(since, int) or since < 0:
        raise invalid("iterator")
    if body.get("series") not in (None, directory.series):
        since = 0  # another series: the client must start over
    fields = _fields(body)
    users = [render(u, fields) for u in directory.users.values()
             if u.timestamp > since and (since > 0 or not u.deleted)]
    return {"series": directory.series, "iterator": {"timestamp": directory.timestamp}, "users": users}


def get(call: Call) -> dict:
    body = _body(call)
    directory = call.device.directory
    fields = _fields(body)
    out = []
    for item in _users(call):
        user = directory.users.get(str(item.get("uuid", "")).upper())
        out.append(render(user, fields) if user is not None else {"uuid": item.get("uuid"), "deleted": True})
    return {"series": directory.series, "users": out}


def create(call: Call) -> dict:
    directory = call.device.directory
    created = []
    for item in _users(call):
        if directory.full:
            raise failed("directory full")
        uuid = str(item.get("uuid") or new_uuid()).upper()
        if not _UUID.match(uuid) or uuid == RESERVED or directory.get(uuid) is not None:
            raise invalid(PARAM)
        if not isinstance(item.get("name"), str):
            raise invalid(PARAM)
        user = DirectoryUser(uuid, "", [], [], [], [], call.device.profile.door.switch)
        _apply(user, item)
        created.append(user)
    for user in created:  # all checked first: nothing half-created
        directory.put(user)
    call.device.configured()
    return {"series": directory.series, "users": [{"uuid": u.uuid, "timestamp": u.timestamp} for u in created]}


def update(call: Call) -> dict:
    directory = call.device.directory
    changes = []
    for item in _users(call):
        user = directory.get(str(item.get("uuid", "")))
        if user is None:
            raise invalid(PARAM)
        copy = DirectoryUser(**{**vars(user), "peers": list(user.peers), "buttons": list(user.buttons),
                                "cards": list(user.cards), "codes": list(user.codes), "extra": dict(user.extra)})
        _apply(copy, item)
        changes.append(copy)
    for user in changes:
        directory.put(user)
    call.device.configured()
    return {"series": directory.series, "users": [{"uuid": u.uuid, "timestamp": u.timestamp} for u in changes]}


def delete(call: Call) -> dict:
    directory = call.device.directory
    uuids = [str(item.get("uuid", "")) for item in _users(call)]
    if any(directory.get(u) is None for u in uuids):
        raise invalid(PARAM)
    deleted = [directory.delete(u) for u in uuids]
    call.device.configured()
    return {"series": directory.series, "users": [{"uuid": u.uuid, "timestamp": u.timestamp} for u in deleted if u]}
