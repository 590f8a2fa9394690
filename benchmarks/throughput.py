"""HTTP throughput and latency of the emulator against a bare aiohttp app, measured in one run.

    python -m benchmarks.throughput [--seconds 4] [--repeats 3] [--connections 1,16,64]

Three server processes run side by side on loopback: the emulator with `--auth none`, the emulator
with `--auth digest`, and benchmarks/bare_app.py serving the same bytes (its replies are captured
from the emulator at start and checked to be byte-identical but for the Date value). The load
generator is wrk (Debian package `wrk`, one thread, HTTP/1.1 keep-alive, N connections). For every
path x auth x connection count, the emulator and the bare app are measured back to back
(emulator, bare, emulator, bare, ...), and the configurations are cycled `--repeats` times so that
a burst of noise on the machine lands on one pair, not on one side. Reported: the median of the
repeats, and the ratio emulator/bare as the median of the per-pair ratios (the figure that
matters on a noisy machine).

Digest: the runs send what a Digest client sends, qop=auth with the next nc of a fresh nonce on
every request (the emulator refuses an answer without qop, and a repeated nc). wrk's Lua has no
MD5, so the answers are computed here in Python before each run, one nonce and one file of
answers per connection, and wrk runs one thread per connection, each sending its answers in
order (DigestLoad). The bare app gets the same requests and ignores the header. Note that
/api/system/info is public on the device (it answers without credentials), so with
`--auth digest` it costs no hashing; /api/switch/status does.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import resource
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from benchmarks.proc import (
    Server,
    bare_cmd,
    emulator_cmd,
    free_port,
    http_get,
    median,
    raw_get,
)

PATHS = ("/api/system/info", "/api/switch/status")
AUTHS = ("none", "digest")
CONNECTIONS = (1, 16, 64)
ACCOUNT = ("admin", "2n")  # the verso profile's account
PROTECTED = "/api/switch/status"  # a path that answers 401 with a challenge

WRK_LUA = r"""
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %.1f, "p90_us": %.1f, ' ..
    '"p99_us": %.1f, "max_us": %.1f, "mean_us": %.1f, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


# A Digest run: thread N (one connection) sends the answers in the file given as its argument + ".N".
DIGEST_LUA = WRK_LUA + r"""
local threads = 0
setup = function(thread)
  thread:set("id", threads)
  threads = threads + 1
end
local answers, sent = {}, 0
init = function(args)
  for line in io.lines(args[1] .. "." .. id) do answers[#answers + 1] = line end
end
request = function()
  sent = sent + 1
  return wrk.format(nil, nil, {Authorization = answers[(sent - 1) % #answers + 1]})
end
"""
MAX_RATE = 45_000  # requests per second a Digest run has answers for (past them: 401s, counted as errors)


def digest_answers(port: int, path: str, count: int, user: str = ACCOUNT[0], password: str = ACCOUNT[1]) -> list[str]:
    """`count` Authorization headers for GET `path` as a Digest client sends them one after the other
    on a fresh nonce: qop=auth and nc 1, 2, 3, ..."""
    status, headers, _ = http_get(port, PROTECTED)
    challenge = headers.get("WWW-Authenticate", "")
    if status != 401 or not challenge.startswith("Digest"):
        raise RuntimeError(f"expected a Digest challenge from {PROTECTED}, got {status} {challenge!r}")
    fields = dict(re.findall(r'(\w+)="?([^",]*)"?', challenge))
    realm, nonce, opaque = fields["realm"], fields["nonce"], fields.get("opaque")
    algorithm = fields.get("algorithm", "MD5")
    hash_ = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}[algorithm]

    def h(text: str) -> str:
        return hash_(text.encode()).hexdigest()

    ha1, ha2 = h(f"{user}:{realm}:{password}"), h(f"GET:{path}")
    head = f'Digest username="{user}", realm="{realm}", nonce="{nonce}", uri="{path}", algorithm={algorithm}, ' + \
        (f'opaque="{opaque}", ' if opaque else "") + 'qop=auth, cnonce="c0", nc='
    return [f'{head}{nc:08x}, response="{h(f"{ha1}:{nonce}:{nc:08x}:c0:auth:{ha2}")}"' for nc in range(1, count + 1)]


