"""Each shipped profile over HTTP: what differs between models and firmware, and broken profile files."""

from __future__ import annotations

import pytest
from lxml import etree

from emulator.app import Emulator
from emulator.device import profile as profiles
from emulator.device.profile import ProfileError
from emulator.settings import Settings

PROFILES = {
    "verso": dict(variant="2N IP Verso", hw="570v1", sw="2.50.0.76.2", serial="54-2040-0137",
                  switches=[True, True, False, False],
                  ports=[("relay1", "output"), ("output1", "output"), ("led_secured", "output"),
                         ("input1", "input"), ("tamper", "input")],
                  camera=True, display=True, keypad=True, card=True, tamper=True, microphone=True),
    "vario-2.15": dict(variant="2N Helios IP Vario", hw="535v1", sw="2.15.0.27.3", serial="08-1860-0035",
                       switches=[True, True, False, False],
                       ports=[("relay1", "output"), ("output1", "output"), ("led_secured", "output"),
                              ("input1", "input"), ("input2", "input")],
                       camera=True, display=True, keypad=True, card=True, tamper=False, microphone=True),
    "force": dict(variant="2N IP Force", hw="541v2", sw="2.50.0.76.2", serial="54-1960-0412",
                  switches=[True, True, False, False],
                  ports=[("relay1", "output"), ("output1", "output"), ("led_secured", "output"),
                         ("input1", "input"), ("input2", "input"), ("tamper", "input")],
                  camera=True, display=False, keypad=True, card=True, tamper=True, microphone=True),
    "access-unit": dict(variant="2N Access Unit 2.0", hw="920v1", sw="2.50.0.76.2", serial="54-2180-0096",
                        switches=[True, True],
                        ports=[("relay1", "output"), ("output1", "output"), ("input1", "input"),
                               ("input2", "input"), ("tamper", "input")],
                        camera=False, display=False, keypad=True, card=True, tamper=True, microphone=False),
    "uni": dict(variant="2N IP Uni", hw="556v1", sw="2.50.0.76.2", serial="54-1480-0233",
                switches=[True, False, False, False],
                ports=[("relay1", "output"), ("input1", "input"), ("tamper", "input")],
                camera=False, display=False, keypad=False, card=False, tamper=True, microphone=True),
}
NAMES = list(PROFILES)
NEWER_EVENTS = {"CallSessionStateChanged", "DoorStateChanged", "UserAuthenticated"}


@pytest.fixture(params=NAMES)
async def model(request, make_emulator, make_client):
    """(expected facts, client) for each shipped profile."""
    emu = await make_emulator(profile=request.param)
    return PROFILES[request.param], make_client(emu)


def test_every_shipped_profile_is_covered():
    assert set(profiles.available()) == set(PROFILES)


@pytest.mark.parametrize("name", NAMES)
def test_shipped_profile_loads(name):
    profile = profiles.load(name)
    assert profile.name == name
    assert profile.identity.variant == PROFILES[name]["variant"]


async def test_identity_strings(model):
    expected, api = model
    info = (await api.get("/api/system/info")).result
    assert info["variant"] == expected["variant"]
    assert info["deviceName"] == expected["variant"]
    assert info["hwVersion"] == expected["hw"]
    assert info["swVersion"] == expected["sw"]
    assert info["serialNumber"] == expected["serial"]


async def test_server_header_names_the_firmware(model):
    expected, api = model
    for path in ("/api/system/info", "/api/switch/caps", "/api/nothing"):
        assert (await api.get(path)).headers["Server"] == "HIP" + expected["sw"]


async def test_switch_count_and_enabled_switches(model):
    expected, api = model
    switches = (await api.get("/api/switch/caps")).result["switches"]
    assert [s["switch"] for s in switches] == list(range(1, len(expected["switches"]) + 1))
    assert [s["enabled"] for s in switches] == expected["switches"]
    status = (await api.get("/api/switch/status")).result["switches"]
    assert len(status) == len(expected["switches"])


async def test_switch_beyond_the_count_is_invalid(model):
    expected, api = model
    reply = await api.get("/api/switch/ctrl", switch=len(expected["switches"]) + 1, action="on")
    assert reply.error == {"code": 12, "param": "switch", "description": "invalid parameter value"}


async def test_io_ports(model):
    expected, api = model
    ports = (await api.get("/api/io/caps")).result["ports"]
    assert [(p["port"], p["type"]) for p in ports] == expected["ports"]
    status = (await api.get("/api/io/status")).result["ports"]
    assert [p["port"] for p in status] == [name for name, _ in expected["ports"]]


async def test_camera_presence(model):
    expected, api = model
    reply = await api.get("/api/camera/caps")
    if expected["camera"]:
        assert reply.result["jpegResolution"]
    else:
        assert reply.error == {"code": 1, "description": "function is not supported"}


