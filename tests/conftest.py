"""Shared fixtures: real emulators on ephemeral ports, and real HTTP clients talking to them."""

from __future__ import annotations

import base64
import json
import ssl
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest

from emulator.app import Emulator
from emulator.settings import Settings

ADMIN = ("admin", "2n")


@pytest.fixture
async def make_emulator():
    """Start emulators (port 0 = any free port) and stop them after the test."""
    started: list[Emulator] = []

    async def make(clock=None, **settings: Any) -> Emulator:
        """`clock` is a Clock object, or "virtual"/"real" as in Settings."""
        if isinstance(clock, str):
            settings["clock"], clock = clock, None
        settings.setdefault("port", 0)
        settings.setdefault("https_port", 0)
        emulator = Emulator(Settings(**settings), clock=clock)
        await emulator.start()
        started.append(emulator)
        return emulator

    yield make
    for emulator in started:
        await emulator.stop()


@pytest.fixture
async def emu(make_emulator) -> Emulator:
    """The default emulator: verso profile, Digest on every service, admin/2n."""
    return await make_emulator()


@dataclass
class Reply:
    status: int
    headers: Any
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def content_type(self) -> str:
        return self.headers.get("Content-Type", "")

    @property
    def result(self) -> Any:
        data = self.json
        assert data["success"] is True, data
        return data.get("result")

    @property
    def error(self) -> dict:
        data = self.json
        assert data["success"] is False, data
        return data["error"]


class Client:
    """An aiohttp client for one emulator, with Digest (default), Basic or no credentials."""

    def __init__(self, base: str, auth: str = "digest", user: tuple[str, str] | None = ADMIN):
        self.base = base
        middlewares = ()
        headers = {}
        if user is not None and auth == "digest":
            middlewares = (aiohttp.DigestAuthMiddleware(*user),)
        elif user is not None and auth == "basic":
            headers["Authorization"] = "Basic " + base64.b64encode(":".join(user).encode()).decode()
        ssl_ctx = ssl.create_default_context()
        ssl_ctx.check_hostname = False
        ssl_ctx.verify_mode = ssl.CERT_NONE
        self.session = aiohttp.ClientSession(middlewares=middlewares, headers=headers,
                                             connector=aiohttp.TCPConnector(ssl=ssl_ctx))

    async def request(self, method: str, path: str, **kwargs: Any) -> Reply:
        async with self.session.request(method, self.base + path, **kwargs) as resp:
            return Reply(resp.status, resp.headers, await resp.read())

    async def get(self, path: str, **params: Any) -> Reply:
        return await self.request("GET", path, params={k: str(v) for k, v in params.items()})

    async def post(self, path: str, **kwargs: Any) -> Reply:
        return await self.request("POST", path, **kwargs)

    async def close(self) -> None:
        await self.session.close()


@pytest.fixture
async def make_client():
    clients: list[Client] = []

    def make(emulator: Emulator, auth: str = "digest", user: tuple[str, str] | None = ADMIN,
             scheme: str = "http") -> Client:
        client = Client(emulator.urls[scheme], auth, user)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


@pytest.fixture
async def api(emu, make_client) -> Client:
    """A Digest client of the default emulator, as admin."""
    return make_client(emu)
