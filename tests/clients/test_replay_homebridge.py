"""Replay of homebridge-2n-intercom 2.2.x (mastalir1980; Node + axios; npm 404 here).

Written from a study of the client's published source (no client code copied). axios with `auth:` is
preemptive HTTP Basic and nothing else (no Digest), so the device must be set to Basic: these tests
start the emulator with auth="basic". axios is reproduced with `requests` + HTTPBasicAuth (also
preemptive). What makes it homebridge:
- protocol https by default, certificate not verified; host may carry :port;
- it never reads `success`: any 2xx reply is success (so an error at HTTP 200 would be taken
  for success - the tests check the body as well, which is what a user would notice);
- startup: POST /api/dir/query with JSON {} (10 s); reads users[].name, callPos[].peer, buttons;
- the door: GET switch/ctrl?switch=N&action=on (5 s);
- the doorbell: GET call/status every 2 s (5 s); a session with state "ringing" (direction not
  checked), and with a peer filter calls[].state == "ringing" and calls[].peer matching the
  directory peer; it fires on the false -> true edge;
- HomeKit snapshots: GET camera/snapshot?width=W&height=H with no `source` (8 s); the body is
  stored as the JPEG, whatever it is.
"""

from __future__ import annotations

import re

import pytest
import requests
from client_helpers import ADMIN, jpeg_size
from requests.auth import HTTPBasicAuth

pytestmark = [pytest.mark.helios(auth="basic", clock="virtual"),
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]
PROTOCOLS = ["https", "http"]


def peer_number(peer: str) -> str:
    """"sip:4374834473@proxy.my2n.com:5061" and "4374834473/2" both name 4374834473."""
    peer = re.sub(r"^sips?:", "", peer)
    return peer.split("@")[0].split("/")[0]


class Homebridge:
    def __init__(self, helios, protocol: str, user=ADMIN, door_switch: int = 1):
        url = helios.url if protocol == "http" else helios.https_url
        self.base = url  # protocol://host:port
        self.auth = HTTPBasicAuth(*user)
        self.door_switch = door_switch
        self.ringing = False
        self.doorbell_presses = 0

    def _request(self, method: str, path: str, timeout: float, **kwargs) -> requests.Response:
        reply = requests.request(method, self.base + path, auth=self.auth, timeout=timeout, verify=False,
                                 headers={"Accept": "application/json, text/plain, */*"}, **kwargs)
        reply.raise_for_status()  # axios rejects >= 400; any 2xx is success
        return reply

    def load_directory(self) -> dict[str, list]:
        reply = self._request("POST", "/api/dir/query", 10, json={})
        users = reply.json()["result"]["users"]
        out = {}
        for user in users:
            peers = [p.get("peer") or p.get("value") for p in user.get("callPos", [])]
            buttons = [b for b in re.split(r"[\n,;]", str(user.get("buttons", ""))) if b.strip()]
            out[user.get("name") or user.get("owner")] = [peers, buttons]
        return out

    def open_door(self) -> requests.Response:
        return self._request("GET", f"/api/switch/ctrl?switch={self.door_switch}&action=on", 5)

    def poll_doorbell(self, peer_filter: str | None = None) -> bool:
        """One poll; True when the doorbell fires (the edge)."""
        sessions = self._request("GET", "/api/call/status", 5).json()["result"]["sessions"]
        if peer_filter is None:
            now = any(s.get("state") == "ringing" for s in sessions)
        else:
            now = any(c.get("state") == "ringing" and peer_number(c.get("peer", "")) == peer_number(peer_filter)
                      for s in sessions for c in s.get("calls", []))
        fired = now and not self.ringing
        self.ringing = now
        self.doorbell_presses += fired
        return fired

    def snapshot(self, width: int, height: int) -> bytes:
        return self._request("GET", f"/api/camera/snapshot?width={width}&height={height}", 8).content


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_startup_directory_query(helios, protocol):
    hb = Homebridge(helios, protocol)
    directory = hb.load_directory()
    assert directory["Reception"] == [["sip:100@sip.example.com", None, None], ["1"]]  # 3 positions, 2 empty
    assert directory["Flat 2"] == [["sip:4374834473@proxy.my2n.com", None, None], ["2"]]
    assert helios.requests(path="/api/dir/query")[0]["method"] == "POST"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_door_switch_on(helios, protocol):
    hb = Homebridge(helios, protocol)
    reply = hb.open_door()
    assert reply.json() == {"success": True}  # homebridge would not look; a user would
    assert helios.device.switches.get(1).active
    helios.advance(5)
    assert helios.switch_activations(1) == [5.0]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_doorbell_detected_by_polling_call_status(helios, protocol):
    hb = Homebridge(helios, protocol)
    flat2_peer = hb.load_directory()["Flat 2"][0][0]
    assert hb.poll_doorbell(flat2_peer) is False  # idle: sessions == []
    helios.ring(2)  # the visitor presses the button of "Flat 2": an outgoing call to its peer
    helios.advance(1)  # connecting -> ringing after the profile's ring delay
    assert hb.poll_doorbell(flat2_peer) is True
    helios.advance(2)
    assert hb.poll_doorbell(flat2_peer) is False  # still ringing: no second press
    session = next(iter(helios.device.phone.sessions))
    helios.answer(session)
    assert hb.poll_doorbell(flat2_peer) is False and hb.ringing is False
    assert hb.doorbell_presses == 1


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_doorbell_peer_filter_ignores_other_buttons(helios, protocol):
    hb = Homebridge(helios, protocol)
    helios.ring(1)  # Reception's button, not Flat 2's
    helios.advance(1)
    assert hb.poll_doorbell("4374834473/2") is False
    hb_any = Homebridge(helios, protocol)
    assert hb_any.poll_doorbell() is True  # without a filter, any ringing session counts


