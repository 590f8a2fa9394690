"""The device's whole state as JSON: read it, put it back, reset it, and keep it on disk.

`snapshot()` is everything a test may want to look at. Its "config" part is what a user configures:
the device's configuration file (the same XML as /api/config: device name, switches, SIP accounts,
services, API accounts, directory, time zone), the installed firmware version and the display
image. Account passwords in it read "***" (the control plane may be reachable from elsewhere;
/api/config, which needs the System privilege, still has them), and "***" put back keeps the
account's password. `restore()` puts a snapshot back, and the StateStore writes the "config" part
to --state-dir (atomically) after every change, so nothing a user configured is lost when the
emulator restarts.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from emulator.device import config as device_config
from emulator.device.profile import version_tuple
from emulator.device.security import Account
from emulator.errors import ApiError

if TYPE_CHECKING:
    from emulator.app import Emulator
    from emulator.device.device import Device

log = logging.getLogger("emulator.state")
STATE_FILE = "config.json"
TEMP_PREFIX = ".config-"  # a save in progress: written in full, then renamed over STATE_FILE
FORMAT = 1


class StateError(ValueError):
    pass


# ----------------------------------------------------------------------------- read


def config(device: Device, hide_passwords: bool = False) -> dict[str, Any]:
    """What the user configured: the device's own configuration file (the XML of /api/config),
    plus what that file does not carry: the installed firmware and the display image."""
    image = device.display.image if device.display is not None else None
    return {"format": FORMAT, "swVersion": device.identity.sw_version,
            "configXml": device_config.export(device, hide_passwords).decode(),
            "displayImage": base64.b64encode(image).decode() if image else None}


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
        "config": config(device, hide_passwords=True),
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


def apply_config(device: Device, data: dict[str, Any], hidden_passwords: bool = False) -> None:
    """Put a "config" part back. Everything is checked before anything changes. With
    `hidden_passwords` (a snapshot's), a password "***" keeps the account's current one."""
    try:
        version = data.get("swVersion", device.identity.sw_version)
        version_tuple(version)
        changes = device_config.parse(device, data["configXml"].encode()) if "configXml" in data else None
        if hidden_passwords and changes is not None and changes.accounts is not None:
            changes.accounts = [_with_password(device, account) for account in changes.accounts]
        image = data.get("displayImage")
        image = None if image is None else base64.b64decode(image, validate=True)
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, ApiError) as exc:
        raise StateError(f"config: {exc}") from None
    if version != device.identity.sw_version:
        device.install(version)
    if device.display is not None:
        device.display.image = image
    if changes is not None:
        device_config.apply(device, changes)  # also marks the device changed
    device.changed()


def _with_password(device: Device, account: Account) -> Account:
    """A hidden password ("***" from a snapshot) keeps the password the account has now."""
    if account.password != device_config.HIDDEN:
        return account
    current = next((a for a in device.security.accounts if a.name == account.name), None)
    if current is None:
        raise StateError(f"account {account.name!r}: a hidden password (\"***\") can only keep the password of "
                         "an account the device has")
    return dataclasses.replace(account, password=current.password)


def restore(emulator: Emulator, data: dict[str, Any]) -> None:
    """Put a snapshot back: its configuration, then switch, port and registration states (through
    the model, so the events a change causes are raised)."""
    device = emulator.device
    if not isinstance(data, dict):
        raise StateError("expected a state object")
    if "config" in data:
        apply_config(device, data["config"], hidden_passwords=True)
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
    except (KeyError, TypeError, ValueError, OverflowError, ApiError) as exc:  # OverflowError: int(Infinity)
        raise StateError(f"state: {exc}") from None


# ----------------------------------------------------------------------------- disk


class StateStore:
    """The configuration in --state-dir: checked and loaded at start, written after each change.

    A change is written (whole file, fsync, atomic rename; about a millisecond) as the device
    makes it, so before the request that made it is answered: a change the API acknowledged
    survives the process being killed right after. The directory is checked at start (created if
    missing, a directory, writable), and what an interrupted save left behind is removed.
    """

    def __init__(self, directory: Path, device: Device):
        self.directory = directory
        self.path = directory / STATE_FILE
        self.device = device
        self._saved_version = -1
        self._saved: bytes | None = None  # what the file holds
        self._check()

    def _check(self) -> None:
        """StateError naming the directory and why it cannot be used."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
        except FileExistsError:
            raise StateError(f"state directory {self.directory}: it is a file, not a directory") from None
        except OSError as exc:
            raise StateError(f"state directory {self.directory}: cannot create it: {exc.strerror or exc}") from None
        try:
            for stale in self.directory.glob(TEMP_PREFIX + "*"):  # a save killed before its rename
                stale.unlink()
            fd, probe = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.directory)
            os.close(fd)
            os.unlink(probe)
        except OSError as exc:
            raise StateError(f"state directory {self.directory}: cannot write in it: {exc.strerror or exc}") from None

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
        """The device's configuration changed: save it now."""
        self.save()

    def save(self) -> None:
        version = self.device.config_version
        if version == self._saved_version:
            return
        data = json.dumps(config(self.device), indent=2).encode()
        if data != self._saved:  # a boot, say, changes nothing of what a user configured
            tmp = None
            try:
                fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.directory)
                with os.fdopen(fd, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                os.replace(tmp, self.path)  # atomic: the old file or the new one, never half of one
                _sync_directory(self.directory)  # and the rename itself survives a power cut
            except OSError as exc:
                log.error("cannot save the configuration to %s: %s", self.path, exc.strerror or exc)
                if tmp is not None:
                    Path(tmp).unlink(missing_ok=True)
                return
            self._saved = data
        self._saved_version = version

    def flush(self) -> None:
        self.save()


def _sync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return  # not every system opens a directory (nor needs to)
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
