"""The network trace of /api/pcap: a pcap file Wireshark opens, with valid checksums, bounded."""

from __future__ import annotations

import io
import socket
import struct

import dpkt
import pytest

from emulator.device.clock import VirtualClock
from emulator.device.pcap import MAX_PAYLOAD, Capture

DEVICE_MAC = "7C-1E-B3-0A-2F-51"
CLIENT = ("192.168.1.20", 50123)
DEVICE = ("192.168.1.10", 80)


def ones_complement_sum(data: bytes) -> int:
    """The Internet checksum's running sum (RFC 1071), written independently of the emulator."""
    if len(data) % 2:
        data += b"\x00"
    total = 0
    for (word,) in struct.iter_unpack("!H", data):
        total += word
        total = (total & 0xFFFF) + (total >> 16)
    return total


def frames(blob: bytes) -> list[tuple[float, dpkt.ethernet.Ethernet, bytes]]:
    reader = dpkt.pcap.Reader(io.BytesIO(blob))
    assert reader.datalink() == dpkt.pcap.DLT_EN10MB
    assert reader.snaplen == 65535
    return [(ts, dpkt.ethernet.Ethernet(raw), raw) for ts, raw in reader]


def check_checksums(raw: bytes) -> None:
    ip_bytes = raw[14:]
    ihl = (ip_bytes[0] & 0x0F) * 4
    header = ip_bytes[:ihl]
    assert ones_complement_sum(header) == 0xFFFF, "IPv4 header checksum"
    total_length = struct.unpack("!H", ip_bytes[2:4])[0]
    assert total_length == len(ip_bytes)
    segment = ip_bytes[ihl:total_length]
    pseudo = ip_bytes[12:16] + ip_bytes[16:20] + struct.pack("!BBH", 0, 6, len(segment))
    assert ones_complement_sum(pseudo + segment) == 0xFFFF, "TCP checksum"


def running(capacity: int = 2000, start: float = 1_700_000_000.25) -> tuple[Capture, VirtualClock]:
    clock = VirtualClock(start=start)
    capture = Capture(clock, DEVICE_MAC, capacity=capacity)
    capture.restart()
    return capture, clock


def test_an_idle_capture_is_an_empty_pcap_file():
    capture = Capture(VirtualClock(start=0), DEVICE_MAC)
    assert not capture.running
    capture.record(CLIENT, DEVICE, b"GET / HTTP/1.1\r\n\r\n", outgoing=False)  # not running: ignored
    blob = capture.to_bytes()
    assert len(blob) == 24
    magic, major, minor, _, _, snaplen, linktype = struct.unpack("<IHHiIII", blob)
    assert (magic, major, minor, snaplen, linktype) == (0xA1B2C3D4, 2, 4, 65535, 1)
    assert frames(blob) == []


def test_request_and_reply_become_ethernet_ipv4_tcp_frames():
    capture, clock = running()
    request = b"GET /api/system/info HTTP/1.1\r\nHost: x\r\n\r\n"
    reply = b'HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{"success":true}'
    capture.record(CLIENT, DEVICE, request, outgoing=False)
    clock.advance(0.5)
    capture.record(DEVICE, CLIENT, reply, outgoing=True)
    out = frames(capture.to_bytes())
    assert len(out) == 2
    (ts1, eth1, raw1), (ts2, eth2, raw2) = out
    assert ts1 == pytest.approx(1_700_000_000.25, abs=1e-6)
    assert ts2 == pytest.approx(1_700_000_000.75, abs=1e-6)
    device_mac = bytes.fromhex(DEVICE_MAC.replace("-", ""))
    assert eth1.dst == device_mac and eth1.src != device_mac
    assert eth2.src == device_mac and eth2.dst == eth1.src
    for eth, raw, (src, dst), payload in ((eth1, raw1, (CLIENT, DEVICE), request),
                                          (eth2, raw2, (DEVICE, CLIENT), reply)):
        assert eth.type == dpkt.ethernet.ETH_TYPE_IP
        ip = eth.data
        assert isinstance(ip, dpkt.ip.IP)
        assert ip.v == 4 and ip.hl == 5 and ip.ttl == 64 and ip.p == dpkt.ip.IP_PROTO_TCP
        assert socket.inet_ntoa(ip.src) == src[0] and socket.inet_ntoa(ip.dst) == dst[0]
        tcp = ip.data
        assert isinstance(tcp, dpkt.tcp.TCP)
        assert (tcp.sport, tcp.dport) == (src[1], dst[1])
        assert tcp.flags == dpkt.tcp.TH_PUSH | dpkt.tcp.TH_ACK
        assert tcp.data == payload
        check_checksums(raw)


