"""bad_json: the function's JSON reply cut in half, so it no longer parses."""

from __future__ import annotations

from aiohttp import web

from emulator.control.faults.base import RequestFault


class BadJson(RequestFault):
    kind = "bad_json"

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if isinstance(reply, web.Response) and isinstance(reply.body, bytes):
            reply.body = reply.body[: max(1, len(reply.body) // 2)]
        return reply
