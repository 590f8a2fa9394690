"""Replay of spfuu/2N-Intercom (the 2016 "all 31 endpoints" script; `requests`; GitHub only).

Written from research/clients.md section 4 (no client code copied). What makes it spfuu:
- module-level requests.get/post/put/delete, no session; auth_type 1 = HTTPBasicAuth,
  2 = HTTPDigestAuth; every command calls raise_for_status() and returns response.text;
- parameters travel as application/x-www-form-urlencoded POST bodies, not in the query;
  several functions are POSTs with no body at all (no Content-Type, Content-Length 0);
- config, snapshot and pcap: a Content-Type of application/json means an error, anything else
  is the file;
- switch/ctrl and io/ctrl with `response=TEXT` expect TEXT back as text/plain;
- uploads are multipart (blob-fw, blob-cfg, display + blob-image); DELETE display/image carries
  a form body;
- its example loop subscribes with duration=130 and pulls with timeout=130 (HTTP timeout + 5 s).
"""

from __future__ import annotations

import io
import json

import pytest
import requests
from client_helpers import ADMIN, InThread, jpeg_size, wait_until_waiting
from requests.auth import HTTPBasicAuth, HTTPDigestAuth

AUTHS = [
    pytest.param(1, marks=pytest.mark.helios(auth="basic", clock="virtual"), id="basic"),
    pytest.param(2, marks=pytest.mark.helios(clock="virtual"), id="digest"),
]


class IPCam:
    """spfuu's commands: one HTTP request each, parameters in a form body."""

    def __init__(self, base: str, auth_type: int, user: str, password: str):
        self.base = base
        self.auth = {0: None, 1: HTTPBasicAuth(user, password), 2: HTTPDigestAuth(user, password)}[auth_type]

    def _send(self, method: str, path: str, data=None, files=None, timeout=None, stream=False) -> requests.Response:
        reply = requests.request(method, self.base + path, data=data, files=files, auth=self.auth,
                                 timeout=timeout, stream=stream, verify=False)
        reply.raise_for_status()
        return reply

    def get(self, path: str) -> str:
        return self._send("GET", path).text

    def post(self, path: str, **form) -> str:
        return self._send("POST", path, data=form or None).text

    def switch_control(self, switch: int, action: str, response: str | None = None) -> requests.Response:
        form = {"switch": switch, "action": action}
        if response is not None:
            form["response"] = response
        return self._send("POST", "/api/switch/ctrl", data=form)

    def io_control(self, port: str, action: str, response: str | None = None) -> requests.Response:
        form = {"port": port, "action": action}
        if response is not None:
            form["response"] = response
        return self._send("POST", "/api/io/ctrl", data=form)

    def file(self, method: str, path: str, **form) -> bytes | None:
        """A download that is an error when the reply is JSON (config, snapshot, pcap)."""
        reply = self._send(method, path, data=form or None, stream=True)
        if reply.headers.get("Content-Type") == "application/json":
            return None
        sink = io.BytesIO()
        for chunk in reply.iter_content(4096):
            sink.write(chunk)
        return sink.getvalue()

    def log_pull(self, channel: int, timeout: int) -> str:
        return self._send("POST", "/api/log/pull", data={"id": channel, "timeout": timeout}, timeout=timeout + 5).text


def cam(helios, auth_type: int) -> IPCam:
    return IPCam(helios.url, auth_type, *ADMIN)


def ok(text: str) -> dict:
    data = json.loads(text)
    assert data["success"] is True, data
    return data.get("result", {})


