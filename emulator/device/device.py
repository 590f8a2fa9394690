"""The simulated intercom: the single source of truth behind the API and the control plane.

Everything that changes goes through a method here (or of a component), and every change emits
an Event. No aiohttp in this package: a whole door-opening story runs in a unit test without a
socket, on a virtual clock.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import uuid
from dataclasses import dataclass
from collections.abc import Callable

from emulator.device import firmware, levels, zones
from emulator.device import profile as profiles
from emulator.device.calls import Phone, SipAccount
from emulator.device.certs import Certificates
from emulator.device.clock import Clock, Timer, Timers
from emulator.device.directory import Directory, DirectoryUser
from emulator.device.events import Channels, EventLog
from emulator.device.io import Port, Ports
from emulator.device.outputs import Display, DisplayMessage, Outbox
from emulator.device.pcap import Capture
from emulator.device.profile import Identity, Profile
from emulator.device.security import Account, Security
from emulator.device.switches import SwitchConfig, Switches
from emulator.errors import failed, invalid

log = logging.getLogger("emulator.device")
KEYPAD_KEYS = frozenset("0123456789*#")
CARD_DIRECTIONS = ("in", "out", "any")


@dataclass(frozen=True)
class Options:
    """What the command line changes on top of the profile (and a factory reset keeps)."""

    accounts: tuple[Account, ...] | None = None  # --user ... replaces the profile's accounts
    auth: str | None = None  # --auth sets every service
    licence: bool = True  # --no-licence removes every licence
    quirks: bool = True  # --no-quirks turns the profile's firmware quirks off
    seed: int | None = None  # subscription ids, boot ids: reproducible when set


class Device:
    def __init__(self, profile: Profile, clock: Clock | None = None, options: Options = Options()):
        self.profile = profile
        self.clock = clock or Clock()
        self.options = options
        # Ids that grant access or must not be guessed (subscription channels, firmware fileId,
        # bootUuid, Digest nonces) come from the system's CSPRNG; a seed makes a run reproducible.
        self.rng = random.Random(options.seed) if options.seed is not None else random.SystemRandom()
        self.timers = Timers(self.clock)
        self.online = False
        self.boot_at = self.clock.monotonic()
        self.boot_uuid = ""
        self.boots = 0
        # Called with True when the device comes up and False when it goes down (restart).
        self.power_listeners: list[Callable[[bool], None]] = []
        # Incremented on every change of configuration; replies cached from it stay valid till then.
        self.config_version = 0
        self.change_listeners: list[Callable[[], None]] = []  # e.g. the state store in --state-dir

        self.time_offset: float | None = None  # None: the device follows NTP (the clock)
        self.events = EventLog(self.clock, profile.events.history, profile.tz_shift, lambda: self.boot_at,
                               self.now)
        self.channels = Channels(self.clock, self.events, profile.events.max_channels,
                                 profile.events.channel_queue, self.rng)
        self.ports = Ports(profile.ports, self.events)
        self.ports.input_watchers.append(self._input_changed)
        self.capture = Capture(self.clock, profile.identity.mac_address)
        self.outbox = Outbox()
        self.licences = profile.licences if options.licence else frozenset()
        self.quirks = profile.quirks if options.quirks else profiles.NO_QUIRKS
        self.uploads: dict[str, firmware.Upload] = {}
        self.certificates = Certificates()  # cert/ca, cert/user
        self.audio_result = profile.timing.audio_test_result
        self.motion = False
        self.noise = False
        self._door_timer: Timer | None = None
        self._message_timer: Timer | None = None
        self._boot_timer: Timer | None = None  # the boot a restart has pending
        self._door_alarms: set[str] = set()
        self.zone = ""  # an IANA name, "custom" (zone_custom is then the rule), "" (the profile's tz_shift)
        self.zone_custom = ""
        self.zone_automatic = True  # the zone the device detects for itself (My2N): the profile's
        self._factory_configure()
        self.set_zone(profile.time_zone, automatic=True)

    # -- configuration ---------------------------------------------------------------------

    def _factory_configure(self) -> None:
        """The configuration a factory reset returns to: the profile plus the command line."""
        p = self.profile
        self.identity: Identity = p.identity
        self._api_level = p.api_level
        self.switches = Switches([SwitchConfig.from_profile(s) for s in p.switches], self.events, self.ports,
                                 self.timers, originators=self.at_least(levels.CURRENT))
        self.events.hashes = self.at_least(levels.CURRENT)
        self.phone = Phone(self.clock, self.events, self.timers,
                           [SipAccount.from_profile(i + 1, s) for i, s in enumerate(p.sip_accounts)],
                           p.calls.ring_delay, p.calls.answer_delay, p.calls.register_delay,
                           session_events=self.at_least(levels.CURRENT))
        self.directory = Directory([DirectoryUser.from_profile(u) for u in p.users], series=str(self.rng.getrandbits(63)))
        self.security = Security(self.clock, p.services, list(p.accounts), p.security.login_attempts,
                                 p.security.login_block_seconds, self._login_blocked)
        # The command line wins over the profile and any saved configuration, without changing them.
        if self.options.accounts is not None:
            self.security.accounts_override = list(self.options.accounts)
        self.security.auth_override = self.options.auth
        self.display = None if p.display is None else Display(p.display.name, p.display.width, p.display.height)
        self.changed()

    def changed(self) -> None:
        """Configuration changed (name, switches, accounts, ...): cached replies are stale."""
        self.config_version += 1
        for listener in list(self.change_listeners):
            listener()

    def configured(self) -> None:
        """A user changed the configuration through the API (a config upload, phone/config, the
        directory): newer firmware tells its subscribers with ConfigurationChanged."""
        self.changed()
        if self.at_least(levels.CURRENT):
            self.events.emit("ConfigurationChanged")

    def at_least(self, level: tuple[int, int]) -> bool:
        return self.api_level >= level

    @property
    def needs_integration_licence(self) -> bool:
        """Firmware before 2.35 wants the Enhanced Integration licence for most functions."""
        return self.api_level < profiles.LICENCE_FREE_FROM

    @property
    def api_level(self) -> tuple[int, int]:
        """The firmware level of the installed firmware (its first two version numbers)."""
        return self._api_level

    def rename(self, name: str) -> None:
        self.identity = dataclasses.replace(self.identity, device_name=name)
        self.changed()

    # -- lifecycle -------------------------------------------------------------------------

    def boot(self) -> None:
        """Power on: empty history, ids from 1, DeviceState startup first, SIP registers."""
        if self._boot_timer is not None:
            self._boot_timer.cancel()  # booted at once (a reset) while a restart was pending: boot once
            self._boot_timer = None
        self.timers.cancel_all()
        self.boot_at = self.clock.monotonic()
        boot = uuid.UUID(int=self.rng.getrandbits(128), version=4)
        self.boot_uuid = str(boot)
        self.events.reset(boot.bytes)
        self.boots += 1
        self.ports.reset()
        for switch in self.switches:
            switch.active = switch.locked = switch.held = False
        self.motion = self.noise = False
        self._door_alarms.clear()
        if self.display is not None:
            self.display.message = None
        self.online = True
        self.events.emit("DeviceState", state="startup")
        self.phone.boot()
        self.changed()
        for listener in list(self.power_listeners):
            listener(True)

    def power_off(self) -> None:
        """The device goes down: connections drop, channels and calls are gone."""
        if not self.online:
            return
        self.online = False
        self.timers.cancel_all()
        self.channels.close_all()
        self.phone.sessions.clear()
        for upload in self.uploads.values():
            if upload.timer is not None:
                upload.timer.cancel()
        self.uploads.clear()
        for listener in list(self.power_listeners):
            listener(False)

    def restart(self, offline: float | None = None) -> None:
        """Restart now: offline for the profile's few seconds, then a fresh boot."""
        self.power_off()
        delay = self.profile.timing.restart_seconds if offline is None else offline
        if self._boot_timer is not None:
            self._boot_timer.cancel()  # restarted again while down: it comes up once, after the last
        self._boot_timer = self.clock.call_later(delay, self.boot)

    def factory_reset(self) -> None:
        """The profile's configuration again; the installed firmware stays installed."""
        installed = self.identity
        self._factory_configure()
        self.install(installed.sw_version)
        self.restart()

    def reset(self) -> None:
        """The profile's defaults and a fresh boot, at once (the control plane's reset)."""
        self.power_off()
        self._factory_configure()
        self.time_offset = None
        self.set_zone(self.profile.time_zone, automatic=True)
        self.audio_result = self.profile.timing.audio_test_result
        self.outbox.messages.clear()
        self.certificates = Certificates()
        self.capture = Capture(self.clock, self.profile.identity.mac_address)
        self.boot()

    def now(self) -> float:
        """The device's wall time: the clock's, or the clock's plus what system/time set."""
        return self.clock.time() + (self.time_offset or 0.0)

    def set_zone(self, zone: str, custom: str = "", automatic: bool = False) -> None:
        """Use a time zone: an IANA name, or "custom" with a rule (emulator.device.zones), set by
        hand or detected (`automatic`). Events carry its current offset as tzShift ("" = the
        profile's fixed tz_shift). A bad rule is 12 `custom` and changes nothing."""
        if zone == "custom":
            try:
                tz = zones.custom(custom)
            except ValueError:
                raise invalid("custom") from None
        else:
            tz, custom = (zones.named(zone) if zone else None), ""
        self.zone, self.zone_custom, self.zone_automatic = zone, custom, automatic
        self.events.tz_shift = zones.shift(tz, self.now()) if tz is not None else self.profile.tz_shift
        self.changed()

    def set_time(self, utc: float | None) -> None:
        """Set the time by hand, or None to go back to automatic (NTP) time."""
        self.time_offset = None if utc is None else utc - self.clock.time()

    @property
    def automatic_time(self) -> bool:
        return self.time_offset is None

    @property
    def uptime(self) -> int:
        return int(self.clock.monotonic() - self.boot_at)

    # -- the physical world ----------------------------------------------------------------

    def press_key(self, key: str) -> None:
        button = self._key(key)
        self.events.emit("KeyPressed", key=key)
        if button is not None:
            self.call_button(button)

    def release_key(self, key: str) -> None:
        self._key(key)
        self.events.emit("KeyReleased", key=key)

    def press(self, key: str) -> None:
        """A whole key press: down and up."""
        self.press_key(key)
        self.release_key(key)

    def _key(self, key: str) -> int | None:
        """Check a key name; returns the quick-dial button number for %N keys."""
        if key.startswith("%") and key[1:].isdigit():
            button = int(key[1:])
            if 1 <= button <= self.profile.hardware.buttons:
                return button
        elif key in KEYPAD_KEYS and self.profile.hardware.keypad:
            return None
        raise invalid("key")

    def call_button(self, button: int) -> None:
        """A quick-dial button calls the peer of the directory user on it, as a real intercom does."""
        user = self.directory.by_button(button)
        if user is None or not user.peers:
            return
        peer = user.peers[0]
        if any(s.peer == peer and s.direction == "outgoing" for s in self.phone.sessions.values()):
            return  # already calling them
        self.phone.dial(peer)

    def enter_code(self, code: str) -> bool:
        if not self.profile.hardware.keypad:
            raise failed("the device has no keypad")
        if not (2 <= len(code) <= 16 and code.isdigit()):
            raise invalid("code")
        switch = self.switches.by_code(code)
        user = None if switch is not None else self.directory.by_code(code)
        valid = switch is not None or user is not None
        self.events.emit("CodeEntered", code=code, valid=valid)
        if switch is not None:
            switch.on("auth")
        elif user is not None:
            self._authenticated(user)
        return valid

    def swipe_card(self, uid: str, direction: str = "any", reader: str | None = None) -> bool:
        if not self.profile.hardware.card_reader:
            raise failed("the device has no card reader")
        uid = uid.upper()
        if not (6 <= len(uid) <= 16 and all(c in "0123456789ABCDEF" for c in uid)):
            raise invalid("uid")
        if direction not in CARD_DIRECTIONS:
            raise invalid("direction")
        user = self.directory.by_card(uid)
        self.events.emit("CardEntered", direction=direction, reader=reader or self.profile.hardware.card_reader,
                         uid=uid, valid=user is not None)
        if user is not None:
            self._authenticated(user)
        return user is not None

    def _authenticated(self, user: DirectoryUser) -> None:
        if self.at_least(levels.CURRENT):
            self.events.emit("UserAuthenticated", ap=0, session=0, name=user.name, uuid=user.uuid)
        self.switches.get(user.switch).on("auth")

    def set_input(self, port: str, state: bool) -> None:
        self.ports.set_input(port, state)

    def door(self, open_: bool) -> None:
        """The door (its contact on the profile's door input) opens or closes."""
        if not self.profile.door.input:
            raise failed("the device has no door contact")
        self.ports.set_input(self.profile.door.input, open_)

    def set_motion(self, active: bool) -> None:
        if self.profile.camera is None:
            raise failed("the device has no camera")
        if self.motion != active:
            self.motion = active
            params = {"state": "in" if active else "out"}
            if self.at_least(levels.MOTION_ID):
                params["ID"] = 1
            self.events.emit("MotionDetected", **params)

    def set_noise(self, active: bool) -> None:
        if not self.profile.hardware.microphone:
            raise failed("the device has no microphone")
        if self.noise != active:
            self.noise = active
            self.events.emit("NoiseDetected", state="in" if active else "out")

    def tamper(self, active: bool) -> None:
        if not self.profile.hardware.tamper:
            raise failed("the device has no tamper switch")
        if "tamper" in self.ports:
            self.ports.set_input("tamper", active)  # _input_changed emits the event
        else:
            self.events.emit("TamperSwitchActivated", state="in" if active else "out")

    def _input_changed(self, port: Port) -> None:
        if port.name == "tamper" and self.profile.hardware.tamper:
            self.events.emit("TamperSwitchActivated", state="in" if port.state else "out")
        if port.name == self.profile.door.input:
            self._door_changed(port.state)

    def _door_changed(self, is_open: bool) -> None:
        if self.at_least(levels.CURRENT):
            self.events.emit("DoorStateChanged", state="opened" if is_open else "closed")
        if is_open:
            if not self.switches.get(self.profile.door.switch).active:
                self._door_alarm("UnauthorizedDoorOpen", True)
            self._door_timer = self.timers.later(self.profile.door.open_too_long, self._door_alarm,
                                                 "DoorOpenTooLong", True)
        else:
            if self._door_timer is not None:
                self._door_timer.cancel()
                self._door_timer = None
            for alarm in ("UnauthorizedDoorOpen", "DoorOpenTooLong"):
                self._door_alarm(alarm, False)

    def _door_alarm(self, name: str, active: bool) -> None:
        if active == (name in self._door_alarms):
            return
        if active:
            self._door_alarms.add(name)
        else:
            self._door_alarms.discard(name)
        self.events.emit(name, state="in" if active else "out")

    def _login_blocked(self, address: str) -> None:
        log.warning("%s is blocked for %g s after %d failed logins", address, self.security.block_seconds,
                    self.security.attempts)
        self.events.emit("LoginBlocked", address=address)

    # -- functions of the API --------------------------------------------------------------

    def audio_test(self) -> None:
        """Start the audio loop test; AudioLoopTest reports the result a few seconds later."""
        if not self.profile.hardware.microphone:
            raise failed("the device has no microphone")
        self.timers.later(self.profile.timing.audio_test_seconds,
                          lambda: self.events.emit("AudioLoopTest", result=self.audio_result))

    def http_trigger(self, name: str) -> bool:
        """An HttpTrigger block of the Automation fires (automation/trigger, /enu/trigger/<name>):
        its switch activates, originator "automation". False when no block has that name."""
        trigger = next((t for t in self.profile.http_triggers if t.name == name), None)
        if trigger is None:
            return False
        if trigger.switch:
            self.switches.get(trigger.switch).on("automation")
        return True

    def show_message(self, message: DisplayMessage) -> None:
        """display/text: show a message (replacing the one shown) until its timeout."""
        if self.display is None:
            raise failed("the device has no display")
        if self._message_timer is not None:
            self._message_timer.cancel()
        self.display.message = message
        self._message_timer = self.timers.later(message.timeout, self.clear_message)

    def clear_message(self) -> str:
        """Take the message off the display; the uid it had ("" when none was shown)."""
        if self._message_timer is not None:
            self._message_timer.cancel()
            self._message_timer = None
        message = self.display.message if self.display is not None else None
        if message is None:
            return ""
        self.display.message = None
        return message.uid

    def upload_firmware(self, blob: bytes, param: str = "blob-fw") -> firmware.Upload:
        file_id = f"{self.rng.getrandbits(32):08x}"
        upload = firmware.parse(blob, self.identity.hw_version, self.identity.sw_version, file_id, param)
        for old in self.uploads.values():  # one pending image at a time
            if old.timer is not None:
                old.timer.cancel()
        self.uploads = {file_id: upload}
        upload.timer = self.timers.later(self.profile.timing.firmware_reject_after, self.reject_firmware, file_id)
        return upload

    def check_firmware(self, file_id: str | None = None) -> firmware.Upload:
        """The pending image (the one named, or the only one); 14 when there is none."""
        key = next(iter(self.uploads), None) if file_id is None else file_id.lower()
        upload = self.uploads.get(key) if key is not None else None
        if upload is None:
            raise failed("new firmware not found")
        return upload

    def _take_upload(self, file_id: str | None) -> firmware.Upload:
        upload = self.check_firmware(file_id)
        del self.uploads[upload.file_id]
        if upload.timer is not None:
            upload.timer.cancel()
        return upload

    def apply_firmware(self, file_id: str | None = None) -> None:
        """Install the uploaded image and restart into it."""
        upload = self._take_upload(file_id)
        self.install(upload.version)
        self.restart()

    def install(self, sw_version: str) -> None:
        """Run this firmware: its version, and the event shapes of its level (the firmware package,
        the model family's name, stays what it is)."""
        self.identity = dataclasses.replace(self.identity, sw_version=sw_version)
        self._api_level = profiles.version_tuple(sw_version)[:2]
        current = self.at_least(levels.CURRENT)
        self.switches.originators = current  # SwitchStateChanged names its originator
        self.phone.session_events = current  # CallSessionStateChanged exists
        self.events.hashes = current  # every event carries a hash
        self.changed()

    def reject_firmware(self, file_id: str | None = None) -> None:
        self._take_upload(file_id)

    def event_types(self) -> list[str]:
        """The events this device can raise (log/caps), in the manual's order."""
        p = self.profile
        hw = p.hardware
        door = bool(p.door.input)
        current = self.at_least(levels.CURRENT)
        candidates = [
            ("DeviceState", True),
            ("AudioLoopTest", hw.microphone and "enhanced-audio" in self.licences),
            ("MotionDetected", p.camera is not None),
            ("NoiseDetected", hw.microphone),
            ("KeyPressed", True),
            ("KeyReleased", True),
            ("CodeEntered", hw.keypad),
            ("CardEntered", bool(hw.card_reader)),
            ("InputChanged", True),
            ("OutputChanged", True),
            ("SwitchStateChanged", True),
            ("CallStateChanged", True),
            ("RegistrationStateChanged", True),
            ("TamperSwitchActivated", hw.tamper),
            ("UnauthorizedDoorOpen", door),
            ("DoorOpenTooLong", door),
            ("LoginBlocked", True),
            ("CallSessionStateChanged", current),
            ("DoorStateChanged", current and door),
            ("UserAuthenticated", current and (hw.keypad or bool(hw.card_reader))),
            ("ConfigurationChanged", current),
        ]
        return [name for name, present in candidates if present]
