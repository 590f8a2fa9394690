"""Bounded memory under a long run (design rule 7; WireMock's journal OOMs are the cautionary tale).

100,000 real HTTP requests over keep-alive connections against an in-process emulator: system/info,
switch/ctrl, whole subscribe + pull + unsubscribe cycles, and subscriptions that are simply
abandoned (left to expire). Device time moves on in the background through POST /_emulator/clock,
so switches fall back and abandoned channels expire. Resident memory after 20,000 and after
100,000 requests stays flat; the journal holds exactly journal_size entries; channels and the
clock's timers stay bounded.

About 15 s on a 2-core machine (some 7,000 requests/s, client and emulator sharing one process).
"""

from __future__ import annotations

import asyncio
import gc
import os
import time

import aiohttp
import pytest

from emulator.api.params import MAX_PARTS
from emulator.app import Emulator
from emulator.control.journal import PAGE_BYTES
from emulator.settings import Settings

TOTAL = 100_000
WARM = 20_000
WORKERS = 64
JOURNAL_SIZE = 1000
MAX_GROWTH_MB = 15
ABANDONED_DURATION = 5  # device seconds an abandoned channel lives


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


class Load:
    def __init__(self, emu: Emulator):
        self.base = emu.url
        self.sent = 0
        self.failed: list[str] = []
        self.max_channels = 0
        self.max_pending = 0

    async def get(self, session: aiohttp.ClientSession, path: str, **params: str) -> dict:
        async with session.get(self.base + path, params=params) as r:
            data = await r.json()
        self.sent += 1
        if r.status != 200 or data.get("success") is not True:
            self.failed.append(f"{path}: {r.status} {data}")
        return data

    async def worker(self, session: aiohttp.ClientSession, number: int, until: int) -> None:
        i = number
        while self.sent < until:
            i += 1
            kind = i % 20
            if kind < 9:
                await self.get(session, "/api/system/info")
            elif kind < 15:
                await self.get(session, "/api/switch/ctrl", switch="1", action="trigger")
            elif kind < 19:
                channel = (await self.get(session, "/api/log/subscribe"))["result"]["id"]
                await self.get(session, "/api/log/pull", id=str(channel))
                await self.get(session, "/api/log/unsubscribe", id=str(channel))
            else:  # a client that goes away without unsubscribing
                await self.get(session, "/api/log/subscribe", duration=str(ABANDONED_DURATION))

    async def clock(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> None:
        """Device time moves on (1 s per tick) while the load runs; watch channels and timers."""
        control = self.base + "/_emulator"
        while not stop.is_set():
            async with session.post(control + "/clock", json={"advance": 1}) as r:
                clock = await r.json()
            async with session.get(control + "/state") as r:
                channels = (await r.json())["channels"]
            self.max_channels = max(self.max_channels, channels)
            self.max_pending = max(self.max_pending, clock["pending"])
            await asyncio.sleep(0.02)


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads resident memory from /proc (Linux)")
async def test_100k_requests_keep_memory_journal_and_channels_bounded():
    emu = Emulator(Settings(port=0, https_port=None, auth="none", clock="virtual", journal_size=JOURNAL_SIZE))
    await emu.start()
    try:
        load = Load(emu)
        stop = asyncio.Event()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=WORKERS)) as session, \
                aiohttp.ClientSession() as control:
            ticker = asyncio.create_task(load.clock(control, stop))
            started = time.monotonic()
            await asyncio.gather(*(load.worker(session, n, WARM) for n in range(WORKERS)))
            gc.collect()
            warm_rss, warm_sent = rss_mb(), load.sent
            await asyncio.gather(*(load.worker(session, n, TOTAL) for n in range(WORKERS)))
            gc.collect()
            end_rss, end_sent = rss_mb(), load.sent
            elapsed = time.monotonic() - started
            stop.set()
            await ticker

            async with control.get(emu.url + "/_emulator/journal") as r:
                journal = await r.json()
            async with control.post(emu.url + "/_emulator/clock", json={"advance": ABANDONED_DURATION + 1}) as r:
                assert r.status == 200
            async with control.get(emu.url + "/_emulator/state") as r:
                channels_after = (await r.json())["channels"]

        figures = (f"{end_sent} requests in {elapsed:.1f} s ({end_sent / elapsed:.0f}/s); RSS {warm_rss:.1f} MB "
                   f"after {warm_sent}, {end_rss:.1f} MB after {end_sent} (+{end_rss - warm_rss:.2f} MB); "
                   f"at most {load.max_channels} channels, {load.max_pending} pending timers")
        print(figures)
        assert load.failed == [], load.failed[:5]
        assert end_sent >= TOTAL
        assert end_rss - warm_rss < MAX_GROWTH_MB, figures
        assert len(journal) == JOURNAL_SIZE
        assert journal[-1]["seq"] > TOTAL  # the newest entries, after every one of them
        assert load.max_channels < 1000, figures  # abandoned channels expire; far below the device's cap
        assert load.max_pending < 5000, figures  # the clock's timers do not pile up
        assert channels_after == 0
    finally:
        await emu.stop()