@pytest.mark.parametrize("protocol", PROTOCOLS)
@pytest.mark.parametrize("size", [(640, 360), (1280, 720), (640, 480), (320, 240)])
def test_homekit_snapshot_without_source(helios, protocol, size):
    hb = Homebridge(helios, protocol)
    assert jpeg_size(hb.snapshot(*size)) == size


def test_homekit_size_not_in_caps_needs_the_lenient_option(helios, tmp_path):
    """480x270 is a HomeKit size a Verso does not list: faithful, the reply is HTTP 200 + JSON
    code 12, which homebridge would store as the picture. The profile option lenient_resolution
    serves the nearest listed size instead."""
    hb = Homebridge(helios, "https")
    body = hb.snapshot(480, 270)
    assert body.startswith(b"{") and b'"code":12' in body

    from emulator.control.handle import running
    from emulator.settings import Settings

    profile = tmp_path / "verso-lenient.toml"
    profile.write_text('extends = "verso"\n[camera]\nlenient_resolution = true\n', encoding="utf-8")
    with running(Settings(profile=str(profile), port=0, https_port=0, auth="basic")) as lenient:
        data = Homebridge(lenient, "https").snapshot(480, 270)
    assert jpeg_size(data) in {(480, 272), (640, 360), (352, 288)}  # a listed size near 480x270


def test_digest_only_device_does_not_work_with_homebridge():
    """On the default profile (Digest on every service) homebridge's preemptive Basic is the wrong
    method: the device answers HTTP 200 + JSON code 8 (as real devices do), which axios takes
    for success although nothing happened. Users must set the HTTP API services to Basic."""
    from emulator.control.handle import running
    from emulator.settings import Settings

    with running(Settings(port=0, https_port=0)) as digest:
        reply = Homebridge(digest, "https").open_door()
        assert reply.status_code == 200
        assert reply.json()["error"]["code"] == 8
        assert not digest.device.switches.get(1).active