@pytest.mark.parametrize("auth_type", AUTHS)
def test_reads_with_form_and_empty_posts(helios, auth_type):
    c = cam(helios, auth_type)
    assert ok(c.get("/api/system/info"))["variant"] == "2N IP Verso"
    assert ok(c.get("/api/system/status"))["upTime"] >= 0
    assert len(ok(c.get("/api/switch/caps"))["switches"]) == 4
    # switch/status: a form with `switch`, and a POST with no body and no Content-Type.
    assert ok(c.post("/api/switch/status", switch=2))["switches"] == [
        {"switch": 2, "active": False, "locked": False, "held": False}]
    assert len(ok(c.post("/api/switch/status"))["switches"]) == 4
    assert ok(c.post("/api/io/caps", port="relay1"))["ports"] == [{"port": "relay1", "type": "output"}]
    assert len(ok(c.post("/api/io/status"))["ports"]) == 5
    assert [a["account"] for a in ok(c.post("/api/phone/status", account=1))["accounts"]] == [1]
    assert ok(c.post("/api/phone/status"))["accounts"][0]["sipNumber"] == "4001"
    assert ok(c.post("/api/call/status"))["sessions"] == []
    for path in ("/api/camera/caps", "/api/display/caps", "/api/log/caps", "/api/audio/test",
                 "/api/pcap/restart", "/api/pcap/stop"):
        ok(c.post(path))
    posts = [r for r in helios.requests(method="POST") if r["status"] == 200]
    assert {r["path"] for r in posts} >= {"/api/switch/status", "/api/io/caps", "/api/log/caps"}
    assert next(r for r in posts if r["path"] == "/api/io/caps")["params"] == {"port": "relay1"}


@pytest.mark.parametrize("auth_type", AUTHS)
def test_switch_and_io_control_by_form_with_response_text(helios, auth_type):
    c = cam(helios, auth_type)
    assert ok(c.switch_control(1, "on").text) == {}
    assert helios.device.switches.get(1).active
    reply = c.switch_control(1, "off", response="OK")
    assert reply.headers["Content-Type"].split(";")[0] == "text/plain" and reply.text == "OK"
    assert not helios.device.switches.get(1).active

    assert ok(c.io_control("output1", "on").text) == {}
    reply = c.io_control("output1", "off", response="done")
    assert reply.headers["Content-Type"].split(";")[0] == "text/plain" and reply.text == "done"
    assert [r["params"] for r in helios.requests(path="/api/io/ctrl", status=200)] == [
        {"port": "output1", "action": "on"}, {"port": "output1", "action": "off", "response": "done"}]


@pytest.mark.parametrize("auth_type", AUTHS)
def test_calls_by_form(helios, auth_type):
    c = cam(helios, auth_type)
    session = ok(c.post("/api/call/dial", number="sip:200@sip.example.com"))["session"]
    assert ok(c.post("/api/call/status", session=session))["sessions"][0]["direction"] == "outgoing"
    ok(c.post("/api/call/hangup", session=session, reason="busy"))
    incoming = helios.incoming_call("sip:300@sip.example.com")
    ok(c.post("/api/call/answer", session=incoming))
    assert ok(c.post("/api/call/status", session=incoming))["sessions"][0]["state"] == "connected"
    ok(c.post("/api/call/hangup", session=incoming))


@pytest.mark.parametrize("auth_type", AUTHS)
def test_snapshot_by_form_is_a_file(helios, auth_type):
    c = cam(helios, auth_type)
    data = c.file("POST", "/api/camera/snapshot", width=640, height=480, source="internal", time=0)
    assert data is not None and jpeg_size(data) == (640, 480)
    assert c.file("POST", "/api/camera/snapshot", width=641, height=480) is None  # JSON = error


@pytest.mark.parametrize("auth_type", AUTHS)
def test_log_subscribe_pull_unsubscribe_by_form(helios, auth_type):
    c = cam(helios, auth_type)
    channel = ok(c.post("/api/log/subscribe", filter="SwitchStateChanged,OutputChanged", duration=60,
                        include="new"))["id"]
    c.switch_control(2, "on")
    events = ok(c.log_pull(channel, timeout=2))["events"]
    assert {e["event"] for e in events} == {"SwitchStateChanged", "OutputChanged"}
    ok(c.post("/api/log/unsubscribe", id=channel))
    assert json.loads(c.log_pull(channel, timeout=0))["error"]["code"] == 12


