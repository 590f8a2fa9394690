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
    # Key order of the latest manual; bootUuid as py2n-intercom reads it. macAddr: upper case in
    # the manual's 2.35 example, lower case on current firmware (levels.MAC_LOWER_CASE).
    mac = ident.mac_address.lower() if call.at_least(levels.MAC_LOWER_CASE) else ident.mac_address.upper()
    return {"devType": ident.dev_type, "variant": ident.variant, "variantId": ident.variant_id,
            "customerId": ident.customer_id, "serialNumber": ident.serial_number, "macAddr": mac,
            "hwVersion": ident.hw_version, "swVersion": ident.sw_version, "buildType": ident.build_type,
            "firmwarePackage": ident.firmware_package, "deviceName": ident.device_name,
            "bootUuid": call.device.boot_uuid}


def status(call: Call) -> dict:
    return {"systemTime": int(call.device.now()), "upTime": call.device.uptime}


def restart(call: Call) -> Raw:
    return Raw(SUCCESS, JSON, after=call.device.restart)


def caps(call: Call) -> dict:
    return {"options": options(call.device, rtsp=call.emulator.rtsp is not None)}


def options(device, rtsp: bool) -> dict[str, str]:
    """Feature -> "active|inactive[,licensed]", as system/caps of current firmware reports it;
    `rtsp`: whether the RTSP server listens."""
    p = device.profile
    licensed = ",licensed"
    options = {
        "camera": "active" if p.camera else "inactive",
        "motionDetection": ("active" if p.camera else "inactive") + licensed,
        "enhancedVideo": ("active" if p.camera else "inactive") + licensed,
        "rtspServer": ("active" if rtsp else "inactive") + licensed,
        "display": "active" if p.display else "inactive",
        "keypad": "active" if p.hardware.keypad else "inactive",
        "cardReader": "active" if p.hardware.card_reader else "inactive",
        "enhancedAudio": "active" + licensed if "enhanced-audio" in device.licences else "inactive",
        "enhancedIntegration": "active" + licensed if "enhanced-integration" in device.licences else "inactive",
        "noiseDetection": "active" if p.hardware.microphone else "inactive",
        "tamperSwitch": "active" if p.hardware.tamper else "inactive",
    }
    options.update(p.system_caps)  # what a captured device reports beyond (or unlike) the above
    return options


def time(call: Call) -> dict | None:
    """GET: the device time; PUT (2.44) or system/time/set: set it (manual 5.1.5).

    automatic=1: back to time from the Internet (no other parameter counts); automatic=0: manual
    time, from `utcTime` when given, else the device keeps its current time but no longer
    follows NTP. `server` (an NTP server) is accepted and not used."""
    device = call.device
    if call.request.method == "PUT" or call.request.path.endswith("/set"):
        automatic = call.params.choice("automatic", ("0", "1"), None)
        utc = call.params.int("utcTime", None, lo=0, hi=2**31 - 1)
        if automatic == "1":
            device.set_time(None)
        elif utc is not None:
            device.set_time(utc)
        elif automatic == "0" and device.automatic_time:
            device.set_time(device.now())
        return None
    # `source` from the manual's list ("rtp", "ntp", "my2n", "vms", "browser", "gui", "api").
    return {"utcTime": int(device.now()), "source": "ntp" if device.automatic_time else "api",
            "automatic": device.automatic_time}


def timezone(call: Call) -> dict | None:
    """GET: the zone; PUT: set it (manual 5.1.7). automatic=1 is the zone the device detects
    for itself (the profile's); zone=<IANA name>, or zone=custom with custom=<rule>
    (`UTC+03:00`, or a POSIX rule such as `CET-1CEST,M3.5.0,M10.5.0/3`), sets it by hand."""
    device = call.device
    if call.request.method == "PUT":
        params = call.params
        automatic = params.choice("automatic", ("0", "1"), "0")
        zone = params.get("zone")
        if automatic == "1":
            device.set_zone(device.profile.time_zone, automatic=True)
        elif zone == "custom":
            device.set_zone("custom", params.required("custom"))
        elif zone is not None:
            if zone not in profiles.zones():
                raise invalid("zone")
            device.set_zone(zone)
        elif params.get("automatic") == "0":
            device.set_zone(device.zone, device.zone_custom)  # the same zone, now set by hand
        return None
    if device.zone == "custom":
        return {"automatic": device.zone_automatic, "zone": "custom", "custom": device.zone_custom}
    return {"automatic": device.zone_automatic, "zone": device.zone or "UTC"}


def timezone_caps(call: Call) -> dict:
    return {"timezones": sorted(profiles.zones())}
