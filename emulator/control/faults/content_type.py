"""content_type: the function's reply with a wrong Content-Type header."""

from __future__ import annotations


from emulator.control.faults.base import RequestFault


class ContentType(RequestFault):
    kind = "content_type"
    params = {"value": (str, "text/plain")}

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not reply.prepared:
            reply.headers["Content-Type"] = self.values["value"]
        return reply
