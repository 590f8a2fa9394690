"""The directory (phonebook): users with their call peers, quick-dial buttons and credentials.

Each user is a record in the shape of the model's directory template (dir_templates.py, 2N's
manual 5.14.1): name, e-mail, call positions, buttons and the `access` object (PIN, cards, switch
codes, mobile key, validity, access points, ...). The keypad, the card reader, the Bluetooth
reader and the call buttons look users up here. Newer firmware exposes the directory as
/api/dir/*: every change gets the next timestamp of the directory's series, and a deleted user
stays as a tombstone (deleted, with its timestamp) so that clients syncing with dir/query learn
about the deletion.
"""

from __future__ import annotations

import copy
import json
import re
import uuid as uuid_
from dataclasses import dataclass
from collections.abc import Iterator
from typing import Any

from emulator.device.dir_templates import META, TEMPLATES, blank_record
from emulator.device.profile import User

MAX_USERS = 10_000  # the manual's "up to 10 000 users" (2N configuration manual 5.2.1)
MAX_RECORD = 8192  # bytes of JSON one user may take (everything that grows is bounded)
MAX_TEXT = 1024  # characters of one text field

_HEX_UID = re.compile(r"^[0-9A-F]{6,16}$")
_CODE = re.compile(r"^\d{2,16}$")  # a PIN or switch code: 2..16 digits (configuration manual 5.2.1)
_TIME = re.compile(r"^\d{1,10}$")  # validFrom / validTo: Unix time as a string, "0" = no limit


class RecordError(ValueError):
    """A user record the device would not take; the message names the field."""


@dataclass
class DirectoryUser:
    uuid: str
    record: dict[str, Any]  # the template's fields (not uuid, deleted, timestamp)
    switch: int = 1  # the switch the user's card, PIN and mobile key open (the access point's lock)
    timestamp: int = 0  # the directory timestamp of this user's last change
    deleted: bool = False

    @classmethod
    def from_profile(cls, user: User, family: str) -> DirectoryUser:
        record = blank_record(family)
        changes: dict[str, Any] = {"name": user.name}
        if user.peers:
            changes["callPos"] = [{"peer": p} for p in user.peers]
        if user.buttons:
            changes["buttons"] = ",".join(str(b) for b in user.buttons)
        access: dict[str, Any] = {}
        if user.cards:
            access["card"] = list(user.cards)
        if user.pin:
            access["pin"] = user.pin
        if access:
            changes["access"] = access
        return cls(user.uuid, merge(record, changes, TEMPLATES[family]), user.switch)

    def copy(self) -> DirectoryUser:
        return DirectoryUser(self.uuid, copy.deepcopy(self.record), self.switch, self.timestamp, self.deleted)

    # -- what the hardware reads -------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.record.get("name", "")

    @property
    def access(self) -> dict[str, Any]:
        return self.record.get("access", {})

    @property
    def peers(self) -> list[str]:
        return [p["peer"] for p in self.record.get("callPos", []) if p.get("peer")]

    @property
    def buttons(self) -> list[int]:
        return buttons_of(self.record.get("buttons", ""))

    @property
    def cards(self) -> list[str]:
        return [c for c in self.access.get("card", []) if c]

    @property
    def pin(self) -> str:
        return self.access.get("pin", "")

    @property
    def switch_codes(self) -> list[tuple[int, str]]:
        """The user's private switch codes: (switch number, code), "Switch 1-4" in the web interface."""
        return [(i + 1, c) for i, c in enumerate(self.access.get("code", [])) if c]

    @property
    def mobile_keys(self) -> list[str]:
        """The authids of the phones paired as this user's mobile key (`access.mobkey`; the
        emulator reads it as authids separated by ";")."""
        return [k.strip().upper() for k in self.access.get("mobkey", "").split(";") if k.strip()]

    def valid_at(self, utc: float) -> bool:
        """Inside validFrom..validTo ("0" = no limit on that side)."""
        start, end = int(self.access.get("validFrom", "0")), int(self.access.get("validTo", "0"))
        return (not start or utc >= start) and (not end or utc <= end)

    def may_use(self, ap: int) -> bool:
        """The user's rule for an access point (0 Entry, 1 Exit) lets them through."""
        points = self.access.get("accessPoints")
        return not points or bool(points[ap]["enabled"])

    @property
    def access_exception(self) -> bool:
        """"Access Exception": the user passes a blocked access point."""
        return bool(self.access.get("accessException", False))