def test_sequence_numbers_advance_per_direction():
    capture, _ = running()
    capture.record(CLIENT, DEVICE, b"a" * 10, outgoing=False)
    capture.record(DEVICE, CLIENT, b"b" * 7, outgoing=True)
    capture.record(CLIENT, DEVICE, b"c" * 5, outgoing=False)
    capture.record(DEVICE, CLIENT, b"d", outgoing=True)
    seqs = [eth.data.data.seq for _, eth, _ in frames(capture.to_bytes())]
    assert seqs == [1, 1, 11, 8]


@pytest.mark.parametrize("size", [0, 1, 2, 3, 999, MAX_PAYLOAD])
def test_checksums_are_valid_for_any_payload_length(size):
    capture, _ = running()
    payload = bytes((i * 37 + 11) % 256 for i in range(size))
    capture.record(CLIENT, DEVICE, payload, outgoing=False)
    capture.record(("10.255.255.254", 65535), ("172.16.0.1", 1), payload, outgoing=True)
    for _, eth, raw in frames(capture.to_bytes()):
        assert eth.data.data.data == payload
        check_checksums(raw)


def test_long_heads_are_cut():
    capture, _ = running()
    capture.record(CLIENT, DEVICE, b"x" * (MAX_PAYLOAD + 500), outgoing=False)
    [(_, eth, raw)] = frames(capture.to_bytes())
    assert len(eth.data.data.data) == MAX_PAYLOAD
    check_checksums(raw)


@pytest.mark.parametrize("host, expected", [
    ("::1", "127.0.0.1"),
    ("::ffff:10.0.0.5", "10.0.0.5"),
    ("fe80::1%eth0", "127.0.0.1"),
    ("not an address", "0.0.0.0"),
])
def test_other_addresses_are_shown_as_ipv4(host, expected):
    capture, _ = running()
    capture.record((host, 1234), DEVICE, b"hello", outgoing=False)
    [(_, eth, raw)] = frames(capture.to_bytes())
    assert socket.inet_ntoa(eth.data.src) == expected
    check_checksums(raw)


def test_the_capture_is_a_bounded_ring():
    capture, clock = running(capacity=10)
    for i in range(25):
        capture.record(CLIENT, DEVICE, f"message {i}".encode(), outgoing=False)
        clock.advance(1)
    out = frames(capture.to_bytes())
    assert len(out) == 10
    assert [eth.data.data.data for _, eth, _ in out] == [f"message {i}".encode() for i in range(15, 25)]
    assert [ts for ts, _, _ in out] == [pytest.approx(1_700_000_000.25 + i) for i in range(15, 25)]


def test_stop_keeps_the_trace_and_restart_clears_it():
    capture, _ = running()
    capture.record(CLIENT, DEVICE, b"one", outgoing=False)
    capture.stop()
    assert not capture.running
    capture.record(CLIENT, DEVICE, b"two", outgoing=False)
    assert [eth.data.data.data for _, eth, _ in frames(capture.to_bytes())] == [b"one"]
    capture.restart()
    assert capture.running
    assert frames(capture.to_bytes()) == []
    capture.record(CLIENT, DEVICE, b"three", outgoing=False)
    [(_, eth, _)] = frames(capture.to_bytes())
    assert eth.data.data.data == b"three" and eth.data.data.seq == 1  # sequence numbers start over


def test_many_connections_keep_the_sequence_table_bounded():
    capture, _ = running(capacity=10)
    for port in range(1, 10_001):
        capture.record(("10.0.0.1", port), DEVICE, b"x", outgoing=False)
    assert len(capture._seq) <= 4097
    assert len(capture.packets) == 10
