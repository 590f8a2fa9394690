import pytest
import requests
from requests.auth import HTTPDigestAuth


@pytest.mark.helios(clock="virtual")
def test_ring_answer_open(helios):
    auth = HTTPDigestAuth("admin", "2n")
    helios.ring()
    helios.advance(1)
    sessions = requests.get(f"{helios.url}/api/call/status", auth=auth, timeout=5).json()["result"]["sessions"]
    assert sessions[0]["state"] == "ringing"
    helios.answer(sessions[0]["session"])
    r = requests.get(f"{helios.url}/api/switch/ctrl", params={"switch": 1, "action": "trigger"}, auth=auth, timeout=5)
    assert r.json() == {"success": True}
    helios.advance(5)
    assert helios.switch_activations(1) == [5.0]
    assert helios.requests(path="/api/switch/ctrl")[0]["status"] == 200
