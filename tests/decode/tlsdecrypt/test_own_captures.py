"""Decryption of the project's own real-stack captures (captures/tls/make_tls_captures.py: OpenSSL
s_client/s_server, curl with nghttp2, Python's ssl; recorded by dumpcap on lo).

Every request the clients sent (tls_own.truth.json) must come out decrypted, with the keys given
as ``--keylog`` and with the keys in the capture's Decryption Secrets Block: TLS 1.2 CBC suites
with and without encrypt-then-MAC, TLS 1.0 CBC, ChaCha20, CCM and CCM_8 in TLS 1.2 and 1.3,
resumption by session id, ticket and PSK, 0-RTT early data, two key updates, a HelloRetryRequest, several HTTP/2
streams per connection over TLS 1.2 and 1.3, and WebSocket messages after an Upgrade.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from scanner.decode.keylog import load_keylogs
from scanner.engines.native import NativeEngine
from scanner.ingest import expand_inputs
from scanner.model import Event, HttpRequest, WebSocketMessage
from scanner.pipeline import ScanSettings, run_scan

HERE = Path(__file__).resolve().parents[3] / "captures" / "tls"
CAPTURE = HERE / "tls_own.pcapng"
DSB_CAPTURE = HERE / "tls_own.dsb.pcapng"
KEYS = HERE / "tls_own.keys"
TRUTH = json.loads((HERE / "tls_own.truth.json").read_text(encoding="utf-8"))
VERSIONS = {"tls1.0": "TLSv1.0", "tls1.2": "TLSv1.2", "tls1.3": "TLSv1.3"}


def decode(capture: Path, keys: list[str]) -> tuple[list[Event], NativeEngine]:
    engine = NativeEngine(keylog=load_keylogs(keys))
    return list(engine.events(expand_inputs([str(capture)]))), engine


@pytest.fixture(scope="module", params=["keylog", "dsb"])
def decoded(request: pytest.FixtureRequest) -> tuple[list[Event], NativeEngine]:
    if request.param == "keylog":
        return decode(CAPTURE, [str(KEYS)])
    return decode(DSB_CAPTURE, [])


def _host(value: str | None) -> str:
    return (value or "").rsplit(":", 1)[0] if value and value.count(":") == 1 else (value or "")


def test_every_request_comes_out_decrypted(decoded: tuple[list[Event], NativeEngine]) -> None:
    events, engine = decoded
    requests = Counter(
        (_host(e.host), e.method, e.uri, e.decrypted) for e in events if isinstance(e, HttpRequest)
    )
    expected = Counter(
        (r["host"], r["method"], r["path"], VERSIONS[r["transport"].split("/")[1]])
        for r in TRUTH["requests"]
        if r["method"] != "WS"
    )
    assert requests == expected
    assert engine.stats.anomalies.get("tls_record_decrypt_failed", 0) == 0
    assert "tls_connections_unreadable" not in engine.stats.counters


@pytest.mark.parametrize(
    ("scenario", "version"),
    [("h2-13", "TLSv1.3"), ("h2-12", "TLSv1.2")],
)
def test_several_http2_streams_on_one_connection(decoded: tuple[list[Event], NativeEngine], scenario: str, version: str) -> None:
    events, _ = decoded
    streams = [e for e in events if isinstance(e, HttpRequest) and _host(e.host) == f"{scenario}.lab.test"]
    assert [(e.method, e.version, e.decrypted) for e in streams] == [("GET", "HTTP/2", version), ("POST", "HTTP/2", version),
                                                                     ("GET", "HTTP/2", version)]
    assert len({e.flow for e in streams}) == 1
    post = streams[1]
    assert post.content_encoding == "gzip" and json.loads(post.body)["user"]["email"] == TRUTH["identifiers"]["email"]
    assert ("x-user-email", TRUTH["identifiers"]["email"]) in streams[2].headers


def test_early_data_is_read_with_the_early_secret(decoded: tuple[list[Event], NativeEngine]) -> None:
    events, _ = decoded
    early = [e for e in events if isinstance(e, HttpRequest) and e.uri.startswith("/v1/early")]
    after = [e for e in events if isinstance(e, HttpRequest) and e.host == "early-data.lab.test" and e.method == "POST"]
    assert len(early) == 1 and len(after) == 1
    assert early[0].flow == after[0].flow and early[0].frame < after[0].frame
    # The 0-RTT request travels in the ClientHello's flight: the same frame, before any ServerHello.
    hello = next(e for e in events if e.type == "tls" and e.flow == early[0].flow)
    assert early[0].frame == hello.frame


def test_key_updates_are_followed(decoded: tuple[list[Event], NativeEngine]) -> None:
    events, engine = decoded
    after = [e for e in events if isinstance(e, HttpRequest) and e.uri.startswith("/v1/after-second-update")]
    assert len(after) == 1
    assert engine.stats.anomalies["tls_key_update"] == 2


def test_websocket_messages_inside_tls(decoded: tuple[list[Event], NativeEngine]) -> None:
    events, _ = decoded
    messages = [e for e in events if isinstance(e, WebSocketMessage)]
    assert [(m.opcode, m.compressed, m.decrypted, m.host) for m in messages] == [
        ("text", False, "TLSv1.3", "ws.lab.test"),
        ("text", False, "TLSv1.3", "ws.lab.test"),
        ("binary", False, "TLSv1.3", "ws.lab.test"),
        ("text", True, "TLSv1.3", "ws.lab.test"),
    ]
    assert [json.loads(m.payload)["type"] for m in messages if m.opcode == "text"] == ["hello", "profile", "deflated"]
    assert TRUTH["identifiers"]["gaid"].encode() in messages[2].payload
    assert messages[1].first_frame is not None and messages[1].first_frame < messages[1].frame  # fragmented


def test_without_keys_every_connection_is_counted_unreadable() -> None:
    events, engine = decode(CAPTURE, [])
    hellos = [e for e in events if e.type == "tls"]
    assert not [e for e in events if isinstance(e, (HttpRequest, WebSocketMessage))]
    assert engine.stats.counters["tls_connections_unreadable"] == len(hellos) > 20


def test_a_scan_finds_the_identifiers_on_decrypted_channels(tmp_path: Path) -> None:
    inventory = tmp_path / "lab.yaml"
    inventory.write_text(
        "devices:\n  - id: lab-tablet\n    minor: true\n    ips: [127.0.0.1]\n    identifiers:\n"
        f"      gaid: [\"{TRUTH['identifiers']['gaid']}\"]\n      email: [\"{TRUTH['identifiers']['email']}\"]\n",
        encoding="utf-8",
    )
    result = run_scan(expand_inputs([str(CAPTURE)]), ScanSettings(inventory=str(inventory), keylogs=(str(KEYS),)))
    leaks = {(f.identifier.type, f.destination.host) for f in result.findings if f.identifier is not None}
    scenarios = {r["host"] for r in TRUTH["requests"]}
    assert {("gaid", host) for host in scenarios} <= leaks
    assert ("email", "ws.lab.test") in leaks and ("email", "h2-13.lab.test") in leaks
    assert all(f.channel.decrypted for f in result.findings if f.identifier is not None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_damaged_records_are_counted_never_raised(seed: int) -> None:
    """Bytes flipped in TCP payloads of the real capture (checksums are not checked): decryption
    failures, malformed records and broken plaintext are anomalies, and decoding goes on."""
    import random

    from scanner.decode.packets import PacketDecoder
    from scanner.decode.protocols.base import Anomalies
    from scanner.ingest import CaptureSource, open_capture

    rng = random.Random(seed)
    anomalies = Anomalies()
    decoder = PacketDecoder(anomalies, load_keylogs([str(KEYS)]))
    decoder.capture = "damaged"
    with open_capture(CaptureSource(str(CAPTURE))) as capture:
        for index, (ts, linktype, data, _wirelen) in enumerate(capture.frames, start=1):
            if len(data) > 80 and rng.random() < 0.2:
                damaged = bytearray(data)
                damaged[rng.randrange(70, len(data))] ^= 1 << rng.randrange(8)
                data = bytes(damaged)
            decoder.decode(ts, linktype, data, index)  # a decoder bug would raise DecoderBug here
        decoder.sweep(ts, everything=True)
    assert anomalies.counts.get("tls_record_decrypt_failed", 0) > 0
    assert not [name for name in anomalies.counts if name.startswith("internal_error")]


def _with_dsbs(tmp_path: Path, placed: list[tuple[int, bytes]]) -> Path:
    """tls_own.pcapng with Decryption Secrets Blocks holding ``text`` after packet ``frame``
    (0: before the first), as a recorder that writes secrets when it learns them lays them out."""
    import struct

    data = CAPTURE.read_bytes()
    assert data[8:12] == b"\x4d\x3c\x2b\x1a"  # a little-endian section

    def dsb(text: bytes) -> bytes:
        body = struct.pack("<II", 0x544C534B, len(text)) + text + b"\0" * (-len(text) % 4)
        return struct.pack("<II", 0x0000000A, 12 + len(body)) + body + struct.pack("<I", 12 + len(body))

    out, packets, offset = [], 0, 0
    while offset < len(data):
        block_type, length = struct.unpack_from("<II", data, offset)
        out.append(data[offset : offset + length])
        offset += length
        if block_type == 1:  # after the interface block: where "before packet 1" goes
            out += [dsb(text) for at, text in placed if at == 0]
        if block_type == 6:
            packets += 1
            out += [dsb(text) for at, text in placed if at == packets]
    path = tmp_path / "dsbs.pcapng"
    path.write_bytes(b"".join(out))
    return path


def test_secrets_written_after_a_handshake_still_open_its_connection(tmp_path: Path) -> None:
    """Once a capture has had a DSB, a connection whose secrets are not known yet waits for them
    (a recorder writes a connection's secrets after its handshake): here the second connection's
    key comes in a second DSB after its ServerHello, before its first request."""
    every, _ = decode(CAPTURE, [str(KEYS)])
    hellos = [e for e in every if e.type == "tls"]
    second = hellos[1]
    requests = [e for e in every if isinstance(e, HttpRequest) and e.flow == second.flow]
    lines = [line for line in KEYS.read_bytes().splitlines() if line and not line.startswith(b"#")]
    capture = _with_dsbs(tmp_path, [(0, lines[0] + b"\n"), (second.frame + 2, b"\n".join(lines[1:]) + b"\n")])
    assert second.frame + 2 < requests[0].frame
    events, engine = decode(capture, [])
    got = [(e.method, e.frame) for e in events if isinstance(e, HttpRequest) and e.flow == second.flow]
    assert got == [(e.method, e.frame) for e in requests]
    assert len([e for e in events if isinstance(e, HttpRequest)]) == len([e for e in every if isinstance(e, HttpRequest)])
    assert "tls_connections_unreadable" not in engine.stats.counters


def test_connections_whose_secrets_never_come_are_counted_not_read(tmp_path: Path) -> None:
    lines = [line for line in KEYS.read_bytes().splitlines() if line and not line.startswith(b"#")]
    events, engine = decode(_with_dsbs(tmp_path, [(0, lines[0] + b"\n")]), [])
    hellos = [e for e in events if e.type == "tls"]
    assert engine.stats.counters["tls_connections_unreadable"] == len(hellos) - 1
    assert engine.stats.counters["tls_connections_decrypted"] == 1
