"""Where the emulator spends its time per request: py-spy samples of the emulator process under wrk.

    python -m benchmarks.hotspots [--path /api/switch/status] [--auth digest] [--connections 64]
                                  [--seconds 8] [--bare] [--out benchmarks/results]

Needs py-spy (`pip install py-spy`; sampling another process needs ptrace rights: root, or
kernel.yama.ptrace_scope=0). The emulator runs as its own process; wrk keeps `--connections`
keep-alive connections busy on one path while py-spy samples the process (on-CPU samples only:
time waiting in epoll is not counted). Writes the raw collapsed stacks (flamegraph.pl or
speedscope read them) and a summary:

* self time by package: emulator/ code, aiohttp (and multidict/yarl), asyncio, other standard
  library; the C parts of aiohttp (its HTTP parser, multidict) count as self time of the Python
  function that called them;
* the functions with the most self time;
* the emulator's functions by inclusive time (the function and what it calls): what each step
  of the /api request path costs, in % of the process's CPU and in µs per request.

With `--bare`, the bare aiohttp app (the throughput baseline) is profiled the same way, for
comparison.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

from benchmarks.proc import Server, bare_cmd, emulator_cmd, free_port
from benchmarks.throughput import WRK_LUA, Load, capture_replies, digest_load, wrk, wrk_command


def py_spy() -> str | None:
    """py-spy on PATH, or next to this Python (a virtualenv's bin/ is often not on PATH)."""
    beside = Path(sys.executable).parent / "py-spy"
    return shutil.which("py-spy") or (str(beside) if beside.exists() else None)


FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def bucket(file: str) -> str:
    if file.startswith("emulator/") or "/emulator/" in file:
        return "emulator/"
    for name in ("aiohttp", "multidict", "yarl", "propcache"):
        if file.startswith(name + "/") or f"/{name}/" in file:
            return "aiohttp (+multidict, yarl)"
    if file.startswith("asyncio/") or "/asyncio/" in file:
        return "asyncio"
    return "other (stdlib, runpy)"


def parse(raw: str) -> list[tuple[list[tuple[str, str]], int]]:
    stacks = []
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        frames = []
        for text in stack.split(";"):
            m = FRAME.match(text)
            frames.append((m["func"], m["file"]) if m else (text, "?"))
        stacks.append((frames, int(count)))
    return stacks


def summarise(raw: str, requests: int | None, top: int = 25) -> dict:
    stacks = parse(raw)
    total = sum(n for _, n in stacks) or 1
    buckets: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    for frames, n in stacks:
        func, file = frames[-1]
        buckets[bucket(file)] += n
        self_time[f"{func} ({file})"] += n
        seen = set()
        for func, file in frames:
            if bucket(file) == "emulator/" and not file.endswith(("__main__.py", "cli.py")):
                key = f"{func} ({file})"
                if key not in seen:
                    seen.add(key)
                    inclusive[key] += n
    return {"samples": total, "requests": requests,
            "buckets": {k: v / total for k, v in buckets.most_common()},
            "self": [(k, v / total) for k, v in self_time.most_common(top)],
            "inclusive": [(k, v / total) for k, v in inclusive.most_common(top)]}


def report(s: dict, title: str, us_per_req: float | None) -> str:
    def us(share: float) -> str:
        return f"{share * us_per_req:.1f}" if us_per_req else "-"

    lines = [f"## {title}", "",
             f"{s['samples']} on-CPU samples; CPU per request {us_per_req:.1f} µs (from /proc, over the sampled run)"
             if us_per_req else f"{s['samples']} on-CPU samples", "",
             "| self time in | share | µs/req |", "|---|---:|---:|"]
    lines += [f"| {k} | {v:.1%} | {us(v)} |" for k, v in s["buckets"].items()]
    lines += ["", "| function (self time) | share | µs/req |", "|---|---:|---:|"]
    lines += [f"| `{k}` | {v:.1%} | {us(v)} |" for k, v in s["self"]]
    if s["inclusive"]:
        lines += ["", "| emulator function (inclusive time) | share | µs/req |", "|---|---:|---:|"]
        lines += [f"| `{k}` | {v:.1%} | {us(v)} |" for k, v in s["inclusive"]]
    return "\n".join(lines)


def profile(server: Server, path: str, make_load: Callable[[float], Load], connections: int, seconds: float,
            rate: int, lua: Path, out: Path) -> tuple[str, float | None]:
    """Load the server with wrk while py-spy samples it; the collapsed stacks and CPU µs/request.
    `make_load(seconds)` gives what wrk sends in a run that long."""
    wrk(server.url + path, connections, 1.0, make_load(1.0), lua)  # warm up
    cmd = wrk_command(server.url + path, connections, round(seconds) + 2, make_load(round(seconds) + 2), lua)
    load = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    cpu0 = server.cpu_seconds()
    spy = subprocess.run([py_spy() or "py-spy", "record", "--pid", str(server.pid), "--duration", f"{seconds:g}",
                          "--rate", str(rate), "--format", "raw", "--function", "--output", str(out)],
                         capture_output=True, text=True, check=False)
    cpu1 = server.cpu_seconds()
    stdout, _ = load.communicate(timeout=seconds + 30)
    if spy.returncode != 0:
        raise RuntimeError(f"py-spy failed: {spy.stderr.strip()}")
    line = next((ln for ln in stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    us_per_req = None
    if line:
        r = json.loads(line.removeprefix("WRKJSON "))
        rps = r["requests"] / (r["duration_us"] / 1e6)
        if r["status"]:
            raise RuntimeError(f"{r['status']} replies were not 2xx: check the path and the credentials")
        us_per_req = (cpu1 - cpu0) / (rps * seconds) * 1e6 if rps else None
    return out.read_text(), us_per_req


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.hotspots", description=__doc__.split("\n\n")[0])
    p.add_argument("--path", default="/api/switch/status")
    p.add_argument("--auth", choices=("none", "digest"), default="digest")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--rate", type=int, default=250, help="samples per second (default 250)")
    p.add_argument("--uvloop", action="store_true", help="start the emulator with uvloop")
    p.add_argument("--bare", action="store_true", help="also profile the bare aiohttp app")
    p.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = p.parse_args()
    if py_spy() is None:
        raise SystemExit("py-spy is not installed (pip install py-spy)")
    args.out.mkdir(parents=True, exist_ok=True)
    slug = f"{args.path.strip('/').replace('/', '-')}-{args.auth}"
    sections = []
    with tempfile.TemporaryDirectory(prefix="helios-hotspots-") as tmp:
        lua = Path(tmp) / "report.lua"
        lua.write_text(WRK_LUA)
        port = free_port()
        with Server("emulator", emulator_cmd(port, auth=args.auth, uvloop=args.uvloop), port) as emu:
            def make_load(seconds: float) -> Load:
                if args.auth != "digest":
                    return Load()
                return digest_load(emu.port, args.path, args.connections, seconds, Path(tmp))

            raw, us = profile(emu, args.path, make_load, args.connections, args.seconds, args.rate, lua,
                              args.out / f"profile-{slug}.raw")
            sections.append(report(summarise(raw, None), f"emulator, GET {args.path}, auth {args.auth}, "
                                   f"{args.connections} connections", us))
            replies = capture_replies(emu.port, (args.path,)) if args.auth == "none" else None
            bare_load = make_load(round(args.seconds) + 2)  # the bare app ignores the answers: any will do
        if args.bare:
            if replies is None:
                port = free_port()
                with Server("emulator", emulator_cmd(port, auth="none"), port) as plain:
                    replies = capture_replies(plain.port, (args.path,))
            (Path(tmp) / "replies.json").write_text(json.dumps(replies))
            port = free_port()
            with Server("bare", bare_cmd(port, Path(tmp) / "replies.json"), port) as bare:
                raw, us = profile(bare, args.path, lambda _: bare_load, args.connections, args.seconds, args.rate, lua,
                                  args.out / f"profile-{slug}-bare.raw")
                sections.append(report(summarise(raw, None), f"bare aiohttp app, GET {args.path}, "
                                       f"{args.connections} connections", us))
    text = "\n\n".join(sections)
    (args.out / f"profile-{slug}.md").write_text(text + "\n")
    print(text)
    print(f"\n(raw stacks and this summary in {args.out})")


if __name__ == "__main__":
    main()
