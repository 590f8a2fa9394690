"""A control plane people can find their way around: GET /_emulator/ lists it, an OpenAPI document
describes every endpoint, action and fault kind (validated with a real OpenAPI validator, and made
from the registries the code dispatches on), and the front panel's own endpoints serve the device's
live view: its description, events and journal entries as they happen, the camera and the display.
"""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

import aiohttp
import pytest
from openapi_spec_validator import validate
from PIL import Image

from emulator.control import live
from emulator.control.actions import ACTIONS, params_of
from emulator.control.app import ENDPOINTS, UI_FILES
from emulator.control.faults import COMMON, KINDS
from emulator.settings import parse_user

TOKEN = "s3cret"


@pytest.fixture
async def emu(make_emulator):
    return await make_emulator(clock="virtual", https_port=None)


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as s:
        yield s


async def get(session, url: str, **kwargs: Any) -> tuple[int, str, Any]:
    async with session.get(url, **kwargs) as resp:
        body = await resp.read()
        return resp.status, resp.content_type, json.loads(body) if resp.content_type == "application/json" else body


# -- the index and the OpenAPI document ---------------------------------------------------------------------


async def test_the_index_lists_every_endpoint_action_and_fault(emu, session):
    status, _, index = await get(session, emu.url + "/_emulator/")
    assert status == 200
    assert [(e["method"], e["path"]) for e in index["endpoints"]] == [(e.method, e.path) for e in ENDPOINTS]
    assert all(e["summary"] for e in index["endpoints"])
    assert index["actions"] == list(ACTIONS) and index["faults"] == list(KINDS)
    assert (index["openapi"], index["ui"]) == ("/_emulator/openapi.json", "/_emulator/ui")


