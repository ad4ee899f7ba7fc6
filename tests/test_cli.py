"""The command line contract (docs/cli.md): exit statuses, one-line errors, format/output pairing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "captures" / "demo.pcap"
DEMO_INVENTORY = REPO / "captures" / "demo.inventory.yaml"


def privscan(*args: str, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "cli-test"}
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args], input=stdin, capture_output=True, env=env, cwd=cwd or REPO, timeout=120
    )


def one_error_line(result: subprocess.CompletedProcess[bytes]) -> str:
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got: {lines!r}"
    assert lines[0].startswith("privscan: error: ")
    assert "Traceback" not in lines[0]
    return lines[0]


def test_findings_at_or_above_fail_on_exit_1_and_none_exits_0() -> None:
    assert privscan("scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q").returncode == 1
    assert privscan("scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q", "--fail-on", "none").returncode == 0


def test_fail_on_threshold_counts_only_findings_at_or_above() -> None:
    result = privscan("scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q", "--format", "json", "--fail-on", "none")
    report = json.loads(result.stdout)
    severities = {f["severity"] for f in report["findings"] if not f["allowlisted"]}
    assert "critical" in severities
    # A capture with nothing to report: the empty public capture (or no findings at all) exits 0.
    quiet = privscan("scan", str(REPO / "captures" / "demo.pcap"), "-q", "--fail-on", "critical", "--format", "json")
    found = [f for f in json.loads(quiet.stdout)["findings"] if f["severity"] == "critical" and not f["allowlisted"]]
    assert quiet.returncode == (1 if found else 0)


@pytest.mark.parametrize(
    "args, words",
    [
        (["scan", "no/such/file.pcap"], "no such file"),
        (["events", "no/such/file.pcap"], "no such file"),
        (["scan", "README.md"], "not a pcap or pcapng"),
        (["scan", str(DEMO), "--inventory", "no/such/inventory.yaml"], "no such file"),
        (["scan", str(DEMO), "--format", "pdf"], "unknown report format"),
        (["scan", str(DEMO), "--format", "json,csv"], "only one format can go to standard output"),
        (["scan", str(DEMO), "-o", "report.unknownext", "-o", "x.json"], "cannot tell the format"),
        (["scan", str(DEMO), "--jobs", "0"], "--jobs"),
        (["scan", str(DEMO), "--fail-on", "severe"], "--fail-on"),
        (["nosuchcommand"], "No such command"),
    ],
)
def test_bad_usage_is_one_line_and_exit_2(args: list[str], words: str, tmp_path: Path) -> None:
    result = privscan(*args, cwd=tmp_path if "report.unknownext" in args else None)
    assert result.returncode == 2
    assert words in one_error_line(result)


@pytest.mark.parametrize(
    "args, words",
    [
        (["scan", str(DEMO), "-o", "no/such/dir/report.html"], "no such directory"),
        (["scan", str(DEMO), "-o", "json:."], "is a directory"),
        (["blocklist", str(DEMO), "-o", "no/such/dir/blocked.hosts"], "no such directory"),
        (["events", str(DEMO), "-o", "no/such/dir/events.jsonl"], "no such directory"),
    ],
)
def test_an_output_that_cannot_be_written_fails_before_the_scan(args: list[str], words: str, tmp_path: Path) -> None:
    result = privscan(*args, cwd=tmp_path)
    assert result.returncode == 2
    assert words in one_error_line(result)
    assert not result.stdout, "nothing was scanned"


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full on this system")
@pytest.mark.parametrize(
    "args",
    [
        ["scan", str(DEMO), "-q", "-o", "json:/dev/full"],
        ["scan", str(DEMO), "-q", "--format", "json"],  # standard output is /dev/full below
        ["events", str(DEMO), "-o", "/dev/full"],
        ["events", str(DEMO)],
        ["blocklist", str(DEMO), "-q", "--inventory", str(DEMO_INVENTORY), "-o", "/dev/full"],
    ],
)
def test_a_full_disk_while_writing_is_one_line_and_exit_2(args: list[str]) -> None:
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "cli-test"}
    with open("/dev/full", "wb") as full:
        result = subprocess.run([sys.executable, "-m", "scanner", *args], stdout=full, stderr=subprocess.PIPE,
                                env=env, cwd=REPO, timeout=120)
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("privscan: error: ") and "No space left on device" in lines[0], lines


def test_bad_inventory_names_file_and_line(tmp_path: Path) -> None:
    inventory = tmp_path / "devices.yaml"
    inventory.write_text("devices:\n  - id: a\n    identifiers:\n      imei: ['123']\n")
    result = privscan("scan", str(DEMO), "--inventory", str(inventory))
    assert result.returncode == 2
    assert f"{inventory}:4:" in one_error_line(result)


def test_several_formats_by_output_extension(tmp_path: Path) -> None:
    outputs = {fmt: tmp_path / f"report.{ext}" for fmt, ext in [("json", "json"), ("sarif", "sarif"), ("html", "html"), ("csv", "csv")]}
    result = privscan(
        "scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q", "--fail-on", "none",
        *[arg for path in outputs.values() for arg in ("-o", str(path))],
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(outputs["json"].read_text())["schema"] == "privscan/report/v1"
    assert json.loads(outputs["sarif"].read_text())["version"] == "2.1.0"
    assert outputs["html"].read_text().startswith("<!DOCTYPE html>")
    assert outputs["csv"].read_text().splitlines()[0].startswith("id,")
    assert b"findings" in result.stdout  # no --format: the table still goes to the terminal


def test_explicit_format_prefix_and_stdout_table(tmp_path: Path) -> None:
    target = tmp_path / "findings.txt"
    result = privscan("scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q", "--fail-on", "none", "-o", f"jsonl:{target}")
    assert result.returncode == 0
    lines = target.read_text().splitlines()
    assert lines and all(json.loads(line)["schema"] == "privscan/finding/v1" for line in lines)
    assert b"findings" in result.stdout  # the default table still went to the terminal


def test_stdin_capture() -> None:
    result = privscan("events", "-", stdin=DEMO.read_bytes())
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events and all(e["capture"] == "-" for e in events)
    assert {"dns", "http", "tls", "dhcp"} <= {e["type"] for e in events}


def test_events_table_format() -> None:
    result = privscan("events", str(DEMO), "--format", "table")
    assert result.returncode == 0
    header, first = result.stdout.decode().splitlines()[:2]
    assert header.split()[:4] == ["ts", "frame", "type", "flow"]
    assert " dhcp " in first


def test_events_follow_the_contract_field_names() -> None:
    result = privscan("events", str(REPO / "captures" / "demo_gtp.pcap"))
    events = [json.loads(line) for line in result.stdout.splitlines()]
    by_type: dict[str, dict[str, object]] = {}
    for event in events:
        by_type.setdefault(event["type"], event)
        assert {"ts", "capture", "frame", "flow", "type"} <= set(event)
        assert set(event["flow"]) == {"proto", "src", "sport", "dst", "dport"}
    required = {
        "dns": {"query", "qtype", "answers", "rcode"},
        "http": {"method", "host", "uri", "user_agent"},
        "tls": {"sni", "alpn", "ja4"},
        "gtpc": {"message", "imsi", "msisdn", "mei", "ue_ip", "apn"},
    }
    for kind, fields in required.items():
        assert fields <= set(by_type[kind]), kind
    tunnelled = [e for e in events if "tunnel" in e]
    assert tunnelled and all(e["tunnel"]["type"] == "gtpu" and "teid" in e["tunnel"] for e in tunnelled)


def test_blocklist_formats() -> None:
    for fmt, marker in [("hosts", "0.0.0.0 "), ("dnsmasq", "server=/"), ("rpz", "CNAME .")]:
        result = privscan("blocklist", str(DEMO), "--inventory", str(DEMO_INVENTORY), "-q", "--format", fmt)
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout.decode()


def test_truncated_capture_is_a_warning_not_an_error(tmp_path: Path) -> None:
    data = DEMO.read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 7])
    result = privscan("scan", str(cut), "--inventory", str(DEMO_INVENTORY), "-q", "--format", "json", "--fail-on", "none")
    assert result.returncode == 0
    report = json.loads(result.stdout)
    assert report["captures"][0]["warnings"] and "truncated" in report["captures"][0]["warnings"][0]
    assert report["findings"], "what came before the cut is still scanned"
    assert b"warning" in result.stderr and b"Traceback" not in result.stderr


@pytest.mark.parametrize("args", [["events", str(REPO / "captures" / "labelled_encodings.pcap")],
                                  ["scan", str(DEMO), "-q", "--format", "html", "--fail-on", "none"]])
def test_a_reader_that_leaves_early_is_not_an_error(args: list[str]) -> None:
    # `privscan events x.pcap | head -c 100`: the pipe closes under privscan's feet.
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "cli-test"}
    process = subprocess.Popen([sys.executable, "-m", "scanner", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=REPO)
    assert process.stdout is not None and process.stderr is not None
    assert process.stdout.read(100)
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=120) == 0
    assert b"Traceback" not in stderr and b"Exception ignored" not in stderr, stderr
