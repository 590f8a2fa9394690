"""The configuration file of /api/config: XML from the live state, and XML applied back to it.

Layout (the real section names past <Network> are not public; this one is self-consistent and
round-trips): <DeviceDatabase Version="4"> with Network, System, Phone, Switches, HttpApi and
Directory. Settings with a fixed set of values are numeric indexes counted from 0, as on the
device (2N FAQ). A partial file changes only the sections it contains. Anything unreadable is
rejected as a whole, so a bad upload never leaves half a configuration behind.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from lxml import etree

from emulator.device.calls import SipAccount
from emulator.device.directory import DirectoryUser
from emulator.device.profile import AUTH_METHODS, SERVICES, SWITCH_MODES, SWITCH_TYPES, TRANSPORTS
from emulator.device.security import Account, Service, parse_privileges
from emulator.device.switches import SwitchConfig
from emulator.errors import invalid

PARAM = "blob-cfg"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, remove_blank_text=True)


class ConfigError(Exception):
    pass


HIDDEN = "***"  # a password left out of an export (see export)


# ----------------------------------------------------------------------------- export


def export(device, hide_passwords: bool = False) -> bytes:
    """The configuration file; `hide_passwords` writes HIDDEN for every account's password (the
    control plane's state: readable by tests, not a way to learn the device's credentials)."""
    ident = device.identity
    hw = device.profile.hardware
    root = etree.Element("DeviceDatabase", Version="4")
    network = _sub(root, "Network")
    _leaf(network, "DhcpEnabled", 1)
    _leaf(network, "MacAddress", ident.mac_address)

    system = _sub(root, "System")
    _leaf(system, "DeviceName", ident.device_name)
    _leaf(system, "TimeZoneShift", device.events.tz_shift)

    phone = _sub(root, "Phone")
    for acc in device.phone.accounts:
        el = _sub(phone, "SipAccount", Id=str(acc.account))
        _leaf(el, "Enabled", int(acc.enabled))
        _leaf(el, "Number", acc.number)
        _leaf(el, "Domain", acc.domain)
        _leaf(el, "DisplayName", acc.display_name)
        _leaf(el, "RegistrationEnabled", int(acc.registration_enabled))

    switches = _sub(root, "Switches")
    for switch in device.switches:
        c = switch.config
        el = _sub(switches, "Switch", Id=str(switch.number))
        _leaf(el, "Enabled", int(c.enabled))
        _leaf(el, "Mode", SWITCH_MODES.index(c.mode))
        _leaf(el, "Duration", c.duration)
        _leaf(el, "Type", SWITCH_TYPES.index(c.type))
        _leaf(el, "Output", c.output)
        codes = _sub(el, "Codes")
        for code in c.codes:
            _leaf(codes, "Code", code)

    api = _sub(root, "HttpApi")
    for name, service in device.security.services.items():
        el = _sub(api, "Service", Name=name)
        _leaf(el, "Enabled", int(service.enabled))
        _leaf(el, "Transport", TRANSPORTS.index(service.transport))
        _leaf(el, "Auth", AUTH_METHODS.index(service.auth))
    for i, account in enumerate(device.security.accounts, start=1):
        el = _sub(api, "Account", Id=str(i))
        _leaf(el, "Name", account.name)
        _leaf(el, "Password", HIDDEN if hide_passwords else account.password)
        _leaf(el, "Privileges", ",".join(sorted(account.privileges)))

    directory = _sub(root, "Directory")
    for user in device.directory:
        el = _sub(directory, "User", Uuid=user.uuid)
        _leaf(el, "Name", user.name)
        _leaf(el, "Switch", user.switch)
        for tag, values in (("Peer", user.peers), ("Button", user.buttons), ("Card", user.cards),
                            ("Code", user.codes)):
            for value in values:
                _leaf(el, tag, value)
        if user.extra:  # what dir/* clients stored beyond the model's fields (e-mail, photo, ...)
            _leaf(el, "Extra", json.dumps(user.extra, sort_keys=True))

    head = (f"\n    Product name: {ident.variant}\n    Serial number: {ident.serial_number}\n"
            f"    Software version: {ident.sw_version}\n    Hardware version: {ident.hw_version}\n"
            f"    Bootloader version: {ident.bootloader_version}\n"
            f"        Display: {'Yes' if device.display is not None else 'No'}\n"
            f"        Card reader: {'Yes' if hw.card_reader else 'No'}\n")
    body = etree.tostring(root, encoding="UTF-8", xml_declaration=False, pretty_print=True)
    return b'<?xml version="1.0" encoding="UTF-8"?>\n<!--' + head.encode() + b"-->\n" + body


def _sub(parent, tag: str, **attrs: str):
    return etree.SubElement(parent, tag, **attrs)


def _leaf(parent, tag: str, value) -> None:
    etree.SubElement(parent, tag).text = str(value)


# ----------------------------------------------------------------------------- import


@dataclass
class _Changes:
    device_name: str | None = None
    tz_shift: int | None = None
    sip: list[SipAccount] | None = None
    switches: list[SwitchConfig] | None = None
    services: dict[str, Service] | None = None
    accounts: list[Account] | None = None
    users: list[DirectoryUser] | None = None


def parse(device, blob: bytes) -> _Changes:
    """Read and check a configuration file; raises 12 blob-cfg on anything wrong."""
    try:
        root = etree.fromstring(blob, _PARSER)
        if root.tag != "DeviceDatabase":
            raise ConfigError("root element is not DeviceDatabase")
        return _read(device, root)
    except (etree.XMLSyntaxError, ConfigError, ValueError, IndexError, TypeError):
        raise invalid(PARAM) from None


def apply(device, changes: _Changes) -> None:
    if changes.device_name is not None:
        device.rename(changes.device_name)
    if changes.tz_shift is not None:
        device.events.tz_shift = changes.tz_shift
    if changes.sip is not None:
        for new in changes.sip:
            old = device.phone.account(new.account)
            new.registered, new.register_time = old.registered, old.register_time
        device.phone.accounts[:] = changes.sip
    if changes.switches is not None:
        for switch, config in zip(device.switches, changes.switches, strict=True):
            switch.config = config
    if changes.services is not None:
        device.security.services.update(changes.services)
    if changes.accounts is not None:
        device.security.accounts = changes.accounts
    if changes.users is not None:
        device.directory.replace(changes.users)
    device.configured()


def _read(device, root) -> _Changes:
    changes = _Changes()
    system = root.find("System")
    if system is not None:
        if (name := system.findtext("DeviceName")) is not None:
            if not name.strip() or len(name) > 255:
                raise ConfigError("DeviceName")
            changes.device_name = name
        if (shift := system.findtext("TimeZoneShift")) is not None:
            changes.tz_shift = _int(shift, -720, 840)

    phone = root.find("Phone")
    if phone is not None:
        accounts = {a.account: a for a in device.phone.accounts}
        new = {n: dataclasses.replace(a, registered=False, register_time=0) for n, a in accounts.items()}
        for el in phone.findall("SipAccount"):
            number = _int(el.get("Id"), 1, len(accounts))
            acc = new[number]
            acc.enabled = _flag(el, "Enabled", acc.enabled)
            acc.number = el.findtext("Number", acc.number)
            acc.domain = el.findtext("Domain", acc.domain)
            acc.display_name = el.findtext("DisplayName", acc.display_name)
            acc.registration_enabled = _flag(el, "RegistrationEnabled", acc.registration_enabled)
        changes.sip = [new[n] for n in sorted(new)]

    switches = root.find("Switches")
    if switches is not None:
        configs = [SwitchConfig(**vars(s.config)) for s in device.switches]
        outputs = {p.name for p in device.ports if p.is_output}
        for el in switches.findall("Switch"):
            c = configs[_int(el.get("Id"), 1, len(configs)) - 1]
            c.enabled = _flag(el, "Enabled", c.enabled)
            c.mode = SWITCH_MODES[_int(el.findtext("Mode", str(SWITCH_MODES.index(c.mode))), 0, len(SWITCH_MODES) - 1)]
            c.duration = _int(el.findtext("Duration", str(c.duration)), 1, 86400)
            c.type = SWITCH_TYPES[_int(el.findtext("Type", str(SWITCH_TYPES.index(c.type))), 0, len(SWITCH_TYPES) - 1)]
            output = el.findtext("Output", c.output) or ""
            if output and output not in outputs:
                raise ConfigError("Output")
            c.output = output
            codes = el.find("Codes")
            if codes is not None:
                c.codes = [_code(code.text) for code in codes.findall("Code")]
        changes.switches = configs

    api = root.find("HttpApi")
    if api is not None:
        services = {}
        for el in api.findall("Service"):
            name = el.get("Name")
            if name not in SERVICES:
                raise ConfigError("Service")
            old = device.security.services[name]
            services[name] = Service(
                enabled=_flag(el, "Enabled", old.enabled),
                transport=TRANSPORTS[_int(el.findtext("Transport", str(TRANSPORTS.index(old.transport))), 0, 1)],
                auth=AUTH_METHODS[_int(el.findtext("Auth", str(AUTH_METHODS.index(old.auth))), 0, 2)],
            )
        changes.services = services
        account_els = api.findall("Account")
        if account_els:
            if len(account_els) > 5:
                raise ConfigError("Account")
            changes.accounts = [
                Account(name=_text(el, "Name"), password=el.findtext("Password", ""),
                        privileges=parse_privileges((el.findtext("Privileges") or "").split(",")))
                for el in account_els
            ]

    directory = root.find("Directory")
    if directory is not None:
        users = []
        for el in directory.findall("User"):
            uuid = el.get("Uuid")
            if not uuid:
                raise ConfigError("Uuid")
            users.append(DirectoryUser(
                uuid=uuid.upper(), name=_text(el, "Name"),
                peers=[p.text or "" for p in el.findall("Peer")],
                buttons=[_int(b.text, 1, 150) for b in el.findall("Button")],
                cards=[(c.text or "").upper() for c in el.findall("Card")],
                codes=[_code(c.text) for c in el.findall("Code")],
                switch=_int(el.findtext("Switch", "1"), 1, len(device.switches)),
                extra=_extra(el.findtext("Extra")),
            ))
        changes.users = users
    return changes


def _int(text: str | None, lo: int, hi: int) -> int:
    value = int((text or "").strip())
    if not lo <= value <= hi:
        raise ConfigError(f"{value} out of range")
    return value


def _flag(el, tag: str, default: bool) -> bool:
    text = el.findtext(tag)
    return default if text is None else bool(_int(text, 0, 1))


def _text(el, tag: str) -> str:
    text = el.findtext(tag)
    if not text:
        raise ConfigError(tag)
    return text


def _extra(text: str | None) -> dict:
    if not text:
        return {}
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ConfigError("Extra")
    return value


def _code(text: str | None) -> str:
    if not text or not text.isdigit() or not 2 <= len(text) <= 16:
        raise ConfigError("Code")
    return text
