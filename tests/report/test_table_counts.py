"""The terminal table's counts, plurals and fitting, against golden files.

The cases a real scan brings and the fixture scan does not: one of everything ("1 packet",
"1 minor"), subjects without findings ("showing" only those with findings, and saying so),
a browser's forty contacts with trackers (summarised, not forty rows), long hosts and JSON-path
keys in an 80-column terminal (cut with an ellipsis at a label, never folded mid-token).
Refresh with PRIVSCAN_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

from scanner.model import Channel, Destination
from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.table import fit
from scanner.results import ScanResult


def _fixture_module() -> object:
    """tests/report/conftest.py's builders (not importable by name under --import-mode=importlib)."""
    spec = importlib.util.spec_from_file_location("privscan_report_fixture", Path(__file__).with_name("conftest.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_F = _fixture_module()
CAPTURE_TABLET, HTTP_QUERY, KID, PARENT = _F.CAPTURE_TABLET, _F.HTTP_QUERY, _F.KID, _F.PARENT  # type: ignore[attr-defined]
dest, make_finding = _F.dest, _F.make_finding  # type: ignore[attr-defined]
T0 = 1714557600.0
TLS = Channel("tls", True, "sni")


def _dest(host: str, org: str) -> Destination:
    return dest(host, "203.0.113.10", 443, host.split(".", 1)[-1], (org, "advertising", True), "third")


def render(result: ScanResult, width: int) -> str:
    text = get_format("table")(RenderOptions(stable=True, width=width)).render(result)
    assert isinstance(text, str)
    return text


def one_of_everything(build: Callable[..., ScanResult]) -> ScanResult:
    base = build()
    finding = make_finding(
        ("PS104",), KID, ("gaid", "38400000-8cf0-11bd-b23e-10b96e40000d", "plain", "device.ids.advertising_id"),
        _dest("ads.adnet.example", "AdNet Example Ltd"), HTTP_QUERY,
        [(CAPTURE_TABLET, 7, T0)], 1, show_values=False,
    )
    capture = dataclasses.replace(base.captures[0], packets=1, warnings=[])
    return dataclasses.replace(
        base, captures=(capture,), stats={"packets": 1, "flows": 1, "decode_errors": 1},
        subjects=(KID,), findings=(finding,), warnings=(),
        analyses=dataclasses.replace(base.analyses, linkable=()),
    )


def a_browser(build: Callable[..., ScanResult]) -> ScanResult:
    """One minor with a leak to a long host and forty INFO contacts; an adult without findings."""
    base = build()
    leak = make_finding(
        ("PS101",), KID, ("gaid", "38400000-8cf0-11bd-b23e-10b96e40000d", "plain", "payload.device.android_advertising_id"),
        _dest("29f684b8abc82ef05d6dfafb256bce36.safeframe.googlesyndication.com", "Google"),
        HTTP_QUERY, [(CAPTURE_TABLET, 9, T0)], 3, show_values=False,
    )
    orgs = ["Google"] * 20 + ["Meta"] * 10 + ["Amazon"] * 4 + ["Adobe", "Yahoo", "Criteo", "OpenX", "Taboola", "Quantcast"]
    contacts = [
        make_finding(("PS106",), KID, None, _dest(f"host{i}.{org.lower()}.example", org), TLS,
                     [(CAPTURE_TABLET, 100 + i, T0 + i)], 1, show_values=False)
        for i, org in enumerate(orgs)
    ]
    return dataclasses.replace(
        base, subjects=(KID, PARENT), findings=(leak, *contacts), warnings=(),
        stats={"packets": 30435, "flows": 2558, "decode_errors": 0},
        analyses=dataclasses.replace(base.analyses, linkable=()),
    )


def test_one_of_everything_is_singular(build: Callable[..., ScanResult], golden: Callable[[str, str], None]) -> None:
    text = render(one_of_everything(build), 80)
    head = text.splitlines()[:4]
    assert head[1] == "1 capture  ·  1 packet  ·  1 flow  ·  1 decode error"
    assert head[2] == "1 subject: 1 minor, 0 of unknown age, 0 adults"
    assert head[3].startswith("1 finding: ")
    assert "(1 finding)" in text
    golden("table.one.80.txt", text)


def test_a_browser_at_80_columns(build: Callable[..., ScanResult], golden: Callable[[str, str], None]) -> None:
    text = render(a_browser(build), 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "2 subjects: 1 minor, 0 of unknown age, 1 adult  ·  1 with findings below" in text
    # forty contacts: one line by organisation, not forty rows
    assert "+ 40 more contacts without an identifier (INFO, PS106), with hosts of Google 20, Meta 10, Amazon 4" in " ".join(lines)
    assert "host17.google.example" not in text
    # the long host and the JSON-path key are cut at a label with an ellipsis, never folded
    assert "…googlesyndication.com" in text and "…advertising_id" in text
    assert not any(line.strip() in ("d", "id", "com", ".com") for line in lines)
    golden("table.browser.80.txt", text)


def test_the_fixture_scan_at_80_columns(scan_result: ScanResult, golden: Callable[[str, str], None]) -> None:
    text = render(scan_result, 80)
    assert max(len(line) for line in text.splitlines()) <= 80
    golden("report.table.80.txt", text)


def test_fit_never_cuts_without_an_ellipsis() -> None:
    assert fit("ads.adnet.example", 20) == "ads.adnet.example"
    assert fit("29f684b8abc82ef05d6dfafb256bce36.safeframe.googlesyndication.com", 24, keep_tail=True) == (
        "…googlesyndication.com"
    )
    assert fit("device.ids.android_id", 12, keep_tail=True) == "…android_id"
    assert fit("AdNet Example Ltd", 8) == "AdNet E…"
    for width in range(1, 30):
        for text in ("29f684b8abc82ef05d6dfafb256bce36.safeframe.googlesyndication.com", "device.ids.android_id"):
            cut = fit(text, width, keep_tail=True)
            assert len(cut) <= width and (cut == text or cut.startswith("…"))
