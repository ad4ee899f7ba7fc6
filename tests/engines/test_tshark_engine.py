"""The tshark engine against the native one: same events, same captures' facts, same findings.

Parity is checked per event type on a few key fields (the DNS query, HTTP host/uri/method, the
SNI, DHCP MAC and host name, the subscriber identifiers of GTP-C/RADIUS/Diameter, announced
names): the two engines must produce the same *set* of key tuples for every capture.  Where they
cannot, ``EXPECTED_DIFFERENCES`` names the difference and why, and the test asserts it exactly:
it fails when an expected difference disappears (a decoder got better: update the table) or when
a new one appears.

The public captures are other people's traffic: nothing here prints a key value.  Sets are
compared, and only the number of keys each engine alone produced is reported.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from scanner.engines.native import NativeEngine
from scanner.engines.tshark import INSTALL_HINT, TsharkEngine
from scanner.errors import InputError
from scanner.ingest import CaptureSource, expand_inputs
from scanner.model import Event
from scanner.results import CaptureInfo

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PRIVSCAN_SHARED", REPO.parent / "shared"))
REAL = SHARED / "captures" / "real"
PROJECT = REPO / "captures"

pytestmark = [pytest.mark.tshark]

# The key fields compared per event type.
KEYS: dict[str, Callable[[Any], tuple[Any, ...]]] = {
    "dns": lambda e: (e.query,),
    "http": lambda e: (e.host, e.uri, e.method, e.decrypted),
    "websocket": lambda e: (e.host, e.uri, e.opcode, e.payload, e.decrypted),
    "tls": lambda e: (e.sni,),
    "quic": lambda e: (e.sni,),
    "dhcp": lambda e: (e.mac, e.hostname),
    "gtpc": lambda e: (e.imsi, e.msisdn, e.ue_ip),
    "radius": lambda e: (e.framed_ip, e.calling_station_id),
    "diameter": lambda e: (e.msisdn, e.imsi),
    "mdns": lambda e: (e.name, e.names),
    "nbns": lambda e: (e.name, e.names),
    "llmnr": lambda e: (e.name, e.names),
    "ssdp": lambda e: (e.name, e.names),
}

# capture -> event type -> (keys only the native engine produced, keys only tshark produced, why)
EXPECTED_DIFFERENCES: dict[str, dict[str, tuple[int, int, str]]] = {
    "ppp__Pcap++Test_4KHttpRequests.pcap": {
        "http": (
            173,
            0,
            "segments are missing from this capture. A request whose header section or Content-Length "
            "body was cut by the lost bytes is reported by the native engine (body_truncated), never "
            "dissected by tshark, which waits for the rest; after such a request tshark also reads the "
            "next requests on the connection as its continuation, where the native decoder "
            "resynchronises on the next request line.",
        )
    },
    "arkime__http2-nghttp2.pcap": {
        "http": (
            1,
            0,
            "the client's HTTP/2 HEADERS frame is 16 kB and spans 14 TCP segments: tshark 4.0 leaves it "
            "'Unreassembled' and never decodes the request; the native h2c decoder reads it.",
        )
    },
    "ndpi__fuzz-2006-06-26-2594.pcap": {
        "nbns": (0, 4, "fuzzed: tshark reads names out of messages the native parser rejects as malformed."),
    },
}

# Captures tshark cannot read at all while the native reader reads them (with a warning): the
# tshark engine raises InputError naming tshark's message, because nothing was scanned.
EXPECTED_TSHARK_ERRORS: dict[str, str] = {
    "libpcap__tests_pcap-invalid-version-1.pcap": "major version 1 unsupported",
    "libpcap__tests_shb-option-too-long.pcapng": "damaged or corrupt",
}

# The project's own captures (captures/): being written; each one is tested as soon as it exists.
PROJECT_CAPTURES = ("demo.pcap", "demo_gtp.pcap", "labelled_encodings.pcap", "labelled_gtp.pcap")

# Larger than this, a capture's parity test is marked slow.
SLOW_BYTES = 1_000_000


# --------------------------------------------------------------------------- helpers


def tshark_engine() -> TsharkEngine:
    engine = TsharkEngine()
    engine.strict = True  # a builder bug fails the test instead of being counted
    return engine


def run(engine: Any, paths: Iterable[Path | str]) -> tuple[list[Event], Any]:
    events = list(engine.events(expand_inputs([str(p) for p in paths])))
    return events, engine.stats


def key_sets(events: Iterable[Event]) -> dict[str, set[tuple[Any, ...]]]:
    out: dict[str, set[tuple[Any, ...]]] = defaultdict(set)
    for event in events:
        out[event.type].add(KEYS[event.type](event))
    return out


def differences(native: list[Event], tshark: list[Event]) -> dict[str, tuple[int, int]]:
    """Per event type, how many key tuples only one engine produced (counts, never values)."""
    a, b = key_sets(native), key_sets(tshark)
    return {t: (len(a[t] - b[t]), len(b[t] - a[t])) for t in sorted(set(a) | set(b)) if a[t] != b[t]}


def capture_facts(info: CaptureInfo) -> dict[str, Any]:
    return {
        "packets": info.packets,
        "sha256": info.sha256,
        "bytes": info.bytes,
        "first_ts": info.first_ts,
        "last_ts": info.last_ts,
        "format": info.format,
        "linktypes": info.linktypes,
    }


def assert_parity(path: Path, expected: dict[str, tuple[int, int, str]]) -> None:
    native_events, native_stats = run(NativeEngine(), [path])
    tshark_events, tshark_stats = run(tshark_engine(), [path])
    got = differences(native_events, tshark_events)
    want = {t: (only_native, only_tshark) for t, (only_native, only_tshark, _) in expected.items()}
    assert got == want, f"{path.name}: per type (only native, only tshark) key counts differ from the table"
    # The capture's facts come from the same reader in both engines.
    assert [capture_facts(i) for i in tshark_stats.captures] == [capture_facts(i) for i in native_stats.captures]
    for native_info, tshark_info in zip(native_stats.captures, tshark_stats.captures, strict=True):
        # The reader's warnings, that is; the native decoder's own ("decoding: N flows evicted")
        # follow them and are its own business, as "tshark: ..." ones are tshark's.
        reader_warnings = [w for w in native_info.warnings if not w.startswith("decoding: ")]
        assert native_info.warnings[: len(reader_warnings)] == reader_warnings
        assert reader_warnings == tshark_info.warnings[: len(reader_warnings)]
        assert all(w.startswith("tshark: ") for w in tshark_info.warnings[len(reader_warnings) :])
    assert not [name for name in tshark_stats.anomalies if name.startswith("internal_error")]
    assert tshark_stats.packets == native_stats.packets
    assert tshark_stats.events == len(tshark_events)


def _real_params() -> list[Any]:
    if not REAL.is_dir():
        return [pytest.param(None, id="no-public-captures")]
    params = []
    for path in sorted(REAL.iterdir()):
        if path.suffix not in (".pcap", ".pcapng", ".cap"):
            continue
        marks = [pytest.mark.slow] if path.stat().st_size > SLOW_BYTES else []
        params.append(pytest.param(path.name, id=path.name, marks=marks))
    return params


def _project_params() -> list[str]:
    found = {p.name for p in PROJECT.glob("demo*.pcap")} | {p.name for p in PROJECT.glob("labelled_*.pcap")}
    return sorted(set(PROJECT_CAPTURES) | found)


# --------------------------------------------------------------------------- parity


@pytest.mark.shared
@pytest.mark.parametrize("name", _real_params())
def test_public_capture_parity(tshark: str, real_captures: Path, name: str | None) -> None:
    assert name is not None
    path = real_captures / name
    if name in EXPECTED_TSHARK_ERRORS:
        native_events, _ = run(NativeEngine(), [path])
        assert native_events == []
        with pytest.raises(InputError, match="tshark cannot read") as raised:
            run(tshark_engine(), [path])
        assert EXPECTED_TSHARK_ERRORS[name] in str(raised.value)
        return
    assert_parity(path, EXPECTED_DIFFERENCES.get(name, {}))


@pytest.mark.shared
def test_labelled_capture_parity(tshark: str, labelled_dir: Path) -> None:
    assert_parity(labelled_dir / "leaks_public.pcap", {})


@pytest.mark.parametrize("name", _project_params())
def test_project_capture_parity(tshark: str, name: str) -> None:
    path = PROJECT / name
    if not path.is_file():
        pytest.skip(f"captures/{name} is not written yet (python captures/make_captures.py)")
    assert_parity(path, {})


# The project's own HTTP/3 captures (captures/quic/), with their key log put in a Decryption
# Secrets Block here (tshark reads DSBs itself): what tshark 4.0 cannot give, by name, and how many
# request header blocks the tshark engine counted as unreadable (tshark_http3_qpack_dynamic).
QPACK = (
    "tshark 4.0 decrypts QUIC and dissects HTTP/3 frames but does not decompress QPACK header blocks "
    "nor print the QPACK encoder stream: the tshark engine reads a request only when its block uses "
    "no dynamic-table entry (aioquic's first request on a connection); the later requests, whose "
    "blocks refer to the dynamic table, are counted, not read."
)
DECRYPTED_QUIC_DIFFERENCES: dict[str, tuple[dict[str, tuple[int, int, str]], int]] = {
    "h3_keyupdate": ({"http": (3, 0, QPACK)}, 3),
    "h3_0rtt": (
        {
            "http": (
                1,
                0,
                "tshark 4.0 decrypts the 0-RTT packet (it lists its STREAM frame) but does not hand early "
                "data to its HTTP/3 dissector: the request sent as 0-RTT is missing from its output.",
            )
        },
        0,
    ),
    "h3_suites": ({}, 0),  # three connections, one request each: every block is static-only
}


@pytest.mark.parametrize("stem", sorted(DECRYPTED_QUIC_DIFFERENCES))
def test_decrypted_quic_parity(tshark: str, tmp_path: Path, stem: str) -> None:
    with_keys = tmp_path / f"{stem}.dsb.pcapng"
    keys = PROJECT / "quic" / f"{stem}.keys"
    subprocess.run(
        ["editcap", "--inject-secrets", f"tls,{keys}", str(PROJECT / "quic" / f"{stem}.pcapng"), str(with_keys)],
        check=True,
        capture_output=True,
    )
    expected, unreadable = DECRYPTED_QUIC_DIFFERENCES[stem]
    assert_parity(with_keys, expected)
    _, stats = run(tshark_engine(), [with_keys])
    assert stats.counters.get("tshark_http3_qpack_dynamic", 0) == unreadable


@pytest.mark.shared
def test_expected_differences_name_real_captures(real_captures: Path) -> None:
    # A stale entry would hide nothing and prove nothing: every one must name a capture here.
    for name in [*EXPECTED_DIFFERENCES, *EXPECTED_TSHARK_ERRORS]:
        assert (real_captures / name).is_file(), name
    # Every capture the manifest lists is on disk, hence parametrized above: none skipped silently.
    manifest = real_captures / "MANIFEST.tsv"
    if manifest.is_file():
        rows = [line.split("\t") for line in manifest.read_text(encoding="utf-8").splitlines()[1:] if line.strip()]
        assert all((real_captures / row[1]).is_file() for row in rows)
    for diffs in EXPECTED_DIFFERENCES.values():
        for event_type, (only_native, only_tshark, why) in diffs.items():
            assert event_type in KEYS and (only_native or only_tshark) and why


def _scan_triples(capture: Path, inventory: Path, engine: str, subscribers: Path | None = None) -> set[tuple[Any, ...]]:
    from scanner.pipeline import ScanSettings, run_scan

    settings = ScanSettings(
        inventory=str(inventory), subscribers=str(subscribers) if subscribers else None, engine=engine
    )
    result = run_scan(expand_inputs([str(capture)]), settings, None)
    return {
        (f.subject.id, f.identifier.type if f.identifier else None, f.destination.host, f.rule) for f in result.findings
    }


def _findings_params() -> list[str]:
    return sorted({p.name.removesuffix(".inventory.yaml") for p in PROJECT.glob("*.inventory.yaml")} | {"demo", "demo_gtp"})


@pytest.mark.shared
def test_labelled_capture_same_findings(tshark: str, labelled_dir: Path) -> None:
    """Same (subject, identifier type, destination host, rule) set: the same precision and recall."""
    capture, inventory = labelled_dir / "leaks_public.pcap", labelled_dir / "leaks_public.inventory.yaml"
    native = _scan_triples(capture, inventory, "native")
    tshark_found = _scan_triples(capture, inventory, "tshark")
    assert native, "the labelled capture has findings"
    assert (len(native - tshark_found), len(tshark_found - native)) == (0, 0)


@pytest.mark.parametrize("stem", _findings_params())
def test_project_capture_same_findings(tshark: str, stem: str) -> None:
    capture, inventory = PROJECT / f"{stem}.pcap", PROJECT / f"{stem}.inventory.yaml"
    if not capture.is_file() or not inventory.is_file():
        pytest.skip(f"captures/{stem}.pcap or its inventory is not written yet")
    subscribers = PROJECT / f"{stem}.subscribers.yaml"
    extra = subscribers if subscribers.is_file() else None
    native = _scan_triples(capture, inventory, "native", extra)
    tshark_found = _scan_triples(capture, inventory, "tshark", extra)
    assert (len(native - tshark_found), len(tshark_found - native)) == (0, 0)


# --------------------------------------------------------------------------- inputs and errors


def _small_capture() -> Path:
    for candidate in (PROJECT / "demo.pcap", REAL / "arkime__curl-enabled-tls13.pcap"):
        if candidate.is_file():
            return candidate
    pytest.skip("no capture to read (captures/demo.pcap or the public captures)")


def _records(events: Iterable[Event]) -> list[dict[str, Any]]:
    return [e.to_record() | {"capture": None} for e in events]


@pytest.mark.parametrize("compression", ["gzip", "xz", "bzip2", "zstd"])
def test_compressed_capture_reads_like_the_plain_one(tshark: str, tmp_path: Path, compression: str) -> None:
    plain = _small_capture()
    data = plain.read_bytes()
    if compression == "gzip":
        packed = gzip.compress(data)
    elif compression == "xz":
        packed = lzma.compress(data)
    elif compression == "bzip2":
        import bz2

        packed = bz2.compress(data)
    else:
        import zstandard

        packed = zstandard.ZstdCompressor().compress(data)
    path = tmp_path / f"capture.{compression}"
    path.write_bytes(packed)
    plain_events, _ = run(tshark_engine(), [plain])
    packed_events, stats = run(tshark_engine(), [path])
    assert _records(packed_events) == _records(plain_events)
    info = stats.captures[0]
    assert info.sha256 == hashlib.sha256(packed).hexdigest()  # the stored file, as sha256sum says
    assert info.bytes == len(packed)
    assert info.format.endswith(f"+{compression}")


def test_standard_input(tshark: str, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = _small_capture()
    expected, _ = run(tshark_engine(), [plain])
    read_end, write_end = os.pipe()
    writer = subprocess.Popen(["cat", str(plain)], stdout=write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as stdin:
        monkeypatch.setattr(sys, "stdin", type("Stdin", (), {"buffer": stdin})())
        events = list(tshark_engine().events([CaptureSource("-")]))
    writer.wait()
    assert _records(events) == _records(expected)
    assert {e.capture for e in events} <= {"-"}


def test_truncated_capture_keeps_the_events_before_the_cut(tshark: str, tmp_path: Path) -> None:
    plain = _small_capture()
    data = plain.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) * 2 // 3])
    whole, _ = run(tshark_engine(), [plain])
    events, stats = run(tshark_engine(), [cut])
    assert events and len(events) < len(whole)
    assert _records(events) == _records(whole)[: len(events)]
    info = stats.captures[0]
    assert any(w.startswith("tshark: ") and "cut short" in w for w in info.warnings)
    assert stats.anomalies.get("tshark_read_error") == 1


def test_not_a_capture_is_the_same_input_error_as_native(tshark: str, tmp_path: Path) -> None:
    path = tmp_path / "notes.pcap"
    path.write_text("hello\n")
    with pytest.raises(InputError, match="not a pcap or pcapng"):
        run(tshark_engine(), [path])


def test_missing_tshark_is_one_clear_input_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no tshark anywhere pyshark looks
    monkeypatch.delenv("PRIVSCAN_TSHARK", raising=False)
    with pytest.raises(InputError) as raised:
        TsharkEngine()
    message = str(raised.value)
    assert message == INSTALL_HINT and "\n" not in message
    assert "apt-get install tshark" in message


def test_missing_tshark_exits_2_with_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "PATH": str(tmp_path)}
    env.pop("PRIVSCAN_TSHARK", None)
    result = subprocess.run(
        [sys.executable, "-m", "scanner", "events", "--engine", "tshark", str(_small_capture())],
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert lines == [f"privscan: error: {INSTALL_HINT}"]


def test_leaving_early_stops_tshark(tshark: str) -> None:
    big = max((p for p in [*REAL.glob("*.pcap"), *PROJECT.glob("*.pcap")] if p.is_file()), key=lambda p: p.stat().st_size, default=None)
    if big is None:
        pytest.skip("no capture to read")
    engine = tshark_engine()
    events = engine.events(expand_inputs([str(big)]))
    started = time.monotonic()
    next(events)
    events.close()  # `privscan events big.pcap | head -1`
    assert time.monotonic() - started < 30
    if shutil.which("pgrep"):
        children = subprocess.run(["pgrep", "-P", str(os.getpid()), "tshark"], capture_output=True, text=True)
        assert children.stdout.strip() == ""


def test_several_captures_each_event_names_its_own(tshark: str) -> None:
    paths = [p for p in (PROJECT / "demo.pcap", PROJECT / "demo_gtp.pcap") if p.is_file()]
    if len(paths) < 2:
        pytest.skip("captures/demo.pcap and demo_gtp.pcap are not written yet")
    native, native_stats = run(NativeEngine(), paths)
    events, stats = run(tshark_engine(), paths)
    order = [str(p) for p in paths]
    positions = [order.index(e.capture) for e in events]
    assert positions == sorted(positions) and set(positions) == {0, 1}  # in order, no flow spans two
    assert [i.path for i in stats.captures] == [str(p) for p in paths]
    assert differences(native, events) == {}
    assert stats.packets == native_stats.packets


# --------------------------------------------------------------------------- DNS HTTPS/SVCB records


def test_https_and_svcb_answers_are_the_same_in_both_engines(tshark: str, tmp_path: Path) -> None:
    # No public capture has HTTPS records yet (iOS and Android ask for them); scapy writes some.
    from scapy.layers.dns import DNS, DNSQR, DNSRRSVCB, SvcParam
    from scapy.layers.inet import IP, UDP
    from scapy.layers.l2 import Ether
    from scapy.utils import wrpcap

    def response(ident: int, qtype: str, *records: Any) -> Any:
        return (Ether() / IP(src="192.0.2.53", dst="10.0.0.5") / UDP(sport=53, dport=40000 + ident)
                / DNS(id=ident, qr=1, qd=DNSQR(qname="www.tracker.example", qtype=qtype), an=list(records)))

    def svc(qtype: str, priority: int, target: str, params: list[Any]) -> Any:
        return DNSRRSVCB(rrname="www.tracker.example", type=qtype, ttl=300, svc_priority=priority, target_name=target,
                         svc_params=params)

    hints = [SvcParam(key="alpn", value=["h2", "h3"]), SvcParam(key="ipv4hint", value=["203.0.113.7", "203.0.113.8"]),
             SvcParam(key="ipv6hint", value=["2001:db8::7"])]
    path = tmp_path / "https.pcap"
    wrpcap(str(path), [
        response(1, "HTTPS", svc("HTTPS", 1, ".", hints)),
        response(2, "HTTPS", svc("HTTPS", 0, "svc.cdn.example.", []), svc("HTTPS", 2, "pool.cdn.example.", hints[1:2])),
        response(3, "SVCB", svc("SVCB", 1, ".", hints[2:])),
    ])
    native, _ = run(NativeEngine(), [path])
    ours, _ = run(tshark_engine(), [path])
    assert _records(ours) == _records(native)
    assert [r["answers"] for r in _records(native)] == [
        ["203.0.113.7", "203.0.113.8", "2001:db8::7"],
        ["svc.cdn.example", "pool.cdn.example", "203.0.113.7", "203.0.113.8"],
        ["2001:db8::7"],
    ]
    assert [set(e.addresses) for e in ours] == [set(e.addresses) for e in native]  # type: ignore[attr-defined]
    assert {name for e in native for _, name in e.addresses} == {"www.tracker.example"}  # type: ignore[attr-defined]


# --------------------------------------------------------------------------- decrypted TLS


def _decrypted_params() -> list[Any]:
    own = PROJECT / "tls"
    shared = SHARED / "captures" / "tls"
    params = [
        pytest.param(own / "tls_own.pcapng", own / "tls_own.keys", id="own-keylog"),
        pytest.param(own / "tls_own.dsb.pcapng", None, id="own-dsb"),
    ]
    marks = [] if (shared / "tls_public.pcapng").exists() else [pytest.mark.skip(reason=f"{shared} is absent")]
    params += [
        pytest.param(shared / "tls_public.pcapng", shared / "tls_public.keys", id="public-keylog", marks=marks),
        pytest.param(shared / "tls_public.dsb.pcapng", None, id="public-dsb", marks=marks),
    ]
    return params


@pytest.mark.parametrize(("capture", "keys"), _decrypted_params())
def test_decrypted_capture_parity(tshark: str, capture: Path, keys: Path | None) -> None:
    """With the same key log (or the capture's DSB, which tshark reads itself), tshark decrypts the
    same requests and WebSocket messages: HTTP/1.1 and HTTP/2 over TLS 1.0-1.3 with every suite
    of the captures, resumption, key updates, 0-RTT, HelloRetryRequest.  HTTP/3 is not here:
    tshark 4.0 does not decode QPACK, so its HTTP/3 requests have no header fields to compare."""
    from scanner.decode.keylog import load_keylogs

    keylog = load_keylogs([str(keys)] if keys else [])
    native_events, _ = run(NativeEngine(keylog=keylog), [capture])
    tshark_events, tshark_stats = run(TsharkEngine(keylog=keylog), [capture])
    assert differences(native_events, tshark_events) == {}

    def completed_at(events: list[Event]) -> set[tuple[Any, ...]]:
        # HTTP/1 requests: the frame that completes each is where Wireshark shows it.  (tshark's
        # HTTP/2 requests are built at their HEADERS frame, the native ones at END_STREAM.)
        return {(e.flow, e.uri, e.frame) for e in events if e.type == "http" and e.version != "HTTP/2"}  # type: ignore[attr-defined]

    assert completed_at(native_events) == completed_at(tshark_events)
    decrypted = [e for e in native_events if e.decrypted_from() is not None]
    assert decrypted and {e.decrypted_from() for e in decrypted} >= {"TLSv1.2", "TLSv1.3"}
    assert not [name for name in tshark_stats.anomalies if name.startswith("internal_error")]


def test_several_key_logs_reach_tshark_as_one_private_file_deleted_after(tmp_path: Path) -> None:
    from scanner.decode.keylog import load_keylogs
    from scanner.engines.tshark.engine import tshark_keylog

    lines = (PROJECT / "tls" / "tls_own.keys").read_text(encoding="ascii").splitlines()
    first, second = tmp_path / "a.keys", tmp_path / "b.keys"
    first.write_text("\n".join(lines[:10]), encoding="ascii")
    second.write_text("\n".join(lines[10:]), encoding="ascii")
    with tshark_keylog(load_keylogs([str(first)])) as path:
        assert path == str(first)
    with tshark_keylog(load_keylogs([str(first), str(second)])) as path:
        assert path is not None
        assert os.stat(path).st_mode & 0o777 == 0o600
        assert Path(path).read_text(encoding="ascii").split() == "\n".join(lines).split()
    assert not Path(path).exists()
    with tshark_keylog(None) as path:
        assert path is None


@pytest.mark.shared
def test_quic_connections_are_counted_alike_by_both_engines(tshark: str, tls_dir: Path) -> None:
    """With keys and without, the report's decryption counters (and so its warning) are the same
    whichever engine read the capture's QUIC connections."""
    from scanner.decode.keylog import load_keylogs

    capture = tls_dir / "tls_public.pcapng"
    for keylogs in ([str(tls_dir / "tls_public.keys")], []):
        keylog = load_keylogs(keylogs) if keylogs else None
        counts = []
        for engine in (NativeEngine(keylog=keylog), TsharkEngine(keylog=keylog)):
            _, stats = run(engine, [capture])
            counts.append({k: v for k, v in stats.counters.items() if k.startswith("quic_connections")})
        assert counts[0] == counts[1] and counts[0], keylogs
