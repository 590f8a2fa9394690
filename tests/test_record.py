"""helios-emulator record and --replay, tested without a device: the real client py2n talks to one
emulator through the recorder, and the recording is replayed by a second emulator whose firmware
(2.15) does not have the functions py2n's directory calls use."""

from __future__ import annotations

import json
from pathlib import Path

import aiohttp
import pytest

from emulator import record
from emulator.app import Emulator
from emulator.control.journal import describe
from emulator.recording import Recording, RecordingError, scrub_json
from emulator.settings import Settings

py2n = pytest.importorskip("py2n")
from py2n import Py2NConnectionData, Py2NDevice  # noqa: E402
from py2n import utils as py2n_utils  # noqa: E402
from py2n.exceptions import DeviceApiError  # noqa: E402

pytestmark = [pytest.mark.filterwarnings("ignore:The 'auth' parameter is deprecated:DeprecationWarning"),
              pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")]


def options(port: int, auth: str = "digest") -> Py2NConnectionData:
    return Py2NConnectionData(host=f"127.0.0.1:{port}", username="admin", password="2n", auth_method=auth,
                              protocol="http")


async def recorded(tmp_path: Path, target: Emulator, client) -> Path:
    """Run `client(port)` against the recorder in front of `target`; the recording's path."""
    path = tmp_path / "py2n.jsonl"
    with path.open("w", encoding="utf-8") as out:
        runner, port = await record.start(record.Recorder(target.url, out))
        try:
            await client(port)
        finally:
            await runner.cleanup()
    return path


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


async def py2n_session(port: int) -> dict:
    """What an integration does with py2n: set up, poll, switch, read the directory."""
    async with aiohttp.ClientSession() as session:
        device = await Py2NDevice.create(session, options(port))
        await device.set_switch(1, True)
        await device.update_switch_status()
        template = await device.get_dir_template()
        users = await device.query_dir({})
        return {"template": template, "users": users, "active": device.get_switch(1)}


async def recorded_py2n(tmp_path: Path, device: Emulator) -> tuple[Path, dict]:
    """py2n's session through the recorder: the recording and what py2n saw."""
    seen: dict = {}

    async def client(port):
        seen.update(await py2n_session(port))

    return await recorded(tmp_path, device, client), seen


async def test_py2n_through_the_recorder_sees_the_device_and_every_exchange_is_written(make_emulator, tmp_path):
    device = await make_emulator(clock="virtual")
    path, seen = await recorded_py2n(tmp_path, device)
    assert seen["active"] is True and seen["users"]  # py2n worked through the proxy
    head, *exchanges = lines(path)
    assert head["recording"] == "helios-emulator" and head["version"] == 1 and head["target"] == device.url
    assert [e["seq"] for e in exchanges] == list(range(1, len(exchanges) + 1))
    paths = [e["path"] for e in exchanges if e["status"] == 200]
    assert {"/api/system/info", "/api/log/caps", "/api/switch/caps", "/api/switch/ctrl", "/api/dir/template",
            "/api/dir/query"} <= set(paths)
    ctrl = next(e for e in exchanges if e["path"] == "/api/switch/ctrl" and e["status"] == 200)
    assert ctrl["params"] == {"switch": "1", "action": "on"} and ctrl["auth"] == "digest"
    assert json.loads(ctrl["body"]) == {"success": True} and ctrl["type"] == "application/json"
    assert all(isinstance(e["ms"], float) for e in exchanges)
    # The device saw py2n's requests (through the proxy) as its own.
    assert device.journal.find("request", path="/api/switch/ctrl")[-1]["account"] == "admin"


async def test_credentials_and_secrets_never_reach_the_file(make_emulator, tmp_path):
    device = await make_emulator(clock="virtual")
    device.device.enter_code("1234")  # a PIN typed on the keypad, in the history

    async def client(port):
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as session:
            for path in ("/api/config", "/api/dir/query"):
                async with session.post(base + path, json={}) as resp:
                    assert resp.status == 200
            async with session.get(base + "/api/log/subscribe", params={"include": "all"}) as resp:
                channel = (await resp.json())["result"]["id"]
            async with session.get(base + "/api/log/pull", params={"id": channel}) as resp:
                assert "CodeEntered" in await resp.text()
            async with session.get(base + "/api/system/info", params={"password": "hunter2"}) as resp:
                assert resp.status == 200
            async with session.get(base + "/api/pcap") as resp:
                assert resp.status == 200

    path = await recorded(tmp_path, device, client)
    text = path.read_text()
    assert "Digest " not in text and "Authorization" not in text and "hunter2" not in text
    assert "<Password>***</Password>" in text and "<Password>2n</Password>" not in text
    assert "<Code>***</Code>" in text and "00112233" not in text  # the switch code
    assert "1234" not in text
    bodies = {e["path"]: json.loads(e["body"]) for e in lines(path)[1:] if e["status"] == 200 and "body" in e
              and e["type"] == "application/json"}
    assert bodies["/api/dir/query"]["result"]["users"][0]["access"]["pin"] == "***"
    events = bodies["/api/log/pull"]["result"]["events"]
    assert [e["params"]["code"] for e in events if e["event"] == "CodeEntered"] == ["***"]
    pcap = next(e for e in lines(path)[1:] if e["path"] == "/api/pcap")
    assert "body" not in pcap and "body_b64" not in pcap and pcap["size"] > 0  # a trace holds whole exchanges


def test_a_directory_users_access_codes_are_secrets_too():
    record = {"access": {"pin": "1234", "code": ["5678", ""], "card": ["1A2B3C4D"]}, "error": {"code": 12}}
    assert scrub_json(record) == {"access": {"pin": "***", "code": ["***", ""], "card": ["1A2B3C4D"]},
                                  "error": {"code": 12}}


async def test_bodies_are_bounded_and_binary_ones_base64(make_emulator, tmp_path):
    device = await make_emulator(clock="virtual")
    path = tmp_path / "small.jsonl"
    with path.open("w") as out:
        runner, port = await record.start(record.Recorder(device.url, out, max_body=1000))
        try:
            async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "2n"),)) as session:
                url = f"http://127.0.0.1:{port}/api/camera/snapshot"
                async with session.get(url, params={"width": "640", "height": "480"}) as resp:
                    jpeg = await resp.read()
                async with session.get(url, params={"width": "320", "height": "240", "fps": "5"}) as resp:
                    await resp.content.readexactly(3000)  # a few frames of the stream, then the viewer leaves
        finally:
            await runner.cleanup()
    still, stream = [e for e in lines(path)[1:] if e["status"] == 200]
    assert still["size"] == len(jpeg) > 1000 and still["truncated"] is True and len(still["body_b64"]) <= 1336
    assert stream["type"].startswith("multipart/x-mixed-replace") and stream["truncated"] is True


