"""Small helpers the test modules share (importable because tests/ holds the root conftest)."""

from __future__ import annotations

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