# -- the journal under the largest requests the limits allow ------------------------------------------

BIG_FIELD = 64 * 1024 - 128  # two multipart text fields and their headers: just under 128 KiB
LARGEST = 2400
JOURNAL_GROWTH_MB = 40  # 1,000 entries of at most 64 values of 256 characters, and the process's noise
READ_GROWTH_MB = 90  # and what reading it page by page leaves behind (the pages, each entry with its kept reply, come and go)


def largest_bodies() -> list[tuple[str, bytes, str]]:
    """(query, body, content type) of the largest requests an unauthenticated client may send to
    /api/system/info, each with an 8 KB query string: two text fields of 64 KiB (the multipart
    limit is one blob's 64 KiB plus 64 KiB), the most parts a multipart body may have (128) with
    1 KB each, a form of 64 KiB in 100 fields. The values are not ASCII: 2 bytes a character in
    memory."""
    boundary = "soakBoundary"

    def multipart(fields: list[tuple[str, str]]) -> bytes:
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{n}"\r\n\r\n{v}\r\n' for n, v in fields]
        return ("".join(parts) + f"--{boundary}--\r\n").encode()

    query = "q=" + "é" * 1340  # 8 KB once escaped, just under the request-line limit (8190)
    multipart_type = f"multipart/form-data; boundary={boundary}"
    return [
        (query, multipart([("a", "é" * (BIG_FIELD // 2)), ("b", "ü" * (BIG_FIELD // 2))]), multipart_type),
        (query, multipart([(f"f{i}", "é" * 470) for i in range(MAX_PARTS)]), multipart_type),
        (query, "&".join(f"k{i}=" + "%C3%A9" * 106 for i in range(100)).encode(), "application/x-www-form-urlencoded"),
    ]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads resident memory from /proc (Linux)")
async def test_the_journal_stays_bounded_under_the_largest_requests():
    """2,400 of the largest requests the limits allow: resident memory grows by the journal's
    bound, not by what the requests carried (it reached 300 MB at 1,000 such requests), and the
    journal, read page by page, stays within its bounds."""
    emu = Emulator(Settings(port=0, https_port=None, auth="none", clock="virtual"))
    await emu.start()
    try:
        bodies = largest_bodies()
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=8)) as session:
            async def send(i: int) -> None:
                query, body, content_type = bodies[i % len(bodies)]
                async with session.post(f"{emu.url}/api/system/info?{query}", data=body,
                                        headers={"Content-Type": content_type}) as r:
                    assert r.status == 200 and (await r.json())["success"] is True

            for i in range(30):  # warm up: the first pages of every kind of request
                await send(i)
            gc.collect()
            before = rss_mb()
            for start in range(0, LARGEST, 8):
                await asyncio.gather(*(send(i) for i in range(start, start + 8)))
            gc.collect()
            after = rss_mb()

            pages = read_entries = largest_page = 0
            url = emu.url + "/_emulator/journal?after=0"  # pages of 1,000 entries or about 8 MB
            while url:  # the client keeps nothing: what grows here is the emulator's
                async with session.get(url) as r:
                    largest_page = max(largest_page, r.content_length or 0)
                    page = await r.json()
                    url = str(r.links["next"]["url"]) if "next" in r.links else ""
                assert all(len(e["params"]) <= 64 and all(len(v) <= 257 for v in e["params"].values()) for e in page)
                read_entries += len(page)
                pages += 1
            del page
            gc.collect()
            read = rss_mb()

        figures = (f"RSS {before:.1f} MB before, {after:.1f} MB after {LARGEST} requests, {read:.1f} MB after "
                   f"reading the journal in {pages} pages (at most {largest_page / 2**20:.1f} MiB); journal {len(emu.journal)} entries, "
                   f"{emu.journal.bytes / 2**20:.1f} MiB counted")
        print(figures)
        assert after - before < JOURNAL_GROWTH_MB, figures
        assert read - before < READ_GROWTH_MB, figures
        assert read_entries == len(emu.journal) == 1000
        assert largest_page < 3 * PAGE_BYTES, figures  # JSON of about PAGE_BYTES of entries
        assert emu.journal.bytes <= emu.settings.journal_bytes
    finally:
        await emu.stop()
