"""Finding ids are fingerprints of what a leak is (subject, identifier type, the value's keyed
HMAC, destination organisation and host), never of when or where it was seen: the same leak has
the same id in next week's audit, whatever the frame numbers, timestamps, client ports or the
order of the captures.  The HMAC key is part of the value's identity (privacy.py): another key
gives other value HMACs, hence other ids, and nothing else changes."""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import pytest

from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.policy.engine import FINGERPRINT_VERSION, fingerprint
from scanner.results import ScanResult

CAPTURES = Path(__file__).resolve().parents[2] / "captures"
DEMO = CAPTURES / "demo.pcap"
DEMO_INVENTORY = str(CAPTURES / "demo.inventory.yaml")


# ---------------------------------------------------------------------- the function


def test_fingerprint_is_built_from_what_names_a_finding() -> None:
    base = fingerprint("kid-tablet-01", "gaid", "Google", "googleads.g.doubleclick.net")
    assert len(base) == 20 and int(base, 16) >= 0
    assert base == fingerprint("kid-tablet-01", "gaid", "Google", "googleads.g.doubleclick.net")
    others = [
        fingerprint("kid-tablet-02", "gaid", "Google", "googleads.g.doubleclick.net"),
        fingerprint("kid-tablet-01", "idfa", "Google", "googleads.g.doubleclick.net"),
        fingerprint("kid-tablet-01", "gaid", "Meta", "googleads.g.doubleclick.net"),
        fingerprint("kid-tablet-01", "gaid", "Google", "pagead2.googlesyndication.com"),
        fingerprint("kid-tablet-01", "gaid", None, "googleads.g.doubleclick.net"),
    ]
    assert len({base, *others}) == 1 + len(others)
    assert FINGERPRINT_VERSION == "v2", "changing the recipe changes every id: bump the version and say so"


# ---------------------------------------------------------------------- in the policy engine


def test_same_leak_same_id_whatever_frames_times_and_ports(records: Any, evaluate: Any) -> None:
    first = evaluate.one(records.leak("gaid", frames=(17,), ts=1_714_557_600.0, sport=51514))
    later = evaluate.one(records.leak("gaid", frames=(4711, 4800, 5000), ts=1_715_162_400.0, sport=60001))
    assert first.id == later.id
    assert [e.frame for e in first.evidence] != [e.frame for e in later.evidence]


def test_destination_address_and_port_are_not_part_of_the_id(records: Any, evaluate: Any) -> None:
    import dataclasses

    moved = dataclasses.replace(records.TRACKER, ip="142.250.99.99", port=8080)
    assert evaluate.one(records.leak("gaid")).id == evaluate.one(records.leak("gaid", destination=moved)).id


def test_rules_and_allowlist_do_not_change_the_id(records: Any, evaluate: Any) -> None:
    from scanner.policy.allowlist import AllowEntry

    plain = evaluate.one(records.leak("gaid", clear_text=True))
    lifted = evaluate.one(records.leak("gaid", clear_text=True),
                          allow=[AllowEntry("PS102", None, None, None, None, None, "processor", "r")])
    assert plain.rule != lifted.rule and plain.id == lifted.id


def test_two_values_one_finding_id_in_any_order(records: Any, evaluate: Any) -> None:
    one = evaluate.one(records.leak("gaid", values={"b" * 64: "v2", "a" * 64: "v1"}))
    other = evaluate.one(records.leak("gaid", values={"a" * 64: "v1", "b" * 64: "v2"}))
    assert one.id == other.id, "the order values were seen in does not matter"
    assert one.identifier is not None and one.identifier.value_hmac == "a" * 64, "the report shows one value, always the same"


def test_a_new_value_of_the_same_leak_keeps_the_id(records: Any, evaluate: Any) -> None:
    # Last night's audit saw one advertising ID; tonight the device's ID was reset and a second one
    # (whose HMAC sorts first) goes to the same host: still the same finding, not a new one.
    last_night = evaluate.one(records.leak("gaid", values={"b" * 64: "old-gaid"}))
    tonight = evaluate.one(records.leak("gaid", values={"b" * 64: "old-gaid", "a" * 64: "new-gaid"}))
    reset_only = evaluate.one(records.leak("gaid", values={"c" * 64: "newer-gaid"}))
    assert last_night.id == tonight.id == reset_only.id


# ---------------------------------------------------------------------- end to end


def _scan(paths: list[Path], inventory: str | None = DEMO_INVENTORY) -> ScanResult:
    return run_scan(expand_inputs([str(p) for p in paths]), ScanSettings(inventory=inventory))


def _ids(result: ScanResult) -> dict[tuple[str, str, str], str]:
    return {(f.subject.id, f.identifier.type if f.identifier else "-", f.destination.host): f.id for f in result.findings}


