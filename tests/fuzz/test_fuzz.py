"""The fuzz campaign in ``make test`` (issue 15): a short slice with a fixed seed, every kept
reproducer replayed, and proof that the campaign does find, minimise and keep a bug."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz import campaign as fuzz_campaign
from fuzz.campaign import REPRO_DIR, campaign, run_in_process, run_in_subprocess
from scanner.decode.protocols import dns

REPRODUCERS = sorted(p for p in REPRO_DIR.glob("*") if p.suffix in (".pcap", ".bin"))


def test_a_short_slice_finds_nothing(tmp_path: Path) -> None:
    # Fixed seed and case count: the same cases every run (a minute at most on a busy machine).
    report = campaign(seed=15, budget=50.0, max_cases=300, out=tmp_path, subprocess_every=100,
                      minimise_seconds=10.0, log=lambda line: None)
    assert report.findings == [], report.findings
    assert report.cases >= 100, f"only {report.cases} cases in the budget"
    assert {"mutated", "generated"} <= set(report.by_kind)


@pytest.mark.parametrize("path", REPRODUCERS or [None], ids=[p.name for p in REPRODUCERS] or ["none-kept"])
def test_every_kept_reproducer_passes_now(path: Path | None) -> None:
    if path is None:
        pytest.skip("no reproducer kept so far (tests/fuzz/repro/README.md)")
    assert run_in_process(path, scan=True, seconds=30).failure is None
    assert run_in_subprocess(path, seconds=60, rss_mib=300).failure is None


def test_the_campaign_finds_minimises_and_keeps_a_decoder_bug(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = dns.DnsDecoder.decode

    def broken(self: dns.DnsDecoder, payload: bytes, ctx: object) -> object:
        if len(payload) > 12:
            raise KeyError("planted bug")
        return original(self, payload, ctx)  # type: ignore[arg-type]

    monkeypatch.setattr(dns.DnsDecoder, "decode", broken)
    monkeypatch.setattr(fuzz_campaign, "corpus", lambda: [("demo.pcap", (Path(__file__).parents[2] / "captures" / "demo.pcap").read_bytes())])
    report = campaign(seed=3, budget=60.0, max_cases=5, out=tmp_path, minimise_seconds=20.0, log=lambda line: None)
    assert report.findings and report.findings[0]["failure"] == "crash"
    assert "KeyError" in report.findings[0]["detail"]
    kept = Path(report.findings[0]["kept"])
    assert kept.exists() and kept.with_suffix(".json").exists()
    assert kept.stat().st_size < (Path(__file__).parents[2] / "captures" / "demo.pcap").stat().st_size
