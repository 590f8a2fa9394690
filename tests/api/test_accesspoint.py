"""accesspoint/* over HTTP (2N's manual 5.17): blocking, its status, remote grant of access; the
route table's privilege, firmware level and model checks; error 18 for a disabled access point."""

from __future__ import annotations

import pytest

from emulator.settings import parse_user


def reception(emu):
    return next(u for u in emu.device.directory if u.name == "Reception")


async def test_blocking_refuses_cards_and_codes_until_unblocked(api, emu):
    assert (await api.get("/api/accesspoint/blocking/status")).result == {
        "accessPoints": [{"id": 0, "blocked": False}, {"id": 1, "blocked": False}]}
    assert (await api.post("/api/accesspoint/blocking/ctrl", data={"id": "0", "action": "on"})).json == {"success": True}
    assert (await api.get("/api/accesspoint/blocking/status", id=0)).result == {"accessPoints": [{"id": 0, "blocked": True}]}
    # "in the desired state regardless of a change": blocking again is a success too
    assert (await api.get("/api/accesspoint/blocking/ctrl", id=0, action="on")).json == {"success": True}
    device = emu.device
    assert device.swipe_card("1A2B3C4D") is True and device.enter_code("1234") is True
    assert not device.switches.get(1).active
    rejected = [e.params["reason"] for e in device.events.history if e.name == "UserRejected"]
    assert rejected == ["accessBlocked", "accessBlocked"]
    assert [e.params for e in device.events.history if e.name == "AccessBlocked"] == [{"ap": 0, "state": "in"}]
    await api.get("/api/accesspoint/blocking/ctrl", id=0, action="off")
    device.swipe_card("1A2B3C4D")
    assert device.switches.get(1).active


async def test_grant_access(api, emu):
    user = reception(emu)
    reply = await api.get("/api/accesspoint/grantaccess", id=0, user=user.uuid)
    assert reply.result == {"accessGranted": True}
    door = emu.device.switches.get(emu.device.profile.door.switch)
    assert door.active
    granted = [e.params for e in emu.device.events.history if e.name in ("ApiAccessRequested", "SwitchStateChanged")]
    assert granted == [{"ap": 0, "session": 1, "uuid": user.uuid, "valid": True},
                       {"ap": 0, "session": 1, "switch": door.number, "state": True, "originator": "ap"}]


async def test_grant_access_refusals_name_the_reason(api, emu):
    user = reception(emu)
    unknown = await api.get("/api/accesspoint/grantaccess", id=0, user="01234567-89AB-CDEF-0123-456789ABCDEF")
    assert unknown.result == {"accessGranted": False, "reason": "invalidCredential"}
    await api.request("PUT", "/api/dir/update", json={"users": [
        {"uuid": user.uuid, "access": {"accessPoints": [{"enabled": True}, {"enabled": False}]}}]})
    assert (await api.get("/api/accesspoint/grantaccess", id=1, user=user.uuid)).result == {
        "accessGranted": False, "reason": "invalidAp"}
    await api.get("/api/accesspoint/blocking/ctrl", id=0, action="on")
    assert (await api.get("/api/accesspoint/grantaccess", id=0, user=user.uuid)).result == {
        "accessGranted": False, "reason": "accessBlocked"}
    assert not any(s.active for s in emu.device.switches)
    assert [e.params["valid"] for e in emu.device.events.history if e.name == "ApiAccessRequested"] == [False] * 3


@pytest.mark.parametrize("path, params, code, param", [
    ("/api/accesspoint/blocking/ctrl", {"action": "on"}, 11, "id"),
    ("/api/accesspoint/blocking/ctrl", {"id": 2, "action": "on"}, 12, "id"),
    ("/api/accesspoint/blocking/ctrl", {"id": 0, "action": "toggle"}, 12, "action"),
    ("/api/accesspoint/blocking/ctrl", {"id": 0}, 11, "action"),
    ("/api/accesspoint/grantaccess", {"id": 0}, 11, "user"),
    ("/api/accesspoint/grantaccess", {"user": "x"}, 11, "id"),
])
async def test_parameters(api, path, params, code, param):
    error = (await api.get(path, **params)).error
    assert (error["code"], error.get("param")) == (code, param)


async def test_a_disabled_access_point_is_error_18(make_emulator, make_client, tmp_path):
    path = tmp_path / "no-exit.toml"
    path.write_text('extends = "verso"\n[access]\nexit = false\n')
    emu = await make_emulator(profile=str(path))
    api = make_client(emu)
    for function, params in (("blocking/ctrl", {"id": 1, "action": "on"}),
                             ("grantaccess", {"id": 1, "user": reception(emu).uuid})):
        error = (await api.get(f"/api/accesspoint/{function}", **params)).error
        assert (error["code"], error["description"]) == (18, "access point disabled")
    assert not emu.device.switches.get(1).active
    assert (await api.get("/api/accesspoint/blocking/ctrl", id=0, action="on")).json == {"success": True}


async def test_route_checks(make_emulator, make_client, tmp_path):
    # the privilege "Access Control"
    emu = await make_emulator(users=[parse_user("ops:pw:system,switch-control")])
    assert (await make_client(emu, user=("ops", "pw")).get("/api/accesspoint/blocking/status")).error["code"] == 10
    # wrong method
    assert (await make_client(emu, user=("ops", "pw")).request("PUT", "/api/accesspoint/blocking/status")).error["code"] == 3
    # a model without access points (no keypad, card reader or Bluetooth)
    uni = await make_emulator(profile="uni")
    assert (await make_client(uni).get("/api/accesspoint/blocking/status")).error["code"] == 1
    # firmware: none on 2.15; grantaccess from 2.37
    old = await make_emulator(profile="vario-2.15")
    assert (await make_client(old).get("/api/accesspoint/blocking/status")).error["code"] == 2
    path = tmp_path / "2.36.toml"
    path.write_text('extends = "verso"\n[identity]\nsw_version = "2.36.0.40.1"\nfirmware_package = ""\n')
    before_grant = make_client(await make_emulator(profile=str(path)))
    assert (await before_grant.get("/api/accesspoint/blocking/status")).json["success"] is True
    assert (await before_grant.get("/api/accesspoint/grantaccess", id=0, user="x")).error["code"] == 2
    caps = (await before_grant.get("/api/log/caps")).result["events"]
    assert "AccessBlocked" in caps and "ApiAccessRequested" not in caps


async def test_a_service_of_its_own(make_emulator, make_client, tmp_path):
    path = tmp_path / "no-access-api.toml"
    path.write_text('extends = "verso"\n[services.access-control]\nenabled = false\n')
    api = make_client(await make_emulator(profile=str(path)))
    assert (await api.get("/api/accesspoint/blocking/status")).error["code"] == 4
    assert (await api.get("/api/switch/status")).json["success"] is True


async def test_before_2_49_grantaccess_opens_switch_1(make_emulator, make_client, tmp_path):
    """2.49 release notes: grantaccess "activates the configured Door switch instead of always Switch 1"."""
    for version, expected in (("2.48.0.1.1", 1), ("2.49.0.1.1", 2)):
        path = tmp_path / f"{version}.toml"
        path.write_text(f'extends = "verso"\n[identity]\nsw_version = "{version}"\nfirmware_package = ""\n'
                        '[door]\nswitch = 2\n')
        emu = await make_emulator(profile=str(path))
        await make_client(emu).get("/api/accesspoint/grantaccess", id=0, user=reception(emu).uuid)
        assert [s.number for s in emu.device.switches if s.active] == [expected]
