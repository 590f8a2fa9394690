"""no_success: the function's JSON reply without its `success` key."""

from __future__ import annotations

import json

from aiohttp import web

from emulator.control.faults.base import RequestFault


class NoSuccess(RequestFault):
    kind = "no_success"

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if isinstance(reply, web.Response) and isinstance(reply.body, bytes) and reply.body.startswith(b"{"):
            data = json.loads(reply.body)
            data.pop("success", None)
            reply.body = json.dumps(data).encode()
        return reply
