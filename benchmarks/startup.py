"""Start-up benchmark: process start to the first 200 from /_emulator/health, and idle memory.

    python -m benchmarks.startup [--repeats 5]

Each repeat spawns `python -m emulator --port P --https-port Q` (the default listeners: HTTP and
HTTPS, so a self-signed certificate is made at start, as in a container without --state-dir) and
polls GET /_emulator/health every 10 ms from the moment of the spawn; the time to the first 200 is
the start-up time. The emulator then sits idle for a moment and its VmRSS (/proc/<pid>/status) is
read: the idle RSS. For reference, the same is done (interleaved) for `--no-https` and for the
bare aiohttp app (benchmarks/bare_app.py), which shows how much of the start is the interpreter
and aiohttp itself. Reported: medians of the repeats.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.proc import Server, bare_cmd, emulator_cmd, free_port, median

IDLE_SETTLE = 1.0  # seconds idle before the RSS is read

BARE_REPLIES = {"/api/system/info": {"body": "e30=", "headers": {"Content-Type": "application/json"}}}


def variants(workdir: Path) -> dict[str, callable]:
    replies = workdir / "replies.json"
    replies.write_text(json.dumps(BARE_REPLIES))
    return {
        "emulator (HTTP + HTTPS)": lambda: emulator_cmd(free_port(), auth="digest", https_port=free_port()),
        "emulator --no-https": lambda: emulator_cmd(free_port(), auth="digest"),
        "bare aiohttp app": lambda: bare_cmd(free_port(), replies),
    }


def once(cmd: list[str], settle: float) -> dict:
    port = int(cmd[cmd.index("--port") + 1])
    server = Server(cmd[2] if cmd[1] == "-m" else "emulator", cmd, port)
    ready = server.start()
    try:
        rss_ready = server.rss_mib()
        time.sleep(settle)
        return {"ready_s": ready, "rss_ready_mib": rss_ready, "rss_idle_mib": server.rss_mib(),
                "hwm_mib": server.hwm_mib()}
    finally:
        server.stop()


def measure(repeats: int = 5, settle: float = IDLE_SETTLE, log=print, deadline: float | None = None) -> dict:
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="helios-startup-") as tmp:
        kinds = variants(Path(tmp))
        samples: dict[str, list[dict]] = {name: [] for name in kinds}
        for _ in range(repeats):
            for name, make in kinds.items():  # interleaved: emulator, no-https, bare, emulator, ...
                if deadline is not None and time.monotonic() > deadline and samples[name]:
                    continue
                s = once(make(), settle)
                samples[name].append(s)
                log(f"  {name:<24} ready after {s['ready_s'] * 1000:6.0f} ms, idle RSS {s['rss_idle_mib']:.1f} MiB")
    for name, runs in samples.items():
        out[name] = {
            "repeats": len(runs),
            "ready_s": median([r["ready_s"] for r in runs]),
            "ready_all_s": [r["ready_s"] for r in runs],
            "rss_ready_mib": median([r["rss_ready_mib"] for r in runs]),
            "rss_idle_mib": median([r["rss_idle_mib"] for r in runs]),
            "hwm_mib": median([r["hwm_mib"] for r in runs]),
        }
    return out


def table(result: dict) -> str:
    lines = ["| process | start to health 200, median | min - max | repeats | RSS idle (median) | peak RSS (VmHWM) |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, r in result.items():
        lines.append(f"| {name} | {r['ready_s'] * 1000:.0f} ms | {min(r['ready_all_s']) * 1000:.0f} - "
                     f"{max(r['ready_all_s']) * 1000:.0f} ms | {r['repeats']} | {r['rss_idle_mib']:.1f} MiB "
                     f"| {r['hwm_mib']:.1f} MiB |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__.split("\n\n")[0])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    print(table(measure(args.repeats)))


if __name__ == "__main__":
    main()
