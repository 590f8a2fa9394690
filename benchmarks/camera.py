"""Camera benchmark: snapshot latency per advertised size, and the CPU cost of MJPEG viewers.

    python -m benchmarks.camera [--requests 30] [--seconds 5] [--viewers 1,10,50]

The emulator runs as its own process (`python -m emulator --no-https --auth none`), so its CPU
time (utime + stime from /proc/<pid>/stat) is not mixed with this client's. Prints Markdown.

* Snapshot latency: per size, `--requests` pictures of fresh frames (requests 70 ms apart, so each
  falls on a new frame of the 15 Hz grid and is rendered and encoded), and the same picture asked
  again at once (served from the frame cache).
* MJPEG: N viewers at 10 fps, 640x480, for `--seconds` each; the emulator's CPU seconds per wall
  second (1.0 = one core busy), the frames each viewer received per second, and the bytes sent.

Bounded: about 60 s with the defaults, and it stops early past `--budget` seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
STREAM_SIZE = (640, 480)
STREAM_FPS = 10
FRAME_GRID = 1 / 15  # the emulator renders at most one frame per 1/15 s per source and size


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process, in seconds (Linux /proc); None where there is no /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


async def wait_ready(session: aiohttp.ClientSession, base: str, proc: subprocess.Popen, limit: float = 20) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"the emulator exited with code {proc.returncode}")
        try:
            async with session.get(base + "/_emulator/health") as resp:
                if resp.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise SystemExit("the emulator did not start in time")


async def snapshot(session: aiohttp.ClientSession, base: str, width: int, height: int) -> float:
    started = time.perf_counter()
    async with session.get(base + "/api/camera/snapshot", params={"width": str(width), "height": str(height)}) as resp:
        body = await resp.read()
        if resp.status != 200 or resp.headers.get("Content-Type") != "image/jpeg":
            raise SystemExit(f"snapshot {width}x{height} failed: {resp.status} {body[:200]!r}")
    return time.perf_counter() - started


async def snapshot_latency(session: aiohttp.ClientSession, base: str, requests: int, deadline: float) -> list[str]:
    async with session.get(base + "/api/camera/caps") as resp:
        caps = (await resp.json())["result"]
    sizes = [(r["width"], r["height"]) for r in caps["jpegResolution"]]
    await snapshot(session, base, 160, 120) if (160, 120) in sizes else None  # warm up the connection
    rows = ["| size | fresh frame p50 ms | fresh frame p99 ms | cached p50 ms | requests |",
            "|---|---:|---:|---:|---:|"]
    for width, height in sorted(sizes, key=lambda s: s[0] * s[1]):
        fresh, cached = [], []
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(FRAME_GRID + 0.004)  # the next frame of the grid
            fresh.append(await snapshot(session, base, width, height))
            cached.append(await snapshot(session, base, width, height))
        if not fresh:
            rows.append(f"| {width}x{height} | (time budget spent) | | | 0 |")
            continue
        rows.append(f"| {width}x{height} | {percentile(fresh, 50) * 1000:.1f} | {percentile(fresh, 99) * 1000:.1f} "
                    f"| {percentile(cached, 50) * 1000:.1f} | {len(fresh)} |")
    return rows


async def viewer(session: aiohttp.ClientSession, base: str, counts: list[int], sizes: list[int], i: int,
                 first: asyncio.Event, stop: asyncio.Event) -> None:
    params = {"width": str(STREAM_SIZE[0]), "height": str(STREAM_SIZE[1]), "fps": str(STREAM_FPS)}
    async with session.get(base + "/api/camera/snapshot", params=params) as resp:
        ctype = resp.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/x-mixed-replace"):
            raise SystemExit(f"not a stream: {resp.status} {ctype}")
        while not stop.is_set():
            length = 0
            while (line := await resp.content.readline()) != b"\r\n" or not length:
                if not line:
                    return  # the emulator closed the stream
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            await resp.content.readexactly(length + 2)
            counts[i] += 1
            sizes[i] += length
            first.set()


async def mjpeg_cost(base: str, pid: int, viewers: int, seconds: float) -> str:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        counts, sizes = [0] * viewers, [0] * viewers
        firsts = [asyncio.Event() for _ in range(viewers)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(viewer(session, base, counts, sizes, i, firsts[i], stop)) for i in range(viewers)]
        try:
            await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), 20)
            counts0, sizes0 = list(counts), list(sizes)
            cpu0, wall0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(seconds)
            cpu1, wall1 = cpu_seconds(pid), time.monotonic()
            frames = [c - c0 for c, c0 in zip(counts, counts0)]
            sent = sum(sizes) - sum(sizes0)
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    wall = wall1 - wall0
    cpu = f"{(cpu1 - cpu0) / wall:.3f}" if cpu0 is not None and cpu1 is not None else "n/a"
    per_viewer = [f / wall for f in frames]
    return (f"| {viewers} | {cpu} | {statistics.mean(per_viewer):.1f} | {min(per_viewer):.1f} "
            f"| {sent / wall / 1e6:.2f} | {wall:.1f} |")


async def idle_cost(pid: int, seconds: float) -> str:
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = cpu_seconds(pid), time.monotonic()
    cpu = f"{(cpu1 - cpu0) / (wall1 - wall0):.3f}" if cpu0 is not None and cpu1 is not None else "n/a"
    return f"| 0 (idle) | {cpu} | | | | {wall1 - wall0:.1f} |"


async def run(args: argparse.Namespace) -> None:
    started = time.monotonic()
    deadline = started + args.budget
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port), "--no-https", "--auth", "none",
         "--profile", args.profile, "--log-level", "warning"], cwd=ROOT)
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base, proc)
            print(f"# Camera benchmark: profile {args.profile}, emulator pid {proc.pid}, "
                  f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
            print(f"## Snapshot latency ({args.requests} requests per size, one client)\n")
            # Leave room for the MJPEG runs.
            mjpeg_time = len(args.viewers) * (args.seconds + 2) + 4
            rows = await snapshot_latency(session, base, args.requests, deadline - mjpeg_time)
            print("\n".join(rows))
        print(f"\n## MJPEG viewers at {STREAM_FPS} fps, {STREAM_SIZE[0]}x{STREAM_SIZE[1]}, "
              f"{args.seconds:g} s each\n")
        print("| viewers | emulator CPU s/s | frames/s per viewer (mean) | (min) | MB/s sent | seconds |")
        print("|---:|---:|---:|---:|---:|---:|")
        print(await idle_cost(proc.pid, min(2.0, args.seconds)), flush=True)
        for n in args.viewers:
            if time.monotonic() + args.seconds + 2 > deadline:
                print(f"| {n} | (time budget spent) | | | | |")
                continue
            print(await mjpeg_cost(base, proc.pid, n, args.seconds), flush=True)
            await asyncio.sleep(0.5)  # let the streams wind down between runs
        print(f"\n(total {time.monotonic() - started:.0f} s)")
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.camera", description=__doc__.split("\n\n")[0])
    p.add_argument("--profile", default="verso")
    p.add_argument("--requests", type=int, default=30, help="snapshots per size (default 30)")
    p.add_argument("--seconds", type=float, default=5.0, help="length of each MJPEG run (default 5)")
    p.add_argument("--viewers", type=lambda s: [int(n) for n in s.split(",")], default=[1, 10, 50],
                   help="viewer counts, comma separated (default 1,10,50)")
    p.add_argument("--budget", type=float, default=85.0, help="stop starting new measurements after this (s)")
    asyncio.run(run(p.parse_args()))


if __name__ == "__main__":
    main()
