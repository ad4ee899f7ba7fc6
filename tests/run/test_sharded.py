"""One capture, N shards: a flow never spans shards, and the merge is the serial decode exactly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.inet6 import IPv6
from scapy.layers.l2 import Dot1Q, Ether
from scapy.packet import Raw

from scanner.decode import packets
from scanner.decode.sharding import shard_of
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource, expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import RenderOptions, get_format
from scanner.run.sharded import merge_shards

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "captures"
# Explicit addresses: scapy would otherwise try to resolve them on this host's network.
ETH = Ether(src="02:00:00:00:00:01", dst="02:00:00:00:00:02")


def gtpu(inner: bytes, teid: int = 7) -> bytes:
    """A plain GTP-U G-PDU header (no optional fields) around ``inner``."""
    return bytes([0x30, 0xFF]) + len(inner).to_bytes(2, "big") + teid.to_bytes(4, "big") + inner


# ------------------------------------------------------------------------------ which shard


@pytest.mark.parametrize("shards", [2, 3, 16, 64])
def test_both_directions_of_a_flow_share_a_shard(shards: int) -> None:
    for client in range(50):
        src = f"10.1.{client}.7"
        up = bytes(ETH / IP(src=src, dst="93.184.216.34") / TCP(sport=40000 + client, dport=443))
        down = bytes(ETH / IP(src="93.184.216.34", dst=src) / TCP(sport=443, dport=40000 + client))
        assert shard_of(1, up, shards) == shard_of(1, down, shards)


def test_the_fast_path_and_the_layered_path_agree() -> None:
    """Untagged IPv4 takes a shortcut; a VLAN tag takes the general path: same shard."""
    for client in range(64):
        layers = IP(src=f"10.9.{client}.1", dst="198.51.100.4") / UDP(sport=5000 + client, dport=53)
        assert shard_of(1, bytes(ETH / layers), 8) == shard_of(1, bytes(ETH / Dot1Q(vlan=5) / layers), 8)
        assert shard_of(1, bytes(ETH / layers), 8) == shard_of(101, bytes(layers), 8)  # raw IP link type


def test_gtpu_is_sharded_by_the_users_addresses_not_the_tunnels() -> None:
    shards = 16
    seen = set()
    for user in range(64):
        inner = bytes(IP(src=f"10.45.{user}.2", dst="142.250.1.1") / TCP(sport=50000, dport=443))
        tunnelled = bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=2152, dport=2152) / Raw(gtpu(inner)))
        # The same user packet seen outside the tunnel lands in the same shard.
        assert shard_of(1, tunnelled, shards) == shard_of(101, inner, shards)
        # With optional GTP fields (sequence number), the general path gives the same answer.
        with_seq = bytes([0x32, 0xFF]) + (len(inner) + 4).to_bytes(2, "big") + (7).to_bytes(4, "big") + bytes(4) + inner
        general = bytes(ETH / IP(src="192.0.2.1", dst="192.0.2.2") / UDP(sport=2152, dport=2152) / Raw(with_seq))
        assert shard_of(1, general, shards) == shard_of(1, tunnelled, shards)
        seen.add(shard_of(1, tunnelled, shards))
    assert len(seen) > shards // 2  # one tunnel pair, yet the users spread over the shards


def test_fragments_of_one_datagram_share_a_shard_and_ipv6_is_sharded() -> None:
    from scapy.layers.inet import fragment

    datagram = IP(src="10.0.0.5", dst="203.0.113.9", id=77) / UDP(sport=5353, dport=9999) / Raw(b"x" * 3000)
    pieces = {shard_of(1, bytes(ETH / piece), 8) for piece in fragment(datagram, fragsize=1000)}
    assert len(pieces) == 1
    up = bytes(ETH / IPv6(src="2001:db8::1", dst="2001:db8::2") / TCP(sport=1, dport=2))
    down = bytes(ETH / IPv6(src="2001:db8::2", dst="2001:db8::1") / TCP(sport=2, dport=1))
    assert shard_of(1, up, 5) == shard_of(1, down, 5)


def test_frames_without_ip_and_damaged_frames_go_to_shard_zero() -> None:
    assert shard_of(1, b"\x00" * 10, 4) == 0
    assert shard_of(1, bytes(Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff", type=0x0806) / Raw(b"\x00" * 28)), 4) == 0  # ARP
    assert shard_of(147, b"whatever", 4) == 0  # a link type without IP
    assert shard_of(1, bytes(ETH) + b"\x45", 4) == 0  # IPv4 cut after one byte


def test_the_shard_of_a_frame_does_not_depend_on_the_process() -> None:
    """Dask workers on other machines must agree: no per-process hash seed."""
    frame = bytes(ETH / IP(src="10.3.2.1", dst="198.51.100.77") / TCP(sport=1234, dport=80))
    code = f"from scanner.decode.sharding import shard_of; print(shard_of(1, {frame!r}, 1000))"
    answers = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": str(seed), "PATH": ""}).stdout
        for seed in (1, 2)
    }
    assert answers == {f"{shard_of(1, frame, 1000)}\n"}


# ------------------------------------------------------------------------------ the merge


def sharded_events(path: Path, shards: int) -> list:
    streams = [NativeEngine(None, shard=k, shards=shards).keyed_events([CaptureSource(str(path))]) for k in range(shards)]
    return list(merge_shards(streams))


SHARD_CAPTURES = ["demo.pcap", "demo_gtp.pcap", "labelled_encodings.pcap", "labelled_gtp.pcap"]


@pytest.mark.parametrize("name", SHARD_CAPTURES)
@pytest.mark.parametrize("shards", [2, 5])
def test_merged_shards_are_the_serial_events_in_the_serial_order(name: str, shards: int, monkeypatch: pytest.MonkeyPatch) -> None:
    # Sweep often, so that idle flows expire mid-capture and the sweep order is exercised too.
    monkeypatch.setattr(packets, "SWEEP_EVERY_FRAMES", 16)
    monkeypatch.setattr(packets, "TCP_IDLE_TIMEOUT", 0.5)
    serial = list(NativeEngine().events([CaptureSource(str(CAPTURES / name))]))
    assert serial
    assert sharded_events(CAPTURES / name, shards) == serial


def test_each_flow_is_decoded_by_one_shard_and_the_figures_add_up() -> None:
    path = CAPTURES / "labelled_encodings.pcap"
    serial = NativeEngine()
    events = list(serial.events([CaptureSource(str(path))]))
    parts = [NativeEngine(None, shard=k, shards=3) for k in range(3)]
    counts = [sum(1 for _ in engine.keyed_events([CaptureSource(str(path))])) for engine in parts]
    assert sum(counts) == len(events) and all(counts)  # every shard had work, none twice
    assert sum(engine.stats.flows for engine in parts) == serial.stats.flows
    assert sum(engine.stats.packets for engine in parts) == serial.stats.packets  # counted by shard 0 only
    assert [len(engine.stats.captures) for engine in parts] == [1, 0, 0]
    assert parts[0].stats.captures[0].sha256 == serial.stats.captures[0].sha256


def json_report(paths: list[str], jobs: int, **settings: str) -> str:
    result = run_scan(expand_inputs(paths), ScanSettings(jobs=jobs, **settings))
    rendered = get_format("json")(RenderOptions(stable=True)).render(result)
    assert isinstance(rendered, str)
    return rendered


@pytest.mark.parametrize(
    ("name", "inventory"),
    [("labelled_encodings.pcap", "labelled_encodings.inventory.yaml"), ("demo_gtp.pcap", None), ("demo.pcap", "demo.inventory.yaml")],
)
def test_one_capture_on_several_processes_gives_the_serial_report(name: str, inventory: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "sharded")
    settings = {"inventory": str(CAPTURES / inventory)} if inventory else {}
    serial = json_report([str(CAPTURES / name)], 1, **settings)
    assert '"findings": []' not in serial
    for jobs in (2, 3):
        assert json_report([str(CAPTURES / name)], jobs, **settings) == serial, f"--jobs {jobs} differs"


@pytest.mark.shared
def test_public_captures_shard_to_the_serial_events(real_captures: Path) -> None:
    """Every public capture (tunnels, fragments, damaged files, several link types)."""
    for path in sorted(real_captures.glob("*.pcap*")):
        serial = list(NativeEngine().events([CaptureSource(str(path))]))
        assert sharded_events(path, 2) == serial, path.name
