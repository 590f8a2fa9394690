"""Network trace of /api/pcap: a real pcap file of the device's own HTTP traffic.

While the capture runs, the API layer records the head of every request and reply it handles.
Each becomes one Ethernet/IPv4/TCP frame (with valid checksums) so Wireshark and tshark open
the file and show the HTTP exchanges. The capture is a bounded ring.
"""

from __future__ import annotations

import ipaddress
import struct
from collections import deque

from emulator.device.clock import Clock

LINKTYPE_ETHERNET = 1
SNAPLEN = 65535
MAX_PAYLOAD = 1400  # one frame per message head; longer heads are cut (like a snaplen)


class Capture:
    def __init__(self, clock: Clock, device_mac: str, capacity: int = 2000):
        self.clock = clock
        self.device_mac = bytes.fromhex(device_mac.replace("-", ""))
        self.running = False  # started by pcap/restart, as the web interface's network trace is
        self.packets: deque[tuple[float, bytes]] = deque(maxlen=capacity)
        self._seq: dict[tuple[str, int, str, int], int] = {}

    def restart(self) -> None:
        self.packets.clear()
        self._seq.clear()
        self.running = True

    def stop(self) -> None:
        self.running = False

    def record(self, src: tuple[str, int], dst: tuple[str, int], payload: bytes, outgoing: bool) -> None:
        """One message head from src to dst; `outgoing` when the device sends it."""
        if not self.running:
            return
        payload = payload[:MAX_PAYLOAD]
        key = (src[0], src[1], dst[0], dst[1])
        seq = self._seq.get(key, 1)
        if len(self._seq) > 4096:
            self._seq.clear()
        self._seq[key] = (seq + len(payload)) & 0xFFFFFFFF
        frame = _ethernet(self.device_mac, outgoing, _ipv4(src, dst, _tcp(src, dst, seq, payload)))
        self.packets.append((self.clock.time(), frame))

    def to_bytes(self) -> bytes:
        out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN, LINKTYPE_ETHERNET)]
        for when, frame in self.packets:
            seconds = int(when)
            micros = int((when - seconds) * 1_000_000)
            out.append(struct.pack("<IIII", seconds, micros, len(frame), len(frame)))
            out.append(frame)
        return b"".join(out)


_PEER_MAC = bytes.fromhex("020000000001")  # a locally administered address for the other side


def _ethernet(device_mac: bytes, outgoing: bool, packet: bytes) -> bytes:
    src, dst = (device_mac, _PEER_MAC) if outgoing else (_PEER_MAC, device_mac)
    return dst + src + struct.pack("!H", 0x0800) + packet


def _ipv4(src: tuple[str, int], dst: tuple[str, int], segment: bytes) -> bytes:
    s, d = _v4(src[0]), _v4(dst[0])
    header = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(segment), 0, 0x4000, 64, 6, 0, s, d)
    return header[:10] + struct.pack("!H", _checksum(header)) + header[12:] + segment


def _v4(host: str) -> bytes:
    """IPv4 bytes of an address; IPv6 peers (other than v4-mapped ones) show as 127.0.0.1."""
    try:
        address = ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return bytes(4)
    if isinstance(address, ipaddress.IPv6Address):
        address = address.ipv4_mapped or ipaddress.IPv4Address("127.0.0.1")
    return address.packed


def _tcp(src: tuple[str, int], dst: tuple[str, int], seq: int, payload: bytes) -> bytes:
    flags = 0x18  # PSH, ACK
    header = struct.pack("!HHIIBBHHH", src[1], dst[1], seq, 1, 5 << 4, flags, 65535, 0, 0)
    pseudo = _v4(src[0]) + _v4(dst[0]) + struct.pack("!BBH", 0, 6, len(header) + len(payload))
    checksum = _checksum(pseudo + header + payload)
    return header[:16] + struct.pack("!H", checksum) + header[18:] + payload


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF
