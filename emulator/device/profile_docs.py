"""The profile format for people and editors, made from the loader's own description of it.

profile.py reads every key through _Table, saying as it reads what the key is (type, default,
allowed values, range, unit, meaning). Loading the shipped profiles gathers those descriptions;
from them come the JSON Schema editors use (`helios-emulator --profile-schema`, committed as
docs/profile.schema.json) and the per-key reference (docs/profiles.md). `--print-profile NAME`
shows what a profile comes to once `extends` is merged and every default filled in.
"""

from __future__ import annotations

import json
from typing import Any

import tomli_w

from emulator.device import profile as profiles

SCHEMA_ID = "https://github.com/helios-emulator/helios-emulator/docs/profile.schema.json"
_TYPES = {str: "string", bool: "boolean", int: "integer", (int, float): "number", list: "array", dict: "object"}
_WORDS = {str: "string", bool: "boolean", int: "integer", (int, float): "number", list: "array", dict: "table"}


def spec() -> dict[str, Any]:
    """What the loader takes, gathered over every shipped profile (each key read is described)."""
    merged: dict[str, Any] = {}
    for name in profiles.available():
        _merge(merged, profiles.read(name)[1])
    return merged


def _merge(into: dict[str, Any], more: dict[str, Any]) -> None:
    for key, entry in more.items():
        if key in into and "keys" in entry:
            _merge(into[key]["keys"], entry["keys"])
        else:
            into.setdefault(key, entry)


# -- the JSON Schema ------------------------------------------------------------------------------------------


def json_schema() -> dict[str, Any]:
    root = _object(spec())
    root["properties"] = {"extends": {"type": "string", "description": "a shipped profile's name, or a .toml "
                                      "file next to this one, to start from (tables merge key by key, arrays "
                                      "replace)"}, **root["properties"]}
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "helios-emulator profile",
            "description": "A model profile (TOML). Nothing is required here, as a profile that extends another "
                           "takes the keys it leaves out from it; the emulator checks the merged result at start.",
            **root}


def _object(keys: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {k: _schema(e) for k, e in keys.items()}, "additionalProperties": False}


def _schema(entry: dict[str, Any]) -> dict[str, Any]:
    kind = entry["kind"]
    if kind == "table":
        out = _object(entry["keys"])
        if entry.get("optional"):
            out = {"anyOf": [out, {"const": False}]}
    elif kind == "tables":
        out = {"type": "array", "items": _object(entry["keys"])}
    else:
        out = {"type": _TYPES[kind]}
        item: dict[str, Any] = out
        if kind is list:
            item = out["items"] = {"type": _TYPES[entry.get("items", str)]}
        elif kind is dict:
            item = out["additionalProperties"] = {"type": _TYPES[entry.get("items", str)]}
        if "choices" in entry:
            item["enum"] = list(entry["choices"])
        if "pattern" in entry:
            item["pattern"] = entry["pattern"].pattern
        if "lo" in entry:
            out["minimum"] = entry["lo"]
        if "hi" in entry:
            out["maximum"] = entry["hi"]
        if "default" in entry:
            out["default"] = list(entry["default"]) if isinstance(entry["default"], (list, tuple)) else entry["default"]
    description = _description(entry)
    if description:
        out["description"] = description
    return out


def _description(entry: dict[str, Any]) -> str:
    text = entry.get("doc", "")
    if entry.get("bound"):
        text += ("" if not text else " ") + f"({entry['bound']})"
    if entry.get("unit"):
        text += ("" if not text else " ") + f"({entry['unit']})"
    if entry.get("derived"):
        text += ("" if not text else "; ") + f"default: {entry['derived']}"
    return text


# -- the reference ------------------------------------------------------------------------------------------------


def reference() -> str:
    lines = ["# Profile reference", "",
             "Every key a profile may have, as the loader reads it (generated from the loader by "
             "`helios-emulator --profile-reference`; the JSON Schema for editors, from the same description, is "
             "[profile.schema.json](profile.schema.json)). A key marked *required* must be in the profile or in "
             "the one it `extends`; every other key has the default shown. `helios-emulator --print-profile NAME` "
             "shows a profile with every key filled in.", "",
             "Top level: `extends` (a shipped profile's name or a .toml file next to this one), and the keys "
             "below.", ""]
    _section(lines, "", spec())
    return "\n".join(lines).rstrip() + "\n"


def _section(lines: list[str], title: str, keys: dict[str, Any], doc: str = "") -> None:
    plain = {k: e for k, e in keys.items() if e["kind"] not in ("table", "tables")}
    if plain:
        lines += [f"## {title or 'Top level'}", ""]
        if doc:
            lines += [doc[0].upper() + doc[1:] + ".", ""]
        lines += ["| key | type | default | allowed | unit | meaning |", "|---|---|---|---|---|---|"]
        for key, entry in plain.items():
            lines.append(f"| `{key}` | {_type_words(entry)} | {_default_words(entry)} | {_allowed_words(entry)} | "
                         f"{entry.get('unit', '')} | {entry.get('doc', '')} |".replace("||", "| |"))
        lines.append("")
    for key, entry in keys.items():
        if entry["kind"] == "table":
            name = f"{title[1:-1]}.{key}" if title else key
            # The nine services have the same keys: one section says it for all of them.
            if title == "[services]" and key in profiles.SERVICES:
                if key != profiles.SERVICES[0]:
                    continue
                name, entry = "services.<service>", dict(entry, doc=f"each of {', '.join(profiles.SERVICES)}")
            optional = " (or `false`: the model has none)" if entry.get("optional") else ""
            _section(lines, f"[{name}]", entry["keys"], entry.get("doc", "") + optional)
        elif entry["kind"] == "tables":
            _section(lines, f"[[{key}]]", entry["keys"], entry.get("doc", ""))


def _type_words(entry: dict[str, Any]) -> str:
    kind = entry["kind"]
    if kind is list:
        return f"array of {_WORDS[entry.get('items', str)]}s"
    if kind is dict:
        return f"table of {_WORDS[entry.get('items', str)]}s"
    return _WORDS[kind]


def _default_words(entry: dict[str, Any]) -> str:
    if entry.get("required"):
        return "*required*"
    if entry.get("derived"):
        return entry["derived"]
    default = entry.get("default")
    return "" if default is None else "`" + json.dumps(list(default) if isinstance(default, tuple) else default) + "`"


def _allowed_words(entry: dict[str, Any]) -> str:
    parts = []
    if "choices" in entry:
        parts.append(", ".join(f"`{c}`" for c in entry["choices"]))
    if "pattern" in entry:
        parts.append(f"`{entry['pattern'].pattern}`".replace("|", "\\|"))
    if "lo" in entry or "hi" in entry:
        parts.append(f"{entry.get('lo', '')}..{entry.get('hi', '')}")
    if "bound" in entry:
        parts.append(entry["bound"])
    return "; ".join(parts)


# -- one profile, every key filled in --------------------------------------------------------------------------


def effective(name_or_path: str) -> str:
    """A profile as the emulator uses it: `extends` merged and every default filled in, as TOML."""
    profile, _, values = profiles.read(name_or_path)
    body = tomli_w.dumps(_plain(values))
    return (f"# {profile.name}: {profile.description or profile.identity.variant}\n"
            f"# {profile.path}, with what it extends merged and every default filled in\n\n{body}")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
