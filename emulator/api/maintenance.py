"""System service, maintenance functions: firmware, firmware/apply|reject, config, factory reset."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import JSON, SUCCESS, XML, Raw
from emulator.device import config as device_config
from emulator.device import levels
from emulator.errors import invalid, missing

FIRMWARE = "blob-fw"
CONFIG = "blob-cfg"


def firmware(call: Call) -> dict:
    """PUT an image, as multipart blob-fw or (twoen) as a raw octet-stream body."""
    blob = call.params.blobs.get(FIRMWARE) or call.params.body
    if not blob:
        raise missing(FIRMWARE)
    upload = call.device.upload_firmware(blob, FIRMWARE)
    result = {"version": upload.version, "downgrade": upload.downgrade}
    if call.at_least(levels.CURRENT):
        result = {"fileId": upload.file_id, **result, "note": upload.note}
    return result


def _file_id(call: Call) -> str | None:
    if not call.at_least(levels.CURRENT):
        return None
    file_id = call.params.get("fileid")
    if file_id is not None and (len(file_id) != 8 or any(c not in "0123456789abcdefABCDEF" for c in file_id)):
        raise invalid("fileid")
    return file_id


def firmware_apply(call: Call) -> Raw:
    device = call.device
    file_id = _file_id(call)
    device.check_firmware(file_id)  # 14 "new firmware not found" before anything happens
    return Raw(SUCCESS, JSON, after=lambda: device.apply_firmware(file_id))


def firmware_reject(call: Call) -> None:
    call.device.reject_firmware(_file_id(call))


def config(call: Call) -> Raw | None:
    device = call.device
    if call.request.method != "PUT":
        return Raw(device_config.export(device), XML)
    changes = device_config.parse(device, call.params.blob(CONFIG))
    delay = device.profile.timing.config_apply_delay
    if delay:
        device.timers.later(delay, device_config.apply, device, changes)
    else:
        device_config.apply(device, changes)
    return None


def factory_reset(call: Call) -> Raw:
    return Raw(SUCCESS, JSON, after=call.device.factory_reset)
