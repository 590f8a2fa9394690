"""reset: the connection is reset (TCP RST) instead of answered."""

from __future__ import annotations

import socket
import struct

from emulator.api.dispatch import drop
from emulator.control.faults.base import RequestFault


def reset_connection(request) -> None:
    sock = request.transport.get_extra_info("socket") if request.transport else None
    if sock is not None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


class Reset(RequestFault):
    kind = "reset"

    async def apply(self, request, respond, emulator):
        reset_connection(request)
        return drop(request)
