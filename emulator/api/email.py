"""E-mail service: email/send, with camera pictures, delivered over SMTP and kept in the outbox."""

from __future__ import annotations

import re

from emulator.api.call import Call
from emulator.api.camera import resolution
from emulator.device import levels
from emulator.errors import ApiError, ErrorCode, invalid

_ADDRESS = re.compile(r"^[^@\s,;<>\"]+@[^@\s,;<>\"]+\.[^@\s,;<>\"]+$")


async def send(call: Call) -> None:
    params = call.params
    device = call.device
    to = params.required("to").strip()
    if len(to) > 254 or not _ADDRESS.match(to):
        raise invalid("to")
    subject = params.required("subject")
    if len(subject) > 255 or "\n" in subject or "\r" in subject:
        raise invalid("subject")
    body = params.get("body", "")
    count = params.int("pictureCount", 0, hi=5 if call.at_least(levels.CURRENT) else 1)
    camera = device.profile.camera
    pictures = []
    if count:
        if camera is None:
            raise invalid("pictureCount")
        default = next((r for r in camera.resolutions if (r.width, r.height) == (640, 480)), camera.resolutions[0])
        size = resolution(camera, params.int("width", default.width, lo=1, hi=10000),
                          params.int("height", default.height, lo=1, hi=10000))
        for _ in range(count):
            pictures.append(await call.emulator.camera.jpeg(camera.default_source, size.width, size.height))
    email = device.outbox.add(to, subject, body, device.now(), pictures)
    delivered = await call.emulator.mailer.deliver(email, device.identity.device_name)
    device.outbox.delivered(email)
    if not delivered:
        raise ApiError(ErrorCode.PROCESSING_ERROR, description="e-mail delivery failed")
