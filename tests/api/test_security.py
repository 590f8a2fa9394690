"""The device's security checks, in the device's order, each produced through a real configuration.

Order (research/device.md 1.3): path 2, method 3, model 1, service enabled 4, licence 5,
transport 7, authentication method 8, credentials 9 (HTTP 401), privilege 10, then parameters.
Every error but 9 is HTTP 200 with the 2N envelope; 9 is HTTP 401 with a challenge and the same
JSON envelope. Each test below sets the device up the way a user would (profile file, --auth,
--user, --no-licence) and talks to it over real sockets.
"""

from __future__ import annotations

import textwrap

import aiohttp
import pytest
from lxml import etree

from emulator.device.security import Account
from emulator.settings import parse_user
from support import form

DESCRIPTIONS = {
    1: "function is not supported",
    2: "invalid request path",
    3: "invalid request method",
    4: "function is disabled",
    5: "function is licensed",
    7: "invalid connection type",
    8: "invalid authentication method",
    9: "authorisation required",
    10: "insufficient user privileges",
}


def profile(tmp_path, body: str, base: str = "verso", name: str = "custom") -> str:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'extends = "{base}"\n' + textwrap.dedent(body), encoding="utf-8")
    return str(path)


def assert_error(reply, code: int) -> None:
    """The exact 2N error reply: HTTP 200 (401 for code 9), application/json, the manual's text."""
    assert reply.status == (401 if code == 9 else 200), (reply.status, reply.body)
    assert reply.content_type == "application/json"
    assert reply.json == {"success": False, "error": {"code": code, "description": DESCRIPTIONS[code]}}
    if code == 9:
        assert reply.headers.getall("WWW-Authenticate")
    else:
        assert "WWW-Authenticate" not in reply.headers


# -- /api/system/info and the defaults ------------------------------------------------------


async def test_system_info_answers_without_credentials(emu, make_client):
    for scheme in ("http", "https"):
        reply = await make_client(emu, user=None, scheme=scheme).get("/api/system/info")
        assert reply.status == 200
        assert reply.result["serialNumber"] == "54-2040-0137"


async def test_system_info_answers_without_credentials_on_a_basic_device(make_emulator, make_client):
    emu = await make_emulator(auth="basic")
    reply = await make_client(emu, user=None).get("/api/system/info")
    assert reply.status == 200 and reply.result["deviceName"] == "2N IP Verso"


async def test_every_other_function_wants_credentials_by_default(emu, make_client):
    anonymous = make_client(emu, user=None)
    for path in ("/api/system/status", "/api/switch/caps", "/api/io/status", "/api/phone/status",
                 "/api/call/status", "/api/camera/caps", "/api/display/caps", "/api/log/caps",
                 "/api/audio/test", "/api/email/send"):
        reply = await anonymous.get(path)
        assert_error(reply, 9)
        assert reply.headers["WWW-Authenticate"].startswith("Digest "), path