def _rewrite(source: Path, target: Path, *, shift: float, extra_frames: int, port_offset: int) -> None:
    """The same traffic a week later, with a few frames before it and other client ports."""
    from scapy.config import conf
    from scapy.layers.inet import ICMP, IP, TCP, UDP
    from scapy.layers.inet6 import IPv6
    from scapy.layers.l2 import Ether
    from scapy.utils import rdpcap, wrpcap

    # Dissect no further than the ports: a test that loaded scapy's TLS layer before this one would
    # otherwise have the TLS records parsed, and rebuilding them re-encrypts with a session scapy
    # never had keys for (CipherError), depending only on which tests ran first.
    conf.layers.filter([Ether, IP, IPv6, TCP, UDP, ICMP])
    try:
        packets = rdpcap(str(source))
    finally:
        conf.layers.unfilter()
    out = []
    for i in range(extra_frames):
        filler = Ether(src="02:00:00:00:00:01", dst="ff:ff:ff:ff:ff:ff", type=0x88B5) / bytes(46)
        filler.time = packets[0].time - 1 + i * 0.001
        out.append(filler)
    for packet in packets:
        if IP in packet:
            for layer in (TCP, UDP):
                if layer in packet:
                    segment = packet[layer]
                    if segment.sport >= 32768:
                        segment.sport += port_offset
                    if segment.dport >= 32768:
                        segment.dport += port_offset
                    del segment.chksum
            del packet[IP].chksum
        out.append(packet)
    for packet in out:
        packet.time = float(packet.time) + shift
    wrpcap(str(target), out)
    # scapy keeps the link type; check the copy is a capture of the same size plus the fillers
    assert struct.unpack("<I", target.read_bytes()[:4])[0] == 0xA1B2C3D4


@pytest.fixture(scope="module")
def demo_ids() -> dict[tuple[str, str, str], str]:
    return _ids(_scan([DEMO]))


def test_same_input_same_ids(demo_ids: dict[tuple[str, str, str], str]) -> None:
    assert demo_ids and demo_ids == _ids(_scan([DEMO]))


def test_ids_survive_other_frames_times_and_ports(tmp_path: Path, demo_ids: dict[tuple[str, str, str], str]) -> None:
    moved = tmp_path / "demo-next-week.pcap"
    _rewrite(DEMO, moved, shift=7 * 86400.0, extra_frames=3, port_offset=7)
    result = _scan([moved])
    assert _ids(result) == demo_ids
    evidence = [e for f in result.findings for e in f.evidence]
    before = [e for f in _scan([DEMO]).findings for e in f.evidence]
    assert {e.frame for e in evidence} == {e.frame + 3 for e in before}, "frame numbers did change"
    assert min(e.ts for e in evidence) == pytest.approx(min(e.ts for e in before) + 7 * 86400.0), "times did change"
    ports_before = {e.flow.sport for e in before if e.flow.sport >= 32768}
    assert ports_before and {e.flow.sport for e in evidence if e.flow.sport >= 32768} == {p + 7 for p in ports_before}


def test_ids_do_not_depend_on_the_order_of_captures() -> None:
    gtp = CAPTURES / "demo_gtp.pcap"
    forward = _scan([DEMO, gtp], inventory=None)
    backward = _scan([gtp, DEMO], inventory=None)
    assert _ids(forward) == _ids(backward)
    assert len(forward.findings) == len(backward.findings) > 10


def test_hmac_key_changes_the_value_part_only(monkeypatch: pytest.MonkeyPatch) -> None:
    def scan_with(key: str) -> ScanResult:
        monkeypatch.setenv("PRIVSCAN_HMAC_KEY", key)
        return _scan([DEMO])

    first, again, other = scan_with("key-number-one-0123"), scan_with("key-number-one-0123"), scan_with("key-number-two-4567")
    assert _ids(first) == _ids(again) and first.hmac_key_id == again.hmac_key_id
    assert other.hmac_key_id != first.hmac_key_id, "reports say which key their HMACs are under"

    def without_value(result: ScanResult) -> list[tuple[Any, ...]]:
        return sorted(
            (f.subject.id, f.identifier.type if f.identifier else "-", f.destination.host, f.rule, f.severity, f.count,
             tuple(e.frame for e in f.evidence))
            for f in result.findings
        )

    assert without_value(first) == without_value(other), "everything but the value's HMAC is the same"
    hmacs_one = {f.identifier.value_hmac for f in first.findings if f.identifier}
    hmacs_two = {f.identifier.value_hmac for f in other.findings if f.identifier}
    assert hmacs_one.isdisjoint(hmacs_two)
    # The demo's subjects are inventory devices, named in clear: their findings' ids hold under any key
    # (a baseline moves between machines); pseudonymous subscribers' names, hence ids, follow the key.
    assert _ids(first) == _ids(other), "no value in an id: an inventory subject's ids do not depend on the key"
