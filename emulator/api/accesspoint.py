"""Access points (2N's manual 5.17): accesspoint/blocking/ctrl, accesspoint/blocking/status and
accesspoint/grantaccess. Service "API Access Control", privilege "Access Control"; access point 0
is Entry, 1 is Exit. A disabled access point is error 18."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.errors import invalid, missing

_ACTIONS = {"on": True, "off": False}


def blocking_ctrl(call: Call) -> None:
    """Block (`action=on`) or unblock (`off`) authentication at an access point; success whether
    or not it changed ("the access blocking is in the desired state regardless of a change")."""
    ap = call.params.int("id", required=True, hi=1)
    action = call.params.choice("action", tuple(_ACTIONS), required=True)
    call.device.block_access_point(ap, _ACTIONS[action])


def blocking_status(call: Call) -> dict:
    points = call.device.access
    ap = call.params.int("id", hi=1)
    chosen = list(points) if ap is None else [points.points[ap]]
    return {"accessPoints": [{"id": p.id, "blocked": p.blocked} for p in chosen]}


def grant_access(call: Call) -> dict:
    """Let a directory user through an access point: `{"accessGranted": true}`, or false with the
    reason (invalidAp, invalidCredential, accessBlocked)."""
    ap = call.params.int("id", required=True, hi=1)
    user = call.params.get("user")
    if not user:
        raise missing("user")
    if len(user) > 64:
        raise invalid("user")
    granted, reason = call.device.grant_access(ap, user)
    return {"accessGranted": True} if granted else {"accessGranted": False, "reason": reason}
