"""Command line -> Settings -> a running emulator. Every flag can also come from the environment
(HELIOS_PORT, HELIOS_PROFILE, HELIOS_AUTH, ...), so a container is configured without a rebuild."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any
from collections.abc import Mapping, Sequence

from emulator import __version__, connections, logs
from emulator.app import Emulator
from emulator.control import journal
from emulator.control.faults import FaultError
from emulator.control.state import StateError
from emulator.device import profile as profiles
from emulator.device import profile_docs
from emulator.recording import RecordingError
from emulator.settings import Settings, parse_user

ENV_PREFIX = "HELIOS_"
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off", "")


def _port(text: str) -> int:
    value = _integer(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number (0-65535; 0 = any free port)")
    return value


def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None


def _between(low: int, high: int):
    def check(text: str) -> int:
        value = _integer(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{text!r} is not between {low} and {high}")
        return value
    check.__name__ = "number"
    return check


def _user(text: str):
    try:
        return parse_user(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def env_name(action: argparse.Action) -> str:
    """HELIOS_ and the long option in capitals: --no-licence -> HELIOS_NO_LICENCE."""
    return ENV_PREFIX + action.option_strings[0].lstrip("-").upper().replace("-", "_")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="helios-emulator",
        description="Emulate a 2N Helios IP intercom's HTTP API. Every option can also be set with an "
                    "environment variable HELIOS_<OPTION> (e.g. HELIOS_PORT=80, HELIOS_NO_LICENCE=1; "
                    "HELIOS_USER takes several accounts separated by spaces), checked exactly as the "
                    "option; an option on the command line wins over its variable.",
        epilog="Subcommands: 'helios-emulator capture URL --user NAME:PASSWORD' prints a profile of a real "
               "device; 'helios-emulator record --target URL' records a client's exchanges with one "
               "(each with --help).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8080, help="HTTP port (default 8080; 0 = any)")
    p.add_argument("--https-port", type=_port, default=8443, help="HTTPS port (default 8443; 0 = any)")
    p.add_argument("--no-https", action="store_true", help="no HTTPS listener")
    p.add_argument("--rtsp-port", type=_port, default=8554,
                   help="RTSP port for live H.264 at /h264_stream (default 8554; a device uses 554; 0 = any)")
    p.add_argument("--no-rtsp", action="store_true", help="no RTSP listener")
    p.add_argument("--profile", default=profiles.DEFAULT_PROFILE,
                   help=f"model profile: one of {', '.join(profiles.available())}, or a TOML file "
                        f"(default {profiles.DEFAULT_PROFILE})")
    p.add_argument("--auth", choices=("none", "basic", "digest"),
                   help="authentication of every service (default: the profile's, Digest)")
    p.add_argument("--user", dest="users", action="append", type=_user, metavar="NAME:PASSWORD[:PRIV,...]",
                   help="an API account (repeatable, up to five); replaces the profile's accounts; "
                        "no privileges listed = all")
    p.add_argument("--no-licence", dest="licence", action="store_false",
                   help="the device has no licences (Enhanced Integration, Enhanced Audio)")
    p.add_argument("--no-quirks", dest="quirks", action="store_false",
                   help="turn off the profile's firmware quirks (fw 2.50 answers a POST with an empty "
                        "application/octet-stream body with error 14)")
    p.add_argument("--state-dir", type=Path, metavar="DIR",
                   help="keep the configuration and the certificate here across restarts (created if missing)")
    p.add_argument("--tls-cert", type=Path, help="your own certificate (PEM)")
    p.add_argument("--tls-key", type=Path, help="its private key (PEM)")
    p.add_argument("--smtp", metavar="HOST:PORT", help="deliver email/send here")
    p.add_argument("--clock", choices=("real", "virtual"), default="real",
                   help="virtual: device time moves only with POST /_emulator/clock (default real)")
    p.add_argument("--control-token", metavar="TOKEN",
                   help="the control plane (/_emulator) answers any client that sends 'Authorization: Bearer "
                        "TOKEN', and no other (without a token: clients on this machine only)")
    p.add_argument("--control-token-file", type=Path, metavar="FILE",
                   help="the token in a file (kept out of the process list)")
    p.add_argument("--control-open", action="store_true",
                   help="without a token, let every client that reaches the port use the control plane")
    p.add_argument("--scenario", type=Path, metavar="FILE", help="a TOML timeline to play from the start")
    p.add_argument("--replay", type=Path, metavar="FILE",
                   help="a recording (helios-emulator record) that answers the paths this firmware does not have")
    p.add_argument("--journal-size", type=_between(1, 1_000_000), default=journal.DEFAULT_SIZE, metavar="N",
                   help=f"entries the request/action journal keeps (default {journal.DEFAULT_SIZE})")
    p.add_argument("--journal-bytes", type=_between(1 << 20, 1 << 36), default=journal.DEFAULT_BYTES, metavar="N",
                   help=f"about how many bytes the journal may hold (default {journal.DEFAULT_BYTES >> 20} MiB)")
    p.add_argument("--max-connections", type=_between(16, 1_000_000), default=connections.DEFAULT_MAX, metavar="N",
                   help=f"open connections at most (default {connections.DEFAULT_MAX}, and below the "
                        "process's file limit); past it the longest idle one is closed")
    p.add_argument("--seed", type=_integer, metavar="N", help="seed for ids (reproducible runs; ids are guessable then)")
    p.add_argument("--loop", choices=("auto", "asyncio", "uvloop"), default="auto",
                   help="event loop: uvloop is faster (pip install 'helios-emulator[speed]'); auto uses it "
                        "when installed (default auto)")
    p.add_argument("--log-level", default="info",
                   choices=("debug", "info", "warning", "error"),
                   help="info (default) logs one line per /api request and every control-plane action; "
                        "warning keeps only what went wrong")
    p.add_argument("--log-format", default="text", choices=logs.FORMATS,
                   help="text lines (default), or one JSON object per line for log collectors")
    p.add_argument("--version", action="version", version=f"helios-emulator {__version__}")
    p.add_argument("--print-profile", metavar="NAME|PATH",
                   help="print the profile as the emulator uses it (extends merged, every default filled in) and exit")
    p.add_argument("--profile-schema", action="store_true",
                   help="print the JSON Schema of profile files (for editors) and exit")
    p.add_argument("--profile-reference", action="store_true",
                   help="print the reference of every profile key (Markdown) and exit")
    return p


# What does something once and exits, not a setting of the emulator: no HELIOS_* variable.
NOT_FROM_ENV = frozenset({"help", "version", "print_profile", "profile_schema", "profile_reference"})


def parse_args(argv: Sequence[str] | None = None, environ: Mapping[str, str] = os.environ) -> argparse.Namespace:
    """The command line over the HELIOS_* environment: each variable is parsed and checked exactly as
    its option (type, choices, case), and a bad one stops the start with one line naming it."""
    p = parser()
    appended: dict[str, list[Any]] = {}
    for action in p._actions:
        if not action.option_strings or action.dest in NOT_FROM_ENV:
            continue
        name = env_name(action)
        text = environ.get(name)
        if text is None:
            continue
        try:
            if isinstance(action, argparse._AppendAction):  # HELIOS_USER: several, separated by spaces
                appended[action.dest] = [_convert(action, item) for item in text.split()] or None
            elif action.nargs == 0:  # a switch: HELIOS_NO_HTTPS=1
                value = text.strip().lower()
                if value not in TRUE + FALSE:
                    raise argparse.ArgumentTypeError(f"{text!r} is none of {', '.join(TRUE + FALSE[:-1])}")
                p.set_defaults(**{action.dest: action.const if value in TRUE else action.default})
            else:
                p.set_defaults(**{action.dest: _convert(action, text)})
        except argparse.ArgumentTypeError as exc:
            p.exit(2, f"{p.prog}: error: {name}: {exc}\n")
    args = p.parse_args(argv)
    for dest, values in appended.items():
        if getattr(args, dest) is None:  # the option, when given, replaces the variable's list
            setattr(args, dest, values)
    return args


def _convert(action: argparse.Action, text: str) -> Any:
    value = action.type(text) if callable(action.type) else text
    if action.choices is not None and value not in action.choices:
        raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(map(str, action.choices))}")
    return value


def settings_from(args: argparse.Namespace) -> Settings:
    if (args.tls_cert is None) != (args.tls_key is None):
        raise SystemExit("helios-emulator: --tls-cert and --tls-key (HELIOS_TLS_CERT, HELIOS_TLS_KEY) go together")
    if args.users is not None and len(args.users) > 5:
        raise SystemExit("helios-emulator: at most five accounts (--user, HELIOS_USER)")
    if args.users is not None and len({u.name for u in args.users}) != len(args.users):
        raise SystemExit("helios-emulator: two accounts with the same name (--user, HELIOS_USER)")
    token = args.control_token or None
    if args.control_token_file is not None:
        if token is not None:
            raise SystemExit("helios-emulator: a control token or a control token file, not both "
                             "(--control-token, HELIOS_CONTROL_TOKEN; --control-token-file, HELIOS_CONTROL_TOKEN_FILE)")
        token = _read_token(args.control_token_file)
    return Settings(host=args.host, port=args.port, https_port=None if args.no_https else args.https_port,
                    rtsp_port=None if args.no_rtsp else args.rtsp_port,
                    profile=args.profile, auth=args.auth, users=args.users, licence=args.licence,
                    quirks=args.quirks, state_dir=args.state_dir, tls_cert=args.tls_cert, tls_key=args.tls_key, smtp=args.smtp,
                    seed=args.seed, clock=args.clock, control_token=token, control_open=args.control_open,
                    scenario=args.scenario, journal_size=args.journal_size, journal_bytes=args.journal_bytes,
                    max_connections=args.max_connections, replay=args.replay)


def _read_token(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SystemExit(f"helios-emulator: control token file {path}: {getattr(exc, 'strerror', None) or exc}"
                         ) from None
    if not token:
        raise SystemExit(f"helios-emulator: control token file {path} is empty")
    return token


# `helios-emulator SUBCOMMAND ...`: each in its own module, with its own options (no HELIOS_*
# variables); anything else runs the emulator.
SUBCOMMANDS = {"capture": "emulator.capture", "record": "emulator.record"}


def main(argv: Sequence[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
        return
    args = parse_args(argv)
    if args.print_profile or args.profile_schema or args.profile_reference:
        try:
            if args.print_profile:
                print(profile_docs.effective(args.print_profile), end="")
            elif args.profile_schema:
                print(json.dumps(profile_docs.json_schema(), indent=2, ensure_ascii=False))
            else:
                print(profile_docs.reference(), end="")
        except profiles.ProfileError as exc:
            raise SystemExit(f"helios-emulator: bad profile: {exc}") from None
        return
    logs.configure(args.log_level, args.log_format)
    settings = settings_from(args)
    connections.raise_file_limit()  # room for --max-connections (the soft limit is often 1,024)
    try:
        emulator = Emulator(settings)
    except profiles.ProfileError as exc:
        raise SystemExit(f"helios-emulator: bad profile: {exc}") from None
    except (OSError, FaultError) as exc:
        raise SystemExit(f"helios-emulator: cannot use the scenario {settings.scenario}: {exc}") from None
    except (StateError, RecordingError) as exc:
        raise SystemExit(f"helios-emulator: {exc}") from None
    try:
        with asyncio.Runner(loop_factory=_loop_factory(args.loop)) as runner:
            runner.run(_serve(emulator))
    except KeyboardInterrupt:
        pass


def _loop_factory(choice: str):
    """The event loop to run on: uvloop when asked for (or, with auto, when it is installed)."""
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "uvloop":
            raise SystemExit("helios-emulator: --loop uvloop, but uvloop is not installed "
                             "(pip install 'helios-emulator[speed]')") from None
        return None
    return uvloop.new_event_loop


def stop_signal() -> asyncio.Event:
    """An event set by SIGTERM or SIGINT (the emulator and `record` stop on either)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    return stop


async def _serve(emulator: Emulator) -> None:
    stop = stop_signal()
    try:
        await emulator.start()
    except OSError as exc:
        raise SystemExit(f"helios-emulator: cannot listen: {exc}") from None
    # What start-up made (modules, the profile, the certificate: some 50,000 objects) lives as
    # long as the process: out of the collector's sight, a full collection under load takes
    # well under a millisecond instead of about 16 ms, and no long-poll round waits for it.
    gc.freeze()
    try:
        await stop.wait()
    finally:
        await emulator.stop()