class Directory:
    def __init__(self, users: list[DirectoryUser], series: str, family: str, max_users: int = MAX_USERS):
        self.series = series
        self.family = family
        self.template = TEMPLATES[family]
        self.max_users = max_users
        self.timestamp = 0
        self.users: dict[str, DirectoryUser] = {}
        for user in users:
            self.put(user)

    def __iter__(self) -> Iterator[DirectoryUser]:
        """The live users (not the tombstones)."""
        return (u for u in self.users.values() if not u.deleted)

    def get(self, uuid: str) -> DirectoryUser | None:
        user = self.users.get(uuid.upper())
        return None if user is None or user.deleted else user

    def new_user(self, uuid: str, switch: int) -> DirectoryUser:
        return DirectoryUser(uuid, blank_record(self.family), switch)

    def room_for(self, count: int) -> bool:
        """Whether `count` new users fit (tombstones make room; live users do not)."""
        return sum(1 for _ in self) + count <= self.max_users

    def put(self, user: DirectoryUser) -> DirectoryUser:
        """Create or replace a user; it gets the next timestamp."""
        if user.uuid not in self.users and len(self.users) >= self.max_users:
            self._forget_a_tombstone()
        self.timestamp += 1
        user.timestamp = self.timestamp
        self.users[user.uuid] = user
        return user

    def delete(self, uuid: str) -> DirectoryUser | None:
        user = self.get(uuid)
        if user is not None:
            self.timestamp += 1
            user.deleted, user.timestamp = True, self.timestamp
        return user

    def replace(self, users: list[DirectoryUser]) -> None:
        """A new directory (a configuration upload): a new series."""
        self.users.clear()
        self.series = new_series()
        for user in users:
            self.put(user)

    def _forget_a_tombstone(self) -> None:
        oldest = min((u for u in self.users.values() if u.deleted), key=lambda u: u.timestamp, default=None)
        if oldest is None:
            raise OverflowError("the directory is full")
        del self.users[oldest.uuid]

    def by_card(self, uid: str) -> DirectoryUser | None:
        uid = uid.upper()
        return next((u for u in self if uid in u.cards), None)

    def by_pin(self, code: str) -> DirectoryUser | None:
        return next((u for u in self if u.pin == code), None)

    def by_switch_code(self, code: str) -> tuple[DirectoryUser, int] | None:
        for user in self:
            for switch, own in user.switch_codes:
                if own == code:
                    return user, switch
        return None

    def by_mobile_key(self, authid: str) -> DirectoryUser | None:
        authid = authid.upper()
        return next((u for u in self if authid in u.mobile_keys), None)

    def by_button(self, button: int) -> DirectoryUser | None:
        return next((u for u in self if button in u.buttons), None)


# ----------------------------------------------------------------------------- records


def buttons_of(text: str) -> list[int]:
    return [int(b) for b in text.replace(";", ",").split(",") if b.strip()]


def merge(record: dict[str, Any], changes: dict[str, Any], template: dict[str, Any]) -> dict[str, Any]:
    """A record with a client's changes applied, checked against the model's template: objects
    merge key by key, an array replaces the array (its missing positions at their defaults), a
    field the template does not have is refused (2N's manual 5.14.3: "unknown field name" - the
    entry is not updated). Raises RecordError naming the field."""
    out = _merge_object(record, changes, template, "")
    if len(json.dumps(out)) > MAX_RECORD:
        raise RecordError("too much data")
    return out


def _merge_object(current: dict[str, Any], changes: Any, template: dict[str, Any], path: str) -> dict[str, Any]:
    if not isinstance(changes, dict):
        raise RecordError(path or "user")
    out = dict(current)
    for key, value in changes.items():
        where = f"{path}{key}"
        if key in META or key not in template:
            if key in META and path == "":
                continue  # uuid, deleted, timestamp name the entry; they are not fields
            raise RecordError(where)
        out[key] = _value(current.get(key, template[key]), value, template[key], where)
    return out


def _value(current: Any, value: Any, default: Any, path: str) -> Any:
    if isinstance(default, dict):
        return _merge_object(current, value, default, path + ".")
    if isinstance(default, list):
        if isinstance(value, str) and path == "access.card":
            value = [value]  # a single card as a string
        if not isinstance(value, list) or len(value) > len(default):
            raise RecordError(path)
        items = []
        for i, item_default in enumerate(default):
            item = value[i] if i < len(value) else None
            if item is None:
                items.append(copy.deepcopy(item_default))
            elif isinstance(item_default, dict):
                items.append(_merge_object(item_default, item, item_default, f"{path}[{i}]."))
            else:
                items.append(_scalar(item, item_default, path))
        return items
    if path == "buttons" and isinstance(value, list):
        value = ",".join(str(b) for b in value)  # buttons as a list of numbers
    return _scalar(value, default, path)


def _scalar(value: Any, default: Any, path: str) -> Any:
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise RecordError(path)
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, int):
            raise RecordError(path)
        return value
    # A text field. Numbers are taken as their digits: clients send a PIN as a JSON number
    # (2n-helios-client's addUser) and validity as a number or a string.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise RecordError(path)
    return _checked_text(value, path)


def _checked_text(value: str, path: str) -> str:
    if path == "access.card":
        value = value.strip().upper()
        if value and not _HEX_UID.match(value):
            raise RecordError(path)
    elif path in ("access.pin", "access.code"):
        if value and not _CODE.match(value):
            raise RecordError(path)
    elif path in ("access.validFrom", "access.validTo"):
        value = value.strip() or "0"
        if not _TIME.match(value):
            raise RecordError(path)
        value = str(int(value))
    elif path == "buttons":
        try:
            buttons = buttons_of(value)
        except ValueError:
            raise RecordError(path) from None
        if any(not 1 <= b <= 150 for b in buttons):
            raise RecordError(path)
        value = ",".join(str(b) for b in buttons)
    return value


def new_uuid() -> str:
    return str(uuid_.uuid4()).upper()


def new_series() -> str:
    return str(uuid_.uuid4().int % 10**19)
