"""Time zones of system/timezone: IANA names and the custom rule of `zone=custom`.

A custom rule comes in one of two forms:

- `UTC-08:00`, `UTC+03:00` (also with the minus sign U+2212): the form 2N's manual gives for
  `custom` (5.1.7, "Define the zone by writing UTC−08:00, UTC+03:00"), a fixed offset east (+)
  or west (-) of UTC;
- a POSIX TZ rule, such as `UTC0` or `CET-1CEST,M3.5.0,M10.5.0/3`, which is how the device's
  web interface takes a custom time-zone rule ("Custom Rule", configuration manual 5.6.2), with
  daylight-saving changes. In a POSIX rule the sign is the other way round (`CET-1` is one hour
  east), so only the manual's exact `UTC±HH:MM` form is read as an offset east/west.

The POSIX rule is handed to the standard library's zoneinfo, which implements POSIX TZ strings
for the footer of TZif files (RFC 8536): the rule is wrapped in a TZif file with no transitions,
so zoneinfo both checks it strictly and applies it for every date.
"""

from __future__ import annotations

import datetime
import functools
import io
import re
import struct
import zoneinfo

MAX_RULE = 64  # longer than any rule of the tz database's zones
_OFFSET = re.compile(r"UTC([+\-\u2212])(\d\d):(\d\d)")
# A TZif header (RFC 8536 3.1) for version 2 with no transitions, one local time type (UTC) and
# its designation "UTC": readers take the footer's TZ string for all times.
_TZIF_HEADER = b"TZif2" + bytes(15)
_TZIF_BLOCK = struct.pack(">6l", 0, 0, 0, 0, 1, 4) + struct.pack(">lBB", 0, 0, 0) + b"UTC\0"


@functools.lru_cache(maxsize=64)
def custom(rule: str) -> datetime.tzinfo:
    """The zone of a custom rule; ValueError when it is neither form."""
    if not rule or len(rule) > MAX_RULE:
        raise ValueError(f"not a time-zone rule: {rule!r}")
    offset = _OFFSET.fullmatch(rule)
    if offset is not None:
        sign, hours, minutes = offset.groups()
        delta = datetime.timedelta(hours=int(hours), minutes=int(minutes))
        if int(minutes) >= 60 or delta > datetime.timedelta(hours=14):
            raise ValueError(f"offset out of range: {rule!r}")
        return datetime.timezone(delta if sign == "+" else -delta)
    if not rule.isascii() or any(c.isspace() for c in rule):
        raise ValueError(f"not a time-zone rule: {rule!r}")
    tzif = _TZIF_HEADER + _TZIF_BLOCK + _TZIF_HEADER + _TZIF_BLOCK + b"\n" + rule.encode() + b"\n"
    return zoneinfo.ZoneInfo.from_file(io.BytesIO(tzif), key=rule)


def named(zone: str) -> datetime.tzinfo:
    return zoneinfo.ZoneInfo(zone)


def shift(tz: datetime.tzinfo, when: float) -> int:
    """Minutes the zone is ahead of UTC at a moment (an event's tzShift)."""
    offset = datetime.datetime.fromtimestamp(when, tz).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0
