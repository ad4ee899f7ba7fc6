"""Every report format and every blocklist of the fixture scan, byte for byte against tests/report/golden/.

Refresh with ``PRIVSCAN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/report`` and review the diff.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from scanner.report.blocklist import BLOCKLIST_FORMATS, render_blocklist
from scanner.report.formats import FORMATS, RenderOptions, get_format
from scanner.results import ScanResult

GOLDEN_NAMES = {
    "table": "report.table.txt",
    "json": "report.json",
    "jsonl": "report.jsonl",
    "csv": "report.csv",
    "sarif": "report.sarif",
    "html": "report.html",
    "graphml": "report.graphml",
    "gexf": "report.gexf",
    "dot": "report.dot",
}
BLOCKLIST_GOLDEN = {"hosts": "blocklist.hosts", "dnsmasq": "blocklist.dnsmasq.conf", "rpz": "blocklist.rpz"}

STABLE = RenderOptions(stable=True, width=100, color=False)


def test_every_format_has_a_golden_file() -> None:
    assert set(GOLDEN_NAMES) == set(FORMATS), "a new format needs a golden file here"
    assert set(BLOCKLIST_GOLDEN) == set(BLOCKLIST_FORMATS)


@pytest.mark.parametrize("name", sorted(GOLDEN_NAMES))
def test_format_matches_golden(name: str, scan_result: ScanResult, golden: Callable[[str, str | bytes], None]) -> None:
    golden(GOLDEN_NAMES[name], get_format(name)(STABLE).render(scan_result))


@pytest.mark.parametrize("name", sorted(BLOCKLIST_GOLDEN))
def test_blocklist_matches_golden(
    name: str, scan_result: ScanResult, golden: Callable[[str, str | bytes], None]
) -> None:
    text = render_blocklist(scan_result, name)
    if name == "rpz":
        # The SOA serial is today's date (test_blocklist.py checks it): blanked like a timestamp.
        text = re.sub(r"(IN SOA \S+ \S+ )\d+ ", r"\1<serial> ", text)
    golden(BLOCKLIST_GOLDEN[name], text)


@pytest.mark.parametrize("name", sorted(GOLDEN_NAMES))
def test_rendering_twice_gives_the_same_bytes(name: str, build: Callable[..., ScanResult]) -> None:
    fmt = get_format(name)(STABLE)
    assert fmt.render(build()) == fmt.render(build())
