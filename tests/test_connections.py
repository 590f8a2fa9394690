"""Connections: a new one has the header timeout to send its request's head, a kept-alive one
the idle timeout to send its next; at most max_connections are open (and fewer than the process
may open files), the longest idle one making room for a newcomer. Long-polls and MJPEG streams,
which are requests in progress, are never cut."""

from __future__ import annotations

import asyncio
import functools
import json
import resource
import socket
import time

import aiohttp
import pytest

from emulator.connections import cap
from tests.support import Process

SHORT = {"header_timeout": 0.3, "idle_timeout": 0.5}


@pytest.fixture
def start(make_emulator):
    return functools.partial(make_emulator, https_port=None, auth="none")


async def closed_by_server(reader: asyncio.StreamReader, within: float = 10) -> bool:
    """Whether the server closes the connection (EOF) within `within` seconds (a bound for a busy
    machine, not a measurement)."""
    try:
        return await asyncio.wait_for(reader.read(), within) == b""
    except TimeoutError:
        return False


@pytest.mark.parametrize("sent", [b"", b"GET /api/system/info HTTP/1.1\r\nHost: x\r\n"], ids=["nothing", "half a head"])
async def test_a_connection_that_sends_no_whole_head_is_closed_at_the_header_timeout(start, sent):
    emu = await start(header_timeout=0.3, idle_timeout=60)
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.ports["http"])
    writer.write(sent)
    assert await closed_by_server(reader)
    writer.close()


async def test_a_kept_alive_connection_is_closed_at_the_idle_timeout(start):
    emu = await start(**SHORT)
    reader, writer = await asyncio.open_connection("127.0.0.1", emu.ports["http"])
    writer.write(b"GET /api/system/info HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    assert await closed_by_server(reader)
    writer.close()


async def test_long_polls_and_mjpeg_outlive_both_timeouts(start):
    emu = await start(**SHORT)
    async with aiohttp.ClientSession() as session:
        async with session.get(emu.url + "/api/log/subscribe", params={"filter": "KeyPressed"}) as r:
            channel = (await r.json())["result"]["id"]
        started = time.monotonic()
        async with session.get(emu.url + "/api/log/pull", params={"id": channel, "timeout": "2"}) as r:
            assert (await r.json())["result"] == {"events": []}
        assert time.monotonic() - started >= 1.9
        async with session.get(emu.url + "/api/camera/snapshot",
                               params={"width": "640", "height": "480", "fps": "5"}) as r:
            frames, until = 0, time.monotonic() + 1.5
            while time.monotonic() < until:
                await r.content.readuntil(b"--HeliosMjpegBoundary")
                frames += 1
        assert frames >= 5


async def test_past_the_cap_the_longest_idle_connection_makes_room(start):
    emu = await start(max_connections=16)
    silent = [await asyncio.open_connection("127.0.0.1", emu.ports["http"]) for _ in range(40)]
    async with aiohttp.ClientSession() as session, session.get(emu.url + "/api/system/info") as r:
        assert r.status == 200
    assert len(emu.runner.server.connections) <= 16
    assert await closed_by_server(silent[0][0])  # the oldest went first
    for _, writer in silent:
        writer.close()


async def test_past_the_cap_with_every_connection_busy_a_newcomer_gets_503(start):
    emu = await start(max_connections=16)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        channels = []
        for _ in range(16):
            async with session.get(emu.url + "/api/log/subscribe", params={"filter": "KeyPressed"}) as r:
                channels.append((await r.json())["result"]["id"])
        polls = [asyncio.create_task(session.get(emu.url + "/api/log/pull", params={"id": c, "timeout": "30"}))
                 for c in channels]
        while sum(c.waiting for c in emu.device.channels) < 16:  # 16 long-polls, each on a connection
            await asyncio.sleep(0.01)
        reader, writer = await asyncio.open_connection("127.0.0.1", emu.ports["http"])
        reply = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert reply.startswith(b"HTTP/1.1 503 ")
        assert json.loads(reply.split(b"\r\n\r\n", 1)[1])["error"].startswith("too many connections")
        for poll in polls:
            poll.cancel()


def test_the_cap_stays_below_the_file_limit():
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    assert cap(1_000_000) < soft


@pytest.mark.slow
def test_silent_connections_past_the_file_limit_lock_nobody_out():
    """1,100 silent connections used to take every file descriptor under the usual soft limit of
    1,024: no client got in, and asyncio logged an accept() error (with a traceback) at every try.
    About 10 s: the kernel queues fewer connections for a listener when files are few."""
    def few_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))

    process = Process("--auth", "none", preexec_fn=few_files)
    silent = []
    try:
        for _ in range(1100):
            silent.append(socket.create_connection(("127.0.0.1", process.port), timeout=10))
        with socket.create_connection(("127.0.0.1", process.port), timeout=10) as client:
            client.sendall(b"GET /api/system/info HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            client.settimeout(10)
            reply = b""
            while chunk := client.recv(65536):
                reply += chunk
        assert reply.startswith(b"HTTP/1.1 200 ") and b'"success":true' in reply
    finally:
        for sock in silent:
            sock.close()
        log = process.stop()
    assert "accept" not in log.lower() and "Traceback" not in log, log[-2000:]
