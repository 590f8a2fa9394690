"""snapshot: a camera snapshot that is corrupt (bytes flipped in the middle) or truncated
(the JPEG cut short, with a matching Content-Length)."""

from __future__ import annotations

from aiohttp import web

from emulator.control.faults.base import Param, RequestFault


class Snapshot(RequestFault):
    kind = "snapshot"
    default_path = "/api/camera/snapshot"
    params = {"mode": Param(str, "corrupt", "corrupt: 64 bytes flipped in the middle; truncate: the JPEG cut "
                            "in half", ("corrupt", "truncate"))}

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not isinstance(reply, web.Response) or reply.content_type != "image/jpeg":
            return reply
        data = bytearray(reply.body)
        middle = len(data) // 2
        if self.values["mode"] == "truncate":
            reply.body = bytes(data[:middle])
        else:
            for i in range(middle, min(middle + 64, len(data))):
                data[i] ^= 0xFF
            reply.body = bytes(data)
        return reply
