"""The command line as people run it: the start-up lines say what is emulated and where everything
is; one log line per request (text for people, JSON for log collectors) says who asked what, how it
went and why it was refused; control-plane actions are logged too.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys

import aiohttp
import pytest


class Running:
    """`python -m emulator ...` as a subprocess, its stderr read line by line."""

    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process
        self.lines: list[str] = []

    async def line(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The next stderr line (after those already read) that matches."""
        async def read() -> re.Match[str]:
            while True:
                raw = await self.process.stderr.readline()
                if not raw:
                    raise AssertionError(f"the emulator exited; it said: {self.lines}")
                self.lines.append(raw.decode().rstrip("\n"))
                match = re.search(pattern, self.lines[-1])
                if match:
                    return match
        return await asyncio.wait_for(read(), timeout)


@pytest.fixture
async def cli():
    started: list[Running] = []

    async def start(*args: str, env: dict[str, str] | None = None) -> Running:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "emulator", "--host", "127.0.0.1", "--port", "0", "--no-https", "--rtsp-port", "0",
            *args,
            stderr=asyncio.subprocess.PIPE, env={**os.environ, **(env or {})})
        started.append(Running(process))
        return started[-1]

    yield start
    for running in started:
        if running.process.returncode is None:
            running.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(running.process.wait(), 20)


async def test_the_start_up_lines_say_what_runs_and_where(cli):
    emulator = await cli("--user", "ha:secret", "--user", "door:pw:switch-control", "--clock", "virtual")
    first = await emulator.line(r"emulating a (.*)")
    assert re.fullmatch(r"2N IP Verso, firmware 2\.50\.0\.76\.2 \(profile verso\), on http://127\.0\.0\.1:\d+, "
                        r"rtsp://127\.0\.0\.1:\d+; "
                        r"auth: digest on every service; accounts: ha, door; clock: virtual; event loop: \w+",
                        first.group(1)), first.group(1)
    assert "secret" not in first.string and ":pw" not in first.string  # names only, never passwords
    panel = await emulator.line(r"front panel: (http://\S+/_emulator/ui) ; control plane: (http://\S+/_emulator/) ")
    async with aiohttp.ClientSession() as session:
        async with session.get(panel.group(1)) as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
        async with session.get(panel.group(2)) as resp:
            assert resp.status == 200


async def test_one_text_line_per_request_with_its_reason(cli):
    emulator = await cli()
    url = (await emulator.line(r"on (http://[\d.:]+),")).group(1)
    async with aiohttp.ClientSession(middlewares=(aiohttp.DigestAuthMiddleware("admin", "wrong"),)) as session:
        async with session.get(url + "/api/switch/caps") as resp:
            assert resp.status == 401
    await emulator.line(r"INFO emulator\.requests: 127\.0\.0\.1 GET /api/switch/caps 401 code=9 account=- "
                        r"[\d.]+ms reason=\"no credentials\"$")
    await emulator.line(r"INFO emulator\.requests: 127\.0\.0\.1 GET /api/switch/caps 401 code=9 account=- "
                        r"[\d.]+ms reason=\"wrong password for 'admin'\"$")


async def test_json_lines_for_log_collectors(cli):
    emulator = await cli(env={"HELIOS_LOG_FORMAT": "json", "HELIOS_AUTH": "none"})
    url = re.search(r"on (http://[\d.:]+),", json.loads((await emulator.line(r"emulating")).string)["message"])[1]
    async with aiohttp.ClientSession() as session:
        async with session.get(url + "/api/switch/ctrl", params={"switch": "1", "action": "on"}) as resp:
            assert (await resp.json()) == {"success": True}
        async with session.post(url + "/_emulator/actions/card", json={"uid": "1A2B3C4D"}) as resp:
            assert resp.status == 200
    request = json.loads((await emulator.line(r'"logger": "emulator.requests"')).string)
    assert {k: request[k] for k in ("level", "client", "method", "path", "status", "code", "account", "faults",
                                    "ended", "reason")} == \
        {"level": "info", "client": "127.0.0.1", "method": "GET", "path": "/api/switch/ctrl", "status": 200,
         "code": None, "account": None, "faults": [], "ended": "replied", "reason": None}
    assert isinstance(request["duration_ms"], float) and request["time"].endswith("+00:00")
    action = json.loads((await emulator.line(r'"logger": "emulator.control"')).string)
    assert (action["message"], action["action"], action["params"]) == \
        ('action card {"uid": "1A2B3C4D"}', "card", {"uid": "1A2B3C4D"})


async def test_log_level_warning_keeps_request_lines_out(cli):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    emulator = await cli("--log-level", "warning", "--auth", "none", "--port", str(port))
    async with aiohttp.ClientSession() as session:
        for _ in range(200):  # until it serves
            try:
                async with session.get(f"http://127.0.0.1:{port}/api/switch/status") as resp:
                    assert resp.status == 200
                    break
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.05)
    emulator.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(emulator.process.wait(), 20) == 0
    assert (await emulator.process.stderr.read()).decode() == ""  # neither the request nor the start-up
