"""The real PyPI client py2n-intercom (0.1.33, genka13; used by genka13/ha-2n-intercom) against a
live emulator, unmodified.

py2n-intercom requires Python >= 3.12 and this suite runs on 3.11, so the client runs in a
subprocess under the interpreter named by HELIOS_PY312 (CI points it at a venv with
`pip install py2n-intercom`; locally HELIOS_PY312=/work/venv312/bin/python). Without it the tests
skip and say why. The script, py2n_intercom_client.py, prints a JSON report that is judged here.

What it must get right (research/clients.md section 2): its hand-written Digest sends every
request unauthenticated first and then a `uri` WITHOUT the query string (HA2 over the bare path),
which the emulator must accept on every parameterised call; it reads devType, macAddr (any
separator) and bootUuid from system/info; it ignores the spec's camera/caps shape and falls back to
640x480 and 1280x960, which must both be valid snapshot sizes; MJPEG must be
multipart/x-mixed-replace.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).with_name("py2n_intercom_client.py")

COMBOS = [
    pytest.param("http", "digest", marks=pytest.mark.helios(clock="virtual"), id="http-digest"),
    pytest.param("https", "digest", marks=pytest.mark.helios(clock="virtual"), id="https-digest"),
    pytest.param("http", "basic", marks=pytest.mark.helios(auth="basic", clock="virtual"), id="http-basic"),
    pytest.param("https", "basic", marks=pytest.mark.helios(auth="basic", clock="virtual"), id="https-basic"),
]


@pytest.fixture
def py312() -> str:
    """The Python >= 3.12 interpreter that has py2n-intercom (env HELIOS_PY312), or skip."""
    import os

    path = os.environ.get("HELIOS_PY312")
    if not path:
        pytest.skip("HELIOS_PY312 is not set: py2n-intercom needs Python >= 3.12; point HELIOS_PY312 at an "
                    "interpreter with `pip install py2n-intercom` (e.g. /work/venv312/bin/python)")
    try:
        probe = subprocess.run([path, "-c", "import sys, py2n_intercom; assert sys.version_info >= (3, 12)"],
                               capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.skip(f"HELIOS_PY312={path} cannot be run: {exc}")
    if probe.returncode != 0:
        pytest.skip(f"HELIOS_PY312={path} is not Python >= 3.12 with py2n_intercom importable: "
                    f"{probe.stderr.strip()[-300:]}")
    return path


def run_client(py312: str, base: str, auth_method: str, user: str = "admin", password: str = "2n") -> dict:
    proc = subprocess.run([py312, str(SCRIPT), base, user, password, auth_method],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    tracebacks = report.pop("tracebacks")
    assert report["errors"] == {}, "\n".join(tracebacks.values())
    return report


@pytest.mark.parametrize("protocol,auth_method", COMBOS)
def test_py2n_intercom_end_to_end(py312, helios, protocol, auth_method):
    base = helios.url if protocol == "http" else helios.https_url
    report = run_client(py312, base, auth_method)
    ident = helios.device.identity

    info = report["device_info"]
    assert info["title"] == "2N IP Verso" and info["model"] == "2N IP Verso"
    assert info["model_id"] == "2-14-0-0"  # devType
    assert info["serial"] == ident.serial_number and info["sw_version"] == "2.50.0.76.2"
    assert info["hw_version"] == "570v1"
    assert info["raw_mac"] == "7c-1e-b3-0a-2f-51" and info["mac"] == "7C:1E:B3:0A:2F:51"  # normalised
    assert info["boot_uuid"] == helios.device.boot_uuid and info["boot_uuid"]

    assert [(s["switch"], s["enabled"]) for s in report["switch_caps"]] == [(1, True), (2, True), (3, False), (4, False)]
    assert [s["switch"] for s in report["switch_status"]] == [1, 2, 3, 4]
    assert all({"active", "locked", "held"} <= set(s) for s in report["switch_status"])
    assert report["switch_status"][0]["active"] is False
    assert {"SwitchStateChanged", "CallStateChanged", "MotionDetected"} <= set(report["log_caps"])

    # trigger (monostable switch 1) -> SwitchStateChanged {switch: 1, state: true}; the clock
    # stands still, so the switch is still on when status is read again.
    assert report["parsed_events"] == [
        {"event": "SwitchStateChanged", "params": {"switch": 1, "state": True, "originator": "api"}}]
    assert report["switch_status_after"][0]["active"] is True
    assert [r["params"] for r in helios.requests(path="/api/switch/ctrl", status=200)] == [
        {"switch": "1", "action": "trigger"}]

    # The spec's camera/caps shape (jpegResolution) is not what it reads: it falls back to
    # these two sizes, and both must give real JPEGs of that size.
    assert report["camera_caps"] == [[640, 480], [1280, 960]]
    assert report["snapshots"]["640x480"]["size"] == [640, 480]
    assert report["snapshots"]["1280x960"]["size"] == [1280, 960]
    assert all(s["ends_with_eoi"] for s in report["snapshots"].values())

    mjpeg = report["mjpeg"]
    assert mjpeg["status"] == 200 and mjpeg["content_type"].startswith("multipart/x-mixed-replace")
    assert mjpeg["first_bytes"].startswith("--")

    assert report["wrong_password"] == {"unauthorized": True, "status": 401}

    # Every call of the authorised client succeeded as admin, over the transport asked for.
    answered = [r for r in helios.requests() if r["status"] == 200]
    assert {r["transport"] for r in helios.requests()} == {protocol}
    parameterised = {"/api/switch/ctrl", "/api/log/subscribe", "/api/log/pull", "/api/log/unsubscribe",
                     "/api/camera/snapshot"}
    assert parameterised <= {r["path"] for r in answered if r["account"] == "admin"}
    if auth_method == "digest":
        # Its digest: every request goes out without credentials first, is challenged, and is
        # resent with a uri that lacks the query string; the emulator accepts that uri.
        for path in parameterised:
            statuses = [r["status"] for r in helios.requests(path=path)]
            assert statuses[:2] == [401, 200], (path, statuses)


def test_py2n_intercom_on_an_https_only_device(py312, tmp_path):
    """Its default transport is HTTPS; a device whose services are HTTPS-only serves it there."""
    from emulator.control.handle import running
    from emulator.settings import Settings

    profile = tmp_path / "verso-https.toml"
    profile.write_text('extends = "verso"\n[services]\ntransport = "https"\n', encoding="utf-8")
    with running(Settings(profile=str(profile), port=0, https_port=0, clock="virtual")) as helios:
        report = run_client(py312, helios.https_url, "digest")
        assert report["device_info"]["model_id"] == "2-14-0-0"
        assert report["snapshots"]["640x480"]["size"] == [640, 480]
        assert report["parsed_events"][0]["event"] == "SwitchStateChanged"
        assert {r["transport"] for r in helios.requests()} == {"https"}
