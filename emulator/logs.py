"""Logging of the command line: text lines for people, or one JSON object per line for CI log
collectors (--log-format json).

What is logged, on stderr:
- emulator.requests (INFO): one line per /api request: client, method, path, HTTP status, 2N error
  code, account, faults applied, duration, how it ended and why it was refused;
- emulator.control (INFO): actions, faults added and removed, clock moves, state put back,
  resets, scenarios and their steps;
- emulator / emulator.device (INFO, WARNING): start-up, restarts, blocked addresses, SMTP
  failures.
A record's structured fields (`extra={"fields": {...}}`) become keys of its JSON object.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys

FORMATS = ("text", "json")
TEXT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """{"time", "level", "logger", "message", ...the record's fields}, one object per line."""

    def format(self, record: logging.LogRecord) -> str:
        data = {"time": datetime.datetime.fromtimestamp(record.created, datetime.UTC)
                .isoformat(timespec="milliseconds"),
                "level": record.levelname.lower(), "logger": record.name, "message": record.getMessage()}
        data.update(getattr(record, "fields", None) or {})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str, ensure_ascii=False)


def configure(level: str = "info", fmt: str = "text") -> None:
    """Log to stderr at `level` ("debug", "info", "warning", "error") in `fmt` ("text", "json")."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
