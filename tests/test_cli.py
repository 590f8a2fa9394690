"""The command line and its HELIOS_* environment: each variable parsed and checked exactly as its
option, a bad one stopping the start with one line that names it; the control token from a file;
and an unusable --state-dir refused at start, naming the directory and why."""

from __future__ import annotations

import json
import os
import signal
import tempfile
from pathlib import Path

import aiohttp
import pytest

from emulator.app import Emulator
from emulator.cli import NOT_FROM_ENV, env_name, parse_args, parser, settings_from
from emulator.control.state import StateError
from emulator.settings import Settings
from tests.support import Process, fails_to_start, form

# -- HELIOS_* variables -------------------------------------------------------------------------------


@pytest.mark.parametrize(("variable", "value", "says"), [
    ("HELIOS_AUTH", "Digest", "'Digest' is not one of none, basic, digest"),  # started, then refused every login
    ("HELIOS_CLOCK", "Virtual", "'Virtual' is not one of real, virtual"),  # started on the real clock
    ("HELIOS_LOG_LEVEL", "INFO", "'INFO' is not one of debug"),
    ("HELIOS_PORT", "abc", "'abc' is not a whole number"),
    ("HELIOS_HTTPS_PORT", "99999", "'99999' is not a port number"),
    ("HELIOS_JOURNAL_SIZE", "abc", "'abc' is not a whole number"),
    ("HELIOS_JOURNAL_SIZE", "0", "'0' is not between 1 and 1000000"),
    ("HELIOS_USER", "a:b:bogus", "unknown privilege 'bogus'"),
    ("HELIOS_SEED", "x", "'x' is not a whole number"),
    ("HELIOS_NO_HTTPS", "maybe", "'maybe' is none of 1, true"),
    ("HELIOS_MAX_CONNECTIONS", "-1", "'-1' is not between"),
])
def test_a_bad_variable_stops_the_start_with_one_line_naming_it(variable, value, says):
    code, stderr = fails_to_start(env={variable: value})
    lines = stderr.splitlines()
    assert (code, len(lines)) == (2, 1), stderr
    assert lines[0].startswith(f"helios-emulator: error: {variable}: {says}"), stderr


def test_a_variable_is_parsed_as_its_option():
    args = parse_args([], environ={"HELIOS_PORT": "81", "HELIOS_NO_HTTPS": "TRUE", "HELIOS_NO_LICENCE": "0",
                                   "HELIOS_USER": "a:1 b:2:keypad", "HELIOS_CLOCK": "virtual",
                                   "HELIOS_STATE_DIR": "/x", "HELIOS_JOURNAL_BYTES": "1048576"})
    settings = settings_from(args)
    assert (settings.port, settings.https_port, settings.licence, settings.clock) == (81, None, True, "virtual")
    assert [u.name for u in settings.users] == ["a", "b"] and settings.users[1].privileges == {"keypad"}
    assert settings.state_dir == Path("/x") and settings.journal_bytes == 1 << 20


def test_an_option_wins_over_its_variable():
    args = parse_args(["--port", "82", "--user", "c:3", "--clock", "real"],
                      environ={"HELIOS_PORT": "81", "HELIOS_USER": "a:1 b:2", "HELIOS_CLOCK": "virtual"})
    assert (args.port, [u.name for u in args.users], args.clock) == (82, ["c"], "real")


# -- the control token --------------------------------------------------------------------------------


def test_the_token_from_a_file_or_its_variable(tmp_path):
    path = tmp_path / "token"
    path.write_text("s3cret\n", encoding="utf-8")
    assert settings_from(parse_args(["--control-token-file", str(path)], environ={})).control_token == "s3cret"
    from_env = parse_args([], environ={"HELIOS_CONTROL_TOKEN_FILE": str(path), "HELIOS_CONTROL_OPEN": "1"})
    assert (settings_from(from_env).control_token, from_env.control_open) == ("s3cret", True)
    assert settings_from(parse_args([], environ={"HELIOS_CONTROL_TOKEN": ""})).control_token is None


