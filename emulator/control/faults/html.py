"""html: an HTML page instead of the JSON reply (a proxy, a captive portal, the web UI)."""

from __future__ import annotations

from aiohttp import web

from emulator.control.faults.base import Param, RequestFault

PAGE = b"<!DOCTYPE html><html><head><title>2N</title></head><body><h1>Login</h1></body></html>"


class Html(RequestFault):
    kind = "html"
    params = {"status": Param(int, 200, "the HTTP status of the page")}

    async def apply(self, request, respond, emulator):
        return web.Response(status=self.values["status"], body=PAGE,
                            headers={"Content-Type": "text/html", "Server": emulator.server_header})
