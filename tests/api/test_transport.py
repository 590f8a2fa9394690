"""Parameter transports (manual 2.2): query string, urlencoded body, multipart body, and mixtures.

The last occurrence of a parameter wins; blob- parameters come only from multipart bodies;
unknown parameters are ignored. Newer firmware also takes JSON bodies and raw firmware bodies.
"""

from __future__ import annotations

import asyncio

import pytest
import requests
from requests.auth import HTTPDigestAuth

from emulator.device import firmware
from support import form as multipart

ADMIN = ("admin", "2n")




async def active(api, number: int = 1) -> bool:
    return (await api.get("/api/switch/status", switch=number)).result["switches"][0]["active"]


# ----------------------------------------------------------------------------- single transports


async def test_query_string_on_get(api):
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert await active(api) is True


async def test_query_string_on_post(api):
    # A body-less POST as requests sends it (no Content-Type): twoen, spfuu.
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "on"},
                           skip_auto_headers=("Content-Type",))
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_urlencoded_post_body(api):
    reply = await api.post("/api/switch/ctrl", data={"switch": "1", "action": "on"})
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_multipart_post_body(api):
    reply = await api.post("/api/switch/ctrl", data=multipart(switch=2, action="on"))
    assert reply.json == {"success": True}
    assert await active(api, 2) is True


async def test_urlencoded_put_body(api):
    reply = await api.request("PUT", "/api/system/time", data={"automatic": "0", "utcTime": "1600000000"})
    assert reply.json == {"success": True}
    assert (await api.get("/api/system/time")).result["utcTime"] == 1600000000


async def test_query_string_on_delete(api):
    reply = await api.request("DELETE", "/api/display/image", params={"display": "internal"})
    assert reply.json == {"success": True}


async def test_parameters_in_a_multipart_put_with_the_blob(api):
    xml = (await api.get("/api/config")).body
    reply = await api.request("PUT", "/api/config", data=multipart(unused="1", **{"blob-cfg": xml}))
    assert reply.json == {"success": True}


async def test_https_carries_the_same_parameters(emu, make_client):
    api = make_client(emu, scheme="https")
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert await active(api) is True


async def test_percent_encoded_values_are_decoded(api):
    reply = await api.get("/api/switch/ctrl", switch=1, action="on", response="a b&c=d/é")
    assert reply.body == "a b&c=d/é".encode()


# ----------------------------------------------------------------------------- the last one wins


async def test_body_wins_over_query(api):
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "off"}, data={"action": "on"})
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_multipart_body_wins_over_query(api):
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "off"}, data=multipart(action="on"))
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_repeated_query_key_last_wins(api):
    reply = await api.request("GET", "/api/switch/ctrl", params=[("switch", "1"), ("action", "off"), ("action", "on")])
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_repeated_query_key_last_wins_even_when_first_is_valid(api):
    reply = await api.request("GET", "/api/switch/ctrl", params=[("switch", "1"), ("switch", "9"), ("action", "on")])
    assert reply.error["param"] == "switch"


async def test_repeated_body_key_last_wins(api):
    reply = await api.post("/api/switch/ctrl", data=[("switch", "2"), ("switch", "1"), ("action", "on")])
    assert reply.json == {"success": True}
    assert await active(api, 1) is True
    assert await active(api, 2) is False


async def test_query_parameter_not_in_body_still_counts(api):
    reply = await api.post("/api/switch/ctrl", params={"switch": "2"}, data={"action": "on"})
    assert reply.json == {"success": True}
    assert await active(api, 2) is True


# ----------------------------------------------------------------------------- blobs only from multipart


async def test_blob_in_query_string_is_ignored(api):
    xml = (await api.get("/api/config")).body.decode()
    reply = await api.request("PUT", "/api/config", params={"blob-cfg": xml})
    assert reply.error == {"code": 11, "param": "blob-cfg", "description": "missing mandatory parameter"}


async def test_blob_in_urlencoded_body_is_ignored(api):
    xml = (await api.get("/api/config")).body.decode()
    reply = await api.request("PUT", "/api/config", data={"blob-cfg": xml})
    assert reply.error == {"code": 11, "param": "blob-cfg", "description": "missing mandatory parameter"}


async def test_blob_image_in_query_is_ignored(api):
    reply = await api.request("PUT", "/api/display/image", params={"display": "internal", "blob-image": "GIF89a"})
    assert reply.error == {"code": 11, "param": "blob-image", "description": "missing mandatory parameter"}


async def test_firmware_as_multipart_and_as_raw_body_agree(api):
    image = firmware.image("570v1", "2.51.0.80.1")
    as_form = (await api.request("PUT", "/api/firmware", data=multipart(**{"blob-fw": image}))).result
    raw = (await api.request("PUT", "/api/firmware", data=image,
                             headers={"Content-Type": "application/octet-stream"})).result
    assert as_form["version"] == raw["version"] == "2.51.0.80.1"


# ----------------------------------------------------------------------------- extras and empty bodies


async def test_unknown_extra_parameters_are_ignored(api):
    reply = await api.get("/api/switch/ctrl", switch=1, action="on", timeout=0, duration=2000, foo="bar")
    assert reply.json == {"success": True}
    assert await active(api) is True


