"""Every public capture in ../shared/captures/real decodes in strict mode, with the packet
count MANIFEST.tsv gives and exactly the warnings its damage calls for.

Strict mode (PRIVSCAN_STRICT=1 on the command line, NativeEngine(strict=True) here) makes the engine raise what it would otherwise count as an internal
error, so a decoder bug fails here.  The captures are other people's traffic: these
tests assert counts and warnings, never print identifiers.
"""

from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import pytest

from scanner.model import DnsMessage

REPO = Path(__file__).resolve().parents[2]
REAL = Path(os.environ.get("PRIVSCAN_SHARED", REPO.parent / "shared")) / "captures" / "real"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
CAPTURES = sorted(p.name for p in REAL.iterdir() if p.suffix in CAPTURE_SUFFIXES) if REAL.is_dir() else []
ABSENT = ["(../shared/captures/real is absent)"]

# The damaged captures ([malformed] in MANIFEST.tsv) and the warnings each must give, in order.
# Every other capture must give none.
EXPECTED_WARNINGS = {
    "libpcap__tests_pcap-invalid-version-1.pcap": ["unusual pcap version 1.4; read as 2.4"],
    "libpcap__tests_shb-option-too-long.pcapng": [
        "damaged: section header at offset 0 has an option longer than its block; options ignored"
    ],
    "ndpi__fuzz-2021-10-13.pcap": [
        "unusual pcap version 2.0; read as 2.4",
        "truncated: record at offset 24 cut short (199 of 524501 bytes)",
    ],
    "pppfuzz__clusterfuzz-testcase-FuzzTarget-5188876846235648.pcap": [
        "damaged: record at offset 1064 claims 640034342 bytes; reading stopped there"
    ],
    "pppfuzz__clusterfuzz-testcase-FuzzTarget-6207688043397120.pcap": [
        "unusual pcap version 2.3; read as 2.4",
        "truncated: record header cut at offset 57",
    ],
    "pppfuzz__clusterfuzz-testcase-minimized-FuzzTarget-5114733584449536.pcap": ["unusual pcap version 2.3; read as 2.4"],
}

# Anomaly names that mean an exception was caught inside the decoder rather than a damaged
# packet recognised as such: a bug, whatever the capture.
BUG_ANOMALIES = re.compile(r"^(malformed_packet|internal_error_.*)$")


def manifest() -> dict[str, dict[str, str]]:
    with (REAL / "MANIFEST.tsv").open(encoding="utf-8", newline="") as handle:
        return {row["filename"]: row for row in csv.DictReader(handle, delimiter="\t")}


@pytest.fixture(scope="module")
def rows(real_captures: Path) -> dict[str, dict[str, str]]:
    return manifest()


def test_manifest_lists_every_capture(rows) -> None:
    assert sorted(rows) == CAPTURES
    assert set(EXPECTED_WARNINGS) <= {name for name, row in rows.items() if "[malformed]" in row["content_note"]}


@pytest.mark.parametrize("name", CAPTURES or ABSENT)
def test_capture_decodes_in_strict_mode(native_scan, real_captures: Path, name: str) -> None:
    scan = native_scan(real_captures / name)  # raises on a decoder bug
    assert not [a for a in scan.anomalies if BUG_ANOMALIES.match(a)], scan.anomalies
    assert scan.info.warnings == EXPECTED_WARNINGS.get(name, [])


def expected_packets(field: str) -> int | None:
    """'500' -> 500; '1 readable (own parser); capinfos: ...' -> 1 (what a reader can read)."""
    match = re.fullmatch(r"(\d+)(?: readable \(own parser\).*)?", field)
    return int(match.group(1)) if match else None


@pytest.mark.parametrize("name", CAPTURES or ABSENT)
def test_packet_count_matches_the_manifest(native_scan, real_captures: Path, rows, name: str) -> None:
    expected = expected_packets(rows[name]["packets"])
    assert expected is not None, f"MANIFEST packets field not understood: {rows[name]['packets']!r}"
    assert native_scan(real_captures / name).info.packets == expected


def test_snaplen_cut_first_fragments_still_give_their_questions(native_scan, real_captures: Path) -> None:
    # nDPI's badpackets.pcap: 93 first IPv4 fragments of DNS responses, each cut by the snap
    # length.  Every one is counted; those whose question survived the cut give an event.
    scan = native_scan(real_captures / "ndpi__badpackets.pcap")
    assert scan.anomalies["ip_fragment_truncated"] == 93
    questions = [e for e in scan.events if isinstance(e, DnsMessage)]
    assert len(questions) + scan.anomalies["dns_malformed"] == 93
    assert len(questions) == 83


def test_snaplen_cut_tcp_is_read_as_gaps(native_scan, real_captures: Path) -> None:
    # zeek's tcp/timestamp.pcap keeps a few header bytes of each segment: the payload the
    # capture did not keep becomes gaps, never an exception or invented data.
    scan = native_scan(real_captures / "zeek__tcp_timestamp.pcap")
    assert scan.events == []
    assert scan.anomalies.get("tcp_gap", 0) >= 1


def test_ipv4_header_cut_by_the_snap_length(native_scan, real_captures: Path) -> None:
    scan = native_scan(real_captures / "zeek__trunc_ip4-trunc.pcap")
    assert (scan.events, scan.anomalies) == ([], {"ipv4_truncated": 1})
