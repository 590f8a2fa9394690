"""Access control: the access points, the sessions of an access, and why a user is refused.

A device reads credentials at two access points, 0 = Entry and 1 = Exit (2N's manual 5.17: "0
for Entry and 1 for Exit"): the keypad and a reader set to "in" or "any" belong to Entry, a reader
set to "out" to Exit. Each presentation of a credential (a card, a code, a mobile key, an
accesspoint/grantaccess) starts an access session, numbered from 1 after each boot. On current
firmware the events of one access carry its `ap` and `session`, so a client links
CardEntered / CodeEntered / MobKeyEntered -> UserAuthenticated (or UserRejected) ->
SwitchStateChanged (a recording of a real device: `{"ap":0,"session":1,"switch":1,"state":true,
"originator":"ap"}`).

A user gets through an access point when (2N's configuration manual 5.2.1, "Users"; the device
does the checks, Device.admit):
- the access point is not blocked (accesspoint/blocking/ctrl), unless the user has the Access
  Exception ("bypass Access Blocking");
- now is inside the user's validFrom..validTo;
- the user's rule for that access point is enabled (`access.accessPoints[ap].enabled`);
- the switch to open is enabled and not locked.
Otherwise the device raises UserRejected with the reason, a word of the 2.50 manual's event list.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.errors import ApiError, ErrorCode, invalid

ENTRY, EXIT = 0, 1

# UserRejected reasons (2N's 2.50 manual, log/caps event list)
ACCESS_BLOCKED = "accessBlocked"
INVALID_TIME = "invalidTime"
INVALID_PROFILE = "invalidProfile"  # the user's rule for this access point does not let them in
SWITCH_DISABLED = "switchDisabled"
SWITCH_LOCKED = "switchLocked"


@dataclass
class AccessPoint:
    id: int
    enabled: bool
    blocked: bool = False


class AccessPoints:
    def __init__(self, present: bool, entry: bool, exit_: bool):
        self.present = present  # the hardware reads credentials at all (else accesspoint/* is 1)
        self.points = [AccessPoint(ENTRY, entry), AccessPoint(EXIT, exit_)]
        self.session = 0

    def __iter__(self):
        return iter(self.points)

    def point(self, ap: int, param: str = "id") -> AccessPoint:
        """An access point the API may use: 12 for an unknown id, 18 for a disabled one (2N's
        manual 5.17.1: "Error code 18 (access point disabled)")."""
        if not self.present:
            raise ApiError(ErrorCode.NOT_SUPPORTED)
        if ap not in (ENTRY, EXIT):
            raise invalid(param)
        point = self.points[ap]
        if not point.enabled:
            raise ApiError(ErrorCode.REJECTED, description="access point disabled")
        return point

    def next_session(self) -> int:
        self.session += 1
        return self.session

    def boot(self) -> None:
        self.session = 0
