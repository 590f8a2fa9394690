"""The directory (phonebook): users with their call peers, quick-dial buttons, cards and codes.

The keypad, the card reader and the call buttons look users up here: a card is valid when a user
holds it, pressing button %N calls the peer of the user on that button.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.device.profile import User


@dataclass
class DirectoryUser:
    uuid: str
    name: str
    peers: list[str]
    buttons: list[int]
    cards: list[str]
    codes: list[str]
    switch: int
    timestamp: int = 0  # directory series number of the last change
    extra: dict = field(default_factory=dict)  # fields a client stored that the model does not use

    @classmethod
    def from_profile(cls, user: User) -> DirectoryUser:
        return cls(user.uuid, user.name, list(user.peers), list(user.buttons), list(user.cards),
                   list(user.codes), user.switch)


class Directory:
    def __init__(self, users: list[DirectoryUser]):
        self.users: dict[str, DirectoryUser] = {u.uuid: u for u in users}
        self.series = 1

    def by_card(self, uid: str) -> DirectoryUser | None:
        uid = uid.upper()
        return next((u for u in self.users.values() if uid in u.cards), None)

    def by_code(self, code: str) -> DirectoryUser | None:
        return next((u for u in self.users.values() if code in u.codes), None)

    def by_button(self, button: int) -> DirectoryUser | None:
        return next((u for u in self.users.values() if button in u.buttons), None)

    def replace(self, users: list[DirectoryUser]) -> None:
        self.users = {u.uuid: u for u in users}
        self.series += 1
