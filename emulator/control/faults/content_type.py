"""content_type: the function's reply with a wrong Content-Type header."""

from __future__ import annotations

from emulator.control.faults.base import FaultError, Param, RequestFault


class ContentType(RequestFault):
    kind = "content_type"
    params = {"value": Param(str, "text/plain", "the Content-Type the reply is sent with")}

    def check(self) -> None:
        # A header value: no CR/LF (a second header, or a reply aiohttp refuses to send) and no
        # other control character.
        bad = next((c for c in self.values["value"] if (c < " " and c != "\t") or c == "\x7f"), None)
        if bad is not None:
            raise FaultError(f"value: a header value cannot hold the control character {bad!r}")

    async def apply(self, request, respond, emulator):
        reply = await respond()
        if not reply.prepared:
            reply.headers["Content-Type"] = self.values["value"]
        return reply
