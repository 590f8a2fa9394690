"""Drive the real py2n-intercom client (PyPI, Python >= 3.12) against a running emulator.

Run by tests/clients/test_py2n_intercom.py with the Python 3.12 interpreter (HELIOS_PY312):

    python py2n_intercom_client.py BASE_URL USER PASSWORD AUTH_METHOD

BASE_URL is "http://127.0.0.1:PORT" or "https://127.0.0.1:PORT" (py2n-intercom needs the scheme
when a port is given); AUTH_METHOD is "digest" or "basic". The script calls the library exactly as
genka13/ha-2n-intercom does and prints one JSON report on stdout; the test judges it. Every step
records either its outcome or the error it raised, so one failure does not hide the others.

This file must not import anything from the emulator: it runs in another interpreter (it uses
only client_helpers.py of this directory, which is plain standard library).
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

import aiohttp
from client_helpers import (
    jpeg_size,  # this directory is on sys.path when the script runs
)
from py2n_intercom import Py2NApiError, Py2NClient, Py2NLogEvent


def jpeg_summary(data: bytes) -> dict[str, Any]:
    """What the HA camera would get (py2n-intercom does not check): a whole JPEG, and its size."""
    try:
        size = list(jpeg_size(data))
    except AssertionError as exc:
        size = str(exc)
    return {"bytes": len(data), "size": size, "ends_with_eoi": data.endswith(b"\xff\xd9")}


async def step(report: dict[str, Any], name: str, coro) -> Any:
    try:
        value = await coro
    except Exception as exc:  # noqa: BLE001 - the report names the step and the error
        report["errors"][name] = f"{type(exc).__name__}: {exc}"
        report["tracebacks"][name] = traceback.format_exc()
        return None
    return value


async def run(base: str, user: str, password: str, auth_method: str) -> dict[str, Any]:
    report: dict[str, Any] = {"errors": {}, "tracebacks": {}}
    async with aiohttp.ClientSession() as session:
        client = Py2NClient(session, base, user, password, auth_method=auth_method, verify_ssl=False)

        info = await step(report, "device_info", client.async_get_device_info())
        if info is not None:
            report["device_info"] = {"title": info.title, "model": info.model, "model_id": info.model_id,
                                     "serial": info.serial, "mac": info.mac, "sw_version": info.sw_version,
                                     "hw_version": info.hw_version, "boot_uuid": info.boot_uuid,
                                     "raw_mac": info.raw.get("macAddr")}

        report["switch_caps"] = await step(report, "switch_caps", client.async_get_switch_caps())
        report["switch_status"] = await step(report, "switch_status", client.async_get_switch_status())
        report["log_caps"] = await step(report, "log_caps", client.async_get_log_caps())

        cid = await step(report, "log_subscribe",
                         client.async_log_subscribe(event_filter=["SwitchStateChanged"]))
        report["channel"] = cid
        await step(report, "trigger", client.async_trigger_switch(1))
        if cid is not None:
            events = await step(report, "log_pull", client.async_log_pull(cid, timeout=5))
            report["events"] = events
            if events is not None:
                parsed = [Py2NLogEvent.from_dict(e) for e in events]
                report["parsed_events"] = [{"event": p.event, "params": p.params} for p in parsed]
            await step(report, "log_unsubscribe", client.async_log_unsubscribe(cid))
        report["switch_status_after"] = await step(report, "switch_status_after", client.async_get_switch_status())

        sizes = await step(report, "camera_caps", client.async_get_camera_caps())
        report["camera_caps"] = [list(s) for s in sizes] if sizes is not None else None
        report["snapshots"] = {}
        for width, height in ((640, 480), (1280, 960)):
            data = await step(report, f"snapshot_{width}x{height}",
                              client.async_get_snapshot(width=width, height=height))
            if data is not None:
                report["snapshots"][f"{width}x{height}"] = jpeg_summary(data)

        response = await step(report, "mjpeg",
                              client.async_open_snapshot_stream(width=640, height=480, fps=2))
        if response is not None:
            try:
                report["mjpeg"] = {"status": response.status, "content_type": response.headers.get("Content-Type"),
                                   "first_bytes": (await asyncio.wait_for(response.content.read(64), 10))
                                   .decode("latin-1")}
            finally:
                response.close()

        # A wrong password: the library reports it as unauthorized (HA's InvalidAuth).
        wrong = Py2NClient(session, base, user, password + "-wrong", auth_method=auth_method, verify_ssl=False)
        try:
            await wrong.async_get_switch_caps()
            report["wrong_password"] = "accepted"
        except Py2NApiError as exc:
            report["wrong_password"] = {"unauthorized": exc.is_unauthorized, "status": exc.status}
    return report


def main() -> None:
    base, user, password, auth_method = sys.argv[1:5]
    report = asyncio.run(run(base, user, password, auth_method))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
