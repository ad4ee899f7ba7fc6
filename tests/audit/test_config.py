"""The audit config: the minimal form of issue 7 keeps working; paths are relative to the file; errors say file:line."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.capture import format_duration, parse_duration
from scanner.audit.config import DEFAULT_HISTORY, load_config
from scanner.errors import ConfigError

MINIMAL = """\
inventory: devices.yaml
captures: [/data/lab/*.pcapng]      # or: capture: {interface: eth1, duration: 10m, filter: "not port 22"}
history: audit.sqlite
baseline: privscan-baseline.yaml    # optional
fail_on: high
outputs: {html: report.html, json: report.json, sarif: report.sarif}
"""


def test_the_minimal_form_from_the_issue(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lab.config.write_text(MINIMAL, encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)  # relative to the config, not to where cron starts
    config = load_config(lab.config)
    assert config.inventory == lab.root / "devices.yaml"
    assert config.captures == ("/data/lab/*.pcapng",)
    assert config.history == lab.root / "audit.sqlite"
    assert config.baseline == lab.root / "privscan-baseline.yaml"
    assert config.fail_on == "high" and config.capture is None
    assert dict(config.outputs) == {"html": lab.root / "report.html", "json": lab.root / "report.json", "sarif": lab.root / "report.sarif"}
    assert config.name == str(lab.config.resolve())


def test_the_live_capture_form(lab: Any) -> None:
    lab.config.write_text(
        'inventory: devices.yaml\ncapture: {interface: eth1, duration: 10m, filter: "not port 22"}\n', encoding="utf-8"
    )
    config = load_config(lab.config)
    assert config.capture is not None
    assert (config.capture.interface, config.capture.duration, config.capture.filter) == ("eth1", 600.0, "not port 22")
    assert config.capture.output_path("20260101T020000Z") == lab.root / "captures" / "audit-20260101T020000Z.pcapng"
    assert config.history == lab.root / DEFAULT_HISTORY and config.captures == ()


def test_jobs_and_scheduler_reach_the_scan_settings(lab: Any) -> None:
    lab.config.write_text("captures: [a.pcap]\njobs: 3\nscheduler: ' local:2 '\n", encoding="utf-8")
    settings = load_config(lab.config).scan_settings()
    assert (settings.jobs, settings.scheduler) == (3, "local:2")


def test_relative_capture_globs_are_relative_to_the_config(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (lab.root / "night").mkdir()
    lab.capture("night/a.pcap", ["gaid_ads"])
    lab.capture("night/b.pcap", ["gaid_ads", "imei_ads"])
    lab.config.write_text("inventory: devices.yaml\ncaptures: night/*.pcap\nhistory: audit.sqlite\nfail_on: none\n", encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir(exist_ok=True)
    monkeypatch.chdir(elsewhere)
    result = lab.run("audit", os.path.relpath(lab.config), "--format", "json")
    assert result.exit_code == 0, result.output
    assert (lab.root / "audit.sqlite").exists() and not (elsewhere / "audit.sqlite").exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("inventory: devices.yaml\ncaptures: [a.pcap]\ncolour: blue\n", 3, "unknown key 'colour'"),
        ("captures: [a.pcap]\nfail_on: loud\n", 2, "'fail_on' must be one of"),
        ("captures: [a.pcap]\ncapture: {interface: eth1, duration: 1m}\n", 2, "not both"),
        ("inventory: devices.yaml\n", 1, "say what to scan"),
        ("captures: [a.pcap]\ninventory: nowhere.yaml\n", 2, "no such file"),
        ("capture:\n  interface: eth1\n  duration: soon\n", 3, "not a duration"),
        ("capture: {duration: 1m}\n", 1, "'interface' is required"),
        ("captures: [a.pcap]\noutputs: {pdf: report.pdf}\n", 2, "unknown format 'pdf'"),
        ("captures: [a.pcap]\noutputs: {html: no/such/dir/r.html}\n", 2, "no such directory"),
        ("captures: []\n", 1, "'captures' must be"),
        ("captures: [a.pcap]\ncaptures: [b.pcap]\n", 2, "given twice"),
        ("- just\n- a list\n", 1, "is a mapping"),
        ("captures: [a.pcap]\njobs: 0\n", 2, "'jobs' must be a whole number"),
        ("captures: [a.pcap]\njobs: two\n", 2, "'jobs' must be a whole number"),
        ("captures: [a.pcap]\nscheduler: [tcp://x]\n", 2, "'scheduler' must be"),
    ],
)
def test_mistakes_are_config_errors_with_file_and_line(lab: Any, text: str, line: int, message: str) -> None:
    lab.config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message) as error:
        load_config(lab.config)
    assert error.value.line == line
    assert str(error.value).startswith(f"{lab.config}:{line}: ")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("10m", 600), ("30s", 30), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5), ("90", 90), (45, 45), ("2 min", 120), ("1d", 86400)],
)
def test_durations(text: str | int, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "soon", "10x", "-5s", "0s", "1h30", "m"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration() -> None:
    assert [format_duration(s) for s in (600, 3600, 5400, 30, 0.5)] == ["10m", "1h", "90m", "30s", "0.5s"]
