"""The device's small outputs: the display (image and text message) and the e-mail outbox."""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from collections.abc import Callable

OUTBOX_SIZE = 100


@dataclass
class DisplayMessage:
    """A message of display/text (manual 5.9.4): translations (language -> text) or a free text."""

    uid: str
    texts: dict[str, str]  # {"": text} for a free text
    response: bool  # the message asks for a response
    timeout: float  # seconds it stays
    icon: str  # none | operator | technician


@dataclass
class Display:
    name: str
    width: int
    height: int
    image: bytes | None = None  # the GIF a client uploaded with PUT /api/display/image
    message: DisplayMessage | None = None  # what display/text shows, until its timeout


@dataclass
class Email:
    id: int
    to: str
    subject: str
    body: str
    sent_at: float
    pictures: list[bytes] = field(default_factory=list, repr=False)
    status: str = "queued"  # queued | sent | failed
    error: str = ""

    def summary(self) -> dict:
        return {"id": self.id, "to": self.to, "subject": self.subject, "body": self.body,
                "sentAt": self.sent_at, "pictures": len(self.pictures), "status": self.status,
                "error": self.error}


class Outbox:
    """Every e-mail the device was asked to send, delivered or not (the newest OUTBOX_SIZE)."""

    def __init__(self) -> None:
        self.messages: deque[Email] = deque(maxlen=OUTBOX_SIZE)
        self._ids = itertools.count(1)
        self.listeners: list[Callable[[Email], None]] = []  # told when a delivery attempt ends

    def add(self, to: str, subject: str, body: str, sent_at: float, pictures: list[bytes]) -> Email:
        email = Email(next(self._ids), to, subject, body, sent_at, pictures)
        self.messages.append(email)
        return email

    def delivered(self, email: Email) -> None:
        for listener in list(self.listeners):
            listener(email)
