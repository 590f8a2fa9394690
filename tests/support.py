"""Small helpers the test modules share (importable because tests/ holds the root conftest)."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from typing import Any

import aiohttp


def form(multipart: bool = True, **fields: object) -> aiohttp.FormData:
    """A form body; bytes values go in as file parts (blob-*), the rest as plain fields."""
    data = aiohttp.FormData(default_to_multipart=multipart)
    for name, value in fields.items():
        if isinstance(value, bytes):
            data.add_field(name, value, filename=f"{name}.bin", content_type="application/octet-stream")
        else:
            data.add_field(name, str(value))
    return data


async def raw_http(port: int, request: bytes, host: str = "127.0.0.1") -> tuple[int, dict[str, str], bytes]:
    """Send bytes no HTTP client would (a header that is not UTF-8, say) and read the reply; the
    request should ask for `Connection: close`."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(request)
        await writer.drain()
        reply = await reader.read()
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, body


def get_with(path: str, *headers: bytes) -> bytes:
    """A GET with extra raw header lines, closing the connection after the reply."""
    return b"\r\n".join([f"GET {path} HTTP/1.1".encode(), b"Host: emulator", b"Connection: close", *headers]) + \
        b"\r\n\r\n"


class Process:
    """`python -m emulator ARGS` as a user runs it, on free ports, in a child process; its URL read
    from its start-up line. Stop it with stop() (SIGTERM) or kill it with kill()."""

    def __init__(self, *args: str, env: dict[str, str] | None = None, preexec_fn: Any = None):
        self.args = ["--port", "0", "--no-https", "--rtsp-port", "0", *args]
        self.process = subprocess.Popen([sys.executable, "-m", "emulator", *self.args],
                                         env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
                                         stderr=subprocess.PIPE, text=True, preexec_fn=preexec_fn)
        self.log: list[str] = []
        deadline = time.monotonic() + 30
        while True:
            assert time.monotonic() < deadline, "the emulator did not start:\n" + "".join(self.log)
            line = self.process.stderr.readline()  # type: ignore[union-attr]
            if not line:
                raise AssertionError("the emulator stopped:\n" + "".join(self.log))
            self.log.append(line)
            match = re.search(r" on (http://[^\s,;(]+)", line)
            if "emulating a" in line and match:
                self.url = match.group(1)
                self.port = int(self.url.rsplit(":", 1)[1])
                return

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> str:
        """SIGTERM; the rest of what it logged."""
        self.process.terminate()
        _, rest = self.process.communicate(timeout=30)
        self.log.append(rest)
        return "".join(self.log)


def fails_to_start(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run `python -m emulator ARGS` that is expected to stop at once: its exit code and stderr."""
    done = subprocess.run([sys.executable, "-m", "emulator", "--port", "0", "--no-https", "--rtsp-port", "0", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=30)
    return done.returncode, done.stderr
