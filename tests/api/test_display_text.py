"""display/text (manual 5.9.4, in the 3.3 manual): a message on the display, over real HTTP."""

from __future__ import annotations

import pytest

from emulator.device.clock import VirtualClock

THREE_THREE = 'extends = "verso"\n[identity]\nsw_version = "3.3.0.20.1"\n'  # a Verso on firmware 3.3


@pytest.fixture
async def newer(make_emulator, make_client, tmp_path):
    path = tmp_path / "verso-3.3.toml"
    path.write_text(THREE_THREE)
    emu = await make_emulator(profile=str(path), clock=VirtualClock())
    return emu, make_client(emu)


async def test_message_with_translations_until_its_timeout(newer):
    emu, api = newer
    body = {"uid": "visitor-42", "message": [{"language": "en", "text": "Hello, how can I help you?"},
                                             {"language": "cs", "text": "Dobrý den, jak Vám mohu pomoci?"}],
            "response": True, "timeout": 60, "icon": "operator"}
    reply = await api.request("PUT", "/api/display/text", json=body)
    assert reply.json == {"success": True, "result": {"response": "", "uid": "visitor-42"}}
    message = emu.device.display.message
    assert (message.texts["cs"], message.icon, message.response) == (
        "Dobrý den, jak Vám mohu pomoci?", "operator", True)
    emu.clock.advance(59.9)
    assert emu.device.display.message is message
    emu.clock.advance(0.1)
    assert emu.device.display.message is None


async def test_free_text_in_the_query_and_delete(newer):
    emu, api = newer
    # hexamus: POST display/text?text=... with no body (a form POST here; see the octet-stream quirk)
    reply = await api.post("/api/display/text", params={"text": "Back in 5 minutes", "uid": "note"}, data={})
    assert reply.result == {"response": "", "uid": "note"}
    assert emu.device.display.message.texts == {"": "Back in 5 minutes"}
    assert (await api.request("DELETE", "/api/display/text")).json == {"success": True, "result": {"uid": "note"}}
    assert emu.device.display.message is None


@pytest.mark.parametrize("body, code, param", [
    ({}, 11, "text"),
    ({"text": ""}, 12, "text"),
    ({"text": "x" * 1025}, 12, "text"),
    ({"text": "a", "message": [{"language": "en", "text": "a"}]}, 17, "text"),  # not both formats
    ({"message": []}, 12, "message"),
    ({"message": [{"language": "english", "text": "a"}]}, 12, "message"),
    ({"message": [{"language": "en"}]}, 12, "message"),
    ({"text": "a", "uid": "u" * 41}, 12, "uid"),
    ({"text": "a", "icon": "smiley"}, 12, "icon"),
    ({"text": "a", "timeout": 0}, 12, "timeout"),
    ({"text": "a", "response": True, "timeout": 3601}, 12, "timeout"),
    ({"text": "a", "timeout": 1209601}, 12, "timeout"),
    ({"text": "a", "response": "maybe"}, 12, "response"),
])
async def test_bad_messages_show_nothing(newer, body, code, param):
    emu, api = newer
    reply = await api.request("PUT", "/api/display/text", json=body)
    assert reply.error["code"] == code and reply.error["param"] == param, reply.json
    assert emu.device.display.message is None


async def test_a_long_message_without_response_may_stay_two_weeks(newer):
    emu, api = newer
    reply = await api.request("PUT", "/api/display/text", json={"text": "Closed", "timeout": 1209600})
    assert reply.json["success"] is True


async def test_only_on_newer_firmware_and_only_with_a_display(make_emulator, make_client, tmp_path):
    assert (await make_client(await make_emulator()).get("/api/display/text", text="a")).error["code"] == 2  # 2.50
    path = tmp_path / "force-3.3.toml"
    path.write_text('extends = "force"\n[identity]\nsw_version = "3.3.0.20.1"\n')
    force = make_client(await make_emulator(profile=str(path)))
    assert (await force.get("/api/display/text", text="a")).error["code"] == 1  # no display
