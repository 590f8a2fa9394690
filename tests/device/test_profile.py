"""Profiles: shipped files load, `extends` merges, and a bad file names its file, key and reason."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.api.system import options
from emulator.device import profile as profiles
from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.profile import LICENCE_FREE_FROM, ProfileError, Resolution, load

SHIPPED = ["access-unit", "force", "uni", "vario-2.15", "verso"]


def write(tmp_path: Path, text: str, name: str = "custom.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def failure(tmp_path: Path, text: str) -> ProfileError:
    path = write(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        load(str(path))
    assert err.value.file == str(path.resolve())
    assert str(err.value) == f"{err.value.file}: {err.value.key}: {err.value.reason}"
    return err.value


def test_the_shipped_profiles_are_listed():
    assert set(SHIPPED) <= set(profiles.available())


@pytest.mark.parametrize("name", profiles.available())
def test_every_shipped_profile_loads_and_boots(name):
    profile = load(name)
    assert profile.name == name
    assert profile.description
    assert 1 <= len(profile.switches) <= 4
    clock = VirtualClock(start=0)
    device = Device(profile, clock)
    device.boot()
    assert device.online
    assert device.events.history[0].name == "DeviceState"


def test_default_profile_is_verso():
    profile = load()
    assert profile.name == "verso"
    assert profile.api_level == (2, 50)
    assert profile.identity.sw_version == "2.50.0.76.2"
    assert profile.api_level >= LICENCE_FREE_FROM


def test_a_child_inherits_tables_key_by_key_and_replaces_arrays():
    verso, vario = load("verso"), load("vario-2.15")
    assert vario.name == "vario-2.15"  # the parent's name does not leak into the child
    assert vario.description.startswith("2N Helios IP Vario")
    assert vario.api_level == (2, 15) and vario.api_level < LICENCE_FREE_FROM
    # [camera]: sources given, resolutions replaced as a whole, default_source inherited
    assert vario.camera.resolutions[0] == Resolution(160, 120)
    assert len(vario.camera.resolutions) == 6
    assert vario.camera.default_source == "internal"
    # tables the child does not mention come from the parent
    assert vario.display == verso.display
    assert vario.security == verso.security
    assert vario.switches == verso.switches
    # [events] merges key by key
    assert vario.events.history == 500
    assert vario.events.max_channels == verso.events.max_channels
    assert vario.timing == verso.timing


def test_camera_false_removes_the_camera(tmp_path):
    path = write(tmp_path, 'extends = "verso"\ncamera = false\n')
    profile = load(str(path))
    assert profile.camera is None
    assert profile.display is not None
    assert profile.resolution(640, 480) is None
    device = Device(profile, VirtualClock(start=0))
    assert "MotionDetected" not in device.event_types()


@pytest.mark.parametrize("name", ["access-unit", "uni"])
def test_shipped_profiles_without_camera_or_display(name):
    profile = load(name)
    assert profile.camera is None and profile.display is None


def test_a_child_overrides_single_keys(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n[identity]\ndevice_name = "Gate"\n[timing]\nrestart_seconds = 0.5\n')
    profile = load(str(path))
    assert profile.name == "custom"
    assert profile.identity.device_name == "Gate"
    assert profile.identity.serial_number == load("verso").identity.serial_number
    assert profile.timing.restart_seconds == 0.5
    assert profile.timing.audio_test_seconds == 2


def test_extends_a_file_next_to_the_child(tmp_path):
    write(tmp_path, 'extends = "verso"\n[identity]\ndevice_name = "Parent"\n[hardware]\nbuttons = 2\n', "parent.toml")
    path = write(tmp_path, 'extends = "parent.toml"\n[hardware]\nkeypad = false\n')
    profile = load(str(path))
    assert profile.identity.device_name == "Parent"
    assert profile.hardware.buttons == 2 and not profile.hardware.keypad


def test_profiles_extending_each_other_in_a_circle(tmp_path):
    write(tmp_path, 'extends = "b.toml"\n', "a.toml")
    write(tmp_path, 'extends = "a.toml"\n', "b.toml")
    with pytest.raises(ProfileError) as err:
        load(str(tmp_path / "a.toml"))
    assert err.value.key == "extends"
    assert "circle" in err.value.reason


def test_unknown_key(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[hardware]\nkeypadd = true\n')
    assert err.key == "hardware.keypadd"
    assert err.reason == "unknown key; did you mean 'keypad'?"


def test_unknown_top_level_key(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\ncolour = "red"\n')
    assert err.key == "colour"
    assert err.reason.startswith("unknown key; known here: access, accounts, calls, ")  # nothing close to it


def test_unknown_key_in_an_array_of_tables(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[switches]]\nmode = "bistable"\ncolour = 1\n')
    assert err.key == "switches[0].colour"


def test_bad_type(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[hardware]\nbuttons = "4"\n')
    assert (err.key, err.reason) == ("hardware.buttons", "expected an integer, got str")


def test_boolean_is_not_a_number(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[events]\nhistory = true\n')
    assert (err.key, err.reason) == ("events.history", "expected an integer, got a boolean")


def test_camera_true_is_not_a_table(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\ncamera = true\n')
    assert (err.key, err.reason) == ("camera", "expected a table or false")


@pytest.mark.parametrize("text, key, reason", [
    ("[time]\ntz_shift = 9999\n", "time.tz_shift", "9999 is above the maximum 840"),
    ("[events]\nhistory = 0\n", "events.history", "0 is below the minimum 1"),
    ("[calls]\nring_delay = -1\n", "calls.ring_delay", "-1 is below the minimum 0"),
    ("[door]\nswitch = 5\n", "door.switch", "5 is above the maximum 4"),
    ("[hardware]\nbuttons = 151\n", "hardware.buttons", "151 is above the maximum 150"),
])
def test_out_of_range(tmp_path, text, key, reason):
    err = failure(tmp_path, 'extends = "verso"\n' + text)
    assert (err.key, err.reason) == (key, reason)


def test_switch_output_must_be_an_output_port(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[switches]]\noutput = "relay9"\n')
    assert err.key == "switches[0].output"
    assert err.reason == "'relay9' is not an output port of this profile"


def test_switch_output_cannot_be_an_input(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[switches]]\noutput = "relay1"\n[[switches]]\noutput = "input1"\n')
    assert err.key == "switches[1].output"
    assert "'input1' is not an output port" in err.reason


def test_switch_mode_must_be_known(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[switches]]\nmode = "tristable"\n')
    assert err.key == "switches[0].mode"
    assert err.reason == "'tristable' is not one of monostable, bistable"


def test_a_device_has_one_to_four_switches(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\nswitches = []\n')
    assert (err.key, err.reason) == ("switches", "a device has 1 to 4 switches")
    err = failure(tmp_path, 'extends = "verso"\n' + "[[switches]]\n" * 5)
    assert err.key == "switches"


def test_identity_patterns(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[identity]\nserial_number = "12345"\n')
    assert err.key == "identity.serial_number"
    assert "does not match" in err.reason
    err = failure(tmp_path, 'extends = "verso"\n[identity]\nsw_version = "2.50"\n')
    assert err.key == "identity.sw_version"


def test_door_input_must_be_an_input_port(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[door]\ninput = "relay1"\n')
    assert err.key == "door.input"


def test_user_button_out_of_range(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[users]]\nname = "X"\nbuttons = [9]\n')
    assert err.key == "users[0].buttons[0]"
    assert err.reason == "expected a button number 1..4"


def test_unknown_privilege(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[accounts]]\nname = "u"\npassword = "p"\nprivileges = ["root"]\n')
    assert err.key == "accounts[0].privileges"
    assert "unknown privilege 'root'" in err.reason


def test_missing_required_key(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[[accounts]]\nname = "u"\n')
    assert (err.key, err.reason) == ("accounts[0].password", "missing")


def test_not_valid_toml(tmp_path):
    err = failure(tmp_path, 'extends = "verso"\n[identity\n')
    assert err.key == "-"
    assert err.reason.startswith("not valid TOML")


def test_extends_must_be_a_string(tmp_path):
    err = failure(tmp_path, "extends = 3\n")
    assert err.key == "extends"


def test_unknown_profile_name():
    with pytest.raises(ProfileError) as err:
        load("no-such-model")
    assert err.value.file == "no-such-model"
    assert "verso" in err.value.reason


def test_missing_profile_file(tmp_path):
    with pytest.raises(ProfileError) as err:
        load(str(tmp_path / "absent.toml"))
    assert err.value.reason == "no such profile file"


@pytest.mark.parametrize("text, key, reason", [
    ('[hardware]\nbluetooth = "yes"\n', "hardware.bluetooth", "expected a boolean, got str"),
    ('[directory]\ntemplate = "solo"\n', "directory.template",
     "'solo' is not one of verso, vario, style, base, uni, accessunit, ipone, videokit, audiokit"),
    ("[directory]\nmax_users = 0\n", "directory.max_users", "0 is below the minimum 1"),
    ("[access]\nexit = 1\n", "access.exit", "expected a boolean, got int"),
    ('[[users]]\nname = "A"\ncards = ["0A0B0C0D", "0E0F1011", "12131415"]\n', "users[0].cards",
     "the 'verso' directory template has room for 2"),
    ('[[users]]\nname = "A"\ncodes = ["12", "34"]\n', "users[0].codes", "a user has one PIN (use `pin`)"),
    ('[directory]\ntemplate = "accessunit"\n[[users]]\nname = "A"\npeers = ["sip:1@x"]\n', "users[0].peers",
     "the 'accessunit' directory template has room for 0"),
])
def test_access_and_directory_keys_are_checked(tmp_path, text, key, reason):
    err = failure(tmp_path, 'extends = "verso"\n' + text)
    assert (err.key, err.reason) == (key, reason)


def test_bluetooth_only_where_the_hardware_has_it():
    assert {name: profiles.load(name).hardware.bluetooth for name in profiles.available()} == {
        "verso": True, "access-unit": True, "force": False, "uni": False, "vario-2.15": False}


@pytest.mark.parametrize("text, key, reason", [
    ('[events]\ntypes = ["Key Pressed"]\n', "events.types[0]", "does not match"),
    ('[events]\ntypes = "KeyPressed"\n', "events.types", "expected an array"),
    ('[system_caps]\nrtspServer = "on"\n', "system_caps.rtspServer", "does not match"),
    ('[system_caps]\nrtspServer = 1\n', "system_caps.rtspServer", "expected a string"),
    ('[[sip_accounts]]\nproxy_port = 70000\n', "sip_accounts[0].proxy_port", "above the maximum"),
    ('[replay]\nfile = "nowhere.jsonl"\n', "replay.file", "no recording"),
    ('[replay]\nfiles = "x"\n', "replay.files", "unknown key"),
])
def test_the_keys_a_capture_writes_are_checked(tmp_path, text, key, reason):
    err = failure(tmp_path, 'extends = "verso"\n' + text)
    assert err.key == key and reason in err.reason


def test_a_profile_can_state_log_caps_and_system_caps_exactly(tmp_path):
    path = write(tmp_path, 'extends = "verso"\n[events]\ntypes = ["DeviceState", "DtmfSent"]\n'
                           '[system_caps]\nrtspServer = "active,licensed"\n[[sip_accounts]]\nproxy_address = "p"\n')
    profile = load(str(path))
    device = Device(profile)
    assert device.event_types() == ["DeviceState", "DtmfSent"]
    assert options(device, rtsp=False)["rtspServer"] == "active,licensed"  # the profile's word wins
    assert options(device, rtsp=False)["camera"] == "active"
    assert profile.sip_accounts[0].proxy_address == "p" and profile.sip_accounts[0].proxy_port == 5060