@dataclass
class Load:
    """What wrk sends in one run: fixed headers from one thread, or (DigestLoad) a Digest client's
    answers from one thread per connection."""

    headers: dict[str, str] = field(default_factory=dict)
    script: Path | None = None  # None: the run's report script only
    args: tuple[str, ...] = ()
    threads: int = 1


def digest_load(port: int, path: str, connections: int, seconds: float, workdir: Path) -> Load:
    """A Digest client per connection, each on its own nonce of the server at `port`: every nc
    reaches the server in order (one thread per connection sends one request at a time)."""
    per_connection = int(MAX_RATE * max(1, round(seconds)) / connections) + 100
    base = workdir / "answers"
    for n in range(connections):
        (workdir / f"answers.{n}").write_text("\n".join(digest_answers(port, path, per_connection)) + "\n")
    script = workdir / "digest.lua"
    if not script.exists():
        script.write_text(DIGEST_LUA)
    return Load(script=script, args=(str(base),), threads=connections)


def capture_replies(port: int, paths: tuple[str, ...]) -> dict[str, dict]:
    """The emulator's replies, as the bare app serves them."""
    out = {}
    for path in paths:
        status, headers, body = http_get(port, path)
        if status != 200:
            raise RuntimeError(f"{path}: the emulator answered {status} {body[:200]!r}")
        out[path] = {"body": base64.b64encode(body).decode(),
                     "headers": {k: headers[k] for k in ("Server", "Content-Type")}}
    return out


def _without_date(reply: bytes) -> bytes:
    return re.sub(rb"\r\nDate: [^\r]*", b"\r\nDate: -", reply)


def identical(a: Server, b: Server, path: str, headers: dict[str, str] | None = None) -> bool:
    """Do two servers send the same bytes (Date value aside) for GET `path`?"""
    return _without_date(raw_get(a.port, path, headers)) == _without_date(raw_get(b.port, path, headers))


def wrk_command(url: str, connections: int, seconds: float, load: Load, lua: Path) -> list[str]:
    cmd = ["wrk", f"-t{load.threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "5s",
           "-s", str(load.script or lua)]
    for name, value in load.headers.items():
        cmd += ["-H", f"{name}: {value}"]
    return [*cmd, url, *load.args]


def wrk(url: str, connections: int, seconds: float, load: Load, lua: Path, server: Server | None = None) -> dict:
    """One wrk run (whole seconds: wrk takes no fractions); with `server`, also its CPU time and
    memory over the run."""
    seconds = max(1, round(seconds))
    cmd = wrk_command(url, connections, seconds, load, lua)
    children0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu0 = server.cpu_seconds() if server else float("nan")
    wall0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=False)
    wall = time.perf_counter() - wall0
    cpu1 = server.cpu_seconds() if server else float("nan")
    children1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("WRKJSON ")), None)
    if out.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr.strip() or out.stdout.strip()}")
    r = json.loads(line.removeprefix("WRKJSON "))
    duration = r["duration_us"] / 1e6
    r["rps"] = r["requests"] / duration
    r["errors"] = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    r["wrk_cpu"] = ((children1.ru_utime + children1.ru_stime) - (children0.ru_utime + children0.ru_stime)) / wall
    r["server_cpu"] = (cpu1 - cpu0) / wall  # 1.0 = one core busy
    r["cpu_us_per_req"] = (cpu1 - cpu0) / r["requests"] * 1e6 if r["requests"] else float("nan")
    r["rss_mib"] = server.rss_mib() if server else float("nan")
    return r


