"""What a handler receives: the request, its parameters, who asked, and the emulator."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiohttp import web

from emulator.api.params import Params
from emulator.device.security import Account
from emulator.errors import missing

if TYPE_CHECKING:
    from emulator.app import Emulator
    from emulator.device.device import Device


@dataclass(slots=True)
class Call:
    emulator: Emulator
    request: web.BaseRequest
    params: Params
    account: Account | None  # None when the service needs no authentication
    secure: bool  # arrived over HTTPS

    @property
    def device(self) -> Device:
        return self.emulator.device

    def at_least(self, level: tuple[int, int]) -> bool:
        return self.emulator.device.api_level >= level

    @property
    def server(self) -> str:
        return self.emulator.server_header

    def json_object(self, key: str) -> Any:
        """A key of the JSON body; 11 when the body or the key is missing."""
        body = self.params.json
        if not isinstance(body, dict) or key not in body:
            raise missing(key)
        return body[key]
