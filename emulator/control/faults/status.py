"""status: answer with any HTTP status (and an optional text body) instead of the function."""

from __future__ import annotations

from aiohttp import web

from emulator.control.faults.base import FaultError, Param, RequestFault


class Status(RequestFault):
    kind = "status"
    params = {"status": Param(int, 500, "the HTTP status, 100 to 599"),
              "body": Param(str, "", "the reply's body (text/plain)")}

    def check(self) -> None:
        if not 100 <= self.values["status"] <= 599:
            raise FaultError("status: an HTTP status code 100-599")

    async def apply(self, request, respond, emulator):
        return web.Response(status=self.values["status"], body=self.values["body"].encode(),
                            headers={"Content-Type": "text/plain", "Server": emulator.server_header})
