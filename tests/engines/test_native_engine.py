"""The native engine around the decoders: a decoder that raises is a bug, counted by name (and
raised when strict: PRIVSCAN_STRICT=1 on the command line), never mistaken for a damaged packet."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.decode.protocols.base import DecoderBug
from scanner.decode.protocols.dns import DnsDecoder
from scanner.engines import make_engine
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource
from scanner.settings import Settings

DEMO = Path(__file__).resolve().parents[2] / "captures" / "demo.pcap"


def broken(self: DnsDecoder, payload: bytes, ctx: object) -> list[object]:
    raise KeyError("a bug")


def test_a_raising_decoder_is_counted_by_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PRIVSCAN_STRICT", raising=False)
    monkeypatch.setattr(DnsDecoder, "decode", broken)
    engine = NativeEngine()
    events = list(engine.events([CaptureSource(str(DEMO))]))
    assert events and all(e.type != "dns" for e in events), "the rest of the capture is still read"
    assert engine.stats.anomalies["internal_error_dns_KeyError"] > 0
    assert "malformed_packet" not in engine.stats.anomalies


def test_a_raising_decoder_fails_a_strict_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(DnsDecoder, "decode", broken)
    with pytest.raises(DecoderBug, match="dns decoder: KeyError"):
        list(NativeEngine(strict=True).events([CaptureSource(str(DEMO))]))


def test_strict_comes_from_the_settings_the_command_line_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVSCAN_STRICT", "1")
    assert NativeEngine().strict is False  # the engine does not read the environment
    assert make_engine("native", settings=Settings.from_environment()).strict is True
