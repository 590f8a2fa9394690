"""Firmware levels at which API functions and reply fields appear.

Profiles carry a swVersion; its first two numbers are the profile's `api_level`. The exact
release is known for some changes (release notes of the latest manual); for the rest, which
arrived somewhere between 2.16 and 2.33, we use CURRENT: every current-firmware field that real
integrations read (the client research's requirement list) is there from it on.
"""

V2_15 = (2, 15)
# system/info ids and macAddr, switch lock, calls[], dir/*, system/caps, fileId, the event `hash`,
# automation/trigger (manual 5.19; not in the release notes from 2.34 on, so earlier)
CURRENT = (2, 30)
TIME = (2, 35)  # system/time, call/dial users=
# The manual's system/info example (2.35.0.45.0) shows macAddr in upper case; current firmware
# reports it in lower case (py2n-intercom and another Home Assistant integration quote
# `7c-1e-b3-...` from devices). The release that changed it is not known: the first after 2.35.
MAC_LOWER_CASE = (2, 36)
HOLD_TIMEOUT = (2, 36)  # switch/status holdTimeout, switch/ctrl timeout
MOTION_ID = (2, 38)  # MotionDetected gains ID
CERT = (2, 42)  # cert/ca, cert/user (release notes)
TIMEZONE = (2, 44)  # system/timezone(+caps)
SIP_NUMBER_ALWAYS = (2, 47)  # phone/status always returns sipNumber
# display/text: in the 3.3 manual (5.9.4), neither in the 2.44 manual nor in the release notes up
# to 2.50; the release that added it is not known.
DISPLAY_TEXT = (3, 3)
