"""email/send: checked like the device checks it, delivered over real SMTP, kept in the outbox.

A real SMTP server (aiosmtpd) runs in each test that needs one; the emulator is pointed at it
with Settings(smtp="host:port"), as a user does with --smtp.
"""

from __future__ import annotations

import email
import io
import socket
from email import policy
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from PIL import Image


class Collector:
    """An aiosmtpd handler that keeps every envelope it receives (or refuses them all)."""

    def __init__(self, answer: str = "250 Message accepted for delivery") -> None:
        self.envelopes: list = []
        self.answer = answer

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return self.answer

    def messages(self) -> list[EmailMessage]:
        return [email.message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


def free_port() -> int:
    """A port nobody listens on (bound and released at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(collector: Collector, host: str = "127.0.0.1") -> Controller:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port = sock.getsockname()[1]
    controller = Controller(collector, hostname=host, port=port)
    controller.start()
    return controller


@pytest.fixture
def smtp():
    collector = Collector()
    controller = start_server(collector)
    collector.address = f"127.0.0.1:{controller.port}"
    collector.port = controller.port
    yield collector
    controller.stop()


@pytest.fixture
async def mail(make_emulator, make_client, smtp):
    """A Verso whose e-mail goes to the test's SMTP server, and a client of it."""
    emu = await make_emulator(smtp=smtp.address)
    return emu, make_client(emu)


def decode(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    image.load()
    return image


def pictures(message: EmailMessage) -> list[Image.Image]:
    return [decode(part.get_content()) for part in message.iter_attachments()
            if part.get_content_type() == "image/jpeg"]


async def test_an_email_with_a_picture_is_delivered(mail, smtp):
    emu, api = mail
    reply = await api.get("/api/email/send", to="doorman@example.com", subject="Someone at the door",
                          body="Visitor at the front door.", pictureCount=1, width=320, height=240)
    assert reply.status == 200 and reply.content_type == "application/json"
    assert reply.json == {"success": True}

    assert len(smtp.envelopes) == 1
    assert smtp.envelopes[0].rcpt_tos == ["doorman@example.com"]
    message = smtp.messages()[0]
    assert message["To"] == "doorman@example.com"
    assert message["Subject"] == "Someone at the door"
    assert message["From"] and message["Date"]
    assert message.get_body(("plain", "html")).get_content().strip() == "Visitor at the front door."
    images = pictures(message)
    assert [image.size for image in images] == [(320, 240)]

    sent = emu.device.outbox.messages[-1]
    assert (sent.to, sent.subject, sent.body, sent.status) == (
        "doorman@example.com", "Someone at the door", "Visitor at the front door.", "sent")
    assert len(sent.pictures) == 1


async def test_post_form_with_national_characters(mail, smtp):
    # spfuu's client POSTs a form; Czech installers write Czech subjects.
    emu, api = mail
    reply = await api.post("/api/email/send", data={
        "to": "recepce@example.cz", "subject": "Zvonění u dveří – vchod", "body": "Příchozí hovor.",
        "pictureCount": "1", "width": "640", "height": "360"})
    assert reply.json == {"success": True}
    message = smtp.messages()[0]
    assert message["Subject"] == "Zvonění u dveří – vchod"
    assert message.get_body(("plain", "html")).get_content().strip() == "Příchozí hovor."
    assert [image.size for image in pictures(message)] == [(640, 360)]
    assert emu.device.outbox.messages[-1].status == "sent"


async def test_without_pictures(mail, smtp):
    emu, api = mail
    for params in [{}, {"pictureCount": 0}]:
        reply = await api.get("/api/email/send", to="a@example.com", subject="No picture", **params)
        assert reply.json == {"success": True}
    assert len(smtp.envelopes) == 2
    assert all(pictures(message) == [] for message in smtp.messages())
    assert [m.status for m in emu.device.outbox.messages] == ["sent", "sent"]


async def test_pictures_have_a_listed_size_when_none_is_asked_for(mail, smtp):
    _, api = mail
    listed = [(r["width"], r["height"]) for r in (await api.get("/api/camera/caps")).result["jpegResolution"]]
    assert (await api.get("/api/email/send", to="a@example.com", subject="s", pictureCount=1)).json["success"]
    [image] = pictures(smtp.messages()[0])
    assert image.size in listed


async def test_up_to_five_pictures_on_current_firmware(mail, smtp):
    emu, api = mail
    reply = await api.get("/api/email/send", to="a@example.com", subject="five", pictureCount=5,
                          width=176, height=144)
    assert reply.json == {"success": True}
    assert [image.size for image in pictures(smtp.messages()[0])] == [(176, 144)] * 5
    reply = await api.get("/api/email/send", to="a@example.com", subject="six", pictureCount=6)
    assert reply.error["code"] == 12 and reply.error["param"] == "pictureCount"
    assert len(smtp.envelopes) == 1


async def test_at_most_one_picture_on_2_15(make_emulator, make_client, smtp):
    emu = await make_emulator(profile="vario-2.15", smtp=smtp.address)
    api = make_client(emu)
    reply = await api.get("/api/email/send", to="a@example.com", subject="one", pictureCount=1,
                          width=352, height=272)
    assert reply.json == {"success": True}
    assert [image.size for image in pictures(smtp.messages()[0])] == [(352, 272)]
    reply = await api.get("/api/email/send", to="a@example.com", subject="two", pictureCount=2,
                          width=352, height=272)
    assert reply.error["code"] == 12 and reply.error["param"] == "pictureCount"
    # 2.15 sizes only: a current Verso's 1280x720 is not on this camera.
    reply = await api.get("/api/email/send", to="a@example.com", subject="big", pictureCount=1,
                          width=1280, height=720)
    assert reply.error["code"] == 12 and reply.error["param"] == "width"
    assert len(smtp.envelopes) == 1
    assert len(emu.device.outbox.messages) == 1


async def test_to_and_subject_are_required(mail, smtp):
    emu, api = mail
    reply = await api.get("/api/email/send", subject="no recipient")
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert reply.error["code"] == 11 and reply.error["param"] == "to"
    reply = await api.get("/api/email/send", to="a@example.com")
    assert reply.error["code"] == 11 and reply.error["param"] == "subject"
    assert smtp.envelopes == [] and len(emu.device.outbox.messages) == 0


@pytest.mark.parametrize("to", ["nobody", "@example.com", "user@", "two@@example.com", "a b@example.com", ""])
async def test_a_bad_address_is_invalid(mail, smtp, to):
    emu, api = mail
    reply = await api.get("/api/email/send", to=to, subject="s")
    assert reply.error["code"] == 12 and reply.error["param"] == "to"
    assert smtp.envelopes == [] and len(emu.device.outbox.messages) == 0


@pytest.mark.parametrize("width, height, param", [(641, 480, "width"), (640, 481, "height"), (80, 80, "width")])
async def test_picture_size_must_be_in_camera_caps(mail, smtp, width, height, param):
    emu, api = mail
    reply = await api.get("/api/email/send", to="a@example.com", subject="s", pictureCount=1,
                          width=width, height=height)
    assert reply.error["code"] == 12 and reply.error["param"] == param
    assert smtp.envelopes == [] and len(emu.device.outbox.messages) == 0


async def test_an_unreachable_server_is_error_14_and_the_email_stays_in_the_outbox(make_emulator, make_client):
    emu = await make_emulator(smtp=f"127.0.0.1:{free_port()}")  # nobody listens there
    api = make_client(emu)
    reply = await api.get("/api/email/send", to="a@example.com", subject="lost", body="b", pictureCount=1,
                          width=320, height=240)
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert reply.error["code"] == 14
    [kept] = emu.device.outbox.messages
    assert (kept.to, kept.subject, kept.status) == ("a@example.com", "lost", "failed")
    assert kept.error  # why it failed, for the person reading the outbox
    assert len(kept.pictures) == 1


async def test_without_an_smtp_server_the_email_is_queued(emu, api):
    # No SMTP configured (the profile has none): the device accepts the e-mail and keeps it.
    reply = await api.get("/api/email/send", to="a@example.com", subject="kept")
    assert reply.json == {"success": True}
    [kept] = emu.device.outbox.messages
    assert (kept.to, kept.subject, kept.status) == ("a@example.com", "kept", "queued")


async def test_models_without_a_camera_send_mail_without_pictures(make_emulator, make_client, smtp):
    emu = await make_emulator(profile="uni", smtp=smtp.address)
    api = make_client(emu)
    assert (await api.get("/api/email/send", to="a@example.com", subject="text only")).json == {"success": True}
    reply = await api.get("/api/email/send", to="a@example.com", subject="picture", pictureCount=1)
    assert reply.error["code"] == 12 and reply.error["param"] == "pictureCount"
    assert len(smtp.envelopes) == 1


async def test_a_refusing_server_is_error_14(make_emulator, make_client):
    collector = Collector(answer="554 Transaction failed: spam")
    controller = start_server(collector)
    try:
        emu = await make_emulator(smtp=f"127.0.0.1:{controller.port}")
        reply = await make_client(emu).get("/api/email/send", to="a@example.com", subject="refused")
    finally:
        controller.stop()
    assert reply.error["code"] == 14
    assert len(collector.envelopes) == 1  # it did reach the server
    [kept] = emu.device.outbox.messages
    assert kept.status == "failed" and "554" in kept.error


async def test_the_server_can_be_named_by_host_name(make_emulator, make_client, smtp):
    emu = await make_emulator(smtp=f"localhost:{smtp.port}")
    reply = await make_client(emu).get("/api/email/send", to="a@example.com", subject="by name")
    assert reply.json == {"success": True}
    assert [m["Subject"] for m in smtp.messages()] == ["by name"]


async def test_the_server_can_be_an_ipv6_address(make_emulator, make_client):
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    collector = Collector()
    controller = start_server(collector, "::1")
    try:
        emu = await make_emulator(smtp=f"[::1]:{controller.port}")
        reply = await make_client(emu).get("/api/email/send", to="a@example.com", subject="over IPv6")
    finally:
        controller.stop()
    assert reply.json == {"success": True}
    assert emu.device.outbox.messages[-1].status == "sent"
    assert len(collector.envelopes) == 1


async def test_a_server_without_a_port_means_the_smtp_port(make_emulator, make_client):
    # --smtp mail.example.com (no port) must start the emulator, not crash it.
    emu = await make_emulator(smtp="127.0.0.1")
    reply = await make_client(emu).get("/api/email/send", to="a@example.com", subject="to port 25")
    [kept] = emu.device.outbox.messages
    if reply.json["success"]:
        assert kept.status == "sent"  # something does listen on port 25 here
    else:
        assert reply.error["code"] == 14
        assert kept.status == "failed" and "port 25" in kept.error, kept.error


async def test_email_send_needs_the_licence_on_2_15(make_emulator, make_client, smtp):
    emu = await make_emulator(profile="vario-2.15", licence=False, smtp=smtp.address)
    api = make_client(emu)
    reply = await api.get("/api/email/send", to="a@example.com", subject="s")
    assert reply.error["code"] == 5
    assert smtp.envelopes == [] and len(emu.device.outbox.messages) == 0