async def test_default_account_is_admin_2n_with_digest(emu, make_client):
    admin = make_client(emu)  # aiohttp DigestAuthMiddleware, admin/2n
    assert (await admin.get("/api/system/status")).result["upTime"] >= 0
    assert (await admin.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert (await admin.get("/api/switch/status", switch=1)).result["switches"][0]["active"] is True


# -- 9: credentials -------------------------------------------------------------------------


async def test_code_9_missing_credentials_is_401_with_a_digest_challenge_and_json(emu, make_client):
    reply = await make_client(emu, user=None).get("/api/switch/caps")
    assert reply.status == 401
    assert reply.content_type == "application/json"
    assert reply.body == b'{"success":false,"error":{"code":9,"description":"authorisation required"}}'
    assert reply.headers["Server"] == "HIP2.50.0.76.2"
    (challenge,) = reply.headers.getall("WWW-Authenticate")
    assert challenge.startswith("Digest ")
    assert 'realm="HTTP API"' in challenge and 'qop="auth"' in challenge


@pytest.mark.parametrize("auth", ["digest", "basic"])
@pytest.mark.parametrize("user", [("admin", "wrong"), ("nobody", "2n"), ("Admin", "2n"), ("admin", "")])
async def test_code_9_wrong_credentials(make_emulator, make_client, auth, user):
    emu = await make_emulator(auth=auth)
    reply = await make_client(emu, auth=auth, user=user).get("/api/switch/caps")
    assert_error(reply, 9)
    assert reply.headers["WWW-Authenticate"].lower().startswith(auth)


async def test_code_9_on_a_basic_service_challenges_with_basic(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.camera]
        auth = "basic"
    """))
    reply = await make_client(emu, user=None).get("/api/camera/caps")
    assert_error(reply, 9)
    assert reply.headers.getall("WWW-Authenticate") == ['Basic realm="HTTP API"']
    # The other services keep Digest.
    reply = await make_client(emu, user=None).get("/api/switch/caps")
    assert reply.headers["WWW-Authenticate"].startswith("Digest ")
    assert (await make_client(emu, auth="basic").get("/api/camera/caps")).result["sources"]


# -- 8: authentication method ---------------------------------------------------------------


async def test_code_8_basic_sent_to_a_digest_service(emu, make_client):
    reply = await make_client(emu, auth="basic").get("/api/switch/caps")
    assert_error(reply, 8)


async def test_code_8_comes_before_credentials(emu, make_client):
    # A wrong password over the wrong method is still "wrong method", not 401.
    reply = await make_client(emu, auth="basic", user=("admin", "wrong")).get("/api/switch/caps")
    assert_error(reply, 8)


async def test_code_8_digest_sent_to_a_basic_service(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.switch]
        auth = "basic"
    """))
    # A Digest answer to the Digest challenge of a Digest service, replayed on the Basic one.
    digest = make_client(emu)
    assert (await digest.get("/api/io/caps")).result["ports"]
    async with digest.session.get(emu.url + "/api/io/status") as resp:
        header = resp.request_info.headers["Authorization"]
    async with aiohttp.ClientSession() as raw:
        async with raw.get(emu.url + "/api/switch/caps", headers={"Authorization": header}) as resp:
            assert resp.status == 200
            assert await resp.json() == {"success": False,
                                         "error": {"code": 8, "description": DESCRIPTIONS[8]}}


# -- 7: transport ---------------------------------------------------------------------------


async def test_code_7_https_only_service_over_http(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.switch]
        transport = "https"
    """))
    assert_error(await make_client(emu).get("/api/switch/caps"), 7)
    assert_error(await make_client(emu, user=None).get("/api/switch/caps"), 7)  # before 9
    assert_error(await make_client(emu, auth="basic").get("/api/switch/caps"), 7)  # before 8
    assert (await make_client(emu, scheme="https").get("/api/switch/caps")).result["switches"]
    # Services left at "http" answer over both listeners.
    assert (await make_client(emu).get("/api/io/caps")).result["ports"]
    assert (await make_client(emu, scheme="https").get("/api/io/caps")).result["ports"]


async def test_https_required_everywhere(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services]
        transport = "https"
    """))
    for path in ("/api/system/status", "/api/io/caps", "/api/log/caps", "/api/camera/caps"):
        assert_error(await make_client(emu).get(path), 7)
        assert (await make_client(emu, scheme="https").get(path)).json["success"] is True


# -- 5: licence -----------------------------------------------------------------------------


async def test_code_5_no_licence_on_firmware_2_15(make_emulator, make_client):
    emu = await make_emulator(profile="vario-2.15", licence=False)
    admin = make_client(emu)
    assert_error(await admin.get("/api/switch/caps"), 5)
    assert_error(await make_client(emu, user=None).get("/api/switch/caps"), 5)  # before 9
    # Functions the manual marks "Licence: No" still work.
    assert (await admin.get("/api/camera/caps")).result["sources"]
    assert (await admin.get("/api/log/caps")).result["events"]
    assert (await admin.get("/api/system/info")).result["swVersion"] == "2.15.0.27.3"


async def test_licence_installed_on_firmware_2_15(make_emulator, make_client):
    emu = await make_emulator(profile="vario-2.15")
    assert (await make_client(emu).get("/api/switch/caps")).result["switches"]


async def test_code_5_audio_needs_its_licence_on_current_firmware(make_emulator, make_client):
    emu = await make_emulator(licence=False)
    admin = make_client(emu)
    assert_error(await admin.get("/api/audio/test"), 5)
    # From 2.35 nothing else needs a licence.
    assert (await admin.get("/api/switch/caps")).result["switches"]


