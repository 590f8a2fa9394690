"""content_type: the function's reply with a wrong Content-Type header."""

from __future__ import annotations


from emulator.control.faults.base import Param, RequestFault


class ContentType(RequestFault):
    kind = "content_type"
    params = {"value": Param(str, "text/plain", "the Content-Type the reply is sent with")}

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not reply.prepared:
            reply.headers["Content-Type"] = self.values["value"]
        return reply
