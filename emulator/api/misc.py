"""Audio (audio/test) and the network trace (pcap, pcap/restart, pcap/stop)."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.api.replies import PCAP, Raw


def audio_test(call: Call) -> None:
    call.device.audio_test()


def pcap(call: Call) -> Raw:
    return Raw(call.device.capture.to_bytes(), PCAP)


def pcap_restart(call: Call) -> None:
    call.device.capture.restart()


def pcap_stop(call: Call) -> None:
    call.device.capture.stop()
