"""`helios-emulator record --target URL`: a proxy between a client and a real device that writes
every exchange to a recording (the format and what is removed from it: emulator/recording.py).

The client talks to the proxy as it would to the device, with its own credentials: requests go
to the device unchanged (path, query, body, Authorization), replies come back unchanged and as
they arrive (long polls wait, MJPEG streams flow), and each exchange is written once it ends,
secrets removed, bodies kept up to --max-body bytes. `helios-emulator --replay FILE` answers from
the file what the emulator's model does not answer itself.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import json
import ssl
import sys
from pathlib import Path
from time import perf_counter
from typing import IO, Any
from collections.abc import Sequence
from urllib.parse import parse_qsl, urlsplit

import aiohttp
from aiohttp import hdrs, web

from emulator import recording

DEFAULT_MAX_BODY = 1024 * 1024
# Hop-by-hop headers (RFC 9110 7.6.1) and what aiohttp sets itself: never forwarded.
HOP_BY_HOP = frozenset(h.lower() for h in (
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding", "Upgrade", "Host",
    "Content-Length", "Proxy-Authorization", "Proxy-Authenticate"))
REQUEST_LIMIT = 65 * 1024 * 1024  # the largest body the device takes (a firmware image)


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Recorder:
    """The proxy: an aiohttp server whose one handler forwards to the target with aiohttp's client."""

    def __init__(self, target: str, out: IO[str], max_body: int = DEFAULT_MAX_BODY, insecure: bool = False):
        self.target = target.rstrip("/")
        self.out = out
        self.max_body = max_body
        self.insecure = insecure
        self.seq = 0
        self.session: aiohttp.ClientSession | None = None
        out.write(json.dumps({"recording": recording.FORMAT, "version": recording.VERSION,
                              "target": recording.public_url(self.target), "started": _now()}) + "\n")
        out.flush()

    def app(self) -> web.Application:
        app = web.Application(client_max_size=REQUEST_LIMIT, handler_args={"auto_decompress": False})
        app.router.add_route("*", "/{tail:.*}", self.forward)
        app.on_startup.append(self._open)
        app.on_cleanup.append(self._close)
        return app

    async def _open(self, app: web.Application) -> None:
        context: Any = None
        if self.insecure:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        # No total timeout: long polls and MJPEG streams last as long as the client wants.
        self.session = aiohttp.ClientSession(auto_decompress=False, timeout=aiohttp.ClientTimeout(
            total=None, sock_connect=15), connector=aiohttp.TCPConnector(ssl=context))

    async def _close(self, app: web.Application) -> None:
        if self.session is not None:
            await self.session.close()

    async def forward(self, request: web.Request) -> web.StreamResponse:
        assert self.session is not None
        started = perf_counter()
        at = _now()
        body = await request.read()
        headers = [(k, v) for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP]
        status, content_type, kept, size, truncated = None, "", bytearray(), 0, False
        response: web.StreamResponse | None = None
        try:
            async with self.session.request(request.method, self.target + request.raw_path, headers=headers,
                                            data=body or None, allow_redirects=False) as upstream:
                status, content_type = upstream.status, upstream.headers.get(hdrs.CONTENT_TYPE, "")
                response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
                for key, value in upstream.headers.items():
                    if key.lower() not in HOP_BY_HOP or key.lower() == "content-length":
                        response.headers.add(key, value)
                await response.prepare(request)
                async for chunk in upstream.content.iter_chunked(64 * 1024):
                    await response.write(chunk)
                    size += len(chunk)
                    room = self.max_body - len(kept)
                    kept += chunk[:max(room, 0)]
                    truncated = truncated or len(chunk) > room
                await response.write_eof()
        except (TimeoutError, aiohttp.ClientError, OSError) as exc:
            if response is None:  # no reply from the device: recorded with status null, 502 to the client
                note = str(exc) or type(exc).__name__
                self._write(request, body, at, started, None, "", b"", 0, False, note=note)
                return web.Response(status=502, text=f"the device did not answer: {note}")
        self._write(request, body, at, started, status, content_type, bytes(kept), size, truncated)
        return response

    def _write(self, request: web.Request, body: bytes, at: str, started: float, status: int | None,
               content_type: str, reply: bytes, size: int, truncated: bool, note: str | None = None) -> None:
        self.seq += 1
        params = dict(parse_qsl(request.query_string, keep_blank_values=True))
        item: dict[str, Any] = {"seq": self.seq, "at": at, "ms": round((perf_counter() - started) * 1000, 1),
                                "method": request.method, "path": request.path}
        request_type = request.headers.get(hdrs.CONTENT_TYPE, "")
        if body and request_type.startswith("application/x-www-form-urlencoded"):
            params.update(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        elif body and "json" in request_type:
            try:
                item["json"] = recording.scrub_json(json.loads(body))
            except ValueError:
                item["json_invalid"] = len(body)
        elif body and request_type.startswith("multipart/"):
            item["parts"] = _parts(body, request_type)
        elif body:
            item["body_size"] = len(body)
        item["params"] = recording.scrub_params(params)
        authorization = request.headers.get(hdrs.AUTHORIZATION, "")
        item["auth"] = authorization.split(" ", 1)[0].lower() or None
        item["status"] = status
        if status is not None:
            item["type"] = content_type
            item.update(recording.body_fields(reply, content_type))
            item["size"] = size
            if truncated:
                item["truncated"] = True
        if note:
            item["error"] = note
        self.out.write(json.dumps(item, ensure_ascii=False) + "\n")
        self.out.flush()


def _parts(body: bytes, content_type: str) -> dict[str, int]:
    """The names and sizes of a multipart body's parts (their contents are not kept)."""
    boundary = content_type.partition("boundary=")[2].strip('"').encode()
    parts: dict[str, int] = {}
    for chunk in body.split(b"--" + boundary)[1:] if boundary else ():
        head, _, data = chunk.partition(b"\r\n\r\n")
        name = head.partition(b'name="')[2].partition(b'"')[0].decode("utf-8", "replace")
        if name:
            parts[name] = max(len(data) - 2, 0)  # less the CRLF before the next boundary
    return parts


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="helios-emulator record",
        description="Proxy a client to a real 2N device and record every exchange (secrets removed) for "
                    "helios-emulator --replay FILE.")
    p.add_argument("--target", required=True, help="the device, e.g. https://192.168.1.50")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8080, help="port to listen on (default 8080; 0 = any)")
    p.add_argument("-o", "--output", type=Path, default=Path("recording.jsonl"),
                   help="the recording (default recording.jsonl; appended to)")
    p.add_argument("--insecure", action="store_true", help="accept the device's self-signed HTTPS certificate")
    p.add_argument("--max-body", type=int, default=DEFAULT_MAX_BODY,
                   help=f"bytes of each reply body kept (default {DEFAULT_MAX_BODY})")
    return p


