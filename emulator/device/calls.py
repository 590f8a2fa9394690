"""SIP accounts and calls.

An outgoing call goes connecting -> ringing (after the profile's ring delay) -> connected when the
simulated peer answers (after the profile's answer delay, or when a test says so) -> terminated.
An incoming call rings until answered or hung up. Every transition emits CallStateChanged (and,
on newer firmware, CallSessionStateChanged).

CallSessionStateChanged carries what 2N's log/caps names for it: `session` and `state` always,
`originator` and `info` where they apply. Their values are not documented; the emulator uses the
session states of CallStateChanged, `originator: "api"` for a call placed with /api/call/dial (the
word SwitchStateChanged uses for the same cause), and `info: {"reason": ...}` when a session ends.
The direction/address/sessionNumber/callSequenceNumber shape of one client's test fixture is in no
device recording or 2N document, so it is not sent (that client also reads `session` and ignores
a missing direction).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from emulator.device.clock import Clock, Timer, Timers
from emulator.device.events import EventLog
from emulator.device.profile import SipAccountSettings
from emulator.errors import failed, invalid

MAX_SESSIONS = 16  # calls at once; a device has only so many lines
END_REASONS = ("normal", "busy", "rejected", "noanswer", "noresponse", "completed_elsewhere", "failure")
HANGUP_REASONS = ("normal", "rejected", "busy")


@dataclass
class SipAccount:
    """A SIP account: settings that round-trip in /api/config, plus registration state.

    `account_type` is what phone/status calls accountType (manual 5.6.1): "general" (a SIP
    account), "local" (calls to 2N devices on the local network; it never registers) or
    "msteams" (Microsoft Teams)."""

    account: int
    number: str
    domain: str
    display_name: str
    enabled: bool
    registration_enabled: bool
    account_type: str = "general"
    registered: bool = False
    register_time: int = 0

    @classmethod
    def from_profile(cls, account: int, s: SipAccountSettings) -> SipAccount:
        return cls(account, s.number, s.domain, s.display_name, s.enabled, s.registration_enabled, s.account_type)

    @property
    def registers(self) -> bool:
        return self.account_type != "local"


@dataclass
class Session:
    session: int
    call: int
    direction: str  # incoming | outgoing
    peer: str
    state: str = "connecting"  # connecting | ringing | connected
    originator: str | None = None  # "api" for /api/call/dial
    timers: list[Timer] = field(default_factory=list)

    def cancel_timers(self) -> None:
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()


class Phone:
    def __init__(self, clock: Clock, events: EventLog, timers: Timers, accounts: list[SipAccount],
                 ring_delay: float, answer_delay: float, register_delay: float, session_events: bool):
        self.clock = clock
        self.events = events
        self.timers = timers
        self.accounts = accounts
        self.ring_delay = ring_delay
        self.answer_delay = answer_delay
        self.register_delay = register_delay
        self.session_events = session_events  # newer firmware adds CallSessionStateChanged
        self.sessions: dict[int, Session] = {}
        self._next_session = 1
        self._next_call = 1

    def boot(self) -> None:
        self.sessions.clear()
        self._next_session = self._next_call = 1
        for account in self.accounts:
            account.registered = False
            account.register_time = 0
            if account.enabled and account.registration_enabled and account.registers:
                self.timers.later(self.register_delay, self.set_registration, account.account, "registering")
                self.timers.later(self.register_delay + 0.2, self.set_registration, account.account, "registered")

    # -- SIP registration ------------------------------------------------------------------

    def account(self, number: int) -> SipAccount:
        for account in self.accounts:
            if account.account == number:
                return account
        raise invalid("account")

    def set_registration(self, number: int, state: str) -> None:
        account = self.account(number)
        account.registered = state == "registered"
        if account.registered:
            account.register_time = int(self.clock.time())
        self.events.emit("RegistrationStateChanged", sipAccount=number, state=state)

    # -- calls -----------------------------------------------------------------------------

    def dial(self, peer: str, originator: str | None = None) -> Session:
        session = self._new_session("outgoing", peer, originator)
        self._transition(session, "connecting")
        session.timers.append(self.timers.later(self.ring_delay, self._ring, session))
        return session

    def incoming(self, peer: str) -> Session:
        """A peer calls the intercom."""
        session = self._new_session("incoming", peer)
        self._transition(session, "ringing")
        return session

    def answer(self, number: int) -> None:
        """The intercom answers an incoming call (call/answer)."""
        session = self.get(number)
        if session.direction != "incoming" or session.state != "ringing":
            raise failed("call cannot be answered")
        self._connect(session)

    def hangup(self, number: int, reason: str = "normal") -> None:
        self.end(self.get(number), reason)

    # -- what the simulated peer does ------------------------------------------------------

    def peer_answers(self, number: int) -> None:
        session = self.get(number)
        if session.direction != "outgoing" or session.state not in ("connecting", "ringing"):
            raise failed("call cannot be answered")
        self._connect(session)

    def peer_hangs_up(self, number: int, reason: str = "normal") -> None:
        self.end(self.get(number), reason)

    # -- internals -------------------------------------------------------------------------

    def get(self, number: int) -> Session:
        session = self.sessions.get(number)
        if session is None:
            raise failed("session not found")
        return session

    def _new_session(self, direction: str, peer: str, originator: str | None = None) -> Session:
        if len(self.sessions) >= MAX_SESSIONS:
            raise failed("too many calls")
        session = Session(self._next_session, self._next_call, direction, peer, originator=originator)
        self._next_session += 1
        self._next_call += 1
        self.sessions[session.session] = session
        return session

    def _ring(self, session: Session) -> None:
        if session.session not in self.sessions:
            return
        self._transition(session, "ringing")
        if self.answer_delay > 0:
            session.timers.append(self.timers.later(self.answer_delay, self._peer_auto_answer, session))

    def _peer_auto_answer(self, session: Session) -> None:
        if self.sessions.get(session.session) is session and session.state == "ringing":
            self._connect(session)

    def _connect(self, session: Session) -> None:
        session.cancel_timers()
        self._transition(session, "connected")

    def end(self, session: Session, reason: str = "normal") -> None:
        session.cancel_timers()
        self.sessions.pop(session.session, None)
        self._transition(session, "terminated", reason)

    def _transition(self, session: Session, state: str, reason: str | None = None) -> None:
        if state != "terminated":
            session.state = state
        params = {"direction": session.direction, "state": state, "peer": session.peer,
                  "session": session.session, "call": session.call}
        if reason is not None:
            params["reason"] = reason
        self.events.emit("CallStateChanged", **params)
        if self.session_events:
            session_params: dict = {"session": session.session, "state": state}
            if session.originator is not None:
                session_params["originator"] = session.originator
            if reason is not None:
                session_params["info"] = {"reason": reason}
            self.events.emit("CallSessionStateChanged", **session_params)