async def test_unknown_extra_parameters_are_ignored_on_2_15(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    reply = await api.get("/api/switch/ctrl", switch=1, action="on", timeout=0, duration=2000)
    assert reply.json == {"success": True}


async def test_post_with_empty_body_and_no_content_type_using_requests(emu, api):
    url = emu.url + "/api/switch/ctrl?switch=1&action=on"
    reply = await asyncio.to_thread(requests.post, url, auth=HTTPDigestAuth(*ADMIN), timeout=10)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"] == "application/json"
    assert reply.json() == {"success": True}
    assert await active(api) is True


async def test_post_with_no_content_type_using_aiohttp(api):
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "on"},
                           skip_auto_headers=("Content-Type",))
    assert reply.json == {"success": True}


async def test_octet_stream_quirk_refuses_empty_post_by_default(api):
    """Real fw 2.50.0.76.2 answers a POST with an empty application/octet-stream body (aiohttp's
    body-less POST) with 14 "Unsupported Content-Type"; the verso profile on 2.50 does too."""
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "on"})
    assert reply.status == 200
    assert reply.error == {"code": 14, "description": "Unsupported Content-Type"}
    assert await active(api) is False


@pytest.mark.parametrize("profile", ["verso", "force", "access-unit", "uni"])
async def test_octet_stream_quirk_on_every_2_50_profile_and_off_with_no_quirks(make_emulator, make_client, profile):
    faithful = make_client(await make_emulator(profile=profile))
    kind = make_client(await make_emulator(profile=profile, quirks=False))  # --no-quirks
    assert (await faithful.post("/api/switch/ctrl", params={"switch": "1", "action": "on"})).error["code"] == 14
    assert (await kind.post("/api/switch/ctrl", params={"switch": "1", "action": "on"})).json == {"success": True}


def test_no_quirks_on_the_command_line_and_in_the_environment(monkeypatch):
    from emulator.cli import parse_args, settings_from

    monkeypatch.delenv("HELIOS_NO_QUIRKS", raising=False)
    assert settings_from(parse_args([])).quirks is True
    assert settings_from(parse_args(["--no-quirks"])).quirks is False
    monkeypatch.setenv("HELIOS_NO_QUIRKS", "1")
    assert settings_from(parse_args([])).quirks is False


async def test_octet_stream_quirk_is_not_on_2_15(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    assert (await api.post("/api/switch/ctrl", params={"switch": "1", "action": "on"})).json == {"success": True}


async def test_octet_stream_quirk_leaves_get_and_form_post_alone(api):
    assert (await api.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert (await api.post("/api/switch/ctrl", data={"switch": "2", "action": "on"})).json == {"success": True}
    reply = await api.post("/api/switch/ctrl", params={"switch": "1", "action": "off"},
                           skip_auto_headers=("Content-Type",))
    assert reply.json == {"success": True}


# ----------------------------------------------------------------------------- JSON


async def test_json_body_on_phone_config_put(api):
    reply = await api.request("PUT", "/api/phone/config", json={"accounts": [{"account": 2, "sipNumber": "77"}]})
    assert reply.json == {"success": True}
    assert (await api.get("/api/phone/config")).result["accounts"][1]["sipNumber"] == "77"


async def test_phone_config_put_without_json_is_missing_accounts(api):
    reply = await api.request("PUT", "/api/phone/config", data={"accounts": "x"})
    assert reply.error == {"code": 11, "param": "accounts", "description": "missing mandatory parameter"}


async def test_phone_config_put_wrong_type_is_invalid(api):
    reply = await api.request("PUT", "/api/phone/config", json={"accounts": [{"account": 1, "sipNumber": 5}]})
    assert reply.error == {"code": 12, "param": "sipNumber", "description": "invalid parameter value"}
    assert (await api.get("/api/phone/config")).result["accounts"][0]["sipNumber"] == "4001"


async def test_malformed_json_body_is_an_error_not_a_crash(api):
    reply = await api.request("PUT", "/api/phone/config", data=b"{not json",
                              headers={"Content-Type": "application/json"})
    assert reply.status == 200
    assert reply.error["code"] == 14


async def test_broken_multipart_body_is_an_error_not_a_crash(api, caplog):
    reply = await api.post("/api/switch/ctrl", data=b"--xx\r\nbroken\r\n\r\nvalue\r\n--xx--\r\n",
                           headers={"Content-Type": "multipart/form-data; boundary=xx"})
    assert reply.status == 200
    assert reply.error == {"code": 14, "description": "malformed request body"}
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


async def test_a_multipart_body_of_more_than_128_parts_is_too_big(api):
    """aiohttp spends about 100 us on each part's headers: 1,700 tiny parts in 128 KB cost 170 ms
    of CPU per request. No function takes more than a few parameters."""
    def body(parts: int) -> bytes:
        return b"".join(b'--xx\r\nContent-Disposition: form-data; name="p%d"\r\n\r\n1\r\n' % i
                        for i in range(parts)) + b"--xx--\r\n"

    headers = {"Content-Type": "multipart/form-data; boundary=xx"}
    assert (await api.post("/api/switch/status", data=body(128), headers=headers)).result
    reply = await api.post("/api/switch/status", data=body(129), headers=headers)
    assert reply.error == {"code": 13, "description": "parameter data too big"}
