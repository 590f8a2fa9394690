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
from emulator.device.certs import Certificates
from emulator.device.profile import SERVICES, SW_VERSION
from emulator.device.security import Account
from emulator.errors import ApiError, did_you_mean
from emulator.media.frames import fits_display

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
    plus what that file does not carry: the installed firmware, the display image and the
    certificates (cert/ca, cert/user)."""
    image = device.display.image if device.display is not None else None
    return {"format": FORMAT, "swVersion": device.identity.sw_version,
            "configXml": device_config.export(device, hide_passwords).decode(),
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


def summary(emulator: Emulator) -> dict[str, Any]:
    """The device in words, for people and the front panel: what it is, where it listens, which
    services need what, its hardware and what it is doing now. Account names and privileges, never
    a password (nor the configuration file, which holds them)."""
    device = emulator.device
    ident = device.identity
    profile = device.profile
    camera = profile.camera
    accounts = device.security.accounts_override or device.security.accounts
    return {
        "model": ident.variant, "firmware": ident.sw_version, "name": ident.device_name, "profile": profile.name,
        "description": profile.description, "serialNumber": ident.serial_number, "hwVersion": ident.hw_version,
        "macAddr": ident.mac_address, "online": device.online, "uptime": device.uptime, "time": device.now(),
        "clock": emulator.clock_status(), "listeners": emulator.urls, "controlToken": bool(emulator.settings.control_token),
        "services": [{"service": name, **dataclasses.asdict(device.security.service(name))} for name in SERVICES],
        "accounts": [{"name": a.name, "privileges": sorted(a.privileges)} for a in accounts],
        "licences": sorted(device.licences),
        "hardware": {
            "buttons": profile.hardware.buttons, "keypad": profile.hardware.keypad,
            "cardReader": profile.hardware.card_reader, "tamper": profile.hardware.tamper,
            "microphone": profile.hardware.microphone, "door": profile.door.input,
            "camera": None if camera is None else {"sources": list(camera.sources),
                                                   "resolutions": [str(r) for r in camera.resolutions]},
            "display": None if device.display is None else {"width": device.display.width,
                                                            "height": device.display.height,
                                                            "image": device.display.image is not None}},
        "switches": [{"switch": s.number, "enabled": s.config.enabled, "mode": s.config.mode,
                      "duration": s.config.duration, "output": s.config.output, "active": s.active,
                      "locked": s.locked, "held": s.held} for s in device.switches],
        "ports": [{"port": p.name, "type": p.type, "state": p.state} for p in device.ports],
        "registrations": [{"account": a.account, "number": a.number, "domain": a.domain, "registered": a.registered}
                          for a in device.phone.accounts],
        "calls": [{"session": c.session, "direction": c.direction, "peer": c.peer, "state": c.state}
                  for c in device.phone.sessions.values()],
        "motion": device.motion, "noise": device.noise, "channels": len(device.channels),
    }


# ----------------------------------------------------------------------------- write


# What PUT /_emulator/state takes: per key, the keys of its items (or of itself); the snapshot's
# other keys describe the device (they are accepted, so a snapshot goes back as it came, and ignored).
WRITABLE = {"config": {"format", "swVersion", "configXml", "displayImage", "certificates"},
            "switches": {"switch", "active", "locked", "held"},
            "ports": {"port", "type", "state"},
            "registrations": {"account", "registered"}}
READ_ONLY = {"profile", "online", "uptime", "time", "bootUuid", "identity", "licences", "calls", "channels",
             "events", "outbox", "motion", "noise"}


def apply_config(device: Device, data: dict[str, Any], hidden_passwords: bool = False) -> None:
    """Put a "config" part back. Everything is checked before anything changes. With
    `hidden_passwords` (a snapshot's), a password "***" keeps the account's current one."""
    try:
        _known_keys("config", data, WRITABLE["config"])
        version = data.get("swVersion", device.identity.sw_version)
        if not isinstance(version, str) or not SW_VERSION.match(version):
            raise ValueError(f"swVersion: {version!r} is not a firmware version like 2.50.0.76.2")
        changes = device_config.parse(device, data["configXml"].encode()) if "configXml" in data else None
        if hidden_passwords and changes is not None and changes.accounts is not None:
            changes.accounts = [_with_password(device, account) for account in changes.accounts]
        image = data.get("displayImage")
        image = None if image is None else base64.b64decode(image, validate=True)
        if image is not None and (device.display is None or
                                  not fits_display(image, device.display.width, device.display.height)):
            raise ValueError("displayImage: not a GIF of the display's size" if device.display is not None
                             else "displayImage: this model has no display")
        certificates = Certificates.restore(data["certificates"]) if "certificates" in data else None
    except (AttributeError, KeyError, TypeError, ValueError, OverflowError, ApiError) as exc:
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
    _known_keys("state", data, WRITABLE.keys() | READ_ONLY)
    _check_items(device, data)  # all of it, before anything changes
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
    log.info("state put back: %s", ", ".join(sorted(data)) or "nothing")


def _known_keys(where: str, data: Any, known: Any) -> None:
    if not isinstance(data, dict):
        raise StateError(f"{where}: expected an object")
    for key in sorted(data):
        if key not in known:
            raise StateError(f"{where}: {key}: unknown key" + (did_you_mean(key, known) or
                                                                 f"; known: {', '.join(sorted(known))}"))


def _check_items(device: Device, data: dict[str, Any]) -> None:
    """The switches, ports and registrations of a state: known keys, the right types, things the
    device has (what the profile loader would accept)."""
    types = {"switch": int, "account": int, "port": str, "type": str, "active": bool, "locked": bool, "held": bool,
             "state": bool, "registered": bool}
    exists = {"switch": lambda n: 1 <= n <= len(device.switches), "port": lambda n: n in device.ports,
              "account": lambda n: 1 <= n <= len(device.phone.accounts)}
    for part in ("switches", "ports", "registrations"):
        items = data.get(part, [])
        if not isinstance(items, list):
            raise StateError(f"{part}: expected a list")
        for i, item in enumerate(items):
            where = f"{part}[{i}]"
            _known_keys(where, item, WRITABLE[part])
            for key, value in item.items():
                kind = types[key]
                if not isinstance(value, kind) or kind is int and isinstance(value, bool):
                    raise StateError(f"{where}.{key}: expected {'a number' if kind is int else kind.__name__}, "
                                     f"got {value!r}")
                if key in exists and not exists[key](value):
                    raise StateError(f"{where}.{key}: the device has no {key} {value!r}")
            key = {"switches": "switch", "ports": "port", "registrations": "account"}[part]
            if key not in item:
                raise StateError(f"{where}: {key}: missing")


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
