"""System service: system/info, status, restart, caps, time."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import JSON, SUCCESS, Raw
from emulator.device import levels
from emulator.device import profile as profiles
from emulator.errors import invalid


def info(call: Call) -> dict:
    ident = call.device.identity
    if not call.at_least(levels.CURRENT):
        return {"variant": ident.variant, "serialNumber": ident.serial_number, "hwVersion": ident.hw_version,
                "swVersion": ident.sw_version, "buildType": ident.build_type, "deviceName": ident.device_name}
    # Key order of the latest manual; bootUuid as py2n-intercom reads it.
    return {"devType": ident.dev_type, "variant": ident.variant, "variantId": ident.variant_id,
            "customerId": ident.customer_id, "serialNumber": ident.serial_number, "macAddr": ident.mac_address,
            "hwVersion": ident.hw_version, "swVersion": ident.sw_version, "buildType": ident.build_type,
            "firmwarePackage": ident.firmware_package, "deviceName": ident.device_name,
            "bootUuid": call.device.boot_uuid}


def status(call: Call) -> dict:
    return {"systemTime": int(call.device.now()), "upTime": call.device.uptime}


def restart(call: Call) -> Raw:
    return Raw(SUCCESS, JSON, after=call.device.restart)


def caps(call: Call) -> dict:
    """Feature -> "active|inactive[,licensed]", as system/caps of current firmware reports it."""
    device = call.device
    p = device.profile
    licensed = ",licensed"
    options = {
        "camera": "active" if p.camera else "inactive",
        "motionDetection": ("active" if p.camera else "inactive") + licensed,
        "enhancedVideo": ("active" if p.camera else "inactive") + licensed,
        "rtspServer": ("active" if call.emulator.rtsp is not None else "inactive") + licensed,
        "display": "active" if p.display else "inactive",
        "keypad": "active" if p.hardware.keypad else "inactive",
        "cardReader": "active" if p.hardware.card_reader else "inactive",
        "enhancedAudio": "active" + licensed if "enhanced-audio" in device.licences else "inactive",
        "enhancedIntegration": "active" + licensed if "enhanced-integration" in device.licences else "inactive",
        "noiseDetection": "active" if p.hardware.microphone else "inactive",
        "tamperSwitch": "active" if p.hardware.tamper else "inactive",
    }
    return {"options": options}


def time(call: Call) -> dict | None:
    """GET: the device time; PUT (2.44) or system/time/set: set it (automatic=0 and utcTime)."""
    device = call.device
    if call.request.method == "PUT" or call.request.path.endswith("/set"):
        automatic = call.params.choice("automatic", ("0", "1"), None)
        utc = call.params.int("utcTime", None, lo=0)
        if automatic == "1":
            device.set_time(None)
        elif utc is not None:
            device.set_time(utc)
        return None
    return {"utcTime": int(device.now()), "source": "NTP" if device.time_offset is None else "manual",
            "automatic": device.time_offset is None}


def timezone(call: Call) -> dict | None:
    """GET: the zone; PUT zone=<IANA name> (automatic=1: back to the profile's zone)."""
    device = call.device
    if call.request.method == "PUT":
        automatic = call.params.choice("automatic", ("0", "1"), "0")
        zone = call.params.get("zone")
        if automatic == "1":
            device.set_zone(device.profile.time_zone)
        elif zone is not None:
            if zone not in profiles.zones():
                raise invalid("zone")
            device.set_zone(zone)
        return None
    return {"automatic": device.zone == device.profile.time_zone, "zone": device.zone or "UTC"}


def timezone_caps(call: Call) -> dict:
    return {"timezones": sorted(profiles.zones())}
