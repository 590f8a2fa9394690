"""The directory of current firmware over HTTP (2N's manual 5.14): every documented field of a user
stored and returned, JSON as a body or as a multipart part, field filters, PUT-only writes, and
all-or-nothing creation under the cap."""

from __future__ import annotations

import json
import logging

import pytest

from emulator.device.dir_templates import TEMPLATES
from support import form

# Every field of the Verso's template (recorded dir/template), set to a non-default value.
FULL_USER = {
    "owner": "Access Commander", "name": "Eve Example", "photo": "eve.jpg", "email": "eve@example.com",
    "treepath": "/staff", "virtNumber": "42", "deputy": "1D58B028-72BA-1291-4A06-FE38BF6DD266", "buttons": "3",
    "callPos": [{"peer": "sip:300@sip.example.com", "profiles": "1", "grouped": True, "ipEye": "10.0.0.9"},
                {"peer": "sip:301@sip.example.com", "profiles": "", "grouped": False, "ipEye": ""},
                {"peer": "", "profiles": "", "grouped": False, "ipEye": ""}],
    "access": {"validFrom": "1700000000", "validTo": "2100000000",
               "accessPoints": [{"enabled": True, "profiles": "2"}, {"enabled": False, "profiles": ""}],
               "pairingExpired": True, "virtCard": "00AA11BB", "card": ["0A0B0C0D", "0E0F1011"],
               "mobkey": "8F6E5D4C3B2A1987", "fpt": "template#fid=6", "pin": "4711", "accessException": True,
               "code": ["", "7788", "", ""], "licensePlates": "1AB2345", "liftFloors": "1,2"},
}


async def create(api, users: list[dict], **params) -> list[dict]:
    reply = await api.request("PUT", "/api/dir/create", json={"users": users}, params=params)
    return reply.result["users"]


async def get(api, uuid: str, fields: list[str] | None = None) -> dict:
    body: dict = {"users": [{"uuid": uuid}]}
    if fields is not None:
        body["fields"] = fields
    [user] = (await api.post("/api/dir/get", json=body)).result["users"]
    return user


async def test_template_lists_every_field_of_the_model(api, emu, make_emulator, make_client):
    reply = (await api.get("/api/dir/template")).result
    assert reply["series"] == emu.device.directory.series
    [template] = reply["users"]
    assert template == TEMPLATES["verso"]
    assert list(template) == ["uuid", "deleted", "owner", "name", "photo", "email", "treepath", "virtNumber",
                              "deputy", "buttons", "callPos", "access", "timestamp"]
    assert template["access"]["accessPoints"] == [{"enabled": True, "profiles": ""}, {"enabled": True, "profiles": ""}]
    assert {"validFrom", "validTo", "card", "pin", "code", "mobkey", "licensePlates", "accessException"} \
        <= set(template["access"])
    # Another family: the Access Unit has no call positions or buttons, two switch codes.
    unit = await make_emulator(profile="access-unit")
    [template] = (await make_client(unit).get("/api/dir/template")).result["users"]
    assert "callPos" not in template and "buttons" not in template and len(template["access"]["code"]) == 2


async def test_every_field_is_stored_and_returned(api):
    [created] = await create(api, [FULL_USER])
    full = await get(api, created["uuid"], fields=[])  # an empty list: every field
    assert full == {"uuid": created["uuid"], "deleted": False, **FULL_USER, "timestamp": created["timestamp"]}
    assert list(full) == list(TEMPLATES["verso"])  # in the device's order
    query = (await api.post("/api/dir/query", json={"fields": []})).result["users"]
    assert next(u for u in query if u["uuid"] == created["uuid"]) == full


async def test_without_fields_only_non_default_values_come_back(api):
    [created] = await create(api, [{"name": "Bob", "access": {"pin": "5566", "validTo": "2100000000"}}])
    assert await get(api, created["uuid"]) == {
        "uuid": created["uuid"], "name": "Bob", "access": {"validTo": "2100000000", "pin": "5566"},
        "timestamp": created["timestamp"]}