async def test_the_openapi_document_is_valid_and_covers_every_action_and_fault(emu, session):
    status, content_type, doc = await get(session, emu.url + "/_emulator/openapi.json")
    assert (status, content_type) == (200, "application/json")
    validate(doc)  # openapi-spec-validator: raises on anything OpenAPI 3.1 does not allow
    paths = doc["paths"]
    for name in ACTIONS:
        body = paths[f"/_emulator/actions/{name}"]["post"]["requestBody"]["content"]["application/json"]["schema"]
        assert set(body["properties"]) == {p.name for p in params_of(name)}, name
        assert body["required"] == [p.name for p in params_of(name) if p.required], name
        assert paths[f"/_emulator/actions/{name}"]["post"]["description"], name
        assert all(p["description"] for p in body["properties"].values()), name
    schemas = doc["components"]["schemas"]
    fault_refs = paths["/_emulator/faults"]["post"]["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert [r["$ref"] for r in fault_refs] == [f"#/components/schemas/Fault_{kind}" for kind in KINDS]
    for kind, cls in KINDS.items():
        schema = schemas[f"Fault_{kind}"]
        assert schema["properties"]["kind"] == {"const": kind}
        assert set(schema["properties"]) == {"kind", *COMMON, *cls.params}, kind
        assert all(p["description"] for k, p in schema["properties"].items() if k != "kind"), kind
        assert kind in schema["description"] and len(schema["description"]) > len(kind) + 20, kind
    assert schemas["Fault_snapshot"]["properties"]["mode"]["enum"] == ["corrupt", "truncate"]
    assert schemas["Fault_error"]["required"] == ["kind", "code"]
    assert paths["/_emulator/actions/registration"]["post"]["requestBody"]["content"]["application/json"]["schema"][
        "properties"]["state"]["enum"] == ["registered", "unregistered", "registering", "unregistering"]


async def test_the_document_describes_exactly_the_routes_that_answer(emu, session):
    """Every path and method in the document is a route of the control plane, and every control
    route is in the document (aiohttp's own router says which routes exist)."""
    routed = set()
    for route in emu.app.router.routes():
        path = route.resource.canonical if route.resource is not None else ""
        if path.startswith("/_emulator") and route.method not in ("HEAD", "*") \
                and path != "/_emulator/ui/{file}":  # "*": the catch-all's JSON 404 and 405
            routed.add((route.method.lower(), path))
    _, _, doc = await get(session, emu.url + "/_emulator/openapi.json")
    documented = {(method, path if not path.startswith("/_emulator/actions/") else "/_emulator/actions/{name}")
                  for path, operations in doc["paths"].items() for method in operations}
    assert documented == routed


async def test_a_fault_made_from_the_document_is_accepted(emu, session):
    """Each kind's documented defaults make a fault the control plane takes (the document and the
    code agree on names and types)."""
    _, _, doc = await get(session, emu.url + "/_emulator/openapi.json")
    for kind in KINDS:
        if kind == "reboot":
            continue
        schema = doc["components"]["schemas"][f"Fault_{kind}"]
        spec = {name: p["default"] for name, p in schema["properties"].items() if "default" in p}
        spec["kind"] = kind
        spec.update({name: 1 for name in schema["required"] if name != "kind"})
        async with session.post(emu.url + "/_emulator/faults", json=spec) as resp:
            assert resp.status == 201, (kind, await resp.text())
    async with session.delete(emu.url + "/_emulator/faults") as resp:
        assert resp.status == 200


# -- the device in words --------------------------------------------------------------------------------------


async def test_the_device_in_words_never_holds_a_password(make_emulator, session):
    emu = await make_emulator(users=[parse_user("ha:very-secret:switch-control")], https_port=None)
    status, _, device = await get(session, emu.url + "/_emulator/device")
    assert status == 200
    assert (device["model"], device["firmware"], device["profile"]) == ("2N IP Verso", "2.50.0.76.2", "verso")
    assert device["accounts"] == [{"name": "ha", "privileges": ["switch-control"]}]
    assert {s["service"]: s["auth"] for s in device["services"]}["switch"] == "digest"
    assert device["hardware"]["buttons"] >= 1 and device["hardware"]["camera"]["resolutions"]
    assert "very-secret" not in json.dumps(device) and "2n" not in json.dumps(device["accounts"])


# -- the live view ----------------------------------------------------------------------------------------------


async def read_messages(resp: aiohttp.ClientResponse, count: int) -> list[tuple[str, Any]]:
    """The next `count` SSE messages (comments skipped)."""
    out = []
    while len(out) < count:
        block = b""
        while not block.endswith(b"\n\n"):
            block += await asyncio.wait_for(resp.content.readline(), 10)
        lines = block.decode().strip().split("\n")
        if lines[0].startswith(":"):
            continue
        fields = dict(line.split(": ", 1) for line in lines)
        out.append((fields["event"], json.loads(fields["data"])))
    return out


async def test_the_live_stream_carries_events_and_journal_entries(emu, session, make_client):
    api = make_client(emu)
    async with session.get(emu.url + "/_emulator/live") as resp:
        assert resp.content_type == "text/event-stream"
        await resp.content.readline()  # the opening comment: the stream is up
        emu.device.press("5")
        await api.get("/api/switch/ctrl", switch=1, action="on")
        messages: list[tuple[str, Any]] = []
        while sum(1 for name, data in messages if name == "journal" and data["kind"] == "request") < 2:
            messages += await read_messages(resp, 1)
    assert [(n, d["event"]) for n, d in messages[:2]] == [("device", "KeyPressed"), ("device", "KeyReleased")]
    requests = [data for name, data in messages if name == "journal" and data["kind"] == "request"]
    assert [(r["path"], r["status"], r["reason"]) for r in requests] == \
        [("/api/switch/ctrl", 401, "no credentials"), ("/api/switch/ctrl", 200, None)]
    assert ("device", "SwitchStateChanged") in [(n, d.get("event")) for n, d in messages]


async def test_the_live_stream_can_start_with_the_recent_past(emu, session):
    emu.device.press("7")
    async with session.get(emu.url + "/_emulator/live", params={"events": "2", "journal": "0"}) as resp:
        await resp.content.readline()
        messages = await read_messages(resp, 2)
    assert [(d["event"], d["params"]) for _, d in messages] == [("KeyPressed", {"key": "7"}),
                                                                ("KeyReleased", {"key": "7"})]


async def test_live_streams_are_bounded(emu, session, monkeypatch):
    monkeypatch.setattr(live, "MAX_VIEWERS", 2)
    first = await session.get(emu.url + "/_emulator/live")
    second = await session.get(emu.url + "/_emulator/live")
    try:
        status, _, body = await get(session, emu.url + "/_emulator/live")
        assert (status, body) == (503, {"error": "at most 2 live streams at once"})
    finally:
        first.close()
        second.close()
    for _ in range(200):  # both viewers leave; the hub stops listening to the device
        if not emu.live.viewers:
            break
        await asyncio.sleep(0.01)
    assert emu.live.viewers == set() and emu.journal.on_entry is None
    assert emu.live._on_event not in emu.device.events.listeners


async def test_a_viewer_that_falls_behind_loses_the_oldest_events_and_is_told(emu, session, monkeypatch):
    monkeypatch.setattr(live, "QUEUE", 3)
    async with session.get(emu.url + "/_emulator/live") as resp:
        await resp.content.readline()
        viewer = next(iter(emu.live.viewers))
        viewer.wake.set = lambda: None  # the viewer does not get to read while five events happen
        for key in "12345":
            emu.device.events.emit("KeyPressed", key=key)
        del viewer.wake.set
        viewer.wake.set()
        messages = await read_messages(resp, 4)
    assert [d["params"]["key"] for n, d in messages if n == "device"] == ["3", "4", "5"]
    assert ("lost", {"device": 2}) in messages


# -- media for the front panel ----------------------------------------------------------------------------------


async def test_the_camera_without_api_credentials(emu, session):
    status, content_type, body = await get(session, emu.url + "/_emulator/camera", params={"width": 320,
                                                                                            "height": 240})
    assert (status, content_type) == (200, "image/jpeg")
    assert Image.open(io.BytesIO(body)).size == (320, 240)
    async with session.get(emu.url + "/_emulator/camera", params={"fps": 5}) as resp:
        assert resp.content_type == "multipart/x-mixed-replace"
        assert (await resp.content.readline()).startswith(b"--HeliosMjpegBoundary")
    status, _, body = await get(session, emu.url + "/_emulator/camera", params={"width": 7, "height": 7})
    assert status == 400 and "640x480" in body["error"]
    assert emu.journal.find("request") == []  # the control plane's camera is not an /api request


async def test_the_display_image(emu, session, make_client):
    assert (await get(session, emu.url + "/_emulator/display"))[0] == 204
    picture = io.BytesIO()
    Image.new("P", (320, 240), 2).save(picture, "GIF")
    form = aiohttp.FormData()
    form.add_field("blob-image", picture.getvalue(), filename="x.gif", content_type="image/gif")
    reply = await make_client(emu).request("PUT", "/api/display/image", params={"display": "internal"}, data=form)
    assert reply.json == {"success": True}
    status, content_type, body = await get(session, emu.url + "/_emulator/display")
    assert (status, content_type, body) == (200, "image/gif", picture.getvalue())


async def test_models_without_camera_or_display_say_so(make_emulator, session):
    emu = await make_emulator(profile="access-unit", https_port=None)
    for path in ("/_emulator/camera", "/_emulator/display"):
        status, _, body = await get(session, emu.url + path)
        assert status == 404 and "this model has no" in body["error"]


# -- the control token --------------------------------------------------------------------------------------------


async def test_the_front_panel_files_need_no_token_but_its_data_does(make_emulator, session):
    emu = await make_emulator(control_token=TOKEN, https_port=None)
    for name in ("", *(f"/{f}" for f in UI_FILES)):
        status, content_type, _ = await get(session, emu.url + "/_emulator/ui" + name)
        assert status == 200, name
    assert (await get(session, emu.url + "/_emulator/ui"))[1] == "text/html"
    token = {"Authorization": f"Bearer {TOKEN}"}
    for name in ("secrets.txt", "..%2Fapp.py", "..%2F..%2Fsettings.py"):  # nothing else is served, token or not
        assert (await get(session, emu.url + "/_emulator/ui/" + name))[0] == 401
        assert (await get(session, emu.url + "/_emulator/ui/" + name, headers=token))[0] == 404
    for path in ("/_emulator/", "/_emulator/openapi.json", "/_emulator/device", "/_emulator/live",
                 "/_emulator/camera", "/_emulator/display"):
        assert (await get(session, emu.url + path))[0] == 401, path
        async with session.get(emu.url + path, headers=token) as resp:
            assert resp.status in (200, 204), path
