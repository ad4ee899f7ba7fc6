"""CSV (flat columns, formula-injection guard) and JSON Lines (one finding per line for SIEMs)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.csv import COLUMNS, defuse
from scanner.results import ScanResult

EXPECTED_COLUMNS = [
    "id",
    "severity",
    "rule",
    "title",
    "subject",
    "minor",
    "identifier_type",
    "encoding",
    "key",
    "value",
    "destination_host",
    "domain",
    "org",
    "category",
    "tracker",
    "party",
    "protocol",
    "encrypted",
    "location",
    "operator_injected",
    "count",
    "first_seen",
    "last_seen",
    "first_evidence_capture",
    "first_evidence_frame",
    "regulations",
    "allowlisted",
    "keys",
    "values",
    "app_name",
    "app_id",
]


def rows(result: ScanResult) -> list[dict[str, str]]:
    text = get_format("csv")(RenderOptions(stable=True)).render(result)
    assert isinstance(text, str)
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_columns_and_one_row_per_finding(scan_result: ScanResult) -> None:
    assert list(COLUMNS) == EXPECTED_COLUMNS
    text = get_format("csv")().render(scan_result)
    assert isinstance(text, str)
    assert text.split("\r\n", 1)[0] == ",".join(EXPECTED_COLUMNS)
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    assert len(rows(scan_result)) == len(scan_result.findings)


def test_cells(scan_result: ScanResult) -> None:
    table = {row["id"]: row for row in rows(scan_result)}
    first = next(f for f in scan_result.findings if f.rule == "PS104")
    row = table[first.id]
    assert row["minor"] == "true" and row["tracker"] == "true" and row["encrypted"] == "false"
    assert row["first_seen"] == "2024-05-01T10:00:12.500000Z"
    assert row["first_evidence_frame"] == "101"
    assert row["regulations"] == ";".join(first.regulations)
    assert row["allowlisted"] == ""
    contact = next(r for r in table.values() if r["rule"] == "PS106")
    assert contact["identifier_type"] == contact["value"] == contact["key"] == ""
    allowed = next(r for r in table.values() if r["allowlisted"])
    assert allowed["allowlisted"].startswith("contracted processor")
    unknown = next(r for r in table.values() if r["subject"] == "gtp-subscriber-0007")
    assert unknown["minor"] == "unknown"


@pytest.mark.parametrize(
    ("text", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+33612345678", "'+33612345678"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=x", "'\t=x"),
        ("adid", "adid"),
        ("", ""),
    ],
)
def test_defuse(text: str, safe: str) -> None:
    assert defuse(text) == safe


def test_formula_injection_from_traffic_is_defused(scan_result_with_values: ScanResult, injection_key: str) -> None:
    for row in rows(scan_result_with_values):
        for column, cell in row.items():
            assert not cell.startswith(("=", "+", "-", "@")), f"{column} starts a formula: {cell!r}"
    cookie = next(r for r in rows(scan_result_with_values) if r["identifier_type"] == "cookie_id")
    assert cookie["key"] == "'" + injection_key
    assert cookie["value"].startswith("'=cmd|")


def test_jsonl_one_finding_per_line(scan_result: ScanResult) -> None:
    text = get_format("jsonl")().render(scan_result)
    assert isinstance(text, str)
    lines = text.splitlines()  # also splits on U+2028: there must be none raw
    assert len(lines) == len(scan_result.findings)
    assert text.isascii()
    by_id = {f.id: f for f in scan_result.findings}
    hashes = {c.path: c.sha256 for c in scan_result.captures}
    for line in lines:
        record = json.loads(line)
        finding = by_id[record["id"]]
        assert record["schema"] == "privscan/finding/v1"
        assert record["tool"] == "privscan" and record["tool_version"] == "0.1.0"
        assert record["capture"] == finding.evidence[0].capture
        assert record["capture_sha256"] == hashes[record["capture"]]
        assert record["first_seen_utc"].endswith("Z")
        assert "graph" not in record
        base = finding.to_record()
        assert {k: record[k] for k in base} == base
