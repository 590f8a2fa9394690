"""How one emulator instance is set up: what the command line (or the test fixture) chose."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from emulator.device.profile import DEFAULT_PROFILE
from emulator.device.security import Account, parse_privileges


@dataclass
class Settings:
    host: str = "127.0.0.1"
    port: int = 8080  # 0 = any free port
    https_port: int | None = 8443  # None = no HTTPS listener; 0 = any free port
    # RTSP (live H.264): None = no RTSP listener, 0 = any free port. Off unless asked for here (the
    # command line's default is 8554), so emulators started from Python never fight over a port.
    rtsp_port: int | None = None
    profile: str = DEFAULT_PROFILE  # a shipped profile name or a path to a TOML file
    auth: str | None = None  # none | basic | digest: every service at once
    users: list[Account] | None = None  # replaces the profile's accounts
    licence: bool = True
    state_dir: Path | None = None
    tls_cert: Path | None = None
    tls_key: Path | None = None
    clock: str = "real"  # real | virtual
    control_token: str | None = None
    smtp: str | None = None  # host:port, overrides the profile
    scenario: Path | None = None
    seed: int | None = None
    journal_size: int = 1000
    extra_hosts: list[str] = field(default_factory=list)  # more names for the certificate


def parse_user(text: str) -> Account:
    """NAME:PASSWORD[:PRIV,...] (the password cannot contain ":"); with no privileges listed the
    account has all of them."""
    if ":" not in text or text.startswith(":"):
        raise ValueError(f"expected NAME:PASSWORD[:PRIV,...], got {text!r}")
    name, password, *rest = text.split(":", 2)
    privileges = rest[0].split(",") if rest and rest[0].strip() else ["all"]
    return Account(name=name, password=password, privileges=parse_privileges(privileges))
