"""The directory (phonebook): users with their call peers, quick-dial buttons, cards and codes.

The keypad, the card reader and the call buttons look users up here: a card is valid when a user
holds it, pressing button %N calls the peer of the user on that button. Newer firmware exposes the
directory as /api/dir/*: every change gets the next timestamp of the directory's series, and a
deleted user stays as a tombstone (deleted, with its timestamp) so that clients syncing with
dir/query learn about the deletion.
"""

from __future__ import annotations

import uuid as uuid_
from dataclasses import dataclass, field
from collections.abc import Iterator

from emulator.device.profile import User

MAX_USERS = 10_000  # live users and tombstones together


@dataclass
class DirectoryUser:
    uuid: str
    name: str
    peers: list[str]
    buttons: list[int]
    cards: list[str]
    codes: list[str]
    switch: int
    timestamp: int = 0  # the directory timestamp of this user's last change
    deleted: bool = False
    extra: dict = field(default_factory=dict)  # fields a client stored that the model does not use

    @classmethod
    def from_profile(cls, user: User) -> DirectoryUser:
        return cls(user.uuid, user.name, list(user.peers), list(user.buttons), list(user.cards),
                   list(user.codes), user.switch)


class Directory:
    def __init__(self, users: list[DirectoryUser], series: str):
        self.series = series
        self.timestamp = 0
        self.users: dict[str, DirectoryUser] = {}
        for user in users:
            self.put(user)

    def __iter__(self) -> Iterator[DirectoryUser]:
        """The live users (not the tombstones)."""
        return (u for u in self.users.values() if not u.deleted)

    def get(self, uuid: str) -> DirectoryUser | None:
        user = self.users.get(uuid.upper())
        return None if user is None or user.deleted else user

    def put(self, user: DirectoryUser) -> DirectoryUser:
        """Create or replace a user; it gets the next timestamp."""
        if user.uuid not in self.users and len(self.users) >= MAX_USERS:
            self._forget_a_tombstone()
        self.timestamp += 1
        user.timestamp = self.timestamp
        self.users[user.uuid] = user
        return user

    def delete(self, uuid: str) -> DirectoryUser | None:
        user = self.get(uuid)
        if user is not None:
            self.timestamp += 1
            user.deleted, user.timestamp = True, self.timestamp
        return user

    def replace(self, users: list[DirectoryUser]) -> None:
        """A new directory (a configuration upload): a new series."""
        self.users.clear()
        self.series = new_series()
        for user in users:
            self.put(user)

    @property
    def full(self) -> bool:
        return sum(1 for _ in self) >= MAX_USERS

    def _forget_a_tombstone(self) -> None:
        oldest = min((u for u in self.users.values() if u.deleted), key=lambda u: u.timestamp, default=None)
        if oldest is None:
            raise OverflowError("the directory is full")
        del self.users[oldest.uuid]

    def by_card(self, uid: str) -> DirectoryUser | None:
        uid = uid.upper()
        return next((u for u in self if uid in u.cards), None)

    def by_code(self, code: str) -> DirectoryUser | None:
        return next((u for u in self if code in u.codes), None)

    def by_button(self, button: int) -> DirectoryUser | None:
        return next((u for u in self if button in u.buttons), None)


def new_uuid() -> str:
    return str(uuid_.uuid4()).upper()


def new_series() -> str:
    return str(uuid_.uuid4().int % 10**19)
