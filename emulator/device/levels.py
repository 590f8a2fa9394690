"""Firmware levels at which API functions and reply fields appear.

Profiles carry a swVersion; its first two numbers are the profile's `api_level`. The exact
release is known for some changes (release notes of the latest manual); for the rest, which
arrived somewhere between 2.16 and 2.33, we use CURRENT: every current-firmware field that real
integrations read (research/clients.md section 10) is there from it on.
"""

V2_15 = (2, 15)
CURRENT = (2, 30)  # system/info ids and macAddr, switch lock, calls[], dir/*, system/caps, fileId
TIME = (2, 35)  # system/time, call/dial users=
HOLD_TIMEOUT = (2, 36)  # switch/status holdTimeout, switch/ctrl timeout
MOTION_ID = (2, 38)  # MotionDetected gains ID
TIMEZONE = (2, 44)  # system/timezone(+caps)
SIP_NUMBER_ALWAYS = (2, 47)  # phone/status always returns sipNumber
GRANT_ACCESS = (2, 37)  # accesspoint/grantaccess, event ApiAccessRequested (manual release notes)
GRANT_DOOR_SWITCH = (2, 49)  # grantaccess opens the configured door switch, no longer always switch 1
