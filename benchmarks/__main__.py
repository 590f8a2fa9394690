"""The benchmark suite: `python -m benchmarks [--quick]`.

Runs, in one go and each against an emulator in its own process: start-up time and idle memory,
HTTP throughput and latency against a bare aiohttp app (interleaved), the uvloop variant (if
uvloop is installed), long-poll fan-out with 1,000 channels, the camera (snapshots, MJPEG), and live
video over RTSP (viewers' CPU, start to first frame).
Prints a Markdown report with PASS/FAIL per target and writes benchmarks/results/results.md,
results.json and plot.png. Bounded: about 9 minutes, or about 2 with --quick. See
benchmarks/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import math
import os
import subprocess
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from benchmarks import camera, fanout, rtsp, startup, throughput
from benchmarks.proc import ROOT, machine

SECTIONS = ("startup", "http", "uvloop", "fanout", "camera", "rtsp")
RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Plan:
    name: str
    budget: float  # seconds for the whole run; sections stop starting work past their share
    startup_repeats: int
    http_seconds: int  # wrk takes whole seconds
    http_repeats: int
    warm_up: int
    uvloop_configs: tuple[tuple[str, str, int], ...]
    fanout_rounds: int  # per run; the emulator and the bare baseline take turns, fanout_pairs runs each
    fanout_pairs: int
    fanout_in_process_rounds: int  # 0 = skip the in-process comparison
    camera_requests: int
    camera_seconds: float
    rtsp_joins: int = 5


FULL = Plan("full", budget=620, startup_repeats=5, http_seconds=2, http_repeats=5, warm_up=1,
            uvloop_configs=(("/api/system/info", "none", 64), ("/api/switch/status", "digest", 64)),
            fanout_rounds=20, fanout_pairs=2, fanout_in_process_rounds=5, camera_requests=30,
            camera_seconds=5.0)
QUICK = Plan("quick", budget=190, startup_repeats=3, http_seconds=1, http_repeats=3, warm_up=1,
             uvloop_configs=(("/api/system/info", "none", 64), ("/api/switch/status", "digest", 64)),
             fanout_rounds=5, fanout_pairs=1, fanout_in_process_rounds=0, camera_requests=5,
             camera_seconds=2.5, rtsp_joins=3)

# Share of the budget each section may use before the next starts (the rest is slack).
SHARES = {"startup": 0.09, "http": 0.49, "uvloop": 0.10, "fanout": 0.09, "camera": 0.15, "rtsp": 0.08}

MB = 1e6  # the targets' MB are decimal megabytes


def log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              timeout=5, check=False).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "emulator", "profiles"], cwd=ROOT,
                               capture_output=True, text=True, timeout=5, check=False).stdout.split("\n")
        changed = [line[3:] for line in dirty if line.strip()]
        return head + (f" + uncommitted changes in {', '.join(changed)}" if changed else " (clean)")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def uvloop_available() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


# -- sections ------------------------------------------------------------------------------------


def run_startup(plan: Plan, deadline: float) -> dict:
    return startup.measure(plan.startup_repeats, log=log, deadline=deadline)


def run_http(plan: Plan, deadline: float, uvloop_deadline: float, with_uvloop: bool) -> dict:
    out: dict = {}
    with throughput.Bench(plan.http_seconds, plan.http_repeats, uvloop=with_uvloop, log=log) as bench:
        out["identical"] = bench.checks
        out["pids"] = {name: s.pid for name, s in bench.servers.items()}
        rss_idle = {name: s.rss_mib() for name, s in bench.servers.items()}
        log("  warm-up")
        bench.warm_up(plan.warm_up)
        bench.measure(bench.main_configs(), lambda auth: [f"emulator/{auth}", "bare"], deadline, phase="main")
        main_runs = [r for r in bench.runs if r["phase"] == "main"]
        out["rows"] = throughput.summarise(main_runs, "emulator/{auth}", "bare")
        if with_uvloop:
            log("== uvloop: the emulator under uvloop vs under asyncio, back to back")
            bench.measure(list(plan.uvloop_configs), lambda auth: [f"emulator/{auth}", f"emulator+uvloop/{auth}"],
                          uvloop_deadline, phase="uvloop")
            uv_runs = [r for r in bench.runs if r["phase"] == "uvloop"]
            out["uvloop_rows"] = throughput.summarise(uv_runs, "emulator+uvloop/{auth}", "emulator/{auth}")
            out["uvloop_bare_rows"] = throughput.summarise(
                [r for r in uv_runs if r["server"].startswith("emulator+uvloop")]
                + [r for r in main_runs if r["server"] == "bare"], "emulator+uvloop/{auth}", "bare")
        loaded = [r for r in bench.runs if r["server"].startswith("emulator/") and r["connections"] == max(
            throughput.CONNECTIONS)]
        out["rss_idle"] = rss_idle
        out["rss_under_load_mib"] = max((r["rss_mib"] for r in loaded), default=float("nan"))
        out["hwm_mib"] = {name: s.hwm_mib() for name, s in bench.servers.items()}
        out["wrk_cpu_max"] = max((r["wrk_cpu"] for r in bench.runs), default=float("nan"))
        out["runs"] = bench.runs
    return out


def run_fanout(plan: Plan, deadline: float, with_uvloop: bool) -> dict:
    """The emulator and the bare baseline (benchmarks/bare_fanout.py) in turns, the same client, on
    asyncio and, if uvloop is there, again both on uvloop; then the in-process mode."""
    reserve = 6.0 if plan.fanout_in_process_rounds else 0.0  # for the in-process comparison

    def budget(parts: int) -> float:
        return max(12.0 * plan.fanout_pairs, (deadline - reserve - time.monotonic()) / parts)

    out: dict = {}
    log("  asyncio: the emulator and the bare app in turns")
    cmp = fanout.compare(1000, plan.fanout_rounds, budget(2 if with_uvloop else 1), False, plan.fanout_pairs, log)
    out["process"], out["bare"], out["ratio"] = cmp["emulator"], cmp["bare"], cmp["ratio"]
    if with_uvloop:
        log("  uvloop: the emulator and the bare app in turns")
        cmp = fanout.compare(1000, plan.fanout_rounds, budget(1), True, plan.fanout_pairs, log)
        out["process (uvloop)"], out["bare (uvloop)"], out["ratio (uvloop)"] = \
            cmp["emulator"], cmp["bare"], cmp["ratio"]
    if plan.fanout_in_process_rounds and time.monotonic() + 5 < deadline:
        out["in-process"] = asyncio.run(fanout.run(1000, plan.fanout_in_process_rounds,
                                                   min(30.0, max(10.0, deadline - time.monotonic()))))
        log(f"  in-process mode: p50 {out['in-process']['p50']:.1f} ms, p99 {out['in-process']['p99']:.1f} ms")
    return out


def run_camera(plan: Plan, deadline: float) -> dict:
    return asyncio.run(camera.measure("verso", plan.camera_requests, plan.camera_seconds, (1, 10, 50),
                                      max(20.0, deadline - time.monotonic()), log=None))


def run_rtsp(plan: Plan, deadline: float) -> dict:
    return asyncio.run(rtsp.measure(plan.camera_seconds, (1, 10, 50), plan.rtsp_joins,
                                    max(30.0, deadline - time.monotonic())))


# -- the report ----------------------------------------------------------------------------------


def fmt(value: float, spec: str = ".1f", unit: str = "") -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:{spec}}{unit}"


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("**PASS**" if ok else "**FAIL**")


def fifty_vs_one(name: str, rows: list[dict], fps: int, unit: str, limit: float) -> tuple[str, str, str, str]:
    """A viewers target: 50 viewers' CPU over one viewer's, every viewer near full rate."""
    one = next((r for r in rows if r["viewers"] == 1 and not r.get("skipped")), None)
    fifty = next((r for r in rows if r["viewers"] == 50 and not r.get("skipped")), None)
    wanted = f"< {limit:g}x, every viewer at ~{fps} {unit}"
    if not (one and fifty and one.get("cpu") and fifty.get("cpu") is not None):
        return name, "not measured", wanted, "n/a"
    ratio = fifty["cpu"] / one["cpu"]
    return (name, f"{ratio:.2f}x ({fifty['cpu']:.3f} vs {one['cpu']:.3f} cores; slowest of 50 viewers got "
                  f"{fifty['fps_min']:.1f} {unit})", wanted, verdict(ratio < limit and fifty["fps_min"] >= 0.9 * fps))


def targets(res: dict) -> list[tuple[str, str, str, str]]:
    """(target, measured, limit, PASS/FAIL/n/a)."""
    out = []
    rows = res.get("http", {}).get("rows", [])
    for auth, label in (("none", "no auth"), ("digest", "Digest (the path is public)")):
        mine = [r for r in rows if r["path"] == "/api/system/info" and r["auth"] == auth]
        if mine:
            worst = min(mine, key=lambda r: r["ratio"])
            per = ", ".join(f"c={r['connections']}: {r['ratio']:.3f}" for r in mine)
            cpu = min(r["ref_cpu_us"] / r["cpu_us"] for r in mine)
            errors = sum(r["errors"] for r in mine)
            out.append((f"/api/system/info throughput vs bare aiohttp, {label}",
                        # one decimal: a whole-number 85% could be 84.6%, a FAIL
                        f"worst {worst['ratio']:.1%} ({per}); by CPU per request: worst {cpu:.1%}"
                        + (f"; {errors} FAILED REQUESTS" if errors else ""), ">= 85% at every connection count",
                        "invalid (failed requests)" if errors else verdict(worst["ratio"] >= 0.85)))
        else:
            out.append((f"/api/system/info throughput vs bare aiohttp, {label}", "not measured", ">= 85%", "n/a"))
    fans = res.get("fanout", {})
    fan, bare = fans.get("process"), fans.get("bare")
    if fan and bare:
        ratio = fans["ratio"]
        measured = (f"emulator **{fan['p99']:.1f} ms**; bare aiohttp baseline (same client, interleaved) "
                    f"**{bare['p99']:.1f} ms** ({'would pass' if bare['p99'] < 20 else 'would fail as well'}); "
                    f"ratio **{ratio['p99']:.2f}**. p99 of each round, median: {fan['round_p99_median']:.1f} vs "
                    f"{bare['round_p99_median']:.1f} ms ({ratio['round_p99_median']:.2f}); p50 {fan['p50']:.1f} vs "
                    f"{bare['p50']:.1f} ms; server CPU per delivery {fan['server_us_per_delivery']:.1f} vs "
                    f"{bare['server_us_per_delivery']:.1f} µs ({ratio['cpu_per_delivery']:.2f})")
        uv, uv_bare = fans.get("process (uvloop)"), fans.get("bare (uvloop)")
        if uv and uv_bare:
            measured += (f". On uvloop (both): p99 {uv['p99']:.1f} vs {uv_bare['p99']:.1f} ms "
                         f"({fans['ratio (uvloop)']['p99']:.2f}), CPU per delivery "
                         f"{uv['server_us_per_delivery']:.1f} vs {uv_bare['server_us_per_delivery']:.1f} µs")
    elif fan:
        measured = (f"{fan['p99']:.1f} ms (p99 of each round: median {fan['round_p99_median']:.1f} ms; "
                    f"no baseline)")
    else:
        measured = "not measured"
    out.append(("fan-out p99, 1,000 channels waiting (emulator in its own process, asyncio; judged as written, "
                "the bare aiohttp baseline beside it)", measured, "< 20 ms", verdict(fan["p99"] < 20) if fan else "n/a"))
    out.append(fifty_vs_one("MJPEG CPU, 50 viewers vs 1 (10 fps, 640x480)", res.get("camera", {}).get("mjpeg", []),
                             camera.STREAM_FPS, "fps", 3))
    rt = res.get("rtsp", {})
    out.append(fifty_vs_one("RTSP CPU, 50 viewers of one stream vs 1 (H.264 640x480, 15 fps, TCP)",
                            rt.get("viewers", []), rtsp.STREAM_FPS, "pictures/s", 2))
    firsts = rt.get("first_frame", {})
    worst = max(firsts.get("cold", []) + firsts.get("warm", []), default=None)
    out.append(("RTSP start to first frame for a new viewer (connect to its first complete picture, worst of "
                "starting and joining a stream)", fmt(worst * 1000 if worst is not None else None, ".0f", " ms"),
                "< 1 s", verdict(worst < 1.0) if worst is not None else "n/a"))
    st = res.get("startup", {}).get("emulator (HTTP + HTTPS)")
    out.append(("start to ready (spawn to /_emulator/health 200, HTTP + HTTPS, median)",
                fmt(st["ready_s"] * 1000, ".0f", " ms") if st else "not measured", "< 1 s",
                verdict(st["ready_s"] < 1.0) if st else "n/a"))
    out.append(("idle RSS (VmRSS of `python -m emulator`, median)",
                f"{st['rss_idle_mib'] * 1048576 / MB:.1f} MB ({st['rss_idle_mib']:.1f} MiB)" if st else "not measured",
                "< 80 MB", verdict(st["rss_idle_mib"] * 1048576 < 80 * MB) if st else "n/a"))
    return out


def render(res: dict) -> str:
    plan = res["plan"]
    L: list[str] = [f"# helios-emulator benchmarks ({plan} run, {res['started']}, {res['seconds']:.0f} s)", ""]
    L += [f"Emulator source: {res['git']}. Every server is its own process on loopback; nothing is pinned.", ""]
    L += ["## Machine", "", "| | |", "|---|---|"]
    L += [f"| {k} | {v} |" for k, v in res["machine"].items()]
    L += [f"| load average at end | {res.get('load_end', 'n/a')} |", ""]

    L += ["## Targets", "", "| target | measured | limit | result |", "|---|---|---|---|"]
    L += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in targets(res)]
    L.append("")
    for name, err in res.get("errors", {}).items():
        L += [f"**Section {name} failed:** `{err}`", ""]

    http = res.get("http")
    if http and http.get("rows"):
        L += ["## HTTP throughput and latency: emulator vs a bare aiohttp app", "",
              "wrk (one thread, keep-alive) on loopback; for each row the emulator and the bare app "
              "(benchmarks/bare_app.py, serving the emulator's exact bytes: "
              + ", ".join(f"{p} {'identical' if ok else 'DIFFERENT'}" for p, ok in http["identical"].items())
              + f") are run back to back, {res['plan_detail']['http_seconds']:g} s each, and the rows are cycled "
              f"{res['plan_detail']['http_repeats']} times. req/s and latencies are medians of the repeats; "
              "**ratio** = median of the per-pair ratios emulator/bare (the figure that matters on a noisy "
              "machine). CPU µs/req = the server's CPU time (/proc) per request; server CPU = cores busy "
              "(emulator / bare); wrk CPU max = the load generator's busiest run (1.0 would mean wrk is the "
              "bottleneck).", "",
              "**The Digest rows send what a Digest client sends**: qop=auth with the next nc of a fresh "
              "nonce on every request (wrk's Lua has no MD5: the answers are computed before each run, one "
              "nonce per connection, and wrk runs one thread per connection so each nonce's nc arrives in "
              "order). /api/system/info is public on the device (answers without credentials), so with "
              "Digest it costs no hashing; /api/switch/status does.", "",
              throughput.table(http["rows"]), "",
              "CPU ratio = bare CPU µs/req / emulator CPU µs/req: the throughput ratio two CPU-bound servers "
              "would show on a quiet core (when the server gets less than a whole core, as here under other "
              "load, the req/s ratio is pulled towards 1 at high connection counts)."
              + (" **Some runs had failed requests (errors column): those rows are not valid.**"
                 if any(r["errors"] for r in http["rows"]) else ""), ""]
    if http and http.get("uvloop_rows"):
        L += ["## uvloop (optional extra)", "",
              "The emulator runs on uvloop by default when it is installed (`--loop auto`); everything else "
              "here starts it with `--loop asyncio`, the bare app's loop. The uvloop variant "
              "(`python -m emulator --loop uvloop ...`) is measured back to back with the asyncio emulator "
              "(ratio = uvloop / asyncio). uvloop is an optional extra (`pip install "
              "helios-emulator[speed]`), not what the targets are judged on.", "",
              throughput.table(http["uvloop_rows"], "uvloop", "asyncio"), ""]
        if http.get("uvloop_bare_rows"):
            rows = http["uvloop_bare_rows"]
            L += ["Emulator under uvloop vs the bare app (asyncio), from the same run (not paired back to back): "
                  + "; ".join(f"{r['path']} {r['auth']} c={r['connections']}: "
                              f"{r['rps'] / r['ref_rps']:.2f}" for r in rows), ""]
    elif res.get("uvloop_note"):
        L += ["## uvloop (optional extra)", "", res["uvloop_note"], ""]

    fan = res.get("fanout")
    if fan:
        L += ["## Long-poll fan-out: 1,000 channels, one switch change", "",
              "benchmarks/fanout.py in process mode (`--process --baseline`): the server runs as its own process, "
              "a bare asyncio client keeps one /api/log/pull waiting per channel (one keep-alive connection "
              "each), the change is triggered over HTTP (/api/switch/ctrl?action=hold|release) and the latency "
              "runs from just before the trigger request is written to the moment each reply's last byte "
              "reaches the client. The same client runs against the emulator (`python -m emulator`) and against "
              "the bare aiohttp baseline (benchmarks/bare_fanout.py: subscribe, pulls waiting on one shared "
              "future per round, the trigger resolving it with one event rendered once, replies of the same "
              "size and shape; no journal, no channels, no device model, no timer per pull), in turns "
              f"(emulator, bare, ...: {res['plan_detail']['fanout_pairs']} runs of each, "
              f"{res['plan_detail']['fanout_rounds']} rounds per run), on the same loop. p50/p99 pool every "
              "delivery of every round of a server's runs; a round that the machine disturbs moves the pooled "
              "p99, so the median of the per-round p99s is shown too. **Server CPU per delivery** = the server's "
              "main-thread CPU time (/proc/<pid>/schedstat) from the trigger to the last delivery, divided by "
              "the deliveries: the server answers the pulls one after the other, so on a quiet core the p99 is "
              "about the trigger's trip + 0.99 x channels x this, whatever the machine's noise adds.", ""]
        for loop, emu_key, bare_key, ratio_key in (("asyncio", "process", "bare", "ratio"),
                                                   ("uvloop", "process (uvloop)", "bare (uvloop)", "ratio (uvloop)")):
            if emu_key in fan and bare_key in fan:
                L += [f"### {loop}: emulator vs bare aiohttp", "",
                      fanout.comparison_table({"emulator": fan[emu_key], "bare": fan[bare_key],
                                               "ratio": fan[ratio_key]}), ""]
        if "process" in fan:
            L += ["The emulator's runs in detail (asyncio):", "", fanout.report(fan["process"]), ""]
        if "in-process" in fan:
            L += ["For comparison, the original in-process mode (emulator and an aiohttp client in one event "
                  "loop, the change made through the model; includes the client's own work):", "",
                  fanout.report(fan["in-process"]), ""]

    cam = res.get("camera")
    if cam:
        L += ["## Camera", "", "benchmarks/camera.py: the emulator in its own process, auth none.", "",
              f"### Snapshot latency ({cam['requests']} requests per size, one client)", ""]
        L += camera.SNAPSHOT_HEAD + [camera.snapshot_row(r) for r in cam.get("snapshots", [])]
        L += ["", f"### MJPEG viewers at {cam['fps']} fps, {cam['stream_size']}, {cam['seconds']:g} s each", "",
              "CPU = the emulator's utime + stime per wall second (1.0 = one core), from /proc in 10 ms ticks.", ""]
        L += camera.MJPEG_HEAD + [camera.mjpeg_row(cam["idle"])] + [camera.mjpeg_row(r) for r in cam["mjpeg"]]
        L.append("")

    rt = res.get("rtsp")
    if rt:
        firsts = rt.get("first_frame", {})
        L += ["## Live video (RTSP)", "", "benchmarks/rtsp.py: the emulator in its own process, auth none; "
              "viewers are plain sockets over TCP that decode nothing.", "",
              "### Start to first frame (connect to the last packet of the first picture)", ""]
        L += rtsp.FIRST_HEAD + [rtsp.first_row("starts the stream (first viewer)", firsts.get("cold", [])),
                                rtsp.first_row("joins a running stream", firsts.get("warm", []))]
        L += ["", f"### Viewers of {rt['stream_size']} at {rt['fps']} fps, {rt['seconds']:g} s each", ""]
        L += rtsp.VIEWERS_HEAD + [rtsp.viewers_row(r) for r in rt.get("viewers", [])]
        L.append("")

    st = res.get("startup")
    if st:
        L += ["## Start-up and memory", "",
              "Spawn to the first 200 from GET /_emulator/health, polled every 10 ms; the emulator as "
              "`python -m emulator --port P --https-port Q` (a self-signed certificate is made at each "
              "start) and, for reference, with `--no-https` and the bare aiohttp app; interleaved, medians. "
              f"Idle RSS = VmRSS {startup.IDLE_SETTLE:g} s after ready.", "", startup.table(st), ""]
    mem = memory_rows(res)
    if mem:
        L += ["### Emulator RSS (VmRSS) idle and under load", "", "| state | RSS |", "|---|---:|"]
        L += [f"| {k} | {v} |" for k, v in mem] + [""]
    return "\n".join(L)


def memory_rows(res: dict) -> list[tuple[str, str]]:
    out = []
    st = res.get("startup", {}).get("emulator (HTTP + HTTPS)")
    if st:
        out.append(("idle, 1 s after start (HTTP + HTTPS)", f"{st['rss_idle_mib']:.1f} MiB"))
    http = res.get("http")
    if http:
        out.append(("HTTP benchmark, after a 64-connection wrk run (max)", f"{http['rss_under_load_mib']:.1f} MiB"))
        peak = max((v for k, v in http["hwm_mib"].items() if k.startswith("emulator/")), default=float("nan"))
        out.append(("HTTP benchmark, peak (VmHWM) over the whole section", f"{peak:.1f} MiB"))
    fan = res.get("fanout", {}).get("process")
    if fan:
        out.append(("1,000 pulls waiting", f"{fan['rss_waiting']:.1f} MiB"))
        out.append(("after 1,000-channel fan-out rounds (peak VmHWM)", f"{fan['rss_end']:.1f} MiB "
                    f"({fan['rss_hwm']:.1f} MiB)"))
    cam = res.get("camera", {}).get("mjpeg", [])
    for r in cam:
        if r.get("rss_mib") is not None and not r.get("skipped"):
            out.append((f"{r['viewers']} MJPEG viewer(s) at 10 fps", f"{r['rss_mib']:.1f} MiB"))
    return out


def slim(res: dict) -> dict:
    """The results for results.json: a fan-out result's pooled latencies are left out (its per-round
    latencies, round_latencies_ms, hold the same figures)."""
    fan = res.get("fanout")
    if not fan:
        return res
    out = dict(res)
    out["fanout"] = {k: ({kk: vv for kk, vv in v.items() if kk != "latencies_ms" or "round_latencies_ms" not in v}
                         if isinstance(v, dict) else v) for k, v in fan.items()}
    return out


def plot(res: dict, path: Path) -> str | None:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install -e '.[bench]')"
    fig, axes = plt.subplots(2, 3, figsize=(18, 10))
    fig.suptitle(f"helios-emulator benchmarks ({res['plan']} run, {res['started']}, {res['machine']['cpu']}, "
                 f"{res['machine']['cores']} cores)")
    rows = res.get("http", {}).get("rows", [])
    ax = axes[0][0]
    if rows:
        labels = [f"{r['path'].removeprefix('/api/')}\n{r['auth']} c={r['connections']}" for r in rows]
        x = range(len(rows))
        ax.bar([i - 0.2 for i in x], [r["rps"] for r in rows], 0.4, label="emulator")
        ax.bar([i + 0.2 for i in x], [r["ref_rps"] for r in rows], 0.4, label="bare aiohttp")
        for i, r in zip(x, rows, strict=True):
            ax.annotate(f"{r['ratio']:.2f}", (i, max(r["rps"], r["ref_rps"])), ha="center", va="bottom", fontsize=8)
        ax.set_xticks(list(x), labels, fontsize=7, rotation=45, ha="right")
        ax.set_ylabel("requests/s (median)")
        ax.set_title("Throughput (labels: emulator / bare ratio; target 0.85 for system/info)")
        ax.legend()
        ax = axes[0][1]
        ax.bar([i - 0.2 for i in x], [r["p99_ms"] for r in rows], 0.4, label="emulator p99")
        ax.bar([i + 0.2 for i in x], [r["ref_p99_ms"] for r in rows], 0.4, label="bare p99")
        ax.plot(list(x), [r["p50_ms"] for r in rows], "k.", label="emulator p50")
        ax.set_xticks(list(x), labels, fontsize=7, rotation=45, ha="right")
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (log)")
        ax.set_title("Latency under wrk load")
        ax.legend()
    else:
        axes[0][0].set_axis_off()
        axes[0][1].set_axis_off()
    ax = axes[0][2]
    fan = res.get("fanout", {})
    if fan:
        for name, r in fan.items():
            if not isinstance(r, dict) or "latencies_ms" not in r:
                continue
            values = sorted(r["latencies_ms"])
            label = (f"{'emulator' if r['server'] == 'emulator' else 'bare aiohttp'} ({r['loop']})"
                     if "server" in r else f"emulator, {name}")
            ax.plot(values, [i / len(values) for i in range(len(values))], label=f"{label}: p99 {r['p99']:.1f} ms")
        ax.axvline(20, color="red", linestyle="--", label="target p99 20 ms")
        ax.set_xlabel("switch change to delivery, ms")
        ax.set_ylabel("fraction of deliveries")
        ax.set_title("Fan-out to 1,000 waiting pulls (CDF)")
        ax.legend()
    else:
        ax.set_axis_off()
    ax = axes[1][0]
    cam = res.get("camera", {})
    mj = [r for r in cam.get("mjpeg", []) if not r.get("skipped") and r.get("cpu") is not None]
    if mj:
        ax.plot([r["viewers"] for r in mj], [r["cpu"] for r in mj], "o-", label="emulator CPU")
        one = next((r["cpu"] for r in mj if r["viewers"] == 1), None)
        if one:
            ax.axhline(3 * one, color="red", linestyle="--", label="target: 3x one viewer")
        ax.set_xlabel("MJPEG viewers (10 fps, 640x480)")
        ax.set_ylabel("CPU, cores")
        ax.set_ylim(bottom=0)
        ax.set_title("MJPEG cost")
        ax.legend()
    else:
        ax.set_axis_off()
    ax = axes[1][1]
    snaps = [r for r in cam.get("snapshots", []) if r.get("requests")]
    if snaps:
        ax.plot([r["size"] for r in snaps], [r["fresh_p50"] for r in snaps], "o-", label="fresh frame p50")
        ax.plot([r["size"] for r in snaps], [r["fresh_p99"] for r in snaps], "x--", label="fresh frame p99")
        ax.plot([r["size"] for r in snaps], [r["cached_p50"] for r in snaps], "s-", label="cached p50")
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
        ax.set_ylabel("ms")
        ax.set_title("Snapshot latency per size")
        ax.legend()
    else:
        ax.set_axis_off()
    ax = axes[1][2]
    st = res.get("startup", {})
    if st:
        names = list(st)
        for i, name in enumerate(names):
            ax.scatter([i] * len(st[name]["ready_all_s"]), [v * 1000 for v in st[name]["ready_all_s"]], alpha=0.6)
            ax.plot([i - 0.25, i + 0.25], [st[name]["ready_s"] * 1000] * 2, "k-")
        ax.axhline(1000, color="red", linestyle="--", label="target 1 s")
        ax.set_xticks(range(len(names)), [f"{n}\nidle RSS {st[n]['rss_idle_mib']:.0f} MiB" for n in names],
                      fontsize=8)
        ax.set_ylabel("spawn to health 200, ms")
        ax.set_ylim(bottom=0)
        ax.set_title("Start-up (bars: median)")
        ax.legend()
    else:
        ax.set_axis_off()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return None


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="a ~2 minute version (shorter runs, fewer repeats)")
    p.add_argument("--only", type=lambda s: [x.strip() for x in s.split(",")], default=list(SECTIONS),
                   help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    p.add_argument("--no-uvloop", action="store_true", help="skip the uvloop comparison")
    p.add_argument("--out", type=Path, default=RESULTS, help="where results.md, results.json, plot.png go")
    args = p.parse_args(argv)
    unknown = set(args.only) - set(SECTIONS)
    if unknown:
        p.error(f"unknown sections: {', '.join(sorted(unknown))}")
    plan = QUICK if args.quick else FULL
    started = time.monotonic()
    res: dict = {"plan": plan.name, "plan_detail": plan.__dict__, "machine": machine(), "git": git_state(),
                 "started": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "errors": {}}
    with_uvloop = "uvloop" in args.only and not args.no_uvloop and uvloop_available()
    if "uvloop" in args.only and not with_uvloop:
        res["uvloop_note"] = ("skipped: " + ("--no-uvloop" if args.no_uvloop else "uvloop is not installed "
                              "(pip install uvloop)"))
    # Deadlines: each section may run until its cumulative share of the budget is used.
    shares = {s: SHARES[s] for s in SECTIONS if s in args.only or (s == "uvloop" and with_uvloop)}
    scale = 1 / sum(shares.values()) if shares else 1
    cumulative, deadlines = 0.0, {}
    for s in SECTIONS:
        if s in shares:
            cumulative += shares[s] * scale
            deadlines[s] = started + plan.budget * cumulative

    def section(name: str, fn, *fn_args) -> None:
        if name not in args.only:
            return
        log(f"== {name} ({time.monotonic() - started:.0f} s in)")
        try:
            res[name] = fn(*fn_args)
        except Exception as exc:  # one broken section must not lose the others' figures
            traceback.print_exc()
            res["errors"][name] = f"{type(exc).__name__}: {exc}"

    section("startup", run_startup, plan, deadlines.get("startup", 0))
    if "http" in args.only:
        section("http", run_http, plan, deadlines["http"], deadlines.get("uvloop", deadlines["http"]), with_uvloop)
    elif with_uvloop:
        log("(the uvloop HTTP comparison runs inside the http section: add http to --only)")
    section("fanout", run_fanout, plan, deadlines.get("fanout", 0), with_uvloop)
    section("camera", run_camera, plan, deadlines.get("camera", 0))
    section("rtsp", run_rtsp, plan, deadlines.get("rtsp", 0))
    res["seconds"] = time.monotonic() - started
    res["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    args.out.mkdir(parents=True, exist_ok=True)
    problem = plot(res, args.out / "plot.png")
    text = render(res)
    if problem:
        text += f"\n(no plot: {problem})\n"
    (args.out / "results.md").write_text(text + "\n")
    (args.out / "results.json").write_text(json.dumps(slim(res), indent=1, default=str))
    print(text)
    written = [args.out / "results.md", args.out / "results.json"] + ([] if problem else [args.out / "plot.png"])
    log(f"wrote {', '.join(map(str, written[:-1]))} and {written[-1]} ({res['seconds']:.0f} s)"
        + (f"; no plot: {problem}" if problem else ""))


if __name__ == "__main__":
    main()