async def test_field_paths_pick_parts_of_a_user(api):
    [created] = await create(api, [FULL_USER])
    picked = await get(api, created["uuid"], fields=["name", "access.pin", "access.code", "callPos.peer",
                                                     "callPos[0].grouped", "nonsense", "access.nothing"])
    assert picked == {"uuid": created["uuid"], "name": "Eve Example", "access": {"pin": "4711", "code": ["", "7788", "", ""]},
                      "callPos": [{"peer": "sip:300@sip.example.com", "grouped": True},
                                  {"peer": "sip:301@sip.example.com"}, {"peer": ""}]}


async def test_update_merges_access_and_replaces_arrays(api):
    [created] = await create(api, [FULL_USER])
    reply = await api.request("PUT", "/api/dir/update", json={"users": [
        {"uuid": created["uuid"], "access": {"pin": 9090, "card": ["ABCDEF01"], "validTo": 0}}]})
    assert reply.result["users"][0]["timestamp"] > created["timestamp"]
    access = (await get(api, created["uuid"], fields=["access"]))["access"]
    assert (access["pin"], access["card"], access["validTo"]) == ("9090", ["ABCDEF01", ""], "0")  # a number is taken
    assert access["mobkey"] == "8F6E5D4C3B2A1987" and access["code"] == ["", "7788", "", ""]  # untouched


@pytest.mark.parametrize("bad", [
    {"name": "X", "albert": "einstein"},  # a field the template does not have (manual 5.14.3)
    {"name": "X", "access.pin": "1234"},
    {"name": "X", "access": {"pin": "12ab"}},
    {"name": "X", "access": {"card": ["not hex"]}},
    {"name": "X", "access": {"card": ["0A0B0C0D", "0E0F1011", "12131415"]}},  # two cards at most
    {"name": "X", "access": {"validFrom": "tomorrow"}},
    {"name": "X", "access": {"accessPoints": [{"enabled": "yes"}]}},
    {"name": "X", "callPos": [{"peer": "a"}, {"peer": "b"}, {"peer": "c"}, {"peer": "d"}]},
    {"name": "X", "buttons": "0"},
    {"name": ["X"]},
])
async def test_a_bad_field_refuses_the_request_and_changes_nothing(api, emu, bad):
    before = emu.device.directory.timestamp
    reply = await api.request("PUT", "/api/dir/create", json={"users": [{"name": "Fine"}, bad]})
    assert (reply.error["code"], reply.error.get("param")) == (12, "users")
    assert emu.device.directory.timestamp == before
    assert "Fine" not in {u.name for u in emu.device.directory}


@pytest.mark.parametrize("path, method", [
    ("/api/dir/create", "POST"), ("/api/dir/update", "POST"), ("/api/dir/delete", "POST"),
    ("/api/dir/create", "GET"), ("/api/dir/query", "GET"), ("/api/dir/get", "GET"), ("/api/dir/query", "PUT"),
])
async def test_methods_are_the_manuals(api, emu, path, method):
    """create, update and delete are PUT only, get and query POST only (manual 5.14.2-5.14.6)."""
    uuid = next(iter(emu.device.directory)).uuid
    reply = await api.request(method, path, json={"users": [{"uuid": uuid, "name": "Changed"}]})
    assert reply.error["code"] == 3
    assert next(iter(emu.device.directory)).name == "Reception"


async def test_directory_json_as_multipart_parts(api, emu):
    """blob-dir_new for create, update and delete, blob-json for query and get (2n-helios-client and
    a device test suite send them so); a field filter in a multipart query is honoured."""
    def part(name: str, body: dict):
        return form(**{name: json.dumps(body).encode()})

    reply = await api.request("PUT", "/api/dir/create", data=part("blob-dir_new", {"users": [{"name": "Carol",
                              "email": "carol@example.com", "access": {"pin": 2468}}]}))
    uuid = reply.result["users"][0]["uuid"]
    query = await api.post("/api/dir/query", data=part("blob-json", {"fields": ["name", "access.pin"]}))
    carol = next(u for u in query.result["users"] if u["uuid"] == uuid)
    assert carol == {"uuid": uuid, "name": "Carol", "access": {"pin": "2468"}}
    await api.request("PUT", "/api/dir/update", data=part("blob-dir_new", {"users": [{"uuid": uuid, "name": "Carol B"}]}))
    got = await api.post("/api/dir/get", data=part("blob-json", {"users": [{"uuid": uuid}], "fields": ["name"]}))
    assert got.result["users"] == [{"uuid": uuid, "name": "Carol B"}]
    await api.request("PUT", "/api/dir/delete", data=part("blob-dir_new", {"users": [{"uuid": uuid}]}))
    assert emu.device.directory.get(uuid) is None
    assert emu.device.enter_code("2468") is False


