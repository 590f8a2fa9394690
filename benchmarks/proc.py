"""Process helpers shared by the benchmarks: start the emulator (or the bare app) as its own
process, wait for it to serve, read its CPU time and memory from /proc, describe the machine.

Everything here is synchronous and uses only the standard library, so the start-up timing is not
coloured by the client (no event loop, no aiohttp import on the timed path).
"""

from __future__ import annotations

import http.client
import math
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEALTH = "/_emulator/health"



def stop_process(proc: subprocess.Popen) -> None:
    """End a server process: SIGTERM, then SIGKILL if it has not exited within 10 s."""
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def emulator_cmd(port: int, *, auth: str = "none", https_port: int | None = None, profile: str = "verso",
                 uvloop: bool = False) -> list[str]:
    args = ["--port", str(port)]
    args += ["--https-port", str(https_port)] if https_port is not None else ["--no-https"]
    args += ["--auth", auth, "--profile", profile, "--log-level", "warning"]
    # The same loop as the bare app (asyncio) unless the uvloop variant is measured.
    args += ["--loop", "uvloop" if uvloop else "asyncio"]
    return [sys.executable, "-m", "emulator", *args]


def bare_cmd(port: int, replies: Path) -> list[str]:
    return [sys.executable, "-m", "benchmarks.bare_app", "--port", str(port), "--replies", str(replies)]


def http_get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 2.0
             ) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def raw_get(port: int, path: str, headers: dict[str, str] | None = None, timeout: float = 2.0) -> bytes:
    """The exact bytes of a reply (status line, headers, body) to one GET."""
    head = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head.encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
        top, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in top.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        while len(body) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += chunk
    return top + b"\r\n\r\n" + body


class Server:
    """One server process (the emulator or the bare app) on a loopback port."""

    def __init__(self, name: str, cmd: list[str], port: int, env: dict[str, str] | None = None):
        self.name = name
        self.cmd = cmd
        self.port = port
        self.env = env
        self.proc: subprocess.Popen | None = None
        self.spawned_at = 0.0
        self.ready_after: float | None = None  # seconds from spawn to the first health 200

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, limit: float = 30.0, poll: float = 0.010) -> float:
        """Spawn, then poll the health path every `poll` seconds; return seconds to the first 200."""
        env = None if self.env is None else {**os.environ, **self.env}
        self.spawned_at = time.perf_counter()
        self.proc = subprocess.Popen(self.cmd, cwd=ROOT, env=env, stdin=subprocess.DEVNULL)
        deadline = self.spawned_at + limit
        tick = self.spawned_at
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with code {self.proc.returncode}: {' '.join(self.cmd)}")
            try:
                status, _, _ = http_get(self.port, HEALTH, timeout=1.0)
                if status == 200:
                    self.ready_after = time.perf_counter() - self.spawned_at
                    return self.ready_after
            except (OSError, http.client.HTTPException):
                pass
            now = time.perf_counter()
            if now > deadline:
                self.stop()
                raise RuntimeError(f"{self.name} did not answer {HEALTH} within {limit:g} s")
            tick += poll
            while tick < now:  # a slow poll: keep the 10 ms grid, do not burst
                tick += poll
            time.sleep(tick - now)

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- what /proc says about it ------------------------------------------------------------

    def rss_mib(self) -> float:
        return status_kib(self.pid, "VmRSS") / 1024

    def hwm_mib(self) -> float:
        return status_kib(self.pid, "VmHWM") / 1024

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)


def status_kib(pid: int, key: str) -> float:
    """A field of /proc/<pid>/status in KiB (VmRSS, VmHWM); NaN where there is no /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return float("nan")
    fields = text.rsplit(")", 1)[1].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_ns(pid: int) -> int:
    """Nanoseconds the main thread has run on a CPU (/proc/<pid>/schedstat; exact, not in ticks)."""
    try:
        return int(Path(f"/proc/{pid}/schedstat").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return -1


def median(values: list[float]) -> float:
    ordered = sorted(v for v in values if not math.isnan(v))
    if not ordered:
        return float("nan")
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * p // 100))  # ceil(n * p / 100)
    return ordered[int(min(rank, len(ordered))) - 1]


def _version(cmd: list[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5, check=False)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "n/a"


def machine() -> dict[str, str]:
    """What the figures were measured on (they mean little without it)."""
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        mem = next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                   if line.startswith("MemTotal"))
        memory = f"{int(mem) / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        memory = "unknown"
    try:
        import aiohttp
        aiohttp_version = aiohttp.__version__
    except ImportError:
        aiohttp_version = "n/a"
    try:
        import uvloop
        uvloop_version = uvloop.__version__
    except ImportError:
        uvloop_version = "not installed"
    try:
        distro = Path("/etc/debian_version").read_text().strip()
        distro = f"Debian {distro}"
    except OSError:
        distro = platform.platform()
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    wrk = shutil.which("wrk")
    return {
        "cpu": cpu, "cores": str(os.cpu_count()), "memory": memory, "os": f"{distro}, Linux {platform.release()}",
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "aiohttp": aiohttp_version, "uvloop": uvloop_version,
        "wrk": _version([wrk, "-v"]).split(" [")[0] if wrk else "not installed",
        "load average at start": load,
    }
