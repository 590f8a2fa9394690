"""The device's whole state as JSON: read it, put it back, reset it, and keep it on disk.

`snapshot()` is everything a test may want to look at. Its "config" part is what a user configures:
the device's configuration file (the same XML as /api/config: device name, switches, SIP accounts,
services, API accounts, directory, time zone), the installed firmware version and the display
image. `restore()` puts a snapshot back, and the StateStore writes the "config" part
to --state-dir (atomically) after every change, so nothing a user configured is lost when the
emulator restarts.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.device import config as device_config
from emulator.device.certs import Certificates
from emulator.device.profile import version_tuple
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator
    from emulator.device.device import Device

log = logging.getLogger("emulator.state")
STATE_FILE = "config.json"
FORMAT = 1


class StateError(ValueError):
    pass


# ----------------------------------------------------------------------------- read


def config(device: Device) -> dict[str, Any]:
    """What the user configured: the device's own configuration file (the XML of /api/config),
    plus what that file does not carry: the installed firmware, the display image and the
    certificates (cert/ca, cert/user)."""
    image = device.display.image if device.display is not None else None
    return {"format": FORMAT, "swVersion": device.identity.sw_version,
            "configXml": device_config.export(device).decode(),
            "displayImage": base64.b64encode(image).decode() if image else None,
            "certificates": device.certificates.export()}


def snapshot(emulator: Emulator) -> dict[str, Any]:
    device = emulator.device
    ident = device.identity
    return {
        "profile": emulator.profile.name,
        "online": device.online,
        "uptime": device.uptime,
        "time": device.now(),
        "bootUuid": device.boot_uuid,
        "identity": {"variant": ident.variant, "serialNumber": ident.serial_number, "hwVersion": ident.hw_version,
                     "swVersion": ident.sw_version, "macAddr": ident.mac_address, "deviceName": ident.device_name},
        "licences": sorted(device.licences),
        "config": config(device),
        "switches": [{"switch": s.number, "active": s.active, "locked": s.locked, "held": s.held}
                     for s in device.switches],
        "ports": [{"port": p.name, "type": p.type, "state": p.state} for p in device.ports],
        "registrations": [{"account": a.account, "registered": a.registered} for a in device.phone.accounts],
        "calls": [{"session": s.session, "call": s.call, "direction": s.direction, "peer": s.peer, "state": s.state}
                  for s in device.phone.sessions.values()],
        "channels": len(device.channels),
        "events": [e.to_dict() for e in list(device.events.history)[-50:]],
        "outbox": [m.summary() for m in device.outbox.messages],
        "motion": device.motion,
        "noise": device.noise,
    }


# ----------------------------------------------------------------------------- write


def apply_config(device: Device, data: dict[str, Any]) -> None:
    """Put a "config" part back. Everything is checked before anything changes."""
    try:
        version = data.get("swVersion", device.identity.sw_version)
        version_tuple(version)
        changes = device_config.parse(device, data["configXml"].encode()) if "configXml" in data else None
        image = data.get("displayImage")
        image = None if image is None else base64.b64decode(image, validate=True)
        certificates = Certificates.restore(data["certificates"]) if "certificates" in data else None
    except (AttributeError, KeyError, TypeError, ValueError, ApiError) as exc:
        raise StateError(f"config: {exc}") from None
    if version != device.identity.sw_version:
        device.install(version)
    if device.display is not None:
        device.display.image = image
    if certificates is not None:
        device.certificates = certificates
    if changes is not None:
        device_config.apply(device, changes)  # also marks the device changed
    device.changed()


def restore(emulator: Emulator, data: dict[str, Any]) -> None:
    """Put a snapshot back: its configuration, then switch, port and registration states (through
    the model, so the events a change causes are raised)."""
    device = emulator.device
    if not isinstance(data, dict):
        raise StateError("expected a state object")
    if "config" in data:
        apply_config(device, data["config"])
    try:
        for s in data.get("switches", []):
            switch = device.switches.get(int(s["switch"]))
            if s.get("locked") != switch.locked:
                switch.lock() if s.get("locked") else switch.unlock()
            if s.get("held") != switch.held:
                switch.hold() if s.get("held") else switch.release()
            if bool(s.get("active")) != switch.active and not switch.locked:
                switch.on() if s.get("active") else switch.off()
        for p in data.get("ports", []):
            port = device.ports.get(p["port"])
            if port.is_output:
                device.ports.set_output(port.name, bool(p["state"]))
            else:
                device.ports.set_input(port.name, bool(p["state"]))
        for r in data.get("registrations", []):
            account = device.phone.account(int(r["account"]))
            if bool(r["registered"]) != account.registered:
                device.phone.set_registration(account.account, "registered" if r["registered"] else "unregistered")
    except (KeyError, TypeError, ValueError, ApiError) as exc:
        raise StateError(f"state: {exc}") from None


# ----------------------------------------------------------------------------- disk


class StateStore:
    """The configuration in --state-dir: loaded at start, written after each change."""

    def __init__(self, directory: Path, device: Device):
        self.path = directory / STATE_FILE
        self.device = device
        self._pending: asyncio.TimerHandle | None = None
        self._saved_version = -1

    def load(self) -> bool:
        if not self.path.is_file():
            return False
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            apply_config(self.device, data)
        except (OSError, ValueError) as exc:
            # Never start with half a configuration, and never throw the user's file away.
            raise StateError(f"{self.path}: cannot use the saved configuration: {exc}") from None
        self._saved_version = self.device.config_version
        return True

    def changed(self) -> None:
        """Save soon (changes often come in bursts; one write covers them)."""
        if self._pending is None:
            self._pending = asyncio.get_running_loop().call_later(0.05, self.save)

    def save(self) -> None:
        self._pending = None
        if self.device.config_version == self._saved_version:
            return
        data = json.dumps(config(self.device), indent=2).encode()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)  # atomic: the old file or the new one, never half of one
        except OSError:
            log.exception("cannot save the configuration to %s", self.path)
            Path(tmp).unlink(missing_ok=True)
            return
        self._saved_version = self.device.config_version

    def flush(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        self.save()
