"""Firmware images: upload (checked), apply (a restart into the new version), reject, expiry."""

from __future__ import annotations

import pytest

from emulator.device import firmware
from emulator.device.clock import VirtualClock
from emulator.device.device import Device
from emulator.device.profile import load
from emulator.errors import ApiError, ErrorCode


def make(profile: str = "verso") -> tuple[Device, VirtualClock]:
    clock = VirtualClock(start=1_700_000_000.0)
    device = Device(load(profile), clock)
    device.boot()
    return device, clock


def test_image_format():
    blob = firmware.image("570v1", "2.51.0.80.1", size=100)
    assert blob.startswith(b"2N-FIRMWARE 570v1 2.51.0.80.1\n")
    assert len(blob) == 100


def test_parse_an_upgrade():
    upload = firmware.parse(firmware.image("570v1", "2.51.0.80.1"), "570v1", "2.50.0.76.2", "0000abcd")
    assert (upload.file_id, upload.version, upload.downgrade, upload.note) == ("0000abcd", "2.51.0.80.1", False, "")


@pytest.mark.parametrize("version, downgrade", [
    ("2.49.9.99.9", True),
    ("2.50.0.76.1", True),
    ("2.5.0.76.2", True),  # numeric, not string, comparison
    ("2.50.0.76.2", False),  # the same version again
    ("2.50.0.76.10", False),
    ("3.0.0.0.0", False),
])
def test_downgrade_detection(version, downgrade):
    device, _ = make()
    upload = device.upload_firmware(firmware.image("570v1", version))
    assert upload.version == version
    assert upload.downgrade is downgrade
    assert upload.note == ("downgrade" if downgrade else "")


def test_crlf_header_and_any_payload_are_accepted():
    device, _ = make()
    upload = device.upload_firmware(b"2N-FIRMWARE 570v1 2.51.0.80.1\r\n" + bytes(range(256)) * 10)
    assert upload.version == "2.51.0.80.1"


@pytest.mark.parametrize("blob", [
    firmware.image("535v1", "2.51.0.80.1"),  # another board
    firmware.image("570V1", "2.51.0.80.1"),  # board names are exact
    b"",
    b"\x00" * 4096,
    b"2N-FIRMWARE 570v1 2.51\n",
    b"2N-FIRMWARE 570v1 2.51.0.80.1",  # no end of line
    b"2n-firmware 570v1 2.51.0.80.1\n",
    b"junk 2N-FIRMWARE 570v1 2.51.0.80.1\n",
])
def test_an_image_not_for_this_device_is_invalid_blob_fw(blob):
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.upload_firmware(blob)
    assert err.value.code == ErrorCode.INVALID_PARAMETER
    assert err.value.param == "blob-fw"
    assert device.uploads == {}


def test_the_parameter_name_is_the_callers():
    device, _ = make()
    with pytest.raises(ApiError) as err:
        device.upload_firmware(b"junk", param="blob-image")
    assert err.value.param == "blob-image"


def test_apply_restarts_into_the_new_version():
    device, clock = make()
    downs: list[bool] = []
    device.power_listeners.append(downs.append)
    clock.advance(60)
    upload = device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    assert device.check_firmware().file_id == upload.file_id
    device.apply_firmware(upload.file_id)
    assert device.identity.sw_version == "2.51.0.80.1"
    assert device.identity.firmware_package == "verso"  # the model family's package, not a version
    assert not device.online
    assert downs == [False]
    clock.advance(device.profile.timing.restart_seconds - 0.01)
    assert not device.online
    clock.advance(0.01)
    assert device.online
    assert downs == [False, True]
    assert device.uptime == 0
    first = device.events.history[0]
    assert (first.id, first.name, first.params) == (1, "DeviceState", {"state": "startup"})
    assert len(device.events.history) == 1
    with pytest.raises(ApiError):
        device.check_firmware()  # the image is used up


def test_apply_without_a_firmware_package_keeps_it_empty():
    device, clock = make("vario-2.15")
    device.upload_firmware(firmware.image("535v1", "2.15.1.0.1"))
    device.apply_firmware()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.identity.sw_version == "2.15.1.0.1"
    assert device.identity.firmware_package == ""


def test_an_upgrade_changes_what_the_device_can_do():
    device, clock = make("vario-2.15")
    assert device.api_level == (2, 15)
    device.upload_firmware(firmware.image("535v1", "2.50.0.76.2"))
    device.apply_firmware()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.api_level == (2, 50)
    assert "CallSessionStateChanged" in device.event_types()
    # The new firmware names who changed a switch and reports call sessions, as 2.50 does.
    device.switches.get(1).act("on")
    device.phone.dial("4002")
    names = {e.name: dict(e.params) for e in device.events.history}
    assert names["SwitchStateChanged"].get("originator") == "api"
    assert "CallSessionStateChanged" in names


def test_a_downgrade_can_be_applied():
    device, clock = make()
    upload = device.upload_firmware(firmware.image("570v1", "2.30.0.1.1"))
    assert upload.downgrade
    device.apply_firmware()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.identity.sw_version == "2.30.0.1.1" and device.online


def test_no_pending_image_is_new_firmware_not_found():
    device, _ = make()
    for action in (device.check_firmware, device.apply_firmware, device.reject_firmware):
        with pytest.raises(ApiError) as err:
            action()
        assert (err.value.code, err.value.description) == (14, "new firmware not found")
    assert device.online
    assert device.identity.sw_version == "2.50.0.76.2"


def test_file_ids_are_checked_case_insensitively():
    device, _ = make()
    upload = device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    assert device.check_firmware(upload.file_id.upper()) is upload
    with pytest.raises(ApiError):
        device.check_firmware("ffffffff" if upload.file_id != "ffffffff" else "00000000")


def test_reject_forgets_the_image():
    device, _ = make()
    upload = device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    device.reject_firmware(upload.file_id)
    assert device.uploads == {}
    with pytest.raises(ApiError):
        device.apply_firmware(upload.file_id)
    assert device.identity.sw_version == "2.50.0.76.2"


def test_an_unapplied_image_is_rejected_automatically():
    device, clock = make()
    device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    after = device.profile.timing.firmware_reject_after
    assert after == 300
    clock.advance(after - 0.1)
    device.check_firmware()
    clock.advance(0.1)
    with pytest.raises(ApiError) as err:
        device.check_firmware()
    assert err.value.description == "new firmware not found"
    assert device.identity.sw_version == "2.50.0.76.2"


def test_a_new_upload_replaces_the_pending_one_and_its_timer():
    device, clock = make()
    first = device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    clock.advance(200)
    second = device.upload_firmware(firmware.image("570v1", "2.52.0.1.1"))
    assert list(device.uploads) == [second.file_id]
    assert first is not second
    assert device.check_firmware().version == "2.52.0.1.1"
    clock.advance(150)  # past the first image's expiry, not the second's
    assert device.check_firmware() is second
    clock.advance(150)
    assert device.uploads == {}


def test_a_restart_drops_the_pending_image():
    device, clock = make()
    device.upload_firmware(firmware.image("570v1", "2.51.0.80.1"))
    device.restart()
    clock.advance(device.profile.timing.restart_seconds)
    assert device.uploads == {}
    assert device.identity.sw_version == "2.50.0.76.2"
