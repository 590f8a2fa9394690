"""The directory entry of each model family, as `/api/dir/template` returns it.

Source: the per-model `dir/template` replies recorded from current firmware in a public device
test suite (one template per family: Verso/Solo, Vario/Safety/Force, Style, Base, Uni, Access
Unit, IP One, the Video and Audio Kits), checked against 2N's online manual, section 5.14.1 "api
dir template" (uuid, deleted, owner, name, photo, email, ... with their default values; "available
keys depend on the model"). The key order is the device's; replies keep it.

A profile picks its family with `[directory] template = "..."`. Every field of the template is
stored, returned by dir/query and dir/get, and kept in the configuration; the access fields act
(see emulator/device/access.py).
"""

from __future__ import annotations

import copy
from typing import Any

META = ("uuid", "deleted", "timestamp")  # kept by the directory itself, not part of a record


def _call_positions(ip_eye: bool) -> list[dict[str, Any]]:
    position: dict[str, Any] = {"peer": "", "profiles": "", "grouped": False}
    if ip_eye:
        position["ipEye"] = ""
    return [dict(position) for _ in range(3)]


def _access_points() -> list[dict[str, Any]]:
    # 0 = Entry, 1 = Exit (manual 5.17: "0 for Entry and 1 for Exit")
    return [{"enabled": True, "profiles": ""}, {"enabled": True, "profiles": ""}]


def _access(*, mobile: bool, virt_card: bool, cards: bool, codes: int, lift: bool) -> dict[str, Any]:
    access: dict[str, Any] = {"validFrom": "0", "validTo": "0", "accessPoints": _access_points()}
    if mobile:
        access["pairingExpired"] = False
    if virt_card:
        access["virtCard"] = ""
    if cards:
        access["card"] = ["", ""]
    if mobile:
        access["mobkey"] = ""
        access["fpt"] = ""
    access["pin"] = ""
    access["accessException"] = False
    access["code"] = [""] * codes
    access["licensePlates"] = ""
    if lift:
        access["liftFloors"] = ""
    return access


def _entry(*fields: tuple[str, Any]) -> dict[str, Any]:
    return {"uuid": "", "deleted": False, "owner": "", **dict(fields), "timestamp": 0}


TEMPLATES: dict[str, dict[str, Any]] = {
    "verso": _entry(("name", ""), ("photo", ""), ("email", ""), ("treepath", "/"), ("virtNumber", ""),
                    ("deputy", ""), ("buttons", ""), ("callPos", _call_positions(True)),
                    ("access", _access(mobile=True, virt_card=True, cards=True, codes=4, lift=True))),
    "vario": _entry(("name", ""), ("photo", ""), ("email", ""), ("treepath", "/"), ("virtNumber", ""),
                    ("deputy", ""), ("buttons", ""), ("callPos", _call_positions(True)),
                    ("access", _access(mobile=False, virt_card=True, cards=True, codes=4, lift=True))),
    "style": _entry(("recordType", 0), ("name", ""), ("photo", ""), ("highlighting", False), ("email", ""),
                    ("treepath", "/"), ("virtNumber", ""), ("deputy", ""), ("callPos", _call_positions(True)),
                    ("access", _access(mobile=True, virt_card=True, cards=True, codes=4, lift=True))),
    "base": _entry(("name", ""), ("email", ""), ("deputy", ""), ("buttons", ""), ("callPos", _call_positions(True)),
                   ("access", _access(mobile=False, virt_card=False, cards=True, codes=2, lift=False))),
    "uni": _entry(("name", ""), ("buttons", ""), ("callPos", _call_positions(False)), ("access", {"code": [""]})),
    "accessunit": _entry(("name", ""), ("email", ""),
                         ("access", _access(mobile=True, virt_card=True, cards=True, codes=2, lift=True))),
    "ipone": _entry(("name", ""), ("photo", ""), ("email", ""), ("deputy", ""), ("buttons", ""),
                    ("callPos", _call_positions(False)),
                    ("access", _access(mobile=False, virt_card=False, cards=False, codes=4, lift=False))),
    "videokit": _entry(("name", ""), ("email", ""), ("virtNumber", ""), ("deputy", ""), ("buttons", ""),
                       ("callPos", _call_positions(True)),
                       ("access", _access(mobile=False, virt_card=False, cards=False, codes=4, lift=False))),
    "audiokit": _entry(("name", ""), ("email", ""), ("virtNumber", ""), ("deputy", ""), ("buttons", ""),
                       ("callPos", _call_positions(False)),
                       ("access", _access(mobile=False, virt_card=False, cards=False, codes=4, lift=False))),
}


def blank_record(family: str) -> dict[str, Any]:
    """A new user of a family: every field at its default, without uuid, deleted and timestamp."""
    return {k: copy.deepcopy(v) for k, v in TEMPLATES[family].items() if k not in META}