async def test_code_5_comes_before_transport(make_emulator, make_client, tmp_path):
    emu = await make_emulator(licence=False, profile=profile(tmp_path, """
        [services.switch]
        transport = "https"
    """, base="vario-2.15"))
    assert_error(await make_client(emu).get("/api/switch/caps"), 5)


# -- 4: service disabled --------------------------------------------------------------------


async def test_code_4_disabled_service(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.camera]
        enabled = false
    """))
    assert_error(await make_client(emu).get("/api/camera/caps"), 4)
    assert_error(await make_client(emu, user=None).get("/api/camera/snapshot"), 4)  # before 9
    assert (await make_client(emu).get("/api/switch/caps")).result["switches"]


async def test_checks_follow_a_configuration_uploaded_while_in_use(emu, make_client):
    """The configuration-only checks are worked out once per configuration: a request made before
    an upload must not leave the old answer behind."""
    api = make_client(emu)
    assert (await api.get("/api/camera/caps")).json["success"] is True

    async def upload(enabled: int, transport: int) -> None:
        root = etree.fromstring((await api.get("/api/config")).body)
        service = root.find("HttpApi/Service[@Name='camera']")
        service.find("Enabled").text, service.find("Transport").text = str(enabled), str(transport)
        reply = await api.request("PUT", "/api/config", data=form(**{"blob-cfg": etree.tostring(root)}))
        assert reply.json == {"success": True}

    await upload(enabled=0, transport=0)
    assert_error(await api.get("/api/camera/caps"), 4)
    await upload(enabled=1, transport=1)  # HTTPS only
    assert_error(await api.get("/api/camera/caps"), 7)
    assert (await make_client(emu, scheme="https").get("/api/camera/caps")).json["success"] is True
    await upload(enabled=1, transport=0)
    assert (await api.get("/api/camera/caps")).json["success"] is True


async def test_code_4_comes_before_licence(make_emulator, make_client, tmp_path):
    emu = await make_emulator(licence=False, profile=profile(tmp_path, """
        [services.switch]
        enabled = false
    """, base="vario-2.15"))
    assert_error(await make_client(emu).get("/api/switch/caps"), 4)


async def test_every_service_can_be_disabled(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services]
        enabled = false
    """))
    admin = make_client(emu)
    for path in ("/api/system/status", "/api/switch/caps", "/api/io/caps", "/api/phone/status",
                 "/api/camera/caps", "/api/display/caps", "/api/log/caps", "/api/audio/test",
                 "/api/email/send"):
        assert_error(await admin.get(path), 4)


# -- 1: not on this model -------------------------------------------------------------------


async def test_code_1_function_the_model_lacks(make_emulator, make_client):
    emu = await make_emulator(profile="access-unit")  # no camera, no display
    assert_error(await make_client(emu).get("/api/camera/caps"), 1)
    assert_error(await make_client(emu, user=None).get("/api/camera/snapshot"), 1)  # before 9
    assert_error(await make_client(emu).get("/api/display/caps"), 1)


