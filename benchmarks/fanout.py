"""Event fan-out benchmark: one switch change, 1,000 channels long-polling, how fast does each hear it?

    python -m benchmarks.fanout [--channels 1000] [--rounds 20] [--budget 50]
    python benchmarks/fanout.py

An emulator (auth none, HTTP only, real clock) runs in this process. The benchmark opens
`--channels` log channels (filter SwitchStateChanged) and keeps one /api/log/pull (timeout 60)
waiting on each, all from one aiohttp ClientSession with no connection limit. Each round, once
every pull is waiting on the device, switch 1 changes (hold / release, through the model), and
each channel's latency is the time from that change to its client having read the reply. The
client shares the event loop with the emulator, so the figures include the client's own work
(what one process watching 1,000 channels would see). Prints Markdown; bounded by `--budget`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from pathlib import Path

import aiohttp

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from emulator.app import Emulator  # noqa: E402
from emulator.settings import Settings  # noqa: E402

PULL_TIMEOUT = 60  # longer than any round: a pull never ends empty


def rss_mib() -> float:
    """This process's resident set size (VmRSS in /proc/self/status), in MiB."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


def raise_fd_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


async def wait_all_waiting(emulator: Emulator, deadline: float) -> None:
    while not all(channel.waiting for channel in emulator.device.channels):
        if time.monotonic() > deadline:
            raise TimeoutError("the pulls did not all reach the device in time")
        await asyncio.sleep(0.001)


async def run(channels: int, rounds: int, budget: float) -> dict:
    started = time.monotonic()
    deadline = started + budget
    raise_fd_limit(2 * channels + 256)  # a client and a server socket per channel
    rss_start = rss_mib()
    emulator = Emulator(Settings(auth="none", port=0, https_port=None))
    await emulator.start()
    try:
        base = emulator.url
        connector = aiohttp.TCPConnector(limit=0)
        timeout = aiohttp.ClientTimeout(total=None, sock_read=PULL_TIMEOUT + 30)
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            gate = asyncio.Semaphore(100)

            async def subscribe() -> int:
                async with gate:
                    async with session.get(base + "/api/log/subscribe",
                                           params={"filter": "SwitchStateChanged", "duration": "3600"}) as resp:
                        return (await resp.json())["result"]["id"]

            ids = await asyncio.gather(*(subscribe() for _ in range(channels)))
            causes: list[float] = [0.0] * rounds
            latencies: list[list[float]] = [[] for _ in range(rounds)]
            round_done = [asyncio.Event() for _ in range(rounds)]
            errors: list[str] = []

            async def poller(channel_id: int) -> None:
                for r in range(rounds):
                    async with session.get(base + "/api/log/pull",
                                           params={"id": str(channel_id), "timeout": str(PULL_TIMEOUT)}) as resp:
                        body = await resp.read()
                    received = time.perf_counter()
                    events = json.loads(body)["result"]["events"]
                    if [e["event"] for e in events] != ["SwitchStateChanged"]:
                        errors.append(f"round {r}: channel {channel_id} got {body[:120]!r}")
                    latencies[r].append(received - causes[r])
                    if len(latencies[r]) == channels:
                        round_done[r].set()

            pollers = [asyncio.create_task(poller(i)) for i in ids]
            switch = emulator.device.switches.get(1)
            rss_waiting = None
            rounds_run = 0
            try:
                for r in range(rounds):
                    await wait_all_waiting(emulator, deadline)
                    if rss_waiting is None:
                        rss_waiting = rss_mib()
                    causes[r] = time.perf_counter()
                    if r % 2 == 0:
                        switch.hold()  # active until released: no auto-off timer in the way
                    else:
                        switch.release()
                    await asyncio.wait_for(round_done[r].wait(), max(0.1, deadline - time.monotonic()))
                    rounds_run += 1
            finally:
                for task in pollers:
                    task.cancel()
                await asyncio.gather(*pollers, return_exceptions=True)
            if errors:
                raise RuntimeError(f"{len(errors)} unexpected replies, e.g. {errors[0]}")
    finally:
        await emulator.stop()
    samples = [x for per_round in latencies[:rounds_run] for x in per_round]
    return {
        "channels": channels, "rounds": rounds_run, "samples": len(samples),
        "p50": percentile(samples, 50) * 1000, "p99": percentile(samples, 99) * 1000,
        "max": max(samples) * 1000,
        "last": statistics.mean(max(per_round) for per_round in latencies[:rounds_run]) * 1000,
        "rss_start": rss_start, "rss_waiting": rss_waiting, "rss_end": rss_mib(),
        "seconds": time.monotonic() - started,
    }


def report(r: dict) -> str:
    rows = [
        ("channels, each with a pull waiting", f"{r['channels']}"),
        ("rounds (one switch change each)", f"{r['rounds']}"),
        ("latency samples", f"{r['samples']}"),
        ("latency p50", f"{r['p50']:.1f} ms"),
        ("latency p99", f"{r['p99']:.1f} ms"),
        ("latency max", f"{r['max']:.1f} ms"),
        ("mean time until the last channel of a round had it", f"{r['last']:.1f} ms"),
        ("RSS before the emulator started", f"{r['rss_start']:.1f} MiB"),
        (f"RSS with {r['channels']} pulls waiting", f"{r['rss_waiting']:.1f} MiB"),
        ("RSS after the last round", f"{r['rss_end']:.1f} MiB"),
        ("wall time", f"{r['seconds']:.1f} s"),
    ]
    lines = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--budget", type=float, default=50.0, help="stop after this many seconds")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args.channels, args.rounds, args.budget))
    print(f"## Event fan-out: {result['channels']} channels, {result['rounds']} switch changes\n")
    print(report(result))


if __name__ == "__main__":
    main()
