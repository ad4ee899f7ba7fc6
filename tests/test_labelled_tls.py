"""Precision and recall inside encrypted traffic: ../shared/captures/tls (its README says how it
was made: curl/OpenSSL, nghttp2 and aioquic against hypercorn, every client writing its keys).

The triple scored is (device, identifier type, destination host), as for the other labelled
captures, with the inventory.  Each transport is scored apart: the events of a transport (the
HTTP version of a request and what it was decrypted from) are fed alone to a scan, and its
findings are compared with the truth's leaks of that transport, so that a transport that reads
nothing cannot hide behind the others.  ``TRANSPORTS`` names the transports scored: HTTP/1.1 and
HTTP/2 over TLS 1.2 and 1.3, and HTTP/3 over QUIC v1.

- With ``--keylog`` and with the keys in the capture's Decryption Secrets Block: P and R >= 0.97
  for every transport.
- Without keys: no identifier finding at all, and the report's warning says how many TLS
  connections could not be read.

Identifier values are never printed: counts and types only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from scanner.decode.keylog import load_keylogs
from scanner.engines import make_engine
from scanner.ingest import expand_inputs
from scanner.model import Event, HttpRequest
from scanner.pipeline import ScanPipeline, ScanSettings, run_scan
from scanner.results import ScanResult

BAR = 0.97
TYPE_MAP = {"wifi_mac": "mac", "location": "geo"}
# Truth transport prefix ("h1/tls1.2") -> how an event of it looks: (HTTP version, decrypted from).
TRANSPORTS: dict[str, tuple[frozenset[str], str]] = {
    "h1/tls1.2": (frozenset({"HTTP/1.1", "HTTP/1.0"}), "TLSv1.2"),
    "h1/tls1.3": (frozenset({"HTTP/1.1", "HTTP/1.0"}), "TLSv1.3"),
    "h2/tls1.2": (frozenset({"HTTP/2"}), "TLSv1.2"),
    "h2/tls1.3": (frozenset({"HTTP/2"}), "TLSv1.3"),
    "h3/quic1": (frozenset({"HTTP/3"}), "QUICv1"),
}

Triple = tuple[str, str, str]


def truth_of(tls_dir: Path) -> dict[str, Any]:
    return json.loads((tls_dir / "tls_public.truth.json").read_text(encoding="utf-8"))


def truth_triples(truth: dict[str, Any], transport: str) -> set[Triple]:
    return {
        (leak["device"], TYPE_MAP.get(leak["identifier_type"], leak["identifier_type"]), leak["destination_host"])
        for leak in truth["leaks"]
        if leak["transport"].startswith(transport + "/") or leak["transport"] == transport
    }


def transport_of(event: Event) -> str | None:
    if not isinstance(event, HttpRequest) or event.decrypted is None:
        return None
    for name, (versions, decrypted) in TRANSPORTS.items():
        if event.version in versions and event.decrypted == decrypted:
            return name
    return None


def decoded(capture: Path, keylogs: Sequence[str]) -> list[Event]:
    engine = make_engine("native", keylog=load_keylogs(keylogs))
    return list(engine.events(expand_inputs([str(capture)])))


def scan_events(events: Iterable[Event], inventory: Path) -> set[Triple]:
    pipeline = ScanPipeline(ScanSettings(inventory=str(inventory)))
    for event in events:
        pipeline.consume(event)
    result = pipeline.result(make_engine("native").stats, "native")
    return {(f.subject.id, f.identifier.type, f.destination.host) for f in result.findings if f.identifier is not None}


def score(truth: set[Triple], found: set[Triple]) -> tuple[float, float]:
    hits = len(truth & found)
    return (hits / len(found) if found else 0.0), (hits / len(truth) if truth else 0.0)


@pytest.fixture(scope="module", params=["keylog", "dsb"])
def decrypted_events(request: pytest.FixtureRequest, tls_dir: Path) -> list[Event]:
    if request.param == "keylog":
        return decoded(tls_dir / "tls_public.pcapng", [str(tls_dir / "tls_public.keys")])
    return decoded(tls_dir / "tls_public.dsb.pcapng", [])


@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_each_transport_reaches_the_bar(
    transport: str, decrypted_events: list[Event], tls_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    truth = truth_triples(truth_of(tls_dir), transport)
    assert truth, f"the truth has no leak over {transport}"
    found = scan_events((e for e in decrypted_events if transport_of(e) == transport), tls_dir / "tls_public.inventory.yaml")
    precision, recall = score(truth, found)
    with capsys.disabled():
        print(f"\n{transport}: P {precision:.3f} R {recall:.3f} ({len(truth)} true triples, {len(found)} found)")
    assert precision >= BAR and recall >= BAR


def test_every_decrypted_request_is_marked_and_evidence_is_a_real_frame(decrypted_events: list[Event]) -> None:
    requests = [e for e in decrypted_events if isinstance(e, HttpRequest)]
    assert requests and all(e.decrypted in ("TLSv1.2", "TLSv1.3", "QUICv1") for e in requests)
    assert all(transport_of(e) is not None for e in requests)
    assert any(e.decrypted == "QUICv1" for e in requests)
    # The frame that completes a request comes after the ClientHello (TLS, or QUIC's Initial) of
    # its connection.
    hellos = {e.flow: e.frame for e in decrypted_events if e.type in ("tls", "quic")}
    assert all(e.frame > hellos[e.flow] for e in requests)


def _scan(tls_dir: Path, capture: str, keylogs: Sequence[str]) -> ScanResult:
    settings = ScanSettings(inventory=str(tls_dir / "tls_public.inventory.yaml"), keylogs=tuple(keylogs))
    return run_scan(expand_inputs([str(tls_dir / capture)]), settings)


def test_a_scan_with_keys_reports_decrypted_channels(tls_dir: Path) -> None:
    result = _scan(tls_dir, "tls_public.pcapng", [str(tls_dir / "tls_public.keys")])
    leaks = [f for f in result.findings if f.identifier is not None]
    assert leaks
    assert all(f.channel.encrypted and f.channel.decrypted and f.channel.protocol == "http" for f in leaks)
    assert result.stats["tls_connections_decrypted"] > 0
    assert result.stats["quic_connections_decrypted"] > 0
    assert "tls_connections_unreadable" not in result.stats
    assert "quic_connections_unreadable" not in result.stats
    assert not any("could not be read" in w for w in result.warnings)


def test_without_keys_no_identifier_is_found_and_the_report_says_why(tls_dir: Path) -> None:
    result = _scan(tls_dir, "tls_public.pcapng", [])
    assert [f for f in result.findings if f.identifier is not None] == []
    unreadable = result.stats["tls_connections_unreadable"] + result.stats["quic_connections_unreadable"]
    assert result.stats["tls_connections_unreadable"] > 0 and result.stats["quic_connections_unreadable"] > 0
    assert any(w.startswith(f"{unreadable} TLS/QUIC connections could not be read") and "docs/decryption.md" in w
               for w in result.warnings)


def test_a_wrong_key_log_is_counted_not_raised(tls_dir: Path, tmp_path: Path) -> None:
    # The right client randoms with every secret's bytes flipped: records fail to authenticate.
    lines = []
    for line in (tls_dir / "tls_public.keys").read_text(encoding="ascii").splitlines():
        fields = line.split()
        if len(fields) == 3 and not line.startswith("#"):
            secret = bytes(b ^ 0xFF for b in bytes.fromhex(fields[2])).hex()
            lines.append(f"{fields[0]} {fields[1]} {secret}")
    wrong = tmp_path / "wrong.keys"
    wrong.write_text("\n".join(lines) + "\n", encoding="ascii")
    result = _scan(tls_dir, "tls_public.pcapng", [str(wrong)])
    assert [f for f in result.findings if f.identifier is not None] == []
    assert result.stats["tls_connections_failed"] > 0
    assert result.stats["anomalies"]["tls_record_decrypt_failed"] > 0
    assert result.stats["quic_connections_failed"] > 0
    assert result.stats["anomalies"]["quic_packet_undecryptable"] > 0
    assert any("failed to decrypt" in w for w in result.warnings)
    for warning in result.warnings:  # never a secret in the report
        assert not any(len(token) >= 32 and all(c in "0123456789abcdef" for c in token) for token in warning.split())
