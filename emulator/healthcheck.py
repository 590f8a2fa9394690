"""The container's HEALTHCHECK: `python -m emulator.healthcheck` exits 0 when the emulator serves.

It is a liveness check. It asks what a user would: the liveness endpoint (every listener serves)
and one real API call (/api/system/info answers the 2N envelope; a profile may disable or secure
that service, so an error envelope counts as an answer too), on the port the emulator was started
with (HELIOS_PORT, default 8080). While the emulated device restarts (a reboot a test asked for,
a firmware upgrade) the API drops its connections as a real device does; the emulator is alive
all the same, so the API is not asked then.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def _get(url: str):
    with urllib.request.urlopen(url, timeout=2) as reply:
        return json.load(reply)


def main() -> int:
    base = f"http://127.0.0.1:{os.environ.get('HELIOS_PORT', '8080')}"
    try:
        health = _get(base + "/_emulator/health")
        if health.get("device") != "offline":
            try:
                info = _get(base + "/api/system/info")
            except OSError:
                health = _get(base + "/_emulator/health")  # a restart that began in between?
                if health.get("device") != "offline":
                    raise
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if health.get("device") == "offline":
        print(f"healthy: {health.get('model')} restarting, listeners {health.get('listeners')}")
        return 0
    if not isinstance(info, dict) or "success" not in info:
        print(f"unhealthy: /api/system/info answered {info!r}", file=sys.stderr)
        return 1
    print(f"healthy: {health.get('model')} {health.get('firmware')}, listeners {health.get('listeners')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
