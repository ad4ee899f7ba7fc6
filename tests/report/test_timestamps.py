"""Timestamps no calendar has (a damaged or crafted capture) never stop a report.

libpcap's shb-option-too-long.pcapng in ../shared says its packet came in the year 112003;
``datetime`` stops at 9999, and the HTML report of that capture ended in a traceback.
"""

from __future__ import annotations

import dataclasses

import pytest

from scanner.report.formats import FORMATS, RenderOptions, get_format
from scanner.report.formats.common import iso_utc, short_time, utc_datetime
from scanner.results import ScanResult

YEAR_112003 = 3472328296227.68  # what that capture's packet says
BEFORE_YEAR_1 = -1e13


def test_times_outside_the_calendar_are_given_as_seconds() -> None:
    assert iso_utc(1717264800.25) == "2024-06-01T18:00:00.250000Z"
    assert utc_datetime(YEAR_112003) is None and utc_datetime(BEFORE_YEAR_1) is None
    assert iso_utc(YEAR_112003) == "3472328296227.68"
    assert short_time(BEFORE_YEAR_1) == "-10000000000000 s"
    assert iso_utc(None) == short_time(None) == ""


def far_out(result: ScanResult, ts: float) -> ScanResult:
    findings = tuple(
        dataclasses.replace(
            f, first_seen=ts, last_seen=ts, evidence=tuple(dataclasses.replace(e, ts=ts) for e in f.evidence)
        )
        for f in result.findings
    )
    captures = tuple(dataclasses.replace(c, first_ts=ts, last_ts=ts) for c in result.captures)
    return dataclasses.replace(result, findings=findings, captures=captures)


@pytest.mark.parametrize("ts", [YEAR_112003, BEFORE_YEAR_1])
@pytest.mark.parametrize("name", sorted(FORMATS))
def test_every_format_renders_a_capture_from_outside_the_calendar(name: str, ts: float, scan_result: ScanResult) -> None:
    result = far_out(scan_result, ts)
    assert result.findings
    text = get_format(name)(RenderOptions(stable=True)).render(result)
    assert text
    if name in ("csv", "jsonl", "sarif", "html"):
        assert repr(ts) in (text if isinstance(text, str) else text.decode()), "the time is shown as it is"
