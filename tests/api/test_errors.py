"""Every error code the manual defines, per function, as a client sees it on the wire.

Every application error is HTTP 200 with `{"success": false, "error": {...}}`; only code 9 is
HTTP 401 (with a challenge). `param` is present exactly when the error names a parameter, and
descriptions are the manual's texts (emulator/errors.py). Codes 7, 8 and 10 are in the security
tests.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from emulator.device import firmware
from emulator.errors import ErrorCode
from support import form

NOT_SUPPORTED = {"code": 1, "description": "function is not supported"}
INVALID_PATH = {"code": 2, "description": "invalid request path"}
INVALID_METHOD = {"code": 3, "description": "invalid request method"}
DISABLED = {"code": 4, "description": "function is disabled"}
LICENSED = {"code": 5, "description": "function is licensed"}


def missing(param: str) -> dict:
    return {"code": 11, "param": param, "description": "missing mandatory parameter"}


def invalid(param: str) -> dict:
    return {"code": 12, "param": param, "description": "invalid parameter value"}


def too_big(param: str) -> dict:
    return {"code": 13, "param": param, "description": "parameter data too big"}




def picture(width: int = 320, height: int = 240, kind: str = "GIF") -> bytes:
    out = io.BytesIO()
    Image.new("RGB" if kind == "JPEG" else "P", (width, height)).save(out, kind)
    return out.getvalue()


async def error_of(reply) -> dict:
    assert reply.status == 200, (reply.status, reply.body)
    assert reply.content_type == "application/json"
    return reply.error


def test_descriptions_are_the_manuals():
    assert {c.value: c.description for c in ErrorCode if c.value <= 15} == {
        1: "function is not supported", 2: "invalid request path", 3: "invalid request method",
        4: "function is disabled", 5: "function is licensed", 7: "invalid connection type",
        8: "invalid authentication method", 9: "authorisation required", 10: "insufficient user privileges",
        11: "missing mandatory parameter", 12: "invalid parameter value", 13: "parameter data too big",
        14: "unspecified processing error", 15: "no data available"}


# ----------------------------------------------------------------------------- 1 not supported


@pytest.mark.parametrize("profile", ["access-unit", "uni"])
@pytest.mark.parametrize("path", ["/api/camera/caps", "/api/camera/snapshot"])
async def test_camera_without_camera_is_not_supported(make_emulator, make_client, profile, path):
    api = make_client(await make_emulator(profile=profile))
    assert await error_of(await api.get(path, width=320, height=240)) == NOT_SUPPORTED


@pytest.mark.parametrize("profile", ["force", "uni", "access-unit"])
async def test_display_caps_without_display_is_not_supported(make_emulator, make_client, profile):
    api = make_client(await make_emulator(profile=profile))
    assert await error_of(await api.get("/api/display/caps")) == NOT_SUPPORTED


@pytest.mark.parametrize("profile", ["force", "uni", "access-unit"])
async def test_display_image_without_display_is_not_supported(make_emulator, make_client, profile):
    api = make_client(await make_emulator(profile=profile))
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": picture()}))
    assert await error_of(reply) == NOT_SUPPORTED
    reply = await api.request("DELETE", "/api/display/image", params={"display": "internal"})
    assert await error_of(reply) == NOT_SUPPORTED


@pytest.mark.parametrize("licence", [True, False])
async def test_audio_test_without_audio_hardware_is_not_supported(make_emulator, make_client, licence):
    """The Access Unit has no loudspeaker or microphone: audio/test is a function the model lacks
    (1), before any licence (5) or credentials (9)."""
    emu = await make_emulator(profile="access-unit", licence=licence)
    assert await error_of(await make_client(emu).get("/api/audio/test")) == NOT_SUPPORTED
    assert await error_of(await make_client(emu, user=None).get("/api/audio/test")) == NOT_SUPPORTED


async def test_not_supported_comes_before_credentials(make_emulator, make_client):
    api = make_client(await make_emulator(profile="uni"), user=None)
    assert await error_of(await api.get("/api/camera/caps")) == NOT_SUPPORTED


# ----------------------------------------------------------------------------- 2 invalid path


@pytest.mark.parametrize("path", ["/api/nothing", "/api/system/info/", "/api/switch", "/api",
                                  "/api/switch/ctrl/extra"])
async def test_unknown_path_is_invalid_request_path(api, path):
    assert await error_of(await api.get(path)) == INVALID_PATH


async def test_unknown_path_with_any_method_is_invalid_request_path(api):
    assert await error_of(await api.request("DELETE", "/api/nothing")) == INVALID_PATH


@pytest.mark.parametrize("path", ["/api/system/caps", "/api/system/time", "/api/firmware/reject",
                                  "/api/phone/config"])
async def test_newer_paths_do_not_exist_on_2_15(make_emulator, make_client, path):
    api = make_client(await make_emulator(profile="vario-2.15"))
    assert await error_of(await api.get(path)) == INVALID_PATH


async def test_invalid_path_carries_the_server_header(api):
    assert (await api.get("/api/nothing")).headers["Server"] == "HIP2.50.0.76.2"


# ----------------------------------------------------------------------------- 3 invalid method


@pytest.mark.parametrize("method,path", [
    ("GET", "/api/firmware"),
    ("POST", "/api/firmware"),
    ("PUT", "/api/switch/ctrl"),
    ("DELETE", "/api/switch/status"),
    ("GET", "/api/display/image"),
    ("POST", "/api/display/image"),
    ("DELETE", "/api/config"),
    ("PUT", "/api/system/info"),
    ("PATCH", "/api/io/ctrl"),
])
async def test_wrong_method_is_invalid_request_method(api, method, path):
    assert await error_of(await api.request(method, path)) == INVALID_METHOD


async def test_wrong_method_comes_before_credentials(emu, make_client):
    api = make_client(emu, user=None)
    assert await error_of(await api.get("/api/firmware")) == INVALID_METHOD


# ----------------------------------------------------------------------------- 4 disabled


@pytest.fixture
async def switch_disabled(make_emulator, make_client, tmp_path):
    path = tmp_path / "no-switch.toml"
    path.write_text('extends = "verso"\n\n[services.switch]\nenabled = false\n')
    return make_client(await make_emulator(profile=str(path)))


@pytest.mark.parametrize("path", ["/api/switch/caps", "/api/switch/status", "/api/switch/ctrl"])
async def test_disabled_service_is_function_disabled(switch_disabled, path):
    assert await error_of(await switch_disabled.get(path, switch=1, action="on")) == DISABLED


async def test_other_services_stay_enabled(switch_disabled):
    assert (await switch_disabled.get("/api/io/status")).json["success"] is True


# ----------------------------------------------------------------------------- 5 licensed


LICENSED_2_15 = [
    ("GET", "/api/system/status"), ("GET", "/api/system/restart"), ("GET", "/api/config"),
    ("GET", "/api/config/factoryreset"), ("GET", "/api/firmware/apply"), ("PUT", "/api/firmware"),
    ("GET", "/api/switch/caps"), ("GET", "/api/switch/status"), ("GET", "/api/switch/ctrl"),
    ("GET", "/api/io/caps"), ("GET", "/api/io/status"), ("GET", "/api/io/ctrl"),
    ("GET", "/api/phone/status"), ("GET", "/api/call/status"), ("GET", "/api/call/dial"),
    ("GET", "/api/call/answer"), ("GET", "/api/call/hangup"), ("GET", "/api/display/caps"),
    ("PUT", "/api/display/image"), ("GET", "/api/audio/test"), ("GET", "/api/email/send"),
    ("GET", "/api/pcap"), ("GET", "/api/pcap/restart"), ("GET", "/api/pcap/stop"),
]


@pytest.fixture
async def unlicensed_2_15(make_emulator, make_client):
    return make_client(await make_emulator(profile="vario-2.15", licence=False))


@pytest.mark.parametrize("method,path", LICENSED_2_15)
async def test_licensed_functions_without_licence_on_2_15(unlicensed_2_15, method, path):
    assert await error_of(await unlicensed_2_15.request(method, path)) == LICENSED


@pytest.mark.parametrize("path", ["/api/system/info", "/api/camera/caps", "/api/log/caps"])
async def test_unlicensed_functions_work_without_licence_on_2_15(unlicensed_2_15, path):
    assert (await unlicensed_2_15.get(path)).json["success"] is True


async def test_log_subscribe_needs_no_licence_on_2_15(unlicensed_2_15):
    assert type((await unlicensed_2_15.get("/api/log/subscribe")).result["id"]) is int


async def test_audio_test_needs_enhanced_audio_on_current_firmware(make_emulator, make_client):
    api = make_client(await make_emulator(licence=False))
    assert await error_of(await api.get("/api/audio/test")) == LICENSED
    # From 2.35 nothing else needs a licence.
    assert (await api.get("/api/switch/caps")).json["success"] is True


# ----------------------------------------------------------------------------- 9 authorisation


async def test_no_credentials_is_401_with_challenge_and_code_9(emu, make_client):
    api = make_client(emu, user=None)
    reply = await api.get("/api/switch/status")
    assert reply.status == 401
    assert reply.headers["WWW-Authenticate"].startswith("Digest ")
    assert reply.content_type == "application/json"
    assert reply.json == {"success": False, "error": {"code": 9, "description": "authorisation required"}}


async def test_wrong_password_is_401(emu, make_client):
    api = make_client(emu, user=("admin", "wrong"))
    reply = await api.get("/api/switch/status")
    assert reply.status == 401
    assert reply.json["error"]["code"] == 9


# ----------------------------------------------------------------------------- 11 missing


@pytest.mark.parametrize("path,params,param", [
    ("/api/switch/ctrl", {"action": "on"}, "switch"),
    ("/api/switch/ctrl", {"switch": "1"}, "action"),
    ("/api/io/ctrl", {"action": "on"}, "port"),
    ("/api/io/ctrl", {"port": "relay1"}, "action"),
    ("/api/call/dial", {}, "number"),
    ("/api/call/answer", {}, "session"),
    ("/api/call/hangup", {}, "session"),
    ("/api/email/send", {"subject": "Hi"}, "to"),
    ("/api/email/send", {"to": "a@example.com"}, "subject"),
    ("/api/camera/snapshot", {"height": "240"}, "width"),
    ("/api/camera/snapshot", {"width": "320"}, "height"),
    ("/api/log/pull", {}, "id"),
    ("/api/log/unsubscribe", {}, "id"),
])
async def test_missing_parameter(api, path, params, param):
    assert await error_of(await api.get(path, **params)) == missing(param)


async def test_firmware_without_blob_is_missing_blob_fw(api):
    reply = await api.request("PUT", "/api/firmware", data=form(other="x"))
    assert await error_of(reply) == missing("blob-fw")


async def test_firmware_with_empty_body_is_missing_blob_fw(api):
    assert await error_of(await api.request("PUT", "/api/firmware")) == missing("blob-fw")


async def test_config_put_without_blob_is_missing_blob_cfg(api):
    reply = await api.request("PUT", "/api/config", data=form(other="x"))
    assert await error_of(reply) == missing("blob-cfg")


async def test_display_image_without_blob_is_missing_blob_image(api):
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal"))
    assert await error_of(reply) == missing("blob-image")


async def test_display_image_without_display_is_missing_display(api):
    reply = await api.request("PUT", "/api/display/image", data=form(**{"blob-image": picture()}))
    assert await error_of(reply) == missing("display")
    assert await error_of(await api.request("DELETE", "/api/display/image")) == missing("display")


# ----------------------------------------------------------------------------- 12 invalid


@pytest.mark.parametrize("path,params,param", [
    ("/api/switch/ctrl", {"switch": "9", "action": "on"}, "switch"),
    ("/api/switch/ctrl", {"switch": "0", "action": "on"}, "switch"),
    ("/api/switch/ctrl", {"switch": "abc", "action": "on"}, "switch"),
    ("/api/switch/ctrl", {"switch": "1", "action": "jump"}, "action"),
    ("/api/switch/ctrl", {"switch": "3", "action": "on"}, "switch"),  # disabled switch
    ("/api/switch/caps", {"switch": "5"}, "switch"),
    ("/api/switch/status", {"switch": "x"}, "switch"),
    ("/api/io/ctrl", {"port": "nope", "action": "on"}, "port"),
    ("/api/io/ctrl", {"port": "input1", "action": "on"}, "port"),
    ("/api/io/ctrl", {"port": "relay1", "action": "toggle"}, "action"),
    ("/api/io/caps", {"port": "nope"}, "port"),
    ("/api/io/status", {"port": "nope"}, "port"),
    ("/api/phone/status", {"account": "7"}, "account"),
    ("/api/camera/snapshot", {"width": "321", "height": "240"}, "width"),
    ("/api/camera/snapshot", {"width": "320", "height": "241"}, "height"),
    ("/api/camera/snapshot", {"width": "320", "height": "240", "source": "rear"}, "source"),
    ("/api/camera/snapshot", {"width": "320", "height": "240", "fps": "16"}, "fps"),
    ("/api/log/subscribe", {"include": "bogus"}, "include"),
    ("/api/log/pull", {"id": "12345"}, "id"),
    ("/api/log/unsubscribe", {"id": "12345"}, "id"),
    ("/api/email/send", {"to": "not an address", "subject": "Hi"}, "to"),
    ("/api/firmware/apply", {"fileid": "xyz"}, "fileid"),
])
async def test_invalid_parameter_value(api, path, params, param):
    assert await error_of(await api.get(path, **params)) == invalid(param)


async def test_hangup_bad_reason_is_invalid_reason(emu, api):
    session = emu.device.phone.incoming("sip:200@example.com").session
    assert await error_of(await api.get("/api/call/hangup", session=session, reason="x")) == invalid("reason")
    assert len((await api.get("/api/call/status")).result["sessions"]) == 1  # nothing happened


async def test_lock_is_an_invalid_action_on_2_15(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    assert await error_of(await api.get("/api/switch/ctrl", switch=1, action="lock")) == invalid("action")


async def test_bad_xml_is_invalid_blob_cfg(api):
    reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": b"<DeviceDatabase><System>"}))
    assert await error_of(reply) == invalid("blob-cfg")


async def test_foreign_xml_root_is_invalid_blob_cfg(api):
    reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": b"<Other/>"}))
    assert await error_of(reply) == invalid("blob-cfg")


async def test_bad_config_changes_nothing(api):
    blob = b"<DeviceDatabase><System><DeviceName>New</DeviceName></System><Switches><Switch Id='9'/></Switches></DeviceDatabase>"
    reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": blob}))
    assert await error_of(reply) == invalid("blob-cfg")
    assert (await api.get("/api/system/info")).result["deviceName"] == "2N IP Verso"


@pytest.mark.parametrize("blob", [
    picture(320, 240, "PNG"),
    picture(320, 240, "JPEG"),
    picture(321, 240, "GIF"),
    picture(160, 120, "GIF"),
    b"GIF89a not really",
])
async def test_non_gif_or_wrong_size_is_invalid_blob_image(api, blob):
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": blob}))
    assert await error_of(reply) == invalid("blob-image")


async def test_unknown_display_is_invalid_display(api):
    reply = await api.request("PUT", "/api/display/image", data=form(display="external", **{"blob-image": picture()}))
    assert await error_of(reply) == invalid("display")


@pytest.mark.parametrize("blob", [firmware.image("535v1", "2.51.0.80.1"), b"MZ\x90\x00 not firmware"])
async def test_foreign_firmware_is_invalid_blob_fw(api, blob):
    reply = await api.request("PUT", "/api/firmware", data=form(**{"blob-fw": blob}))
    assert await error_of(reply) == invalid("blob-fw")


async def test_foreign_raw_firmware_is_invalid_blob_fw(api):
    reply = await api.request("PUT", "/api/firmware", data=b"junk" * 100,
                              headers={"Content-Type": "application/octet-stream"})
    assert await error_of(reply) == invalid("blob-fw")


# ----------------------------------------------------------------------------- 13 too big


async def test_display_image_over_2_mb_is_too_big(api):
    blob = b"GIF89a" + bytes(2 * 1024 * 1024)
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": blob}))
    assert await error_of(reply) == too_big("blob-image")


async def test_config_over_4_mb_is_too_big(api):
    blob = b"<DeviceDatabase>" + b" " * (4 * 1024 * 1024) + b"</DeviceDatabase>"
    reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": blob}))
    assert await error_of(reply) == too_big("blob-cfg")


async def test_raw_firmware_over_64_mb_is_too_big(api):
    blob = bytes(64 * 1024 * 1024 + 1)
    reply = await api.request("PUT", "/api/firmware", data=blob, headers={"Content-Type": "application/octet-stream"})
    assert await error_of(reply) == too_big("blob-fw")


async def test_body_far_over_the_limit_is_refused_at_once(api):
    blob = b"GIF89a" + bytes(8 * 1024 * 1024)
    reply = await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": blob}))
    error = await error_of(reply)
    assert (error["code"], error["description"]) == (13, "parameter data too big")


async def test_urlencoded_body_over_64_kb_is_too_big(api):
    reply = await api.post("/api/switch/ctrl", data={"switch": "1", "action": "on", "pad": "x" * 70000})
    error = await error_of(reply)
    assert (error["code"], error["description"]) == (13, "parameter data too big")
    assert (await api.get("/api/switch/status", switch=1)).result["switches"][0]["active"] is False


async def test_device_still_answers_after_a_too_big_upload(api):
    blob = b"GIF89a" + bytes(2 * 1024 * 1024)
    await api.request("PUT", "/api/display/image", data=form(display="internal", **{"blob-image": blob}))
    assert (await api.get("/api/system/info")).status == 200


# ----------------------------------------------------------------------------- 14 processing


async def test_hangup_unknown_session_is_session_not_found(api):
    assert await error_of(await api.get("/api/call/hangup", session=77)) == {
        "code": 14, "description": "session not found"}


async def test_answer_unknown_session_is_session_not_found(api):
    assert await error_of(await api.get("/api/call/answer", session=77)) == {
        "code": 14, "description": "session not found"}


async def test_call_status_unknown_session_is_session_not_found(api):
    assert await error_of(await api.get("/api/call/status", session=77)) == {
        "code": 14, "description": "session not found"}


async def test_apply_without_upload_is_new_firmware_not_found(api):
    assert await error_of(await api.get("/api/firmware/apply")) == {
        "code": 14, "description": "new firmware not found"}


async def test_reject_without_upload_is_new_firmware_not_found(api):
    assert await error_of(await api.get("/api/firmware/reject")) == {
        "code": 14, "description": "new firmware not found"}
