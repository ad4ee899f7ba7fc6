"""Every report format renders a scan of all the public captures in ../shared, damaged ones included.

The decoders are held to strict mode on each of these captures (tests/decode/test_real_captures.py);
this holds the rest of the way to the reports: one scan of all of them, without an inventory,
rendered in every format, the JSON valid against its schema.  It caught the HTML report dying
on a capture that dates its packet in the year 112003.
"""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import FORMATS, RenderOptions, get_format
from scanner.results import ScanResult

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json"
CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")


@pytest.fixture(scope="module")
def public_scan(real_captures: Path) -> ScanResult:
    paths = sorted(str(p) for p in real_captures.iterdir() if p.suffix in CAPTURE_SUFFIXES)
    return run_scan(expand_inputs(paths), ScanSettings())


def test_the_scan_covers_every_public_capture(public_scan: ScanResult, real_captures: Path) -> None:
    expected = sum(1 for p in real_captures.iterdir() if p.suffix in CAPTURE_SUFFIXES)
    assert len(public_scan.captures) == expected > 50
    assert public_scan.findings, "the public captures hold identifiers (leaks_public's are elsewhere)"
    assert any(c.last_ts is not None and c.last_ts > 253402300800 for c in public_scan.captures), (
        "a capture dated after the year 9999 is among them"
    )


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders_it(public_scan: ScanResult, name: str) -> None:
    text = get_format(name)(RenderOptions(stable=True)).render(public_scan)
    assert len(text) > 1000
    if name == "json":
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        jsonschema.Draft202012Validator(schema).validate(json.loads(text))
