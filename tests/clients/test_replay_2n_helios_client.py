"""Replay of 2n-helios-client 1.0.1 (joshuaburkhalter/2n-Helios, TypeScript on axios 1.x). Its
package.json names it `2n-helios-client`, but it is not on the npm registry (`npm view
2n-helios-client`: 404), so what it sends is replayed here, byte for byte where it matters (no
client code copied):
- HTTPS (certificate not verified), base URL https://host/api, axios `auth:` = preemptive Basic;
- its directory JSON goes in multipart parts, the way axios 1.x encodes a FormData in Node: a
  `form-data-boundary-...` boundary, a text part with only a Content-Disposition header:
  getUsers: POST dir/query, blob-json {"fields": ["name", "access.pin"]};
  getUser: POST dir/get, blob-json {"users": [{"uuid"}]};
  addUser: PUT dir/create, blob-dir_new {"users": [{name, email, access: {pin}}]} with the PIN a
  JSON number; updateUserAccess: PUT dir/update, blob-dir_new {"users": [{uuid, access: {pin, fpt}}]};
  removeUser: PUT dir/delete, blob-dir_new {"users": [{uuid}]};
- status: GET switch/status?switch=1 -> result.switches[0] active/held ("Locked", "Temporarily
  Opened", "Unlocked"); switch: GET switch/ctrl?switch=1&action=trigger|hold|release;
- log(days): GET log/subscribe?filter=UserAuthenticated&include=-<days*86400>, then one
  GET log/pull?id= (no timeout) -> events[].params.name and utcTime;
- enrollBio: POST fingerenroll/start?reader=2 (not in 2N's HTTP API manual: code 2).
It reads `data.success` and `data.result`, never the HTTP status.
"""

from __future__ import annotations

import json
import secrets
import string

import pytest
import requests
from client_helpers import ADMIN