@dataclass
class Bench:
    """The servers of one throughput run and the wrk script they share."""

    seconds: float
    repeats: int
    connections: tuple[int, ...] = CONNECTIONS
    paths: tuple[str, ...] = PATHS
    auths: tuple[str, ...] = AUTHS
    uvloop: bool = False
    log: Callable[[str], None] = print
    servers: dict[str, Server] = field(default_factory=dict)
    runs: list[dict] = field(default_factory=list)
    checks: dict[str, bool] = field(default_factory=dict)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="helios-bench-")))

    def __post_init__(self) -> None:
        self.lua = self.workdir / "report.lua"
        self.lua.write_text(WRK_LUA)

    # -- servers ---------------------------------------------------------------------------

    def start(self) -> None:
        if shutil.which("wrk") is None:
            raise RuntimeError("wrk is not installed (apt-get install -y wrk)")
        for auth in self.auths:
            self._spawn(f"emulator/{auth}", emulator_cmd(free_port(), auth=auth))
        replies = capture_replies(self.servers[f"emulator/{self.auths[0]}"].port, self.paths)
        (self.workdir / "replies.json").write_text(json.dumps(replies))
        self._spawn("bare", bare_cmd(free_port(), self.workdir / "replies.json"))
        if self.uvloop:
            for auth in self.auths:
                self._spawn(f"emulator+uvloop/{auth}", emulator_cmd(free_port(), auth=auth, uvloop=True))
        ref = self.servers[f"emulator/{self.auths[0]}"]
        for path in self.paths:
            self.checks[path] = identical(ref, self.servers["bare"], path)

    def _spawn(self, name: str, cmd: list[str]) -> None:
        port = int(cmd[cmd.index("--port") + 1])
        server = Server(name, cmd, port)
        self.servers[name] = server
        server.start()

    def stop(self) -> None:
        for server in self.servers.values():
            server.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Bench:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- measurements ----------------------------------------------------------------------

    def load(self, auth: str, path: str, side: str, connections: int, seconds: float) -> Load:
        """What one run sends: with Digest, answers to fresh nonces of the server itself (nonces
        are per process), or of the asyncio emulator for the bare app."""
        if auth != "digest":
            return Load()
        issuer = self.servers[side if side.startswith("emulator") else "emulator/digest"]
        return digest_load(issuer.port, path, connections, seconds, self.workdir)

    def warm_up(self, seconds: float) -> None:
        for name, server in self.servers.items():
            for path in self.paths:
                auth = name.rsplit("/", 1)[1] if "/" in name else "none"
                wrk(server.url + path, 16, seconds, self.load(auth, path, name, 16, seconds), self.lua)

    def measure(self, configs: list[tuple[str, str, int]], sides: Callable[[str], list[str]],
                deadline: float, phase: str = "main") -> None:
        """Cycle the configurations `repeats` times; within one, run each side back to back."""
        for repeat in range(self.repeats):
            for path, auth, conns in configs:
                if time.monotonic() + len(sides(auth)) * (self.seconds + 1) > deadline:
                    self.log(f"  (time budget spent: skipping {path} {auth} c={conns} repeat {repeat + 1})")
                    continue
                for side in sides(auth):
                    server = self.servers[side]
                    load = self.load(auth, path, side, conns, self.seconds)
                    r = wrk(server.url + path, conns, self.seconds, load, self.lua, server)
                    r.update(server=side, path=path, auth=auth, connections=conns, repeat=repeat, phase=phase)
                    self.runs.append(r)
                    self.log(f"  {side:<22} {path:<19} c={conns:<3} {r['rps']:>8.0f} req/s  "
                             f"p99 {r['p99_us'] / 1000:6.2f} ms  server CPU {r['server_cpu']:.2f}  "
                             f"wrk CPU {r['wrk_cpu']:.2f}" + (f"  ERRORS {r['errors']}" if r["errors"] else ""))

    def main_configs(self) -> list[tuple[str, str, int]]:
        return [(p, a, c) for p in self.paths for a in self.auths for c in self.connections]