def main(argv: Sequence[str]) -> None:
    args = parser().parse_args(argv)
    if not urlsplit(args.target).scheme:
        args.target = "http://" + args.target
    if args.max_body < 0:
        raise SystemExit("helios-emulator record: --max-body is 0 or more")
    with args.output.open("a", encoding="utf-8") as out:
        recorder = Recorder(args.target, out, args.max_body, args.insecure)
        asyncio.run(_serve(recorder, args.host, args.port, args.output))


async def start(recorder: Recorder, host: str = "127.0.0.1", port: int = 0) -> tuple[web.AppRunner, int]:
    """Start the proxy; returns its runner (cleanup() stops it) and the port it listens on."""
    runner = web.AppRunner(recorder.app(), access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    sockets = site._server.sockets if site._server is not None else []  # type: ignore[attr-defined]
    return runner, sockets[0].getsockname()[1] if sockets else port


async def _serve(recorder: Recorder, host: str, port: int, output: Path) -> None:
    try:
        runner, bound = await start(recorder, host, port)
    except OSError as exc:
        raise SystemExit(f"helios-emulator record: cannot listen: {exc}") from None
    print(f"record: http://{host}:{bound} -> {recorder.target}, writing {output} (Ctrl-C ends)",
          file=sys.stderr, flush=True)
    from emulator.cli import stop_signal  # the command line imports this module

    stop = stop_signal()
    try:
        await stop.wait()
    finally:
        await runner.cleanup()
        print(f"record: {recorder.seq} exchange(s) recorded", file=sys.stderr)
