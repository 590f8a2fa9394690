"""The Python handle: drive a running emulator from a test, in the same process.

    from emulator import Settings, running

    with running(Settings(clock="virtual")) as intercom:      # or the pytest fixture `helios`
        intercom.ring()                                       # someone presses the call button
        intercom.answer(1)                                    # the resident picks up
        ... your integration opens the door through the API ...
        intercom.advance(5)
        assert intercom.switch_activations(1) == [5.0]        # the relay clicked once, for 5 s

The emulator runs on its own event loop in a background thread, so the test may be synchronous or
asynchronous, and its clients (requests, aiohttp, a subprocess) talk to it over real sockets. Every
method is thread-safe: it runs on the emulator's loop and returns its result.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import threading
from typing import Any
from collections.abc import Callable, Iterator

from emulator.app import Emulator
from emulator.control import actions, state
from emulator.settings import Settings

TIMEOUT = 30.0


class Intercom:
    def __init__(self, emulator: Emulator, loop: asyncio.AbstractEventLoop | None = None):
        self.emulator = emulator
        self._loop = loop  # the emulator's loop when it runs in another thread

    def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        loop = self._loop
        if loop is None or _running_loop() is loop:
            return fn(*args, **kwargs)
        result: concurrent.futures.Future[Any] = concurrent.futures.Future()

        def run() -> None:
            try:
                result.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # handed to the caller's thread
                result.set_exception(exc)

        loop.call_soon_threadsafe(run)
        return result.result(TIMEOUT)

    # -- where it is -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return self.emulator.url

    @property
    def https_url(self) -> str:
        return self.emulator.urls["https"]

    @property
    def rtsp_url(self) -> str:
        """rtsp://host:port/h264_stream, the live H.264 stream (the handle's default settings
        and the pytest fixture open an RTSP listener on a free port)."""
        return self.emulator.rtsp_url

    @property
    def device(self):
        """The model itself, for reading (changes belong on the emulator's loop: use act())."""
        return self.emulator.device

    # -- the physical world ----------------------------------------------------------------

    def act(self, name: str, **params: Any) -> Any:
        return self._call(actions.run, self.emulator, name, params)

    def press(self, key: str) -> None:
        self.act("press", key=key)

    def ring(self, button: int = 1) -> None:
        """Press call button %N: the intercom calls the peer of the directory user on it."""
        self.act("press", key=f"%{button}")

    def code(self, code: str) -> bool:
        return self.act("code", code=code)["valid"]

    def card(self, uid: str, direction: str = "any") -> bool:
        return self.act("card", uid=uid, direction=direction)["valid"]

    def mobile_key(self, authid: str, direction: str = "in") -> bool:
        """A phone presents its Bluetooth mobile key (the pairing's authid)."""
        return self.act("mobile-key", authid=authid, direction=direction)["valid"]

    def wave(self, authid: str = "") -> None:
        """A wave at the Bluetooth reader; with `authid` the phone then presents its key."""
        self.act("wave", authid=authid)

    def set_input(self, port: str, state: bool) -> None:
        self.act("input", port=port, state=state)

    def open_door(self) -> None:
        self.act("door", open=True)

    def close_door(self) -> None:
        self.act("door", open=False)

    def motion(self, active: bool = True) -> None:
        self.act("motion", active=active)

    def noise(self, active: bool = True) -> None:
        self.act("noise", active=active)

    def tamper(self, active: bool = True) -> None:
        self.act("tamper", active=active)

    def incoming_call(self, peer: str) -> int:
        return self.act("incoming-call", peer=peer)["session"]

    def answer(self, session: int) -> None:
        """The called peer answers an outgoing (doorbell) call."""
        self.act("peer-answers", session=session)

    def hangup(self, session: int, reason: str = "normal") -> None:
        """The peer hangs up."""
        self.act("peer-hangs-up", session=session, reason=reason)

    def busy(self, session: int) -> None:
        self.act("peer-busy", session=session)

    def registration(self, account: int, state: str) -> None:
        self.act("registration", account=account, state=state)

    def audio_result(self, result: str) -> None:
        self.act("audio-result", result=result)

    # -- time, faults, journal, state ------------------------------------------------------

    def advance(self, seconds: float) -> None:
        """Move a virtual clock forward (switch timers, calls, channel expiry, reboots, pulls)."""
        self._call(self.emulator.advance, seconds)

    def fault(self, kind: str, **spec: Any) -> dict[str, Any]:
        return self._call(lambda: self.emulator.faults.add({"kind": kind, **spec}).describe())

    def clear_faults(self) -> None:
        self._call(self.emulator.faults.clear)

    def reboot(self, seconds: float | None = None) -> None:
        """Reboot now; without a virtual clock it comes back after `seconds` of real time."""
        self.fault("reboot", seconds=seconds)

    def expire_nonces(self) -> None:
        self.fault("nonces")

    def journal(self, kind: str | None = None, **filters: Any) -> list[dict[str, Any]]:
        return self._call(self.emulator.journal.find, kind, **filters)

    def requests(self, **filters: Any) -> list[dict[str, Any]]:
        return self.journal("request", **filters)

    def switch_activations(self, switch: int) -> list[float | None]:
        """How long each activation of a switch lasted, in seconds (None while still on)."""
        entries = self.journal("action", action="switch", switch=switch)
        out: list[float | None] = []
        for entry in entries:
            if entry["state"] == "on":
                out.append(None)
            elif out and out[-1] is None:
                out[-1] = entry["duration"]
        return out

    def state(self) -> dict[str, Any]:
        return self._call(state.snapshot, self.emulator)

    def restore(self, snapshot: dict[str, Any]) -> None:
        self._call(state.restore, self.emulator, snapshot)

    def reset(self) -> None:
        self._call(self.emulator.reset)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class Background:
    """An emulator on its own event loop in a daemon thread."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._ready: concurrent.futures.Future[Emulator] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name="helios-emulator", daemon=True)

    def start(self) -> Intercom:
        self._thread.start()
        return Intercom(self._ready.result(TIMEOUT), self.loop)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            emulator = Emulator(self.settings)
            self.loop.run_until_complete(emulator.start())
        except BaseException as exc:
            self._ready.set_exception(exc)
            self.loop.close()
            return
        self._ready.set_result(emulator)
        try:
            self.loop.run_forever()
        finally:
            self.loop.run_until_complete(emulator.stop())
            self.loop.close()

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(TIMEOUT)


@contextlib.contextmanager
def running(settings: Settings | None = None) -> Iterator[Intercom]:
    """An emulator for the duration of a `with` block, on free ports (RTSP too) unless the settings
    name some."""
    background = Background(settings or Settings(rtsp_port=0))
    try:
        yield background.start()
    finally:
        background.stop()
