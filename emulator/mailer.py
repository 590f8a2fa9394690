"""Real e-mail delivery for email/send, over SMTP (aiosmtplib)."""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate

import aiosmtplib

from emulator.device.outputs import Email

log = logging.getLogger("emulator.mailer")

TIMEOUT = 10.0


class Mailer:
    """Delivers to the SMTP server `host:port` (no TLS, no login: a test or relay server).

    Without a server the e-mail stays in the outbox with status "queued", and the request succeeds,
    as on a device whose SMTP settings a test does not care about.
    """

    def __init__(self, server: str, sender: str):
        host, _, port = server.rpartition(":") if server else ("", "", "")
        if not port.isdigit():  # a host name alone ("mail.example.com", "[::1]"): the SMTP port
            host, port = server, ""
        self.host = host.strip("[]")  # "[::1]:2525" -> ::1
        self.port = int(port) if port else 25
        self.sender = sender

    async def deliver(self, email: Email, device_name: str) -> bool:
        if not self.host:
            return True
        message = EmailMessage()
        message["From"] = f"{device_name} <{self.sender}>"
        message["To"] = email.to
        message["Subject"] = email.subject
        message["Date"] = formatdate(email.sent_at, usegmt=True)
        subtype = "html" if "<" in email.body and ">" in email.body else "plain"
        message.set_content(email.body, subtype=subtype)
        for i, picture in enumerate(email.pictures, start=1):
            message.add_attachment(picture, maintype="image", subtype="jpeg", filename=f"snapshot{i}.jpg")
        try:
            await aiosmtplib.send(message, hostname=self.host, port=self.port, timeout=TIMEOUT,
                                  start_tls=False, use_tls=False)
        except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
            email.status, email.error = "failed", str(exc) or type(exc).__name__
            log.warning("e-mail to %s not delivered through %s:%d: %s", email.to, self.host, self.port, email.error)
            return False
        email.status = "sent"
        return True
