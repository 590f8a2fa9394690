"""RTSP benchmark: the CPU cost of live H.264 viewers, and how soon a new viewer has a picture.

    python -m benchmarks.rtsp [--seconds 5] [--viewers 1,10,50] [--joins 5]

The emulator runs as its own process (`python -m emulator --no-https --auth none --rtsp-port P`),
so its CPU time (utime + stime from /proc/<pid>/stat) is not mixed with the viewers'. The viewers
are plain asyncio sockets speaking RTSP over TCP (DESCRIBE, SETUP interleaved, PLAY) and counting
pictures (RTP packets with the marker bit); they decode nothing, so the figure is the server's.

* Viewers: N viewers of the default stream (640x480, 15 fps) for `--seconds`; the emulator's CPU
  seconds per wall second, pictures per second per viewer, bytes sent.
* Start to first frame: from connecting to the last packet of the first complete picture (a key
  frame with SPS and PPS in front), for a viewer that starts the stream (cold: the encoder opens)
  and for one that joins a running stream; `--joins` of each, median and worst.

Bounded: about 40 s with the defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import struct
import subprocess
import sys
import time

import aiohttp

from benchmarks.camera import ROOT, free_port, streaming_cost, wait_ready
from benchmarks.proc import stop_process

STREAM_FPS = 15  # the emulator's default stream: 640x480 at 15 fps
PATH = "/h264_stream"


class Viewer:
    def __init__(self, port: int):
        self.port = port
        self.pictures = 0
        self.bytes = 0
        self.first_key: float | None = None

    async def run(self, started: asyncio.Event | None = None, stop: asyncio.Event | None = None) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
        url = f"rtsp://127.0.0.1:{self.port}{PATH}"
        cseq = 0

        async def request(method: str, target: str, extra: str = "") -> dict[str, str]:
            nonlocal cseq
            cseq += 1
            writer.write(f"{method} {target} RTSP/1.0\r\nCSeq: {cseq}\r\n{extra}\r\n".encode())
            head = (await reader.readuntil(b"\r\n\r\n")).decode()
            if not head.startswith("RTSP/1.0 200"):
                raise SystemExit(f"{method}: {head.splitlines()[0]}")
            fields = dict(line.split(": ", 1) for line in head.split("\r\n")[1:] if ": " in line)
            await reader.readexactly(int(fields.get("Content-Length", "0")))
            return fields

        try:
            await request("DESCRIBE", url)
            fields = await request("SETUP", url + "/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1\r\n")
            session = fields["Session"].split(";")[0]
            await request("PLAY", url, f"Session: {session}\r\n")
            while stop is None or not stop.is_set():
                channel, size = struct.unpack("!xBH", await reader.readexactly(4))
                packet = await reader.readexactly(size)
                self.bytes += size + 4
                if channel == 0 and packet[1] & 0x80:  # the last packet of a picture
                    self.pictures += 1
                    if self.first_key is None:
                        self.first_key = time.perf_counter()
                        if started is not None:
                            started.set()
                        if stop is None:
                            return
        finally:
            writer.close()


async def first_frame(port: int) -> float:
    viewer = Viewer(port)
    began = time.perf_counter()
    await asyncio.wait_for(viewer.run(), 20)
    assert viewer.first_key is not None
    return viewer.first_key - began


async def viewers_cost(port: int, pid: int, count: int, seconds: float) -> dict:
    stop = asyncio.Event()
    viewers = [Viewer(port) for _ in range(count)]
    starts = [asyncio.Event() for _ in viewers]
    tasks = [asyncio.create_task(v.run(s, stop)) for v, s in zip(viewers, starts, strict=True)]
    try:
        await asyncio.wait_for(asyncio.gather(*(s.wait() for s in starts)), 30)
        await asyncio.sleep(1.0)  # past the joins' key frames
        cost = await streaming_cost(pid, seconds, lambda: [v.pictures for v in viewers],
                                    lambda: sum(v.bytes for v in viewers))
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"viewers": count, **cost}


VIEWERS_HEAD = ["| viewers | emulator CPU s/s | pictures/s per viewer (mean) | (min) | MB/s sent | seconds |",
                "|---:|---:|---:|---:|---:|---:|"]


def viewers_row(r: dict) -> str:
    if r.get("skipped"):
        return f"| {r['viewers']} | (time budget spent) | | | | |"
    cpu = "n/a" if r.get("cpu") is None else f"{r['cpu']:.3f}"
    return (f"| {r['viewers']} | {cpu} | {r['fps_mean']:.1f} | {r['fps_min']:.1f} | {r['mb_per_s']:.2f} "
            f"| {r['seconds']:.1f} |")


FIRST_HEAD = ["| new viewer | start to first frame, median ms | worst ms | tries |", "|---|---:|---:|---:|"]


def first_row(name: str, values: list[float]) -> str:
    if not values:
        return f"| {name} | (not measured) | | 0 |"
    return f"| {name} | {statistics.median(values) * 1000:.0f} | {max(values) * 1000:.0f} | {len(values)} |"


async def measure(seconds: float = 5.0, viewers: tuple[int, ...] | list[int] = (1, 10, 50), joins: int = 5,
                  budget: float = 60.0, log=None) -> dict:
    say = log or (lambda text: None)
    started = time.monotonic()
    deadline = started + budget
    port, rtsp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "emulator", "--port", str(port), "--no-https", "--auth", "none",
         "--rtsp-port", str(rtsp_port), "--log-level", "warning"], cwd=ROOT)
    out: dict = {"pid": proc.pid, "seconds": seconds, "fps": STREAM_FPS, "stream_size": "640x480"}
    try:
        async with aiohttp.ClientSession() as session:
            await wait_ready(session, f"http://127.0.0.1:{port}", proc)
        say(f"# RTSP benchmark: emulator pid {proc.pid}, Python {sys.version.split()[0]}\n")
        cold, warm = [], []
        for _ in range(joins):  # nobody watching: the first viewer starts the encoder
            await asyncio.sleep(0.3)  # the previous stream has stopped
            cold.append(await first_frame(rtsp_port))
        stop = asyncio.Event()
        running = Viewer(rtsp_port)
        keep = asyncio.create_task(running.run(asyncio.Event(), stop))
        try:
            await asyncio.sleep(1.0)
            for _ in range(joins):
                warm.append(await first_frame(rtsp_port))
        finally:
            stop.set()
            keep.cancel()
            await asyncio.gather(keep, return_exceptions=True)
        out["first_frame"] = {"cold": cold, "warm": warm}
        say("## Start to first frame (connect to the last packet of the first picture)\n")
        say("\n".join(FIRST_HEAD + [first_row("starts the stream (first viewer)", cold),
                                    first_row("joins a running stream", warm)]))
        say(f"\n## Viewers of 640x480 at {STREAM_FPS} fps over TCP, {seconds:g} s each\n")
        say("\n".join(VIEWERS_HEAD))
        out["viewers"] = []
        for n in viewers:
            if time.monotonic() + seconds + 4 > deadline:
                row = {"viewers": n, "skipped": True}
            else:
                row = await viewers_cost(rtsp_port, proc.pid, n, seconds)
                await asyncio.sleep(0.5)
            out["viewers"].append(row)
            say(viewers_row(row))
        out["total_seconds"] = time.monotonic() - started
    finally:
        stop_process(proc)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=5.0)
    p.add_argument("--viewers", type=lambda s: [int(x) for x in s.split(",")], default=[1, 10, 50])
    p.add_argument("--joins", type=int, default=5)
    p.add_argument("--budget", type=float, default=60.0)
    args = p.parse_args()
    asyncio.run(measure(args.seconds, args.viewers, args.joins, args.budget, log=lambda t: print(t, flush=True)))


if __name__ == "__main__":
    main()
