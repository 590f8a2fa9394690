"""HTTP API security settings of the device: services, accounts, privileges, login blocking.

This is configuration and state only; checking a request against it is the API layer's job.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum
from collections.abc import Callable, Iterable

from emulator.device.clock import Clock


class Privilege(Enum):
    """The privileges of an API account (manual, chapter 4), with their command-line names."""

    label: str

    def __new__(cls, token: str, label: str) -> Privilege:
        member = object.__new__(cls)
        member._value_ = token
        member.label = label
        return member

    SYSTEM = "system", "System Control"
    SWITCH_MONITORING = "switch-monitoring", "Switch Monitoring"
    SWITCH_CONTROL = "switch-control", "Switch Control"
    IO_MONITORING = "io-monitoring", "I/O Monitoring"
    IO_CONTROL = "io-control", "I/O Control"
    CALL_MONITORING = "call-monitoring", "Call Monitoring"
    CALL_CONTROL = "call-control", "Call Control"
    CAMERA = "camera", "Camera Monitoring"
    DISPLAY = "display", "Display Control"
    AUDIO = "audio", "Audio Control"
    EMAIL = "email", "E-mail Control"
    KEYPAD = "keypad", "Keypad Monitoring"
    UID = "uid", "UID Monitoring"
    AUTOMATION = "automation", "Access to Automation"  # automation/trigger (manual 5.19.1)


ALL_PRIVILEGES = frozenset(p.value for p in Privilege)


def parse_privileges(names: Iterable[str]) -> frozenset[str]:
    """Privilege tokens from a profile or `--user NAME:PW:a,b`; "all" means every privilege."""
    out: set[str] = set()
    for name in names:
        token = name.strip().lower()
        if token == "all":
            out |= ALL_PRIVILEGES
        elif token in ALL_PRIVILEGES:
            out.add(token)
        elif token:
            raise ValueError(f"unknown privilege {name!r}; known: all, {', '.join(sorted(ALL_PRIVILEGES))}")
    return frozenset(out)


@dataclass(frozen=True)
class Service:
    enabled: bool
    transport: str  # "http" (HTTP and HTTPS allowed) or "https" (TLS required)
    auth: str  # "none", "basic" or "digest"


@dataclass(frozen=True)
class Account:
    name: str
    password: str
    privileges: frozenset[str]


class Security:
    """Services, accounts and the login-failure tracker of one device.

    `services` and `accounts` are what the device is configured with (what /api/config and the
    state directory keep). The command line may override them for this run (`--auth`, `--user`):
    `service()` and `account()` answer with the override, the configuration stays as it was.
    """

    def __init__(self, clock: Clock, services: dict[str, Service], accounts: list[Account],
                 attempts: int, block_seconds: float, on_blocked: Callable[[str], None]):
        self.clock = clock
        self.services = dict(services)
        self.accounts = list(accounts)
        self.auth_override: str | None = None
        self.accounts_override: list[Account] | None = None
        self._overridden: dict[Service, Service] = {}  # service -> the same with auth_override
        self.attempts = attempts
        self.block_seconds = block_seconds
        self._on_blocked = on_blocked
        self._failures: dict[str, list[float]] = {}
        self._blocked_until: dict[str, float] = {}

    def service(self, name: str) -> Service:
        """The service as requests see it (with the command line's --auth)."""
        service = self.services[name]
        override = self.auth_override
        if override is None or service.auth == override:
            return service
        effective = self._overridden.get(service)
        if effective is None or effective.auth != override:
            effective = self._overridden[service] = replace(service, auth=override)
        return effective

    def account(self, name: str) -> Account | None:
        """The account of that name that may log in (the command line's --user accounts, if any)."""
        for account in self.accounts if self.accounts_override is None else self.accounts_override:
            if account.name == name:
                return account
        return None

    # -- login blocking ------------------------------------------------------------------

    def is_blocked(self, address: str) -> bool:
        until = self._blocked_until.get(address)
        if until is None:
            return False
        if self.clock.monotonic() >= until:
            del self._blocked_until[address]
            return False
        return True

    def login_failed(self, address: str) -> bool:
        """Count a failed login; True when this failure blocks the address."""
        now = self.clock.monotonic()
        window = [t for t in self._failures.get(address, ()) if now - t < self.block_seconds]
        window.append(now)
        if len(window) >= self.attempts:
            self._failures.pop(address, None)
            self._blocked_until[address] = now + self.block_seconds
            self._on_blocked(address)
            return True
        self._failures[address] = window
        if len(self._failures) > 4096:  # bounded: forget the oldest addresses
            for stale in list(self._failures)[:1024]:
                del self._failures[stale]
        return False

    def login_succeeded(self, address: str) -> None:
        self._failures.pop(address, None)
