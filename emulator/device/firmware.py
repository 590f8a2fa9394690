"""Firmware images and the upload -> apply (or reject) flow.

A real 2N image is an opaque signed blob. The emulator accepts its own documented format so a
test can upgrade or downgrade the device: the image starts with one text line

    2N-FIRMWARE <hwVersion> <swVersion>

for example `2N-FIRMWARE 570v1 2.51.0.80.1`, and may carry any bytes after it. An image for
another board, or anything else, is "corrupted or not intended for your device": error 12.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from emulator.device.clock import Timer
from emulator.device.profile import version_tuple
from emulator.errors import invalid

MAGIC = b"2N-FIRMWARE "
_HEAD = re.compile(rb"^2N-FIRMWARE ([0-9A-Za-z]+) (\d+\.\d+\.\d+\.\d+\.\d+)\r?\n")


@dataclass
class Upload:
    file_id: str
    version: str
    downgrade: bool
    note: str
    timer: Timer | None = None


def parse(blob: bytes, hw_version: str, current: str, file_id: str, param: str = "blob-fw") -> Upload:
    match = _HEAD.match(blob[:200])
    if match is None or match.group(1).decode() != hw_version:
        raise invalid(param)
    version = match.group(2).decode()
    downgrade = version_tuple(version) < version_tuple(current)
    note = "downgrade" if downgrade else ""
    return Upload(file_id=file_id, version=version, downgrade=downgrade, note=note)


def image(hw_version: str, sw_version: str, size: int = 4096) -> bytes:
    """A valid image for the given board and version (for tests and the control plane)."""
    head = MAGIC + f"{hw_version} {sw_version}\n".encode()
    return head + bytes(max(0, size - len(head)))