@pytest.mark.parametrize("blob", [b"[" * 50_000, b"\xff\xfe", b"{not json"])
async def test_an_unreadable_part_is_14_without_a_traceback(api, blob, caplog):
    with caplog.at_level(logging.ERROR):
        reply = await api.request("PUT", "/api/dir/create", data=form(**{"blob-dir_new": blob}))
    assert reply.error == {"code": 14, "description": "malformed request body"}
    assert not caplog.records


async def test_create_without_users_answers_the_series_only(api, emu):
    assert (await api.request("PUT", "/api/dir/create", json={})).result == {"series": emu.device.directory.series}


async def test_create_refuses_a_taken_uuid_unless_forced(api):
    [created] = await create(api, [FULL_USER])
    again = await api.request("PUT", "/api/dir/create", json={"users": [{"uuid": created["uuid"], "name": "Other"}]})
    assert again.error["code"] == 12
    [forced] = await create(api, [{"uuid": created["uuid"], "name": "Other"}], force=1)
    assert forced["uuid"] == created["uuid"]
    # "the remaining fields are reset to their default values" (manual 5.14.2)
    assert await get(api, created["uuid"]) == {"uuid": created["uuid"], "name": "Other", "timestamp": forced["timestamp"]}


async def test_delete_by_owner(api, emu):
    await create(api, [{"name": "A", "owner": "My2N"}, {"name": "B", "owner": "My2N"}, {"name": "C"}])
    deleted = (await api.request("PUT", "/api/dir/delete", json={"owner": "My2N"})).result["users"]
    assert len(deleted) == 2
    assert {u.name for u in emu.device.directory} == {"Reception", "Flat 2", "C"}


async def test_creating_past_the_cap_changes_nothing(api, emu, caplog):
    """Only some of the new users fit: none is created, the error is answered, no traceback."""
    live = sum(1 for _ in emu.device.directory)
    for start in range(live, 9_999, 1000):  # fill the directory up to one place short of 10 000
        batch = [{"name": f"U{n}"} for n in range(start, min(start + 1000, 9_999))]
        assert len(await create(api, batch)) == len(batch)
    before = emu.device.directory.timestamp
    mark = emu.device.events.next_id
    with caplog.at_level(logging.ERROR):
        reply = await api.request("PUT", "/api/dir/create", json={"users": [{"name": "Fits"}, {"name": "Does not"}]})
    assert reply.error["code"] == 14
    assert emu.device.directory.timestamp == before
    assert {"Fits", "Does not"}.isdisjoint(u.name for u in emu.device.directory)
    assert [e.name for e in emu.device.events.history if e.id >= mark] == []  # no ConfigurationChanged
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(await create(api, [{"name": "Fits"}])) == 1  # the last place is still free


async def test_changes_raise_configuration_changed_and_survive_a_restart(make_emulator, make_client, tmp_path):
    first = await make_emulator(state_dir=tmp_path)
    api = make_client(first)
    [created] = await create(api, [FULL_USER])
    assert first.device.events.history[-1].name == "ConfigurationChanged"
    await api.request("GET", "/api/accesspoint/blocking/ctrl", params={"id": 1, "action": "on"})
    await first.stop()
    second = await make_emulator(state_dir=tmp_path)
    again = make_client(second)
    assert await get(again, created["uuid"], fields=[]) == {
        "uuid": created["uuid"], "deleted": False, **FULL_USER, "timestamp": (await get(again, created["uuid"]))["timestamp"]}
    status = (await again.get("/api/accesspoint/blocking/status")).result
    assert status == {"accessPoints": [{"id": 0, "blocked": False}, {"id": 1, "blocked": True}]}