@pytest.mark.parametrize("auth_type", AUTHS)
def test_long_pull_of_130_seconds(helios, auth_type):
    """Its example loop: duration=130 and timeout=130 (HTTP timeout 135). The virtual clock stands in
    for the 130 s: the pull is still waiting at 129.9 s and returns empty at 130 s."""
    c = cam(helios, auth_type)
    helios.advance(2)  # past the boot's SIP registration events: a quiet device
    channel = ok(c.post("/api/log/subscribe", duration=130))["id"]
    pull = InThread(c.log_pull, channel, 130)
    wait_until_waiting(helios, "/api/log/pull")
    helios.advance(129.9)
    assert not pull.done()
    helios.advance(0.1)
    assert ok(pull.result())["events"] == []
    # The channel is alive afterwards (every pull extends it by its duration).
    helios.advance(120)
    assert ok(c.log_pull(channel, 0))["events"] == []


@pytest.mark.parametrize("auth_type", AUTHS)
def test_email_send_by_form(helios, auth_type):
    c = cam(helios, auth_type)
    ok(c.post("/api/email/send", to="ops@example.com", subject="Door", body="Someone rang", width=640,
              height=480, pictureCount=1, timeSpan=0))
    mail = helios.device.outbox.messages[-1]
    assert (mail.to, mail.subject, mail.body, len(mail.pictures)) == ("ops@example.com", "Door", "Someone rang", 1)


@pytest.mark.parametrize("auth_type", AUTHS)
def test_pcap_is_binary(helios, auth_type):
    c = cam(helios, auth_type)
    ok(c.post("/api/pcap/restart"))
    c.get("/api/system/status")
    data = c.file("POST", "/api/pcap")
    assert data is not None and data[:4] in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1",
                                             b"\xa1\xb2\x3c\x4d")  # a pcap file, not JSON
    ok(c.post("/api/pcap/stop"))


@pytest.mark.parametrize("auth_type", AUTHS)
def test_multipart_uploads_and_delete_with_form_body(helios, auth_type):
    from PIL import Image

    from emulator.device.firmware import image

    c = cam(helios, auth_type)
    result = ok(c._send("PUT", "/api/firmware",
                        files={"blob-fw": ("fw.bin", image("570v1", "2.51.0.80.1"), "application/octet-stream")}).text)
    assert result["version"] == "2.51.0.80.1" and result["downgrade"] is False

    config = c.file("GET", "/api/config")
    assert config is not None and config.startswith(b"<?xml")
    ok(c._send("PUT", "/api/config", files={"blob-cfg": ("config.xml", config, "application/xml")}).text)

    gif = io.BytesIO()
    Image.new("RGB", (320, 240), "blue").save(gif, "GIF")
    ok(c._send("PUT", "/api/display/image", data={"display": "internal"},
               files={"blob-image": ("img.gif", gif.getvalue(), "image/gif")}).text)
    assert helios.device.display.image == gif.getvalue()
    ok(c._send("DELETE", "/api/display/image", data={"display": "internal"}).text)
    assert helios.device.display.image is None


@pytest.mark.parametrize("auth_type", AUTHS)
def test_get_only_maintenance(helios, auth_type):
    from emulator.device.firmware import image

    c = cam(helios, auth_type)
    ok(c._send("PUT", "/api/firmware",
               files={"blob-fw": ("fw.bin", image("570v1", "2.51.0.80.1"), "application/octet-stream")}).text)
    ok(c.get("/api/firmware/apply"))
    helios.advance(3)
    assert ok(c.get("/api/system/info"))["swVersion"] == "2.51.0.80.1"
    ok(c.get("/api/config/factoryreset"))
    helios.advance(3)
    ok(c.get("/api/system/restart"))
    helios.advance(3)
    assert ok(c.get("/api/system/status"))["upTime"] == 0


@pytest.mark.parametrize("auth_type", AUTHS)
def test_wrong_password_raises_for_status(helios, auth_type):
    c = IPCam(helios.url, auth_type, "admin", "wrong")
    with pytest.raises(requests.HTTPError) as err:
        c.post("/api/switch/status")
    assert err.value.response.status_code == 401
    assert err.value.response.json()["error"]["code"] == 9