pytestmark = [pytest.mark.helios(auth="basic", clock="virtual"),
              pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")]

_BOUNDARY_ALPHABET = string.ascii_letters + string.digits + "-_"


def axios_form(name: str, text: str) -> tuple[bytes, str]:
    """A FormData with one string field, as axios 1.x (Node) serialises it: body and Content-Type."""
    boundary = "axios-1.5.0-boundary-" + "".join(secrets.choice(_BOUNDARY_ALPHABET) for _ in range(25))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{text}\r\n"
            f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


class HeliosClient:
    def __init__(self, base: str, user=ADMIN):
        self.base = base + "/api"
        self.session = requests.Session()
        self.session.auth = user  # requests' tuple auth is Basic, sent with the first request
        self.session.headers.update({"Accept": "application/json, text/plain, */*", "User-Agent": "axios/1.5.0"})

    def _call(self, method: str, path: str, *, params=None, form: tuple[str, dict] | None = None) -> dict:
        kwargs: dict = {"params": params}
        if form is not None:
            body, content_type = axios_form(form[0], json.dumps(form[1], separators=(",", ":")))
            kwargs.update(data=body, headers={"Content-Type": content_type})
        return self.session.request(method, self.base + path, timeout=10, verify=False, **kwargs).json()

    # -- the Helios class's methods --------------------------------------------------------------

    def status(self, sw: int = 1) -> str | None:
        data = self._call("GET", "/switch/status", params={"switch": sw})
        if data["success"]:
            target = data["result"]["switches"][0]
            if target["active"] and not target["held"]:
                return "Temporarily Opened"
            if target["active"] and target["held"]:
                return "Unlocked"
            return "Locked"
        return None

    def switch(self, action: str, sw: int = 1) -> bool:
        act = {"lock": "release", "unlock": "hold", "open": "trigger"}[action]
        return self._call("GET", "/switch/ctrl", params={"switch": sw, "action": act})["success"]

    def get_users(self) -> list[dict] | None:
        data = self._call("POST", "/dir/query", form=("blob-json", {"fields": ["name", "access.pin"]}))
        return data["result"]["users"] if data["success"] else None

    def get_user(self, uuid: str) -> dict | None:
        data = self._call("POST", "/dir/get", form=("blob-json", {"users": [{"uuid": uuid}]}))
        return data["result"]["users"][0] if data["success"] else None

    def add_user(self, name: str, email: str, pin: int) -> bool:
        return self._call("PUT", "/dir/create",
                          form=("blob-dir_new", {"users": [{"name": name, "email": email, "access": {"pin": pin}}]}))["success"]

    def update_user_access(self, uuid: str, **access) -> bool:
        return self._call("PUT", "/dir/update", form=("blob-dir_new", {"users": [{"uuid": uuid, "access": access}]}))["success"]

    def remove_user(self, uuid: str) -> bool:
        return self._call("PUT", "/dir/delete", form=("blob-dir_new", {"users": [{"uuid": uuid}]}))["success"]

    def log(self, days: int = 7) -> list[dict]:
        sub = self._call("GET", "/log/subscribe", params={"filter": "UserAuthenticated", "include": f"-{days * 86400}"})
        pulled = self._call("GET", "/log/pull", params={"id": sub["result"]["id"]})
        return [{"name": e["params"]["name"], "utcTime": e["utcTime"]} for e in pulled["result"]["events"]]

    def enroll_bio(self, reader: int = 2) -> dict:
        return self._call("POST", "/fingerenroll/start", params={"reader": reader})


@pytest.fixture
def client(helios):
    return HeliosClient(helios.https_url)


def test_users_added_read_updated_and_removed_with_blob_parts(helios, client):
    assert client.add_user("Dana", "dana@example.com", 2468) is True
    users = client.get_users()
    dana = next(u for u in users if u.get("name") == "Dana")
    assert set(dana) == {"uuid", "name", "access"} and dana["access"] == {"pin": "2468"}  # only the fields asked
    flat2 = helios.device.directory.by_card("01045E31BB").uuid
    assert next(u for u in users if u["name"] == "Flat 2") == {"uuid": flat2, "name": "Flat 2", "access": {"pin": ""}}
    details = client.get_user(dana["uuid"])
    assert (details["name"], details["email"], details["access"]["pin"]) == ("Dana", "dana@example.com", "2468")
    assert "fpt" not in details["access"]  # no fingerprint yet: enrollBio's `details.access.fpt` is undefined
    assert helios.code("2468") is True and helios.device.switches.get(1).active  # the new PIN opens the door

    assert client.update_user_access(dana["uuid"], pin=1357, fpt="A1B2C3#fid=6") is True
    details = client.get_user(dana["uuid"])
    assert (details["access"]["pin"], details["access"]["fpt"]) == ("1357", "A1B2C3#fid=6")
    assert helios.code("2468") is False

    assert client.remove_user(dana["uuid"]) is True
    assert all(u.get("name") != "Dana" for u in client.get_users())
    assert helios.code("1357") is False
    assert {(r["method"], r["path"]) for r in helios.requests() if r["status"] == 200} >= {
        ("POST", "/api/dir/query"), ("POST", "/api/dir/get"), ("PUT", "/api/dir/create"), ("PUT", "/api/dir/update"),
        ("PUT", "/api/dir/delete")}


def test_door_status_and_switch(helios, client):
    assert client.status() == "Locked"
    assert client.switch("open") is True and client.status() == "Temporarily Opened"
    assert client.switch("unlock") is True and client.status() == "Unlocked"
    assert client.switch("lock") is True and client.status() == "Locked"


def test_entry_log_of_the_last_days(helios, client):
    helios.card("1A2B3C4D")  # Reception's card
    helios.advance(3600)
    helios.code("1234")  # Reception's PIN
    entries = client.log(days=7)
    assert [e["name"] for e in entries] == ["Reception", "Reception"]
    assert entries[1]["utcTime"] - entries[0]["utcTime"] == 3600


def test_fingerprint_enrolment_is_not_a_function(client):
    assert client.enroll_bio() == {"success": False, "error": {"code": 2, "description": "invalid request path"}}