async def test_a_device_that_does_not_answer_is_recorded_as_such(tmp_path):
    path = tmp_path / "down.jsonl"
    with path.open("w") as out:
        runner, port = await record.start(record.Recorder("http://127.0.0.1:9", out))
        try:
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/api/system/info") as resp:
                    assert resp.status == 502
        finally:
            await runner.cleanup()
    exchange = lines(path)[1]
    assert exchange["status"] is None and exchange["error"]


async def test_an_older_firmware_replays_what_it_does_not_have(make_emulator, tmp_path):
    path, seen = await recorded_py2n(tmp_path, await make_emulator(clock="virtual"))
    old = await make_emulator(profile="vario-2.15", clock="virtual")
    replaying = await make_emulator(profile="vario-2.15", clock="virtual", replay=path)
    async with aiohttp.ClientSession() as session:
        with pytest.raises(DeviceApiError):  # firmware 2.15 has no directory functions...
            await py2n_utils.get_dir_template(session, options(old.ports["http"]))
        # ...but with the recording, py2n reads the recorded directory
        port = replaying.ports["http"]
        assert await py2n_utils.get_dir_template(session, options(port)) == seen["template"]
        assert await py2n_utils.query_dir(session, options(port), {}) == scrub_json(seen["users"])  # PINs: ***
        # What the model answers, it answers itself: its own switch is off
        statuses = await py2n_utils.get_switch_status(session, options(port))
        assert statuses[0]["active"] is False
    replayed = replaying.journal.find("request", path="/api/dir/*", replayed=True)
    assert {e["path"] for e in replayed} == {"/api/dir/template", "/api/dir/query"}
    assert all(e["account"] == "admin" and e["status"] == 200 for e in replayed)
    assert replaying.journal.find("request", path="/api/switch/status")[-1]["replayed"] is False
    assert describe(replayed[0]).endswith(" replayed")  # the request's log line says so too
    async with aiohttp.ClientSession() as session:  # and the control plane filters on it
        for wanted, paths in (("true", {"/api/dir/template", "/api/dir/query"}), ("false", {"/api/switch/status"})):
            async with session.get(f"{replaying.url}/_emulator/journal", params={"kind": "request", "status": "200",
                                                                                "replayed": wanted}) as resp:
                assert {e["path"] for e in await resp.json()} == paths


