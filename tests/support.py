"""Small helpers the test modules share (importable because tests/ holds the root conftest)."""

from __future__ import annotations

import asyncio

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
