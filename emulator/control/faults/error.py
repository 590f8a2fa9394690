"""error: the 2N error envelope with any code, param and description (HTTP 401 for code 9)."""

from __future__ import annotations

import json

from aiohttp import web

from emulator.api.replies import JSON
from emulator.control.faults.base import REQUIRED, FaultError, Param, RequestFault
from emulator.errors import ErrorCode


class Error(RequestFault):
    kind = "error"
    params = {"code": Param(int, REQUIRED, "the 2N error code (any, even one the manual does not define)"),
              "param": Param(str, None, "the error's `param`; left out of the envelope when not given"),
              "description": Param(str, None, "the error's `description`; the manual's for the code when not given")}

    def check(self) -> None:
        if not 0 <= self.values["code"] <= 2**31:
            raise FaultError("code: a non-negative integer")

    async def apply(self, request, respond, emulator):
        code = self.values["code"]
        try:
            known = ErrorCode(code).description
        except ValueError:
            known = "unknown error"  # any code, even ones the manual does not define
        error = {"code": code}
        if self.values["param"] is not None:
            error["param"] = self.values["param"]
        error["description"] = self.values["description"] or known
        body = json.dumps({"success": False, "error": error}).encode()
        response = web.Response(status=401 if code == 9 else 200, body=body,
                                headers={"Content-Type": JSON, "Server": emulator.server_header})
        if code == 9:  # a 401 always carries a challenge, as the device's own do
            for challenge in emulator.auth.challenges("digest"):
                response.headers.add("WWW-Authenticate", challenge)
        return response