def summarise(runs: list[dict], side: str, reference: str) -> list[dict]:
    """Per (path, auth, connections): medians for the server `side` and the server `reference`
    (names, "{auth}" filled in: "emulator/{auth}", "bare"), and the median of the per-repeat
    ratios side/reference."""
    rows = []
    def order(key: tuple[str, str, int]) -> tuple[int, int, int]:
        path, auth, conns = key
        return (PATHS.index(path) if path in PATHS else 9, AUTHS.index(auth) if auth in AUTHS else 9, conns)

    keys = sorted({(r["path"], r["auth"], r["connections"]) for r in runs}, key=order)
    for path, auth, conns in keys:
        mine = {r["repeat"]: r for r in runs if (r["path"], r["auth"], r["connections"]) == (path, auth, conns)
                and r["server"] == side.format(auth=auth)}
        ref = {r["repeat"]: r for r in runs if (r["path"], r["auth"], r["connections"]) == (path, auth, conns)
               and r["server"] == reference.format(auth=auth)}
        if not mine or not ref:
            continue
        pairs = sorted(set(mine) & set(ref))

        def m(d: dict, key: str, scale: float = 1.0) -> float:
            return median([d[k][key] * scale for k in d])

        rows.append({
            "path": path, "auth": auth, "connections": conns, "repeats": len(pairs),
            "rps": m(mine, "rps"), "ref_rps": m(ref, "rps"),
            "ratio": median([mine[k]["rps"] / ref[k]["rps"] for k in pairs]),
            "p50_ms": m(mine, "p50_us", 1e-3), "ref_p50_ms": m(ref, "p50_us", 1e-3),
            "p99_ms": m(mine, "p99_us", 1e-3), "ref_p99_ms": m(ref, "p99_us", 1e-3),
            "cpu_us": m(mine, "cpu_us_per_req"), "ref_cpu_us": m(ref, "cpu_us_per_req"),
            "server_cpu": m(mine, "server_cpu"), "ref_server_cpu": m(ref, "server_cpu"),
            "wrk_cpu": max(r["wrk_cpu"] for r in [*mine.values(), *ref.values()]),
            "errors": sum(r["errors"] for r in [*mine.values(), *ref.values()]),
        })
    return rows


def table(rows: list[dict], side: str = "emulator", reference: str = "bare") -> str:
    lines = [f"| path | auth | conns | {side} req/s | {reference} req/s | ratio | CPU µs/req {side} / {reference} "
             f"| CPU ratio | {side} p50 / p99 ms | {reference} p50 / p99 ms | server CPU (cores) {side} / {reference} "
             f"| wrk CPU max | errors |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['path']} | {r['auth']} | {r['connections']} | {r['rps']:.0f} | {r['ref_rps']:.0f} "
            f"| **{r['ratio']:.2f}** | {r['cpu_us']:.0f} / {r['ref_cpu_us']:.0f} | {r['ref_cpu_us'] / r['cpu_us']:.2f} "
            f"| {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {r['ref_p50_ms']:.2f} / {r['ref_p99_ms']:.2f} "
            f"| {r['server_cpu']:.2f} / {r['ref_server_cpu']:.2f} | {r['wrk_cpu']:.2f} | {r['errors']} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.throughput", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=int, default=4, help="length of each wrk run, whole seconds (default 4)")
    p.add_argument("--repeats", type=int, default=3, help="times each configuration is measured (default 3)")
    p.add_argument("--connections", type=lambda s: tuple(int(n) for n in s.split(",")), default=CONNECTIONS)
    p.add_argument("--uvloop", action="store_true", help="also an emulator started with uvloop")
    p.add_argument("--budget", type=float, default=600.0, help="stop starting runs after this many seconds")
    args = p.parse_args()
    deadline = time.monotonic() + args.budget
    with Bench(args.seconds, args.repeats, args.connections, uvloop=args.uvloop) as bench:
        bench.warm_up(1.0)
        bench.measure(bench.main_configs(), lambda auth: [f"emulator/{auth}", "bare"], deadline)
        if args.uvloop:
            bench.measure(bench.main_configs(), lambda auth: [f"emulator/{auth}", f"emulator+uvloop/{auth}"],
                          deadline, phase="uvloop")
        print("\nbyte-identical replies (Date aside):", bench.checks)
        print(table(summarise([r for r in bench.runs if r["phase"] == "main"], "emulator/{auth}", "bare")))
        if args.uvloop:
            print()
            print(table(summarise([r for r in bench.runs if r["phase"] == "uvloop"], "emulator+uvloop/{auth}",
                                  "emulator/{auth}"), "uvloop", "asyncio"))


if __name__ == "__main__":
    main()
