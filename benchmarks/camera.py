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
from collections.abc import Callable
from pathlib import Path

import aiohttp

from benchmarks.proc import stop_process

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


async def snapshot_latency(session: aiohttp.ClientSession, base: str, requests: int, deadline: float) -> list[dict]:
    async with session.get(base + "/api/camera/caps") as resp:
        caps = (await resp.json())["result"]
    sizes = [(r["width"], r["height"]) for r in caps["jpegResolution"]]
    await snapshot(session, base, 160, 120) if (160, 120) in sizes else None  # warm up the connection
    out = []
    for width, height in sorted(sizes, key=lambda s: s[0] * s[1]):
        fresh, cached = [], []
        for _ in range(requests):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(FRAME_GRID + 0.004)  # the next frame of the grid
            fresh.append(await snapshot(session, base, width, height))
            cached.append(await snapshot(session, base, width, height))
        row = {"size": f"{width}x{height}", "pixels": width * height, "requests": len(fresh)}
        if fresh:
            row.update(fresh_p50=percentile(fresh, 50) * 1000, fresh_p99=percentile(fresh, 99) * 1000,
                       cached_p50=percentile(cached, 50) * 1000)
        out.append(row)
    return out


SNAPSHOT_HEAD = ["| size | fresh frame p50 ms | fresh frame p99 ms | cached p50 ms | requests |",
                 "|---|---:|---:|---:|---:|"]


def snapshot_row(r: dict) -> str:
    if not r["requests"]:
        return f"| {r['size']} | (time budget spent) | | | 0 |"
    return (f"| {r['size']} | {r['fresh_p50']:.1f} | {r['fresh_p99']:.1f} | {r['cached_p50']:.1f} "
            f"| {r['requests']} |")


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


def rss_mib(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


async def streaming_cost(pid: int, seconds: float, pictures: Callable[[], list[int]], sent: Callable[[], int]) -> dict:
    """The emulator's cost over `seconds` of streaming: CPU share, per-viewer pictures per second
    (from the viewers' running `pictures` counts), megabytes per second (from the running `sent`
    byte count), resident memory at the end."""
    pictures0, sent0 = pictures(), sent()
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = cpu_seconds(pid), time.monotonic()
    rss = rss_mib(pid)
    wall = wall1 - wall0
    per_viewer = [(p - p0) / wall for p, p0 in zip(pictures(), pictures0, strict=True)]
    return {"cpu": (cpu1 - cpu0) / wall if cpu0 is not None and cpu1 is not None else None,
            "fps_mean": statistics.mean(per_viewer), "fps_min": min(per_viewer),
            "mb_per_s": (sent() - sent0) / wall / 1e6, "seconds": wall, "rss_mib": rss}


async def mjpeg_cost(base: str, pid: int, viewers: int, seconds: float) -> dict:
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None)) as session:
        counts, sizes = [0] * viewers, [0] * viewers
        firsts = [asyncio.Event() for _ in range(viewers)]
        stop = asyncio.Event()
        tasks = [asyncio.create_task(viewer(session, base, counts, sizes, i, firsts[i], stop)) for i in range(viewers)]
        try:
            await asyncio.wait_for(asyncio.gather(*(f.wait() for f in firsts)), 20)
            cost = await streaming_cost(pid, seconds, lambda: list(counts), lambda: sum(sizes))
        finally:
            stop.set()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    return {"viewers": viewers, **cost}


async def idle_cost(pid: int, seconds: float) -> dict:
    cpu0, wall0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(seconds)
    cpu1, wall1 = cpu_seconds(pid), time.monotonic()
    return {"viewers": 0, "cpu": (cpu1 - cpu0) / (wall1 - wall0) if cpu0 is not None and cpu1 is not None else None,
            "seconds": wall1 - wall0, "rss_mib": rss_mib(pid)}


MJPEG_HEAD = ["| viewers | emulator CPU s/s | frames/s per viewer (mean) | (min) | MB/s sent | seconds |",
              "|---:|---:|---:|---:|---:|---:|"]


def mjpeg_row(r: dict) -> str:
    cpu = "n/a" if r.get("cpu") is None else f"{r['cpu']:.3f}"
    if r.get("skipped"):
        return f"| {r['viewers']} | (time budget spent) | | | | |"
    if r["viewers"] == 0:
        return f"| 0 (idle) | {cpu} | | | | {r['seconds']:.1f} |"
    return (f"| {r['viewers']} | {cpu} | {r['fps_mean']:.1f} | {r['fps_min']:.1f} "
            f"| {r['mb_per_s']:.2f} | {r['seconds']:.1f} |")


async def measure(profile: str = "verso", requests: int = 30, seconds: float = 5.0,
                  viewers: tuple[int, ...] | list[int] = (1, 10, 50), budget: float = 85.0,
                  log: Callable[[str], None] | None = None) -> dict:
    """Start an emulator process, measure, stop it; `log` gets the Markdown as it is ready."""
    say = log or (lambda text: None)
    started = time.monotonic()
    deadline = started + budget
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port), "--no-https", "--auth", "none",
         "--profile", profile, "--log-level", "warning"], cwd=ROOT)
    out: dict = {"profile": profile, "pid": proc.pid, "requests": requests, "seconds": seconds,
                 "fps": STREAM_FPS, "stream_size": f"{STREAM_SIZE[0]}x{STREAM_SIZE[1]}"}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, base, proc)
            say(f"# Camera benchmark: profile {profile}, emulator pid {proc.pid}, "
                f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n")
            say(f"## Snapshot latency ({requests} requests per size, one client)\n")
            # Leave room for the MJPEG runs.
            mjpeg_time = len(viewers) * (seconds + 2) + 4
            out["snapshots"] = await snapshot_latency(session, base, requests, deadline - mjpeg_time)
            say("\n".join(SNAPSHOT_HEAD + [snapshot_row(r) for r in out["snapshots"]]))
        say(f"\n## MJPEG viewers at {STREAM_FPS} fps, {STREAM_SIZE[0]}x{STREAM_SIZE[1]}, {seconds:g} s each\n")
        say("\n".join(MJPEG_HEAD))
        out["idle"] = await idle_cost(proc.pid, min(2.0, seconds))
        say(mjpeg_row(out["idle"]))
        out["mjpeg"] = []
        for n in viewers:
            if time.monotonic() + seconds + 2 > deadline:
                row = {"viewers": n, "skipped": True}
            else:
                row = await mjpeg_cost(base, proc.pid, n, seconds)
                await asyncio.sleep(0.5)  # let the streams wind down between runs
            out["mjpeg"].append(row)
            say(mjpeg_row(row))
        out["total_seconds"] = time.monotonic() - started
        say(f"\n(total {out['total_seconds']:.0f} s)")
    finally:
        stop_process(proc)
    return out


async def run(args: argparse.Namespace) -> None:
    await measure(args.profile, args.requests, args.seconds, args.viewers, args.budget,
                  log=lambda text: print(text, flush=True))


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