async def test_display_presence(model):
    expected, api = model
    reply = await api.get("/api/display/caps")
    if expected["display"]:
        assert reply.result["displays"][0]["resolution"] == {"width": 320, "height": 240}
    else:
        assert reply.error == {"code": 1, "description": "function is not supported"}


async def test_log_caps_match_the_hardware(model):
    expected, api = model
    events = set((await api.get("/api/log/caps")).result["events"])
    assert {"DeviceState", "KeyPressed", "KeyReleased", "InputChanged", "OutputChanged", "SwitchStateChanged",
            "CallStateChanged", "RegistrationStateChanged"} <= events
    assert ("MotionDetected" in events) == expected["camera"]
    assert ("CodeEntered" in events) == expected["keypad"]
    assert ("CardEntered" in events) == expected["card"]
    assert ("TamperSwitchActivated" in events) == expected["tamper"]
    assert ("NoiseDetected" in events) == expected["microphone"]
    assert bool(NEWER_EVENTS & events) == (not expected["sw"].startswith("2.15"))


async def test_config_head_names_the_model(model):
    expected, api = model
    body = (await api.get("/api/config")).body
    assert f"Product name: {expected['variant']}".encode() in body
    assert f"Hardware version: {expected['hw']}".encode() in body
    assert f"Display: {'Yes' if expected['display'] else 'No'}".encode() in body
    assert f"Card reader: {'Yes' if expected['card'] else 'No'}".encode() in body
    assert etree.fromstring(body).tag == "DeviceDatabase"


async def test_system_caps_only_on_current_firmware(model):
    expected, api = model
    reply = await api.get("/api/system/caps")
    if expected["sw"].startswith("2.15"):
        assert reply.error == {"code": 2, "description": "invalid request path"}
    else:
        options = reply.result["options"]
        assert options["camera"] == ("active" if expected["camera"] else "inactive")
        assert options["display"] == ("active" if expected["display"] else "inactive")


async def test_mac_address_only_on_current_firmware(model):
    expected, api = model
    info = (await api.get("/api/system/info")).result
    assert ("macAddr" in info) == (not expected["sw"].startswith("2.15"))


# ----------------------------------------------------------------------------- broken profiles


def write(tmp_path, text: str):
    path = tmp_path / "broken.toml"
    path.write_text(text)
    return path


def test_misspelt_key_fails_with_file_key_reason(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[identity]\nvarient = "2N IP Verso"\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.file == str(path)
    assert caught.value.key == "identity.varient"
    assert "unknown key" in caught.value.reason


def test_misspelt_top_level_key_fails(tmp_path):
    path = write(tmp_path, 'extends = "verso"\ncamrea = false\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.key == "camrea"


def test_bad_type_fails_with_file_key_reason(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[timing]\nrestart_seconds = "three"\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.file == str(path)
    assert caught.value.key == "timing.restart_seconds"
    assert "expected a number" in caught.value.reason


def test_boolean_for_a_number_fails(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[calls]\nring_delay = true\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.key == "calls.ring_delay"


def test_bad_switch_output_fails_with_file_key_reason(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[[switches]]\nmode = "monostable"\noutput = "relay9"\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.file == str(path)
    assert caught.value.key == "switches[0].output"
    assert "relay9" in caught.value.reason


def test_bad_switch_mode_fails(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[[switches]]\nmode = "toggle"\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.key == "switches[0].mode"
    assert "toggle" in caught.value.reason


def test_invalid_toml_fails_with_file(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n[identity\n')
    with pytest.raises(ProfileError) as caught:
        profiles.load(str(path))
    assert caught.value.file == str(path)
    assert "TOML" in caught.value.reason


def test_unknown_profile_name_fails():
    with pytest.raises(ProfileError) as caught:
        profiles.load("vario-9.99")
    assert "verso" in caught.value.reason  # lists the shipped ones


def test_error_message_names_file_key_and_reason(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[identity]\nvarient = "x"\n')
    with pytest.raises(ProfileError, match=r"broken\.toml: identity\.varient: unknown key"):
        profiles.load(str(path))


def test_emulator_refuses_to_start_with_a_broken_profile(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n\n[[switches]]\noutput = "relay9"\n')
    with pytest.raises(ProfileError):
        Emulator(Settings(port=0, https_port=None, profile=str(path)))


async def test_custom_profile_changes_what_the_api_shows(make_emulator, make_client, tmp_path):
    path = tmp_path / "custom.toml"
    path.write_text('extends = "verso"\n\n[identity]\ndevice_name = "Gate 7"\n\n[[switches]]\nmode = "bistable"\n')
    api = make_client(await make_emulator(profile=str(path)))
    assert (await api.get("/api/system/info")).result["deviceName"] == "Gate 7"
    assert (await api.get("/api/switch/caps")).result["switches"] == [
        {"switch": 1, "enabled": True, "mode": "bistable", "type": "normal"}]
