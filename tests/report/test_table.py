"""The terminal table: grouping and order, remediation once per rule, no colours off a terminal, width."""

from __future__ import annotations

import dataclasses
import io
import re

import pytest

from scanner.report.formats import RenderOptions, get_format
from scanner.results import ScanResult

ANSI = re.compile(r"\x1b\[")


def render(result: ScanResult, **options: object) -> str:
    text = get_format("table")(RenderOptions(**{"stable": True, **options})).render(result)  # type: ignore[arg-type]
    assert isinstance(text, str)
    return text


def test_header_summary(scan_result: ScanResult) -> None:
    head = render(scan_result).splitlines()[:4]
    assert "2 captures" in head[1] and "48,213 packets" in head[1]
    assert head[2] == "5 subjects: 2 minors, 2 of unknown age, 1 adult"
    assert "9 findings: 2 critical  3 high  2 medium  1 low  1 info" in head[3]
    assert "+ 1 allow-listed" in head[3]


def test_subjects_minors_first_then_worst(scan_result: ScanResult) -> None:
    text = render(scan_result)
    order = [
        text.index(f"\n{name}  ")
        for name in ("kid-tablet-01", "emma-ipad", "gtp-subscriber-0007", "10.20.0.99", "parent-phone")
    ]
    assert order == sorted(order)


def test_rows_worst_first_with_the_columns(scan_result: ScanResult) -> None:
    text = render(scan_result)
    kid = text[text.index("\nkid-tablet-01  ") : text.index("\nemma-ipad  ")]
    assert kid.index("CRITICAL") < kid.index("HIGH") < kid.index("INFO")
    for column in ("Severity", "Rule", "Identifier", "Destination", "Channel", "Count", "First seen"):
        assert column in kid
    assert "gaid (sha256)" in kid and "key uid_hash" in kid
    # The owner and its marks stay on one line: "third party" gives way first where room is short.
    assert "AdNet Example Ltd (tracker)" in kid
    assert "AdNet Example Ltd (tracker, third party)" in render(scan_result, width=120)
    assert "tls sni" in kid and "encrypted" in kid and "clear text" in kid
    assert "(contact only)" in kid


def test_allowlisted_apart_with_reason(scan_result: ScanResult) -> None:
    text = render(scan_result)
    allowed = text[text.index("Allow-listed (1)") :]
    assert "crash.appvendor.example" in allowed and "contracted processor" in allowed
    emma = text[text.index("\nemma-ipad  ") : text.index("\ngtp-subscriber-0007  ")]
    assert "crash.appvendor" not in emma, "an allow-listed finding is not among the counted ones"


def test_remediation_once_per_rule(scan_result: ScanResult) -> None:
    text = render(scan_result)
    for rule in scan_result.rules:
        if any(f.rule == rule.id and f.allowlisted is None for f in scan_result.findings):
            first_words = " ".join(rule.remediation.split()[:6])
            assert text.count(first_words) == 1, rule.id
    todo = text[text.index("What to do") :]
    assert todo.index("PS102") < todo.index("PS201") < todo.index("PS106")


def test_plain_text_and_width(scan_result: ScanResult) -> None:
    for width in (80, 100, 140):
        text = render(scan_result, width=width)
        assert not ANSI.search(text)
        assert max(len(line) for line in text.splitlines()) <= width
        assert all(line == line.rstrip() for line in text.splitlines())
        assert "ads.adnet.example" in text


def test_colour_only_when_asked_or_on_a_terminal(scan_result: ScanResult) -> None:
    assert ANSI.search(render(scan_result, color=True))

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    get_format("table")(RenderOptions(width=100)).write(scan_result, terminal)
    assert ANSI.search(terminal.getvalue())
    pipe = io.StringIO()
    get_format("table")(RenderOptions(stable=True)).write(scan_result, pipe)
    assert not ANSI.search(pipe.getvalue())
    assert pipe.getvalue() == render(scan_result, width=100)


def test_traffic_text_cannot_restyle_the_terminal(scan_result: ScanResult) -> None:
    finding = scan_result.findings[0]
    hostile = dataclasses.replace(
        finding, destination=dataclasses.replace(finding.destination, host="[bold red]evil\x1b[2J.example")
    )
    result = dataclasses.replace(scan_result, findings=(hostile,))
    text = render(result, width=140)
    assert "\x1b" not in text
    assert "[bold red]evil\\x1b[2J.example" in text


@pytest.mark.parametrize("show", [False, True])
def test_no_findings(scan_result: ScanResult, show: bool) -> None:
    empty = dataclasses.replace(scan_result, findings=(), show_values=show)
    text = render(empty)
    assert "No findings." in text and "What to do" not in text
