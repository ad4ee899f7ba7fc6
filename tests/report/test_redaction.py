"""No raw identifier value in any output unless the scan ran with --show-values.

Every format and every blocklist of the fixture scan is searched for every raw
value the fixture knows (inventory values, the tracker cookie, the operator's
header value), in the forms an output could carry it: as is, JSON-escaped
(ASCII and UTF-8), HTML-escaped, XML-escaped and DOT-escaped.  The control
test renders with show_values and finds them, so the search is known to work.
"""

from __future__ import annotations

import html
import json
from collections.abc import Callable
from xml.sax.saxutils import escape as xml_escape

import pytest

from scanner.report.blocklist import BLOCKLIST_FORMATS, render_blocklist
from scanner.report.formats import FORMATS, RenderOptions, get_format
from scanner.results import ScanResult


def forms(value: str) -> set[str]:
    return {
        value,
        json.dumps(value)[1:-1],
        json.dumps(value, ensure_ascii=False)[1:-1],
        html.escape(value, quote=True),
        html.escape(value, quote=False),
        xml_escape(value, {'"': "&quot;"}),
        value.replace("\\", "\\\\").replace('"', '\\"'),
    }


def outputs(result: ScanResult) -> dict[str, str]:
    rendered: dict[str, str] = {}
    for name in FORMATS:
        data = get_format(name)(RenderOptions(stable=True, width=200)).render(result)
        text = data if isinstance(data, str) else data.decode("utf-8")
        # The HTML's <wbr> line-break opportunities would hide a leaked value from a plain search.
        rendered[name] = text.replace("<wbr>", "") if name == "html" else text
    for name in BLOCKLIST_FORMATS:
        rendered[f"blocklist-{name}"] = render_blocklist(result, name)
    return rendered


@pytest.mark.parametrize("name", sorted([*FORMATS, *(f"blocklist-{b}" for b in BLOCKLIST_FORMATS)]))
def test_no_raw_value_without_show_values(
    name: str, build: Callable[..., ScanResult], raw_values: dict[str, str]
) -> None:
    text = outputs(build(show_values=False))[name]
    leaked = [(kind, form) for kind, value in raw_values.items() for form in forms(value) if form in text]
    assert not leaked, f"{name} shows raw values: {leaked}"


def test_control_show_values_puts_them_in(build: Callable[..., ScanResult], raw_values: dict[str, str]) -> None:
    rendered = outputs(build(show_values=True))
    # Values that are finding values (not only subject attributes) appear in the finding-level formats.
    finding_values = {k: v for k, v in raw_values.items() if k not in ("imei", "imsi", "subscriber_msisdn")}
    for name in ("json", "jsonl", "csv", "sarif", "html"):
        text = rendered[name]
        missing = [
            kind for kind, value in finding_values.items() if not any(f in text for f in forms(value) | {"'" + value})
        ]
        assert not missing, f"{name} with show_values lacks {missing}"


@pytest.mark.parametrize("name", sorted(FORMATS))
def test_subject_attributes_never_printed(name: str, build: Callable[..., ScanResult]) -> None:
    """Subject attributes (the IMSI behind a GTP subscriber) are for attribution, not for reports."""
    text = outputs(build(show_values=True))[name]
    for raw in ("208150123456789", "356938035643809"):
        assert raw not in text
