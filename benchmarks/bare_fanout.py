"""The fan-out baseline: the least work a bare aiohttp app needs to fan one event out to N waiting pulls.

    python -m benchmarks.bare_fanout --port 8082 [--loop asyncio|uvloop]

It speaks exactly the HTTP that `benchmarks.fanout --process` sends, with replies of the same shape
and size as the emulator's, and nothing else: no journal, no channels, no device model, no
parameter checking beyond the id.

* `GET /api/log/subscribe?...` answers `{"success":true,"result":{"id":N}}` with a new id each time
  (10 digits, as the emulator's random 32-bit ids mostly are, so the replies are as long); the id
  goes into a set.
* `GET /api/log/pull?id=N&timeout=T` looks the id up (an unknown one gets the emulator's error 12
  reply) and waits on the one future of the current round, shared by every pull. Once the future
  is resolved, every pull answers with the same body: `{"success":true,"result":{"events":[<event>]}}`.
  By default the wait has no timer (T is read but not armed): the benchmark's pulls wait 60 s and
  never time out, and the baseline is the least work. `--timeouts` honours T the simple way
  (`asyncio.timeout` around `asyncio.shield(round)`, so one pull's timeout cannot cancel the shared
  future; a pull that times out gets an empty event list, as on the device). That costs a timer,
  an extra future and an extra callback hop per pull: about 7 µs of CPU per delivery on the 2-core
  VM the README's results come from (24 vs 17 µs), so it is not the baseline.
* `GET /api/switch/ctrl?switch=S&action=hold|release|on|off|trigger` renders one SwitchStateChanged
  event once (the emulator's field order: id, tzShift, utcTime, upTime, event, params), resolves
  the round's future with the reply body, starts a new round (a new future) and answers
  `{"success":true}`.
* `GET /_emulator/health` answers 200, so it is started and polled like the emulator.

Every reply carries the emulator's `Server` and `Content-Type` headers, so a delivery is the same
number of bytes on the wire (give or take a digit of the event's id and upTime). It runs the way
the emulator runs aiohttp (AppRunner, no access log; TCPSite where the emulator has its connection
guard, a cost per connection), but without handler_cancellation (see serve()).
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import time

from aiohttp import web

from benchmarks.bare_app import serve_app

SERVER = "HIP2.50.0.76.2"  # the verso profile's Server header
HEADERS = {"Server": SERVER, "Content-Type": "application/json"}
BAD_ID = b'{"success":false,"error":{"code":12,"param":"id","description":"invalid parameter value"}}'
EMPTY = b'{"success":true,"result":{"events":[]}}'
OK = b'{"success":true}'
TZ_SHIFT = 60  # minutes, as the verso profile reports
STATES = {"hold": True, "on": True, "trigger": True, "release": False, "off": False}
ROUND = web.AppKey("round", object)


class Fanout:
    """The whole state: the subscribed ids and the future of the current round."""

    def __init__(self, timeouts: bool = False) -> None:
        self.timeouts = timeouts
        self.ids: set[int] = set()
        self.next_id = itertools.count(1_000_000_001)
        self.event_ids = itertools.count(1)
        self.started = time.monotonic()
        self.round: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    async def subscribe(self, request: web.Request) -> web.Response:
        channel_id = next(self.next_id)
        self.ids.add(channel_id)
        return web.Response(body=b'{"success":true,"result":{"id":%d}}' % channel_id, headers=HEADERS)

    async def pull(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            channel_id = int(query["id"])
            timeout = int(query.get("timeout", "0"))
        except (KeyError, ValueError):
            return web.Response(body=BAD_ID, headers=HEADERS)
        if channel_id not in self.ids:
            return web.Response(body=BAD_ID, headers=HEADERS)
        if timeout <= 0:
            return web.Response(body=EMPTY, headers=HEADERS)
        if not self.timeouts:
            # No timer, no shield. Nothing cancels this wait: the app runs without
            # handler_cancellation (see serve()), so a client that goes away does not cancel the
            # future every other pull of the round waits on.
            return web.Response(body=await self.round, headers=HEADERS)
        body = EMPTY
        try:
            async with asyncio.timeout(timeout):
                # shield: a pull that times out (or whose client goes away) must not cancel the
                # future the other pulls of the round wait on.
                body = await asyncio.shield(self.round)
        except TimeoutError:
            pass
        return web.Response(body=body, headers=HEADERS)

    async def switch_ctrl(self, request: web.Request) -> web.Response:
        query = request.query
        state = STATES.get(query.get("action", ""))
        if state is None:
            return web.Response(body=BAD_ID.replace(b'"id"', b'"action"'), headers=HEADERS)
        event = json.dumps({
            "id": next(self.event_ids), "tzShift": TZ_SHIFT, "utcTime": int(time.time()),
            "upTime": int(time.monotonic() - self.started), "event": "SwitchStateChanged",
            "params": {"switch": int(query.get("switch", "1")), "state": state, "originator": "api"},
        }, separators=(",", ":")).encode()
        done, self.round = self.round, asyncio.get_running_loop().create_future()
        done.set_result(b'{"success":true,"result":{"events":[' + event + b"]}}")
        return web.Response(body=OK, headers=HEADERS)


def build(timeouts: bool = False) -> web.Application:
    fanout = Fanout(timeouts)
    app = web.Application()
    app[ROUND] = fanout
    app.router.add_get("/api/log/subscribe", fanout.subscribe)
    app.router.add_get("/api/log/pull", fanout.pull)
    app.router.add_get("/api/switch/ctrl", fanout.switch_ctrl)

    async def health(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    app.router.add_get("/_emulator/health", health)
    return app


async def serve(host: str, port: int, timeouts: bool = False) -> None:
    # handler_cancellation off (aiohttp's default; the emulator turns it on, which costs nothing on
    # the delivery path, only when a connection is lost): cancelling a handler that awaits the
    # shared future directly would cancel that future for every pull of the round.
    await serve_app(build(timeouts), host, port)


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bare_fanout", description=__doc__.split("\n\n")[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--loop", choices=("asyncio", "uvloop"), default="asyncio")
    p.add_argument("--timeouts", action="store_true",
                   help="honour each pull's timeout (a timer and a shielded wait per pull; not the baseline)")
    args = p.parse_args()
    factory = None
    if args.loop == "uvloop":
        import uvloop
        factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=factory) as runner:
        runner.run(serve(args.host, args.port, args.timeouts))


if __name__ == "__main__":
    main()
