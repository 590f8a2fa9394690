"""The baseline: a bare aiohttp app that answers the benchmarked paths with the emulator's bytes.

    python -m benchmarks.bare_app --port 8081 --replies replies.json

`replies.json` maps a path to the reply the emulator gave for it: {"/api/system/info": {"body":
"<base64>", "headers": {"Server": "HIP2.50.0.76.2", "Content-Type": "application/json"}}}. Each
path gets one handler that returns those bytes and headers (aiohttp adds Content-Length and Date,
as it does for the emulator), so on the wire the replies are byte-identical to the emulator's but
for the Date value. It checks no credentials: whatever the emulator does beyond this (routing,
authentication, parameters, the journal) is what the throughput ratio measures.

It runs aiohttp the way the emulator does (AppRunner, no access log; TCPSite where the emulator has
its connection guard, whose cost is per connection, not per request), and answers
GET /_emulator/health so it is started and polled the same way.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import signal
from pathlib import Path

from aiohttp import web


def build(replies: dict[str, dict]) -> web.Application:
    app = web.Application()
    for path, reply in replies.items():
        body = base64.b64decode(reply["body"])
        headers = dict(reply["headers"])

        async def handler(request: web.Request, body: bytes = body, headers: dict = headers) -> web.Response:
            return web.Response(body=body, headers=headers)

        app.router.add_get(path, handler)

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    app.router.add_get("/_emulator/health", health)
    return app


async def serve(host: str, port: int, replies: dict[str, dict]) -> None:
    await serve_app(build(replies), host, port)


async def serve_app(app: web.Application, host: str, port: int) -> None:
    """Serve an app until SIGTERM or SIGINT (shared with bare_fanout)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port, reuse_address=True).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bare_app", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--replies", type=Path, required=True, help="JSON file: path -> {body (base64), headers}")
    args = p.parse_args()
    asyncio.run(serve(args.host, args.port, json.loads(args.replies.read_text())))


if __name__ == "__main__":
    main()
