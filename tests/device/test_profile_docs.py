"""Profile authoring: the JSON Schema for editors and the per-key reference come from the loader's
own description of the format (so they cannot drift from it), and --print-profile shows what a
profile comes to with `extends` merged and every default filled in.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import pytest

from emulator.device import profile as profiles
from emulator.device import profile_docs

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_committed_schema_and_reference_are_what_the_loader_says():
    """Regenerate with `helios-emulator --profile-schema > docs/profile.schema.json` and
    `helios-emulator --profile-reference > docs/profiles.md`."""
    assert json.loads((DOCS / "profile.schema.json").read_text()) == profile_docs.json_schema()
    assert (DOCS / "profiles.md").read_text() == profile_docs.reference()


@pytest.fixture(scope="module")
def validator() -> jsonschema.Draft202012Validator:
    schema = profile_docs.json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.mark.parametrize("name", profiles.available())
def test_every_shipped_profile_file_is_valid_under_the_schema(validator, name):
    data = tomllib.loads((profiles.PROFILE_DIR / f"{name}.toml").read_text())
    assert list(validator.iter_errors(data)) == []


@pytest.mark.parametrize(("text", "where"), [
    ('[hardware]\nkeypadd = true\n', "keypadd"),            # a misspelt key
    ('[[switches]]\nduration = "5"\n', "'5' is not of type 'integer'"),
    ('[[switches]]\nmode = "astable"\n', "'astable' is not one of"),
    ('[calls]\nring_delay = 99\n', "99 is greater than the maximum of 60"),
    ('[identity]\nsw_version = "2.50"\n', "does not match"),
    ('camera = true\n', "not valid under any"),  # a table, or false
])
def test_the_schema_catches_what_the_loader_refuses(validator, tmp_path, text, where):
    data = tomllib.loads('extends = "verso"\n' + text)
    errors = [e.message for e in validator.iter_errors(data)]
    assert errors and any(where in e for e in errors), errors
    path = tmp_path / "bad.toml"
    path.write_text('extends = "verso"\n' + text)
    with pytest.raises(profiles.ProfileError):
        profiles.load(str(path))


def test_the_schema_describes_keys_with_their_defaults_ranges_and_units():
    schema = profile_docs.json_schema()
    duration = schema["properties"]["switches"]["items"]["properties"]["duration"]
    assert duration == {"type": "integer", "minimum": 1, "maximum": 86400, "default": 5,
                        "description": "how long a monostable switch stays on (seconds)"}
    camera = schema["properties"]["camera"]
    assert camera["anyOf"][1] == {"const": False}
    assert "default" not in schema["properties"]["identity"]["properties"]["device_name"]  # made from the variant
    assert set(schema["properties"]["services"]["properties"]) >= set(profiles.SERVICES)


@pytest.mark.parametrize("name", profiles.available())
def test_print_profile_gives_the_same_profile_with_everything_spelt_out(validator, tmp_path, name):
    text = profile_docs.effective(name)
    data = tomllib.loads(text)
    assert list(validator.iter_errors(data)) == []
    assert "extends" not in data and data["calls"]["ring_delay"] >= 0 and "security" in data
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    original, again = profiles.load(name), profiles.load(str(path))
    assert dataclasses.replace(again, path=original.path) == original


def test_print_profile_on_the_command_line(tmp_path):
    child = tmp_path / "gate.toml"
    child.write_text('extends = "verso"\n[calls]\nring_delay = 2\n')
    done = subprocess.run([sys.executable, "-m", "emulator", "--print-profile", str(child)], capture_output=True,
                          text=True, timeout=60, check=True)
    data = tomllib.loads(done.stdout)
    assert data["calls"] == {"ring_delay": 2.0, "answer_delay": 0.0, "register_delay": 1.0}
    assert data["identity"]["variant"] == "2N IP Verso"  # from what it extends
    assert done.stdout.startswith("# gate: ")
    bad = subprocess.run([sys.executable, "-m", "emulator", "--print-profile", "versoo"], capture_output=True,
                         text=True, timeout=60, check=False)
    assert bad.returncode != 0 and "unknown profile" in bad.stderr
