"""The container's HEALTHCHECK: `python -m emulator.healthcheck` exits 0 when the emulator serves.

It asks what a user would: the liveness endpoint (every listener serves) and one real API call
(/api/system/info answers the 2N envelope; a profile may disable or secure that service, so an
error envelope counts as an answer too), on the port the emulator was started with (HELIOS_PORT,
default 8080).
"""

from __future__ import annotations

import json
import os
import sys
import urllib.request


def main() -> int:
    base = f"http://127.0.0.1:{os.environ.get('HELIOS_PORT', '8080')}"
    try:
        with urllib.request.urlopen(base + "/_emulator/health", timeout=2) as reply:
            health = json.load(reply)
        with urllib.request.urlopen(base + "/api/system/info", timeout=2) as reply:
            info = json.load(reply)
    except (OSError, ValueError) as exc:
        print(f"unhealthy: {exc}", file=sys.stderr)
        return 1
    if not isinstance(info, dict) or "success" not in info:
        print(f"unhealthy: /api/system/info answered {info!r}", file=sys.stderr)
        return 1
    print(f"healthy: {health.get('model')} {health.get('firmware')}, listeners {health.get('listeners')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
