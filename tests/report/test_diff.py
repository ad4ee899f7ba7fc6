"""``privscan diff OLD.json NEW.json``: new, gone and changed findings, in table, JSON and Markdown.

The two reports are the fixture scan's JSON and a later scan of it: one finding gone, one new,
one whose count, severity and evidence span changed, one whose keys changed, the rest the same.
Golden files in tests/report/golden/diff.*; refresh with PRIVSCAN_UPDATE_GOLDEN=1 and review.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from scanner.report.diff import diff_reports, load_report, render_diff
from scanner.report.formats import RenderOptions, get_format
from scanner.results import ScanResult

REPO = Path(__file__).resolve().parents[2]


def _json(result: ScanResult) -> str:
    text = get_format("json")(RenderOptions(stable=True)).render(result)
    assert isinstance(text, str)
    return text


def later_scan(result: ScanResult) -> ScanResult:
    """The fixture scan a week later: findings[1] gone, findings[0] now high and seen more, findings[2]
    under a second key, and a new finding (findings[3] towards another host)."""
    findings = list(result.findings)
    worse = dataclasses.replace(findings[0], count=findings[0].count + 5, severity="high",
                                last_seen=findings[0].last_seen + 86400)
    assert findings[2].identifier is not None
    rekeyed = dataclasses.replace(
        findings[2], identifier=dataclasses.replace(findings[2].identifier, keys=("uid_hash", "uh"))
    )
    new = dataclasses.replace(
        findings[3], id="f00dfacefeed0001",
        destination=dataclasses.replace(findings[3].destination, host="cdn.newtracker.example", org="NewTracker"),
    )
    kept = [worse, rekeyed, *findings[3:], new]
    return dataclasses.replace(result, findings=tuple(kept))


@pytest.fixture
def reports(scan_result: ScanResult, tmp_path: Path) -> tuple[Path, Path]:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(_json(scan_result), encoding="utf-8")
    new.write_text(_json(later_scan(scan_result)), encoding="utf-8")
    return old, new


def test_new_gone_and_changed(scan_result: ScanResult, reports: tuple[Path, Path]) -> None:
    result = diff_reports(load_report(reports[0]), load_report(reports[1]))
    assert [f["id"] for f in result.added] == ["f00dfacefeed0001"]
    assert [f["id"] for f in result.gone] == [scan_result.findings[1].id]
    changed = {c.id: dict((name, (old, new)) for name, old, new in c.changes) for c in result.changed}
    first = scan_result.findings[0]
    assert set(changed) == {first.id, scan_result.findings[2].id}
    assert changed[first.id]["count"] == (first.count, first.count + 5)
    assert changed[first.id]["severity"] == ("critical", "high")
    assert "last_seen" in changed[first.id] and "first_seen" not in changed[first.id]
    assert changed[scan_result.findings[2].id] == {"keys": (["uid_hash"], ["uh", "uid_hash"])}


@pytest.mark.parametrize(("fmt", "golden_name"), [("table", "diff.table.txt"), ("json", "diff.json"), ("markdown", "diff.md")])
def test_formats_match_golden(reports: tuple[Path, Path], golden: Callable[[str, str], None], fmt: str,
                              golden_name: str) -> None:
    result = diff_reports(load_report(reports[0]), load_report(reports[1]))
    # The paths are the test's temporary files: named as the golden files expect.
    result = dataclasses.replace(
        result,
        old=dataclasses.replace(result.old, path="reports/2024-05-01.json"),
        new=dataclasses.replace(result.new, path="reports/2024-05-08.json"),
    )
    text = render_diff(result, fmt)
    if fmt == "json":
        document = json.loads(text)
        assert document["schema"] == "privscan/diff/v1"
        assert document["summary"] == {"new": 1, "gone": 1, "changed": 2}
    if fmt == "markdown":
        assert text.startswith("### privscan diff: 1 new, 1 gone, 2 changed\n")
        assert all(line.count("|") in (0, 7) for line in text.splitlines()), "every table row has six cells"
    golden(golden_name, text)


def test_nothing_changed(reports: tuple[Path, Path]) -> None:
    result = diff_reports(load_report(reports[0]), load_report(reports[0]))
    assert (result.added, result.gone, result.changed) == ([], [], [])
    assert "0 new, 0 gone, 0 changed" in render_diff(result, "table")


def test_different_hmac_keys_are_said(scan_result: ScanResult, tmp_path: Path) -> None:
    other = tmp_path / "other.json"
    other.write_text(_json(dataclasses.replace(scan_result, hmac_key_id="k1:00000000")), encoding="utf-8")
    result = diff_reports(load_report(other), load_report(other))
    assert result.notes == []
    mine = tmp_path / "mine.json"
    mine.write_text(_json(scan_result), encoding="utf-8")
    result = diff_reports(load_report(other), load_report(mine))
    assert result.notes and "different HMAC keys" in result.notes[0]
    assert "different HMAC keys" in render_diff(result, "markdown")


def _privscan(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "diff-test"}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, env=env, cwd=REPO, timeout=60)


def test_cli_exit_status_and_formats(reports: tuple[Path, Path], tmp_path: Path) -> None:
    old, new = (str(p) for p in reports)
    done = _privscan("diff", old, new)
    assert done.returncode == 0 and done.stdout.decode().startswith("privscan diff: 1 new, 1 gone, 2 changed")
    done = _privscan("diff", old, new, "--format", "json", "-o", str(tmp_path / "d.json"))
    assert done.returncode == 0
    assert json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["summary"]["changed"] == 2
    assert _privscan("diff", old, new, "--format", "markdown").stdout.decode().startswith("### privscan diff")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "not a JSON report"),
        ('{"schema": "sarif"}', "not a privscan JSON report"),
        ('{"schema": "privscan/report/v1", "findings": [{"rule": "PS1"}]}', "finding 1 has no id"),
        ("\udcff", "not UTF-8"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(reports: tuple[Path, Path], tmp_path: Path, content: str | None,
                                              message: str) -> None:
    bad = tmp_path / "bad.json"
    if content is not None:
        bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    done = _privscan("diff", str(reports[0]), str(bad))
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privscan: error: ") and message in lines[0], lines


def test_markdown_folds_info_rows(scan_result: ScanResult, tmp_path: Path) -> None:
    old = tmp_path / "empty.json"
    old.write_text(_json(dataclasses.replace(scan_result, findings=())), encoding="utf-8")
    new = tmp_path / "all.json"
    new.write_text(_json(scan_result), encoding="utf-8")
    text = render_diff(diff_reports(load_report(old), load_report(new)), "markdown")
    info = sum(1 for f in scan_result.findings if f.severity == "info")
    assert info and f"<details><summary>{info} INFO</summary>" in text
    folded = text[text.index("<details>") : text.index("</details>")]
    assert "**INFO**" in folded and "**CRITICAL**" not in folded
    assert text.index("**CRITICAL**") < text.index("<details>")