async def test_code_1_comes_before_disabled(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.camera]
        enabled = false
    """, base="access-unit"))
    assert_error(await make_client(emu).get("/api/camera/caps"), 1)


# -- 3 and 2: method and path ---------------------------------------------------------------


async def test_code_3_wrong_method(emu, make_client):
    admin = make_client(emu)
    assert_error(await admin.request("PUT", "/api/switch/ctrl"), 3)
    assert_error(await admin.get("/api/firmware"), 3)
    assert_error(await make_client(emu, user=None).request("DELETE", "/api/switch/caps"), 3)  # before 9


async def test_code_3_comes_before_model(make_emulator, make_client):
    emu = await make_emulator(profile="access-unit")
    assert_error(await make_client(emu).request("PUT", "/api/camera/caps"), 3)


async def test_code_2_unknown_path(emu, make_client):
    assert_error(await make_client(emu).get("/api/switch/nothing"), 2)
    assert_error(await make_client(emu, user=None).get("/api/secret"), 2)  # before 9
    assert_error(await make_client(emu, user=None).request("PUT", "/api/nothing"), 2)  # before 3


async def test_code_2_path_newer_than_the_firmware(make_emulator, make_client):
    emu = await make_emulator(profile="vario-2.15")
    assert_error(await make_client(emu, user=None).get("/api/system/caps"), 2)


# -- 10: privileges -------------------------------------------------------------------------

# What each function answers a user who holds its privilege, when called without parameters.
FUNCTIONS = [
    ("/api/system/status", "system", None),
    ("/api/switch/caps", "switch-monitoring", None),
    ("/api/switch/status", "switch-monitoring", None),
    ("/api/switch/ctrl", "switch-control", 11),
    ("/api/io/caps", "io-monitoring", None),
    ("/api/io/status", "io-monitoring", None),
    ("/api/io/ctrl", "io-control", 11),
    ("/api/phone/status", "call-monitoring", None),
    ("/api/call/status", "call-monitoring", None),
    ("/api/call/hangup", "call-control", 11),
    ("/api/camera/caps", "camera", None),
    ("/api/display/caps", "display", None),
    ("/api/audio/test", "audio", None),
    ("/api/email/send", "email", 11),
    ("/api/automation/trigger", "automation", 11),
    ("/api/log/caps", None, None),  # logging needs no privilege
]
PRIVILEGES = ["system", "switch-monitoring", "switch-control", "io-monitoring", "io-control",
              "call-monitoring", "call-control", "camera", "display", "audio", "email", "keypad", "uid",
              "automation"]


@pytest.mark.parametrize("privilege", PRIVILEGES)
async def test_code_10_each_privilege_opens_exactly_its_functions(make_emulator, make_client, privilege):
    emu = await make_emulator(users=[parse_user(f"user:pw:{privilege}")])
    user = make_client(emu, user=("user", "pw"))
    for path, needed, privileged_code in FUNCTIONS:
        reply = await user.get(path)
        assert reply.status == 200, path
        if needed is None or needed == privilege:
            if privileged_code is None:
                assert reply.json["success"] is True, (path, reply.json)
            else:  # past the security checks: the parameters are looked at
                assert reply.error["code"] == privileged_code, (path, reply.json)
        else:
            assert_error(reply, 10)


async def test_code_9_comes_before_10(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("cam:pw:camera")])
    assert_error(await make_client(emu, user=("cam", "nope")).get("/api/switch/caps"), 9)
    assert_error(await make_client(emu, user=("cam", "pw")).get("/api/switch/caps"), 10)


async def test_code_10_comes_before_parameters(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("viewer:pw:switch-monitoring")])
    reply = await make_client(emu, user=("viewer", "pw")).get("/api/switch/ctrl", switch=99, action="nonsense")
    assert_error(reply, 10)
    assert emu.device.switches.get(1).active is False


async def test_user_without_a_privilege_list_has_all(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("ops:s3cret")])
    ops = make_client(emu, user=("ops", "s3cret"))
    for path, _, code in FUNCTIONS:
        reply = await ops.get(path)
        assert reply.json["success"] is True or reply.error["code"] == code, (path, reply.json)


async def test_all_privilege_token(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("ops:pw:all")])
    assert (await make_client(emu, user=("ops", "pw")).get("/api/system/status")).json["success"] is True


async def test_several_privileges(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("door:pw:switch-monitoring,switch-control")])
    door = make_client(emu, user=("door", "pw"))
    assert (await door.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    assert (await door.get("/api/switch/status")).result["switches"][0]["active"] is True
    assert_error(await door.get("/api/io/status"), 10)


# -- accounts: profile and --user -----------------------------------------------------------


async def test_user_option_replaces_the_profile_accounts(make_emulator, make_client):
    emu = await make_emulator(users=[parse_user("ops:s3cret")])
    assert_error(await make_client(emu).get("/api/system/status"), 9)  # admin/2n is gone
    assert (await make_client(emu, user=("ops", "s3cret")).get("/api/system/status")).json["success"]


async def test_five_profile_accounts_each_with_its_privileges(make_emulator, make_client, tmp_path):
    accounts = [("sys", "system"), ("sw", "switch-control"), ("io", "io-monitoring"),
                ("cam", "camera"), ("all", "all")]
    body = "".join(f'\n[[accounts]]\nname = "{n}"\npassword = "pw-{n}"\nprivileges = ["{p}"]\n'
                   for n, p in accounts)
    emu = await make_emulator(profile=profile(tmp_path, body))
    expected = {  # account -> functions it may call, among the four below
        "sys": {"/api/system/status"},
        "sw": set(),
        "io": {"/api/io/status"},
        "cam": {"/api/camera/caps"},
        "all": {"/api/system/status", "/api/io/status", "/api/camera/caps", "/api/switch/status"},
    }
    for name, allowed in expected.items():
        client = make_client(emu, user=(name, f"pw-{name}"))
        for path in ("/api/system/status", "/api/io/status", "/api/camera/caps", "/api/switch/status"):
            reply = await client.get(path)
            if path in allowed:
                assert reply.json["success"] is True, (name, path)
            else:
                assert_error(reply, 10)
    assert_error(await make_client(emu).get("/api/system/status"), 9)  # the profile replaced admin


async def test_profile_with_six_accounts_is_refused(make_emulator, tmp_path):
    body = "".join(f'\n[[accounts]]\nname = "u{i}"\npassword = "p"\n' for i in range(6))
    with pytest.raises(Exception, match="at most five"):
        await make_emulator(profile=profile(tmp_path, body))


def test_parse_user():
    assert parse_user("bob:pw") == Account("bob", "pw", frozenset(PRIVILEGES))
    assert parse_user("eve:pw:camera,switch-monitoring") == \
        Account("eve", "pw", frozenset({"camera", "switch-monitoring"}))
    for bad in ("bob", ":pw", "bob:pw:superuser"):
        with pytest.raises(ValueError):
            parse_user(bad)


# -- --auth: every service at once ----------------------------------------------------------


async def test_auth_none_opens_every_service(make_emulator, make_client):
    emu = await make_emulator(auth="none")
    anonymous = make_client(emu, user=None)
    assert (await anonymous.get("/api/switch/ctrl", switch=1, action="on")).json == {"success": True}
    for path in ("/api/system/status", "/api/io/status", "/api/phone/status", "/api/camera/caps",
                 "/api/display/caps", "/api/log/caps", "/api/switch/status"):
        assert (await anonymous.get(path)).json["success"] is True, path


async def test_auth_basic_sets_every_service(make_emulator, make_client):
    emu = await make_emulator(auth="basic")
    basic, digest = make_client(emu, auth="basic"), make_client(emu)
    for path in ("/api/system/status", "/api/switch/caps", "/api/io/status", "/api/camera/caps",
                 "/api/log/caps"):
        assert (await basic.get(path)).json["success"] is True, path
        # aiohttp's Digest middleware finds no Digest challenge and gives up with the 401.
        assert_error(await digest.get(path), 9)


async def test_auth_option_overrides_the_profile_per_service_settings(make_emulator, make_client, tmp_path):
    emu = await make_emulator(auth="digest", profile=profile(tmp_path, """
        [services.camera]
        auth = "none"
        [services.switch]
        auth = "basic"
    """))
    assert_error(await make_client(emu, user=None).get("/api/camera/caps"), 9)
    assert_error(await make_client(emu, auth="basic").get("/api/switch/caps"), 8)
    assert (await make_client(emu).get("/api/switch/caps")).json["success"] is True


async def test_service_without_authentication_in_the_profile(make_emulator, make_client, tmp_path):
    emu = await make_emulator(profile=profile(tmp_path, """
        [services.camera]
        auth = "none"
    """))
    assert (await make_client(emu, user=None).get("/api/camera/caps")).result["sources"]
    assert_error(await make_client(emu, user=None).get("/api/switch/caps"), 9)


def test_command_line(monkeypatch):
    from emulator.cli import parse_args, parser, settings_from

    for name in ("HELIOS_AUTH", "HELIOS_USER", "HELIOS_NO_LICENCE"):
        monkeypatch.delenv(name, raising=False)
    settings = settings_from(parser().parse_args(
        ["--auth", "basic", "--user", "ops:pw:camera,io-control", "--user", "viewer:pw2", "--no-licence"]))
    assert settings.auth == "basic" and settings.licence is False
    assert settings.users == [Account("ops", "pw", frozenset({"camera", "io-control"})),
                              Account("viewer", "pw2", frozenset(PRIVILEGES))]
    assert settings_from(parser().parse_args([])).users is None  # the profile's accounts
    with pytest.raises(SystemExit):
        settings_from(parser().parse_args([f"--user=u{i}:p" for i in range(6)]))
    for bad in (["--user", "nobody"], ["--user", "x:y:root"], ["--auth", "ntlm"]):
        with pytest.raises(SystemExit):
            parser().parse_args(bad)
    monkeypatch.setenv("HELIOS_USER", "a:1 b:2:camera")
    assert [u.name for u in settings_from(parse_args([])).users] == ["a", "b"]
