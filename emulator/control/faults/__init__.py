"""Fault injection, Toxiproxy style: one small file per fault kind, one registry, one store.

Request faults wrap matching /api requests (path glob, methods, optionally only authenticated
ones) that the device accepts (past its path, method, service, licence, transport, credential and
privilege checks: a Digest challenge round trip's 401, or a refusal, is neither faulted nor
counted), `times` then recover, `probability` with a `seed`. Device faults act once when added.
Event faults bend the delivery of events to subscription channels. Stream faults stall or cut live
RTSP streams.
"""

from __future__ import annotations

import itertools
import logging
from typing import TYPE_CHECKING, Any

from emulator.control.faults.bad_json import BadJson
from emulator.control.faults.base import COMMON, DeviceFault, Fault, FaultError, Param, RequestFault
from emulator.control.faults.content_type import ContentType
from emulator.control.faults.delay import Delay
from emulator.control.faults.error import Error
from emulator.control.faults.events import Events
from emulator.control.faults.hang import Hang
from emulator.control.faults.html import Html
from emulator.control.faults.no_success import NoSuccess
from emulator.control.faults.nonces import Nonces
from emulator.control.faults.reboot import Reboot
from emulator.control.faults.reset import Reset
from emulator.control.faults.slow_body import SlowBody
from emulator.control.faults.snapshot import Snapshot
from emulator.control.faults.status import Status
from emulator.control.faults.stream import Stream
from emulator.control.faults.truncate import Truncate
from emulator.errors import did_you_mean

if TYPE_CHECKING:
    from emulator.app import Emulator

log = logging.getLogger("emulator.control")

KINDS: dict[str, type[Fault]] = {cls.kind: cls for cls in (
    Delay, SlowBody, Reset, Hang, Truncate,  # transport
    Status, ContentType, Html,  # HTTP
    Error, NoSuccess, BadJson,  # 2N envelope
    Reboot, Nonces, Events, Snapshot,  # device
    Stream,  # live video (RTSP)
)}

__all__ = ["COMMON", "KINDS", "Faults", "Fault", "FaultError", "Param", "RequestFault", "DeviceFault"]


class Faults:
    """The faults in force on one emulator."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.active: dict[int, Fault] = {}  # the request and event faults in force, by id
        self._ids = itertools.count(1)
        emulator.device.channels.delivery = self._event_delivery

    def add(self, spec: dict[str, Any]) -> Fault:
        kind = spec.get("kind")
        cls = KINDS.get(kind) if isinstance(kind, str) else None
        if cls is None:
            raise FaultError(f"kind: one of {', '.join(KINDS)}" + (did_you_mean(kind, KINDS) if isinstance(kind, str)
                                                                  else ""))
        fault = cls(next(self._ids), spec)
        log.info("fault %d added: %s", fault.id, spec, extra={"fields": {"fault": fault.describe()}})
        if isinstance(fault, DeviceFault):
            fault.act(self.emulator)
            fault.hits = 1
        else:
            self.active[fault.id] = fault
            if isinstance(fault, Stream) and self.emulator.rtsp is not None:
                self.emulator.rtsp.fault_added(fault)
        return fault

    def list(self) -> list[Fault]:
        return list(self.active.values())

    def remove(self, fault_id: int) -> bool:
        removed = self.active.pop(fault_id, None) is not None
        if removed:
            log.info("fault %d removed", fault_id)
        return removed

    def clear(self) -> None:
        if self.active:
            log.info("faults removed: %s", ", ".join(str(i) for i in self.active))
        self.active.clear()

    def for_request(self, method: str, path: str, authenticated: bool) -> list[RequestFault]:
        """The request faults that hit this request (one the device accepted; `authenticated`: as
        an account), each counted once."""
        hit = [f for f in self.active.values() if isinstance(f, RequestFault) and f.matches(method, path, authenticated)]
        for fault in hit:
            self._count(fault)
        return hit

    def for_stream(self, path: str, only: Fault | None = None) -> list[Stream]:
        """The stream faults (or just `only`, if still in force) that hit a session of this
        stream path, each counted once."""
        candidates = [only] if only is not None else list(self.active.values())
        hit = [f for f in candidates if isinstance(f, Stream) and self.active.get(f.id) is f
               and f.matches("PLAY", path)]
        for fault in hit:
            self._count(fault)
        return hit

    def _event_delivery(self, event) -> list[float] | None:
        for fault in list(self.active.values()):
            if isinstance(fault, Events) and fault.hits_event(event.name):
                self._count(fault)
                return fault.deliveries()
        return None

    def _count(self, fault: Fault) -> None:
        fault.hits += 1
        if fault.times is not None and fault.hits >= fault.times:
            self.active.pop(fault.id, None)  # applied `times` times: the fault recovers
            log.info("fault %d (%s) applied %d times: removed", fault.id, fault.kind, fault.hits)
