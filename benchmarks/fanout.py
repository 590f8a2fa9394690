"""Event fan-out benchmark: one switch change, 1,000 channels long-polling, how fast does each hear it?

    python -m benchmarks.fanout [--channels 1000] [--rounds 20] [--budget 50] [--process [--baseline] [--uvloop]]
    python benchmarks/fanout.py

The benchmark opens `--channels` log channels (filter SwitchStateChanged) and keeps one
/api/log/pull (timeout 60) waiting on each. Each round, once every pull is waiting on the device,
switch 1 changes (hold / release), and each channel's latency is the time from that change to its
client having read the reply. Prints Markdown; bounded by `--budget`. Two modes:

* in-process (the default): an emulator (auth none, HTTP only, real clock) runs in this process,
  the pulls come from one aiohttp ClientSession with no connection limit, and the switch changes
  through the model. The client shares the event loop with the emulator, so the figures include
  the client's own work (what one process watching 1,000 channels would see).
* `--process`: the emulator runs as its own process (`python -m emulator --no-https --auth none`),
  so the client does not share its event loop or its core. The client is a bare asyncio protocol
  (one keep-alive connection per channel, a pre-built request, a timestamp the moment the reply's
  last byte arrives, checked after the round), so its own cost per reply is a few microseconds.
  "Every pull is waiting" is observed from outside: the emulator's main thread has not run (its
  /proc/<pid>/schedstat run time has not moved) for 3 windows of 10 ms after the last pull was
  sent. The change is triggered over HTTP (GET /api/switch/ctrl?switch=1&action=hold|release on
  a connection of its own) and its time is taken just before that request is written, so the
  latency includes the trigger request's own trip to the emulator (reported separately).
* `--process --baseline`: the same client against the emulator and against benchmarks/bare_fanout.py
  (a bare aiohttp app that speaks only this HTTP: subscribe, pull waiting on one shared future per
  round, the switch/ctrl trigger resolving it, replies of the same size and shape), interleaved
  (emulator, bare, emulator, bare; `--pairs`), on the same loop (asyncio, or uvloop for both with
  `--uvloop`): both latencies, their ratio, and the server CPU per delivery of each.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import aiohttp

if __package__ in (None, ""):  # run as a file: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.proc import Server, emulator_cmd, free_port, run_ns  # noqa: E402
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


def per_round_p99(latencies: list[list[float]]) -> dict:
    """p99 of each round, in ms: one slow round (the machine busy elsewhere) moves the pooled p99."""
    p99s = sorted(percentile(per_round, 99) * 1000 for per_round in latencies if per_round)
    if not p99s:
        return {}
    return {"round_p99_median": statistics.median(p99s), "round_p99_min": p99s[0], "round_p99_max": p99s[-1]}


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
        "mode": "in-process", "latencies_ms": [x * 1000 for x in samples],
        "channels": channels, "rounds": rounds_run, "samples": len(samples),
        "p50": percentile(samples, 50) * 1000, "p99": percentile(samples, 99) * 1000,
        "max": max(samples) * 1000,
        "last": statistics.mean(max(per_round) for per_round in latencies[:rounds_run]) * 1000,
        "rss_start": rss_start, "rss_waiting": rss_waiting, "rss_end": rss_mib(),
        "seconds": time.monotonic() - started, **per_round_p99(latencies[:rounds_run]),
    }

# -- the emulator in its own process ---------------------------------------------------------


class _Exchange(asyncio.Protocol):
    """One keep-alive connection that sends a pre-built GET and timestamps each complete reply."""

    def __init__(self, request: bytes, on_reply: Callable[[_Exchange, bytes, float], None]):
        self.request = request
        self.on_reply = on_reply
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.need = -1  # bytes of the reply in progress (head + body), -1 while the head is incomplete
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def send(self) -> None:
        assert self.transport is not None
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        arrived = time.perf_counter()
        buffer = self.buffer
        buffer += data
        while True:
            if self.need < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = bytes(buffer[:end]).lower()
                at = head.find(b"\r\ncontent-length:")
                if at < 0:
                    raise RuntimeError(f"a reply without Content-Length: {head[:200]!r}")
                stop = head.find(b"\r\n", at + 2)
                self.need = end + 4 + int(head[at + 17:stop if stop >= 0 else None])
            if len(buffer) < self.need:
                return
            reply = bytes(buffer[:self.need])
            del buffer[:self.need]
            self.need = -1
            self.on_reply(self, reply, arrived)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)


async def wait_idle(pid: int, deadline: float, window: float = 0.010, windows: int = 3,
                    tolerance_ns: int = 300_000) -> float:
    """Until the process's main thread has (nearly) not run for `windows` windows in a row;
    returns the seconds waited."""
    started = time.monotonic()
    quiet, last = 0, run_ns(pid)
    while quiet < windows:
        if time.monotonic() > deadline:
            raise TimeoutError("the emulator did not go idle in time")
        await asyncio.sleep(window)
        now = run_ns(pid)
        quiet = quiet + 1 if now - last <= tolerance_ns else 0
        last = now
    return time.monotonic() - started


async def _run_against(server: Server, channels: int, rounds: int, deadline: float) -> dict:
    loop = asyncio.get_running_loop()
    host = f"127.0.0.1:{server.port}"
    connector = aiohttp.TCPConnector(limit=100)
    async with aiohttp.ClientSession(connector=connector) as session:
        async def subscribe() -> int:
            async with session.get(server.url + "/api/log/subscribe",
                                   params={"filter": "SwitchStateChanged", "duration": "3600"}) as resp:
                return (await resp.json())["result"]["id"]

        ids = await asyncio.gather(*(subscribe() for _ in range(channels)))
    replies: list[list[tuple[bytes, float]]] = [[] for _ in range(rounds)]
    current = {"round": 0}
    round_done = [loop.create_future() for _ in range(rounds)]

    def on_reply(exchange: _Exchange, reply: bytes, arrived: float) -> None:
        r = current["round"]
        got = replies[r]
        got.append((reply, arrived))
        if len(got) == channels and not round_done[r].done():
            round_done[r].set_result(None)

    gate = asyncio.Semaphore(64)  # the listen backlog is 128

    async def connect(path: str, callback) -> _Exchange:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode()
        async with gate:
            _, protocol = await loop.create_connection(lambda: _Exchange(request, callback), "127.0.0.1",
                                                       server.port)
        return protocol

    pullers = await asyncio.gather(*(connect(f"/api/log/pull?id={i}&timeout={PULL_TIMEOUT}", on_reply)
                                     for i in ids))
    trips: list[float] = []
    trip_done: list[asyncio.Future[None]] = []

    def on_trigger(exchange: _Exchange, reply: bytes, arrived: float) -> None:
        if b" 200 " not in reply.split(b"\r\n", 1)[0] or b'"success":true' not in reply:
            errors.append(f"switch/ctrl answered {reply[:200]!r}")
        trips.append(arrived)
        if trip_done and not trip_done[-1].done():
            trip_done[-1].set_result(None)

    hold = await connect("/api/switch/ctrl?switch=1&action=hold", on_trigger)
    release = await connect("/api/switch/ctrl?switch=1&action=release", on_trigger)
    errors: list[str] = []
    causes: list[float] = []
    waits: list[float] = []
    server_ms: list[float] = []  # the emulator's main thread on a CPU, from the trigger to the last delivery
    client_ms: list[float] = []
    cycle_ms: list[float] = []  # the same from just before the pulls are sent: the whole long-poll cycle
    rss_waiting = float("nan")
    rounds_run = 0
    for r in range(rounds):
        current["round"] = r
        sent0 = run_ns(server.pid)
        for puller in pullers:
            puller.send()
        try:
            waits.append(await wait_idle(server.pid, deadline))
        except TimeoutError:
            break
        if r == 0:
            rss_waiting = server.rss_mib()
        trip_done.append(loop.create_future())
        trigger = hold if r % 2 == 0 else release
        ran0, mine0 = run_ns(server.pid), time.process_time()
        causes.append(time.perf_counter())
        trigger.send()
        try:
            await asyncio.wait_for(asyncio.gather(round_done[r], trip_done[-1]),
                                   max(0.1, deadline - time.monotonic()))
        except TimeoutError:
            break
        ran1 = run_ns(server.pid)
        server_ms.append((ran1 - ran0) / 1e6)
        cycle_ms.append((ran1 - sent0) / 1e6)
        client_ms.append((time.process_time() - mine0) * 1000)
        rounds_run += 1
    latencies: list[list[float]] = []
    for r in range(rounds_run):
        per_round = []
        for reply, arrived in replies[r]:
            head, _, body = reply.partition(b"\r\n\r\n")
            events = json.loads(body).get("result", {}).get("events", [])
            if not head.startswith(b"HTTP/1.1 200") or [e.get("event") for e in events] != ["SwitchStateChanged"]:
                errors.append(f"round {r}: {reply[:200]!r}")
            per_round.append(arrived - causes[r])
        latencies.append(per_round)
    for exchange in [*pullers, hold, release]:
        if exchange.transport is not None:
            exchange.transport.close()
    if errors:
        raise RuntimeError(f"{len(errors)} unexpected replies, e.g. {errors[0]}")
    sizes = sorted(len(reply) for per_round in replies[:rounds_run] for reply, _ in per_round)
    return {"latencies": latencies, "rounds": rounds_run, "rss_waiting": rss_waiting,
            "trip_ms": [(t - c) * 1000 for t, c in zip(trips, causes, strict=False)][:rounds_run],
            "idle_wait_ms": [w * 1000 for w in waits[:rounds_run]],
            "server_ms": server_ms[:rounds_run], "cycle_ms": cycle_ms[:rounds_run],
            "client_ms": client_ms[:rounds_run],
            "reply_bytes": (sizes[0], sizes[-1]) if sizes else (0, 0)}


SERVERS = ("emulator", "bare")  # what run_process can measure: the emulator, or benchmarks/bare_fanout.py


def server_cmd(kind: str, port: int, uvloop: bool = False) -> list[str]:
    if kind == "emulator":
        return emulator_cmd(port, auth="none", uvloop=uvloop)
    if kind == "bare":
        return [sys.executable, "-m", "benchmarks.bare_fanout", "--port", str(port),
                "--loop", "uvloop" if uvloop else "asyncio"]
    raise ValueError(f"unknown server {kind!r}: one of {', '.join(SERVERS)}")


def run_process(channels: int, rounds: int, budget: float, uvloop: bool = False, server: str = "emulator") -> dict:
    """The emulator (or, with server="bare", the baseline app benchmarks/bare_fanout.py) as its own
    process (see the module's doc); the same keys as `run`, and the per-round figures."""
    started = time.monotonic()
    deadline = started + budget
    raise_fd_limit(2 * channels + 256)  # before the spawn: the server inherits the limit
    port = free_port()
    proc = Server(server, server_cmd(server, port, uvloop), port)
    proc.start()
    try:
        rss_start = proc.rss_mib()
        out = asyncio.run(_run_against(proc, channels, rounds, deadline))
        rss_end, hwm = proc.rss_mib(), proc.hwm_mib()
    finally:
        proc.stop()
    if not out["rounds"]:
        raise RuntimeError(f"{server}: no round completed within the budget")
    result = {
        "server": server, "loop": "uvloop" if uvloop else "asyncio", "channels": channels, "runs": 1,
        "round_latencies_ms": [[round(x * 1000, 4) for x in per_round] for per_round in out["latencies"]],
        "rss_start": rss_start, "rss_waiting": out["rss_waiting"], "rss_end": rss_end, "rss_hwm": hwm,
        "round_trip_ms": out["trip_ms"], "round_idle_wait_ms": out["idle_wait_ms"],
        "round_server_ms": out["server_ms"], "round_cycle_ms": out["cycle_ms"], "round_client_ms": out["client_ms"],
        "reply_bytes": out["reply_bytes"], "seconds": time.monotonic() - started,
    }
    return summarise([result])


def summarise(runs: list[dict]) -> dict:
    """One result from one or more process-mode runs of the same server on the same loop: their
    rounds pooled (percentiles over every delivery of every round), per-round figures as medians
    over all rounds, memory as the largest of the runs."""
    first = runs[0]
    rounds = [per_round for r in runs for per_round in r["round_latencies_ms"]]
    samples = [x for per_round in rounds for x in per_round]

    def pooled(key: str) -> list[float]:
        return [x for r in runs for x in r[key]]

    def med(key: str) -> float:
        values = pooled(key)
        return statistics.median(values) if values else float("nan")

    p99s = sorted(percentile(per_round, 99) for per_round in rounds)
    server_ms, cycle_ms = med("round_server_ms"), med("round_cycle_ms")
    label = "process" if first["server"] == "emulator" else "bare aiohttp"
    return {
        **{k: first[k] for k in ("server", "loop", "channels")},
        "mode": label + (" (uvloop)" if first["loop"] == "uvloop" else ""),
        "runs": sum(r["runs"] for r in runs), "rounds": len(rounds), "samples": len(samples),
        "round_latencies_ms": rounds, "latencies_ms": samples,
        "p50": percentile(samples, 50), "p99": percentile(samples, 99), "max": max(samples),
        "last": statistics.mean(max(per_round) for per_round in rounds),
        "round_p99_median": statistics.median(p99s), "round_p99_min": p99s[0], "round_p99_max": p99s[-1],
        "run_p99": [percentile([x for per_round in r["round_latencies_ms"] for x in per_round], 99) for r in runs],
        **{key: pooled(key) for key in ("round_trip_ms", "round_idle_wait_ms", "round_server_ms", "round_cycle_ms",
                                        "round_client_ms")},
        "trip_ms": med("round_trip_ms"), "idle_wait_ms": med("round_idle_wait_ms"),
        "server_ms": server_ms, "cycle_ms": cycle_ms, "client_ms": med("round_client_ms"),
        "server_us_per_delivery": server_ms * 1000 / first["channels"],
        "cycle_us_per_delivery": cycle_ms * 1000 / first["channels"],
        "reply_bytes": (min(r["reply_bytes"][0] for r in runs), max(r["reply_bytes"][1] for r in runs)),
        **{k: max(r[k] for r in runs) for k in ("rss_start", "rss_waiting", "rss_end", "rss_hwm")},
        "seconds": sum(r["seconds"] for r in runs),
    }


def compare(channels: int, rounds: int, budget: float, uvloop: bool = False, pairs: int = 2,
            log: Callable[[str], None] = lambda text: None) -> dict:
    """The emulator and the bare baseline, interleaved (emulator, bare, emulator, bare, ...; `pairs`
    of each), the same client, the same loop; `rounds` rounds per run. Returns {"emulator": ...,
    "bare": ...} (each the runs of that server pooled, see `summarise`) and the ratios."""
    deadline = time.monotonic() + budget
    done: dict[str, list[dict]] = {kind: [] for kind in SERVERS}
    left = 2 * pairs
    for _ in range(pairs):
        for kind in SERVERS:
            share = (deadline - time.monotonic()) / left
            left -= 1
            if share < 4 and done[kind]:
                log(f"  (time budget spent: skipping a {kind} run)")
                continue
            r = run_process(channels, rounds, max(share, 8.0), uvloop, kind)
            done[kind].append(r)
            log(f"  {kind:<8} ({r['loop']}): p50 {r['p50']:5.1f} ms  p99 {r['p99']:5.1f} ms  "
                f"CPU {r['server_us_per_delivery']:.1f} µs/delivery ({r['cycle_us_per_delivery']:.1f} µs/pull "
                f"with the pull's own receipt)  {r['rounds']} rounds")
    out = {kind: summarise(runs) for kind, runs in done.items()}
    emulator, bare = out["emulator"], out["bare"]
    out["ratio"] = {"p50": emulator["p50"] / bare["p50"], "p99": emulator["p99"] / bare["p99"],
                    "round_p99_median": emulator["round_p99_median"] / bare["round_p99_median"],
                    "cpu_per_delivery": emulator["server_us_per_delivery"] / bare["server_us_per_delivery"],
                    "cpu_per_cycle": emulator["cycle_us_per_delivery"] / bare["cycle_us_per_delivery"]}
    return out


def comparison_table(cmp: dict) -> str:
    """Emulator vs the bare baseline, one column each and their ratio."""
    e, b, ratio = cmp["emulator"], cmp["bare"], cmp["ratio"]
    rows = [
        ("runs (interleaved) x rounds", f"{e['runs']} x {e['rounds'] // max(e['runs'], 1)}",
         f"{b['runs']} x {b['rounds'] // max(b['runs'], 1)}", ""),
        ("latency p50", f"{e['p50']:.1f} ms", f"{b['p50']:.1f} ms", f"{ratio['p50']:.2f}"),
        ("latency p99", f"**{e['p99']:.1f} ms**", f"**{b['p99']:.1f} ms**", f"**{ratio['p99']:.2f}**"),
        ("p99 of each run", ", ".join(f"{x:.1f}" for x in e["run_p99"]) + " ms",
         ", ".join(f"{x:.1f}" for x in b["run_p99"]) + " ms", ""),
        ("p99 of each round: median (min - max)",
         f"{e['round_p99_median']:.1f} ({e['round_p99_min']:.1f} - {e['round_p99_max']:.1f}) ms",
         f"{b['round_p99_median']:.1f} ({b['round_p99_min']:.1f} - {b['round_p99_max']:.1f}) ms",
         f"{ratio['round_p99_median']:.2f}"),
        ("latency max", f"{e['max']:.1f} ms", f"{b['max']:.1f} ms", ""),
        ("mean time until the last channel of a round had it", f"{e['last']:.1f} ms", f"{b['last']:.1f} ms",
         f"{e['last'] / b['last']:.2f}"),
        ("server CPU per round, trigger to last delivery (median)", f"{e['server_ms']:.1f} ms",
         f"{b['server_ms']:.1f} ms", ""),
        ("**server CPU per delivery** (the same / channels)", f"**{e['server_us_per_delivery']:.1f} µs**",
         f"**{b['server_us_per_delivery']:.1f} µs**", f"**{ratio['cpu_per_delivery']:.2f}**"),
        ("server CPU per long-poll cycle (the pull's receipt too) / channels",
         f"{e['cycle_us_per_delivery']:.1f} µs", f"{b['cycle_us_per_delivery']:.1f} µs",
         f"{ratio['cpu_per_cycle']:.2f}"),
        ("trigger request's trip (included in the latencies), median", f"{e['trip_ms']:.2f} ms",
         f"{b['trip_ms']:.2f} ms", ""),
        ("client CPU per round, median", f"{e['client_ms']:.1f} ms", f"{b['client_ms']:.1f} ms", ""),
        ("a delivery on the wire (head + body)", "{} - {} bytes".format(*e["reply_bytes"]),
         "{} - {} bytes".format(*b["reply_bytes"]), ""),
        ("RSS with the pulls waiting (largest run)", f"{e['rss_waiting']:.1f} MiB", f"{b['rss_waiting']:.1f} MiB", ""),
    ]
    lines = ["| measure | emulator | bare aiohttp | ratio emulator / bare |", "|---|---:|---:|---:|"]
    lines += [f"| {a} | {x} | {y} | {z} |" for a, x, y, z in rows]
    return "\n".join(lines)


def report(r: dict) -> str:
    rows = [
        ("channels, each with a pull waiting", f"{r['channels']}"),
        ("rounds (one switch change each)", f"{r['rounds']}"),
        ("latency samples", f"{r['samples']}"),
        ("latency p50", f"{r['p50']:.1f} ms"),
        ("latency p99", f"{r['p99']:.1f} ms"),
        ("p99 of each round: median (min - max)",
         f"{r['round_p99_median']:.1f} ms ({r['round_p99_min']:.1f} - {r['round_p99_max']:.1f} ms)"
         if "round_p99_median" in r else "n/a"),
        ("latency max", f"{r['max']:.1f} ms"),
        ("mean time until the last channel of a round had it", f"{r['last']:.1f} ms"),
    ]
    process = r["mode"] != "in-process"
    whose = ("the emulator process" if r.get("server") == "emulator" else "the bare app") if process \
        else "this process (client + emulator)"
    if process:
        whose_cpu = "emulator" if r["server"] == "emulator" else "server"
        rows += [("trigger request's trip (included in the latencies), median", f"{r['trip_ms']:.2f} ms"),
                 (f"{whose_cpu} CPU time (main thread) per round, trigger to last delivery, median",
                  f"{r['server_ms']:.1f} ms ({r['server_us_per_delivery']:.1f} µs per delivery)"),
                 (f"{whose_cpu} CPU time per round from sending the pulls to the last delivery, median",
                  f"{r['cycle_ms']:.1f} ms ({r['cycle_us_per_delivery']:.1f} µs per pull)"),
                 ("client CPU time per round, median", f"{r['client_ms']:.1f} ms"),
                 (f"RSS of {whose} once ready", f"{r['rss_start']:.1f} MiB")]
    else:
        rows.append(("RSS before the emulator started", f"{r['rss_start']:.1f} MiB"))
    rows += [
        (f"RSS of {whose} with {r['channels']} pulls waiting", f"{r['rss_waiting']:.1f} MiB"),
        (f"RSS of {whose} after the last round", f"{r['rss_end']:.1f} MiB"),
        ("wall time", f"{r['seconds']:.1f} s"),
    ]
    lines = ["| measure | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=20, help="rounds per run")
    parser.add_argument("--budget", type=float, default=50.0, help="stop after this many seconds")
    parser.add_argument("--process", action="store_true",
                        help="run the emulator as its own process (python -m emulator) with a bare asyncio client")
    parser.add_argument("--uvloop", action="store_true",
                        help="with --process: start the emulator (and with --baseline the bare app) on uvloop")
    parser.add_argument("--baseline", action="store_true",
                        help="with --process: also the bare aiohttp baseline (benchmarks/bare_fanout.py), "
                             "interleaved with the emulator (emulator, bare, emulator, bare, ...)")
    parser.add_argument("--pairs", type=int, default=2, help="with --baseline: runs of each server")
    args = parser.parse_args(argv)
    if args.baseline:
        def log(text: str) -> None:
            print(text, file=sys.stderr, flush=True)

        cmp = compare(args.channels, args.rounds, args.budget, args.uvloop, args.pairs, log=log)
        print(f"## Event fan-out, emulator vs bare aiohttp ({cmp['emulator']['loop']}): {args.channels} channels\n")
        print(comparison_table(cmp))
        return
    if args.process:
        result = run_process(args.channels, args.rounds, args.budget, args.uvloop)
    else:
        result = asyncio.run(run(args.channels, args.rounds, args.budget))
    print(f"## Event fan-out ({result['mode']}): {result['channels']} channels, "
          f"{result['rounds']} switch changes\n")
    print(report(result))


if __name__ == "__main__":
    main()
