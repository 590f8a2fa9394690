"""How one emulator instance is set up: what the command line (or the test fixture) chose."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emulator.device.profile import DEFAULT_PROFILE
from emulator.device.security import Account, parse_privileges


@dataclass
class Settings:
    """Every field has a default; the HTTP and HTTPS ports' are 0 (any free port: an emulator made in
    Python, by `running()` or the pytest fixture, never collides with another), the command line's
    are 8080 and 8443; RTSP is off unless asked for."""

    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port (the command line's default is 8080)
    https_port: int | None = 0  # None = no HTTPS listener; 0 = any free port (the command line's: 8443)
    # RTSP (live H.264): None = no RTSP listener, 0 = any free port. Off unless asked for (the command
    # line's default is 8554; `running()` and the pytest fixture ask for a free port).
    rtsp_port: int | None = None
    profile: str = DEFAULT_PROFILE  # a shipped profile name or a path to a TOML file
    auth: str | None = None  # none | basic | digest: every service at once
    users: list[Account] | None = None  # replaces the profile's accounts
    licence: bool = True
    quirks: bool = True  # False: the profile's firmware quirks are off (--no-quirks)
    state_dir: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    clock: str = "real"  # real | virtual
    control_token: str | None = None  # the control plane needs `Authorization: Bearer <token>`
    control_open: bool = False  # without a token: every client may use the control plane, not only loopback
    smtp: str | None = None  # host:port, overrides the profile
    scenario: Path | None = None
    seed: int | None = None
    journal_size: int = 1000  # entries the journal keeps at most
    journal_bytes: int = 64 * 1024 * 1024  # and about this many bytes at most
    max_connections: int = 4096  # open connections at most (and below the process's file limit)
    header_timeout: float = 10.0  # seconds a new connection has to send its first request's head
    idle_timeout: float = 75.0  # seconds a keep-alive connection may wait for its next request
    replay: Path | None = None  # a recording answering what the model does not (else the profile's [replay])
    extra_hosts: list[str] = field(default_factory=list)  # more names for the certificate


def parse_user(text: str) -> Account:
    """NAME:PASSWORD[:PRIV,...] (the password cannot contain ":"); with no privileges listed the
    account has all of them."""
    if ":" not in text or text.startswith(":"):
        raise ValueError(f"expected NAME:PASSWORD[:PRIV,...], got {text!r}")
    name, password, *rest = text.split(":", 2)
    privileges = rest[0].split(",") if rest and rest[0].strip() else ["all"]
    return Account(name=name, password=password, privileges=parse_privileges(privileges))
