"""The baseline file: byte-identical for the same input, nothing volatile in it, update keeps reviews."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.baseline import Baseline, BaselineEntry, FindingKey, create, load_baseline, update
from scanner.errors import ConfigError


def _create(lab: Any, capture: Path, output: Path, *extra: str) -> None:
    result = lab.run("baseline", "create", str(capture), "--inventory", str(lab.inventory), "-o", str(output),
                     "--who", "alice", "--why", "reviewed in LAB-7", *extra)
    assert result.exit_code == 0, result.output


def test_two_creates_from_the_same_input_are_byte_identical(lab: Any) -> None:
    capture = lab.capture("a.pcap", ["gaid_ads", "imei_appsflyer", "email_signup", "imei_ads"])
    _create(lab, capture, lab.root / "one.yaml")
    _create(lab, capture, lab.root / "two.yaml")
    one = (lab.root / "one.yaml").read_bytes()
    assert one == (lab.root / "two.yaml").read_bytes()
    _create(lab, capture, lab.root / "one.yaml", "--force")  # and again over itself
    assert (lab.root / "one.yaml").read_bytes() == one


def test_baseline_holds_no_timestamps_frames_or_counts(lab: Any) -> None:
    capture = lab.capture("a.pcap", ["gaid_ads", "imei_appsflyer", "email_signup"])
    _create(lab, capture, lab.baseline)
    text = "\n".join(line for line in lab.baseline.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    assert not re.search(r"\d{4}-\d{2}-\d{2}", text)  # no dates
    assert not re.search(r"\b1[67]\d{8}\b", text)  # no epoch seconds (the capture is from 2023)
    for word in ("frame", "first_seen", "last_seen", "count", "evidence", "ts:", "severity", "10.0.0.7"):
        assert word not in text
    baseline = load_baseline(lab.baseline)
    assert len(baseline.entries) == 5
    assert {e.who for e in baseline.entries} == {"alice"}
    keys = [line.split(":")[0].strip(" -") for line in text.splitlines() if line.startswith("    ") or line.startswith("  - ")]
    assert set(keys) == {"id", "rule", "subject", "type", "host", "who", "why"}
    # entries sorted by subject, type, host, id: a new finding lands in one place, never reorders the rest
    entries = list(baseline.entries)
    assert entries == sorted(entries, key=BaselineEntry.sort_key)


def test_an_existing_baseline_is_not_overwritten_by_create(lab: Any) -> None:
    capture = lab.capture("a.pcap", ["gaid_ads"])
    _create(lab, capture, lab.baseline)
    before = lab.baseline.read_bytes()
    code, _, err = lab.main("baseline", "create", str(capture), "--inventory", str(lab.inventory), "-o", str(lab.baseline))
    assert code == 2 and "exists" in err and len(err.strip().splitlines()) == 1
    assert lab.baseline.read_bytes() == before


def test_update_adds_new_drops_resolved_and_keeps_who_and_why(lab: Any) -> None:
    before = lab.capture("a.pcap", ["gaid_ads", "email_signup"])
    after = lab.capture("b.pcap", ["gaid_ads", "imei_ads"])
    _create(lab, before, lab.baseline)
    text = lab.baseline.read_text(encoding="utf-8").replace('"reviewed in LAB-7"', '"hand-edited reason"', 1)
    lab.baseline.write_text(text, encoding="utf-8")
    kept_reason = load_baseline(lab.baseline).entries
    edited = [e for e in kept_reason if e.why == "hand-edited reason"]
    assert len(edited) == 1

    result = lab.run("baseline", "update", str(after), "--inventory", str(lab.inventory), "-o", str(lab.baseline),
                     "--who", "carol", "--why", "new SDK, LAB-9")
    assert result.exit_code == 0, result.output
    assert "1 added, 1 dropped, 2 kept" in result.output
    updated = {e.id: e for e in load_baseline(lab.baseline).entries}
    assert len(updated) == 3
    assert {(e.type, e.host) for e in updated.values()} == {
        (None, "googleads.g.doubleclick.net"), ("gaid", "googleads.g.doubleclick.net"), ("imei", "googleads.g.doubleclick.net")
    }
    added = [e for e in updated.values() if e.type == "imei"]
    assert added[0].who == "carol" and added[0].why == "new SDK, LAB-9"
    for entry in kept_reason:
        if entry.id in updated:
            assert (updated[entry.id].who, updated[entry.id].why) == (entry.who, entry.why)


def test_update_functions_directly() -> None:
    old = Baseline((BaselineEntry("b", "PS1", "s", "imei", "h", "ann", "why b"), BaselineEntry("c", "PS1", "s", None, "h", "ann", "why c")), "k")
    change = update(old, [FindingKey("b", "PS2", "s", "imei", "h"), FindingKey("a", "PS3", "s", "gaid", "h")], "bo", "new", "k")
    assert [e.id for e in change.added] == ["a"] and [e.id for e in change.dropped] == ["c"]
    kept = change.kept[0]
    assert (kept.rule, kept.who, kept.why) == ("PS2", "ann", "why b")  # facts refreshed, review kept
    assert create([], "x", "y", None).render() == create([], "x", "y", None).render()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("version: 1\nfindings:\n  - rule: PS101\n", 3, "needs the finding's 'id'"),
        ("version: 1\nfindings:\n  - id: a\n  - id: a\n", 4, "twice"),
        ("version: 1\nfindings:\n  - id: a\n    colour: red\n", 4, "unknown key"),
        ("version: 7\nfindings: []\n", 1, "unsupported baseline version"),
        ("findings: {}\nversion: 1\n", 1, "must be a list"),
    ],
)
def test_bad_baselines_name_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        load_baseline(path)
    assert error.value.line == line


def test_baseline_of_another_hmac_key_is_flagged_by_the_audit(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads"])
    lab.baseline.write_text('version: 1\nhmac_key_id: "0000000000000000"\nfindings: []\n', encoding="utf-8")
    lab.write_config(["a.pcap"])
    result = lab.run("audit", str(lab.config))
    assert "made with HMAC key 0000000000000000" in result.stderr
