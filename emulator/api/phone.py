"""Phone/Call service: phone/status, phone/config, call/status, dial, answer, hangup."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.device import levels
from emulator.device.calls import HANGUP_REASONS, SipAccount
from emulator.errors import ApiError, ErrorCode, invalid, missing

MAX_NUMBER = 255


def _accounts(call: Call) -> list[SipAccount]:
    number = call.params.int("account", None, lo=0, hi=99)
    phone = call.device.phone
    return list(phone.accounts) if number is None else [phone.account(number)]


def status(call: Call) -> dict:
    """Current firmware: the keys of the manual's 5.6.1 example in its order; a "local" account
    (calls on the local network) has no registration keys, as there."""
    current = call.at_least(levels.CURRENT)
    out = []
    for acc in _accounts(call):
        if not current:  # the 2.15 shape
            entry = {"account": acc.account, "sipNumber": acc.number, "registered": acc.registered}
        else:
            entry = {"account": acc.account, "accountType": acc.account_type, "enabled": acc.enabled,
                     "sipNumber": acc.number}
            if acc.registers:
                entry.update(registrationEnabled=acc.registration_enabled, registered=acc.registered)
        if acc.registered:
            entry["registerTime"] = acc.register_time  # only when registered
        out.append(entry)
    return {"accounts": out}


_CONFIG_KEYS = {"sipNumber": "number", "domain": "domain", "displayName": "display_name",
                "enabled": "enabled", "registrationEnabled": "registration_enabled"}


def _sip_accounts(call: Call) -> list[SipAccount]:
    """phone/config covers the SIP accounts (manual 5.6.3: account 1 or 2), not the local or
    Microsoft Teams ones; naming one of those is 12 `account`."""
    sip = [a for a in _accounts(call) if a.account_type == "general"]
    if not sip and call.params.get("account") is not None:
        raise invalid("account")
    return sip


def config(call: Call) -> dict | None:
    """GET: the SIP accounts' settings (the keys of the manual's 5.6.3 example, in its order);
    PUT a JSON {"accounts": [...]} to change them."""
    phone = call.device.phone
    if call.request.method != "PUT":
        return {"accounts": [
            {"account": a.account, "enabled": a.enabled, "displayName": a.display_name, "sipNumber": a.number,
             "domain": a.domain, "domainPort": 5060, "authId": "", "proxyAddress": "", "proxyPort": 5060,
             "registrationEnabled": a.registration_enabled, "registrarAddress": "", "registrarPort": 5060,
             "answerMode": "1"}
            for a in _sip_accounts(call)]}
    changes = call.json_object("accounts")
    if not isinstance(changes, list):
        raise invalid("accounts")
    updates = []
    for item in changes:
        if not isinstance(item, dict) or not isinstance(item.get("account"), int):
            raise invalid("accounts")
        account = phone.account(item["account"])
        if account.account_type != "general":
            raise invalid("account")
        fields = {}
        for key, attr in _CONFIG_KEYS.items():
            if key in item:
                value = item[key]
                if not isinstance(value, type(getattr(account, attr))):
                    raise invalid(key)
                fields[attr] = value
        updates.append((account, fields))
    for account, fields in updates:  # all checked first: nothing half-applied
        for attr, value in fields.items():
            setattr(account, attr, value)
    call.device.configured()
    return None


def call_status(call: Call) -> dict:
    phone = call.device.phone
    number = call.params.int("session", None)
    sessions = list(phone.sessions.values()) if number is None else [phone.get(number)]
    calls = call.at_least(levels.CURRENT)
    out = []
    for s in sessions:
        entry = {"session": s.session, "direction": s.direction, "state": s.state}
        if calls:
            entry["calls"] = [{"id": s.call, "peer": s.peer, "state": s.state}]
        out.append(entry)
    return {"sessions": out}


def dial(call: Call) -> dict:
    params = call.params
    number = params.get("number")
    users = params.get("users") if call.at_least(levels.TIME) else None
    if number is not None and users is not None:
        raise ApiError(ErrorCode.PARAMETER_COLLISION, "users")
    if users is not None:
        peers = []
        for uuid in filter(None, users.split(",")):
            user = call.device.directory.get(uuid.strip())
            if user is None or not user.peers:
                raise invalid("users")
            peers.append(user.peers[0])
        if not peers:
            raise invalid("users")
        number = peers[0]
    if number is None:
        raise missing("number")
    number = number.strip()
    if not number or len(number) > MAX_NUMBER or any(ord(c) < 32 for c in number):
        raise invalid("number")
    session = call.device.phone.dial(number, originator="api")
    return {"session": session.session}


def answer(call: Call) -> None:
    call.device.phone.answer(call.params.int("session", required=True))


def hangup(call: Call) -> None:
    session = call.params.int("session", required=True)
    reason = call.params.choice("reason", HANGUP_REASONS, "normal")
    call.device.phone.hangup(session, reason)