async def test_a_replayed_reply_needs_the_credentials_it_was_recorded_with(make_emulator, tmp_path, make_client):
    current = await make_emulator(clock="virtual")
    path = await recorded(tmp_path, current, py2n_session)
    replaying = await make_emulator(profile="vario-2.15", clock="virtual", replay=path)
    anonymous = make_client(replaying, user=None)
    reply = await anonymous.get("/api/dir/template")
    assert reply.status == 401 and reply.error["code"] == 9 and "Digest" in reply.headers["WWW-Authenticate"]
    assert (await make_client(replaying).get("/api/dir/template")).result["users"]
    # A path the recording does not hold is still "invalid request path"
    assert (await make_client(replaying).get("/api/lpr/licenseplate")).error["code"] == 2
    [entry] = replaying.journal.find("request", path="/api/lpr/licenseplate")
    assert entry["replayed"] is False and entry["reason"] == "no such function; nor has the recording"


def exchange(seq: int, path: str, body: dict, method: str = "GET", **params: str) -> str:
    return json.dumps({"seq": seq, "method": method, "path": path, "params": params, "auth": None, "status": 200,
                       "type": "application/json", "body": json.dumps(body)})


def test_the_replay_rule(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text("\n".join([
        json.dumps({"recording": "helios-emulator", "version": 1}),
        exchange(1, "/api/x", {"n": 1}, id="1"),
        exchange(2, "/api/x", {"n": 2}, id="1"),
        exchange(3, "/api/x", {"n": 3}, id="2", timeout="5"),
        exchange(4, "/api/x", {"n": 4}, method="POST"),
        json.dumps({"seq": 5, "method": "GET", "path": "/api/x", "params": {}, "status": 401, "body": ""}),
    ]) + "\n")
    rec = Recording.load(path)
    answer = lambda method="GET", **params: json.loads(rec.answer(method, "/api/x", params).body)["n"]  # noqa: E731
    assert [answer(id="1"), answer(id="1"), answer(id="1")] == [1, 2, 2]  # in order, then the last again
    assert answer(id="2", timeout="5") == 3  # the same parameters
    assert answer(id="2") == 3  # else the most parameters alike
    assert answer("POST") == 4  # the same method first
    assert rec.answer("GET", "/api/y", {}) is None


@pytest.mark.parametrize("text, reason", [
    ("not json\n", "line 1"),
    ('{"recording": "something-else", "version": 1}\n', "not a helios-emulator recording"),
    ('{"seq": 1, "path": "/api/x", "status": 999}\n', "status"),
])
def test_a_bad_recording_stops_the_start_with_the_line_and_reason(tmp_path, text, reason):
    path = tmp_path / "bad.jsonl"
    path.write_text(text)
    with pytest.raises(RecordingError, match=reason):
        Emulator(Settings(replay=path))


def test_the_profile_names_a_recording_next_to_it(tmp_path):
    (tmp_path / "r.jsonl").write_text(exchange(1, "/api/x", {}) + "\n")
    (tmp_path / "p.toml").write_text('extends = "verso"\n[replay]\nfile = "r.jsonl"\n')
    assert Emulator(Settings(profile=str(tmp_path / "p.toml"))).replay.size == 1
    (tmp_path / "q.toml").write_text('extends = "verso"\n[replay]\nfile = "missing.jsonl"\n')
    with pytest.raises(Exception, match="replay.file: no recording 'missing.jsonl'"):
        Emulator(Settings(profile=str(tmp_path / "q.toml")))


def test_the_command_lines(capsys, monkeypatch):
    from emulator.cli import main, parse_args, settings_from
    monkeypatch.setenv("HELIOS_PORT", "not a port")  # the emulator's variables are not the subcommands'
    with pytest.raises(SystemExit) as done:
        main(["record", "--help"])
    assert done.value.code == 0 and "--target" in capsys.readouterr().out
    assert settings_from(parse_args(["--replay", "x.jsonl"], environ={})).replay == Path("x.jsonl")
    assert settings_from(parse_args([], environ={"HELIOS_REPLAY": "y.jsonl"})).replay == Path("y.jsonl")


def test_record_runs_from_the_command_line_until_sigterm(helios, tmp_path):
    import re
    import signal
    import subprocess
    import sys
    import urllib.request

    out = tmp_path / "cli.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "emulator", "record", "--target", helios.url, "--port", "0",
                             "-o", str(out)], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        port = re.search(r"http://127\.0\.0\.1:(\d+) ->", line).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/system/info") as resp:
            assert json.loads(resp.read())["result"]["variant"] == "2N IP Verso"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "1 exchange(s) recorded" in err
    assert [e["path"] for e in lines(out)[1:]] == ["/api/system/info"]