@pytest.mark.parametrize(("content", "says"), [("\n", "is empty"), (None, "No such file")])
def test_an_unusable_token_file_stops_the_start(tmp_path, content, says):
    path = tmp_path / "token"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(SystemExit, match=f"control token file {path}.*{says}"):
        settings_from(parse_args(["--control-token-file", str(path)], environ={}))


def test_a_token_and_a_token_file_are_one_too_many(tmp_path):
    with pytest.raises(SystemExit, match="not both"):
        settings_from(parse_args(["--control-token-file", str(tmp_path)], environ={"HELIOS_CONTROL_TOKEN": "x"}))


# -- --state-dir ----------------------------------------------------------------------------------------


def unwritable_directory(tmp_path: Path) -> Path:
    """A directory this process cannot write in (root writes anywhere but in a read-only place)."""
    if os.geteuid() != 0:
        tmp_path.chmod(0o555)
        return tmp_path
    try:
        tempfile.mkstemp(dir="/sys")
    except OSError:
        return Path("/sys")
    pytest.skip("running as root, with no read-only directory to try")


@pytest.mark.parametrize("case", ["a file", "under a file", "unwritable"])
def test_an_unusable_state_dir_stops_the_start_naming_it_and_why(tmp_path, case):
    if case == "unwritable":
        directory, says = unwritable_directory(tmp_path), "cannot write in it"
    else:
        (tmp_path / "file").write_text("x")
        directory = tmp_path / "file" if case == "a file" else tmp_path / "file" / "state"
        says = "it is a file, not a directory" if case == "a file" else "cannot create it"
    code, stderr = fails_to_start("--state-dir", str(directory))
    assert code == 1 and "Traceback" not in stderr
    assert stderr.strip().splitlines()[-1].startswith(f"helios-emulator: state directory {directory}: {says}")


def test_a_missing_state_dir_is_created(tmp_path):
    Emulator(Settings(port=0, https_port=None, state_dir=tmp_path / "new" / "state"))
    assert (tmp_path / "new" / "state").is_dir()


def test_what_an_interrupted_save_left_behind_is_removed_at_start(tmp_path):
    """A save killed before its rename leaves a temporary file with the whole configuration,
    passwords included."""
    stale = tmp_path / ".config-k9x2a1"
    stale.write_text('{"configXml": "<Password>secret</Password>"}')
    Emulator(Settings(port=0, https_port=None, state_dir=tmp_path))
    assert not stale.exists()


async def test_an_acknowledged_change_survives_kill_9(tmp_path):
    """The configuration is on disk (fsync, rename) before the change is acknowledged: killing the
    process the moment the reply arrives loses nothing."""
    process = Process("--state-dir", str(tmp_path), "--auth", "none")
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(process.url + "/api/config") as r:
                xml = (await r.read()).replace(b"<DeviceName>2N IP Verso</DeviceName>",
                                               b"<DeviceName>Killed</DeviceName>")
            async with session.put(process.url + "/api/config", data=form(**{"blob-cfg": xml})) as r:
                assert await r.json() == {"success": True}
            process.process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
    saved = json.loads((tmp_path / "config.json").read_text(encoding="utf-8"))
    assert "<DeviceName>Killed</DeviceName>" in saved["configXml"]
    emu = Emulator(Settings(port=0, https_port=None, state_dir=tmp_path))
    assert emu.device.identity.device_name == "Killed"


def test_a_state_dir_problem_in_process_is_a_state_error(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(StateError, match="it is a file"):
        Emulator(Settings(port=0, https_port=None, state_dir=tmp_path / "file"))


def test_the_readme_names_every_option_and_its_variable():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    for action in parser()._actions:
        if action.option_strings and action.dest not in NOT_FROM_ENV:
            assert action.option_strings[0] in readme and env_name(action) in readme, action.option_strings[0]
