"""The container's HEALTHCHECK (python -m emulator.healthcheck) is a liveness check: healthy while
the emulator serves, the emulated device's reboots included; unhealthy when nothing answers."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys


async def healthcheck(port: int) -> tuple[int, str]:
    env = {**os.environ, "HELIOS_PORT": str(port)}
    process = await asyncio.create_subprocess_exec(sys.executable, "-m", "emulator.healthcheck", env=env,
                                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out, _ = await asyncio.wait_for(process.communicate(), 30)
    return process.returncode, out.decode()


async def test_healthy_while_it_serves(make_emulator):
    emu = await make_emulator(https_port=None)
    code, out = await healthcheck(emu.ports["http"])
    assert code == 0 and out.startswith("healthy"), out


async def test_healthy_while_the_emulated_device_reboots(make_emulator):
    """A reboot the test asked for takes the API down (connections drop, as on a device): the
    container is alive all the same, and must not be restarted by its orchestrator."""
    emu = await make_emulator(https_port=None, clock="virtual")
    emu.faults.add({"kind": "reboot", "seconds": 600})
    assert not emu.device.online
    code, out = await healthcheck(emu.ports["http"])
    assert code == 0 and "restarting" in out, out


async def test_unhealthy_when_nothing_listens():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, out = await healthcheck(port)
    assert code == 1 and out.startswith("unhealthy"), out
