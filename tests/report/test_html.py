"""The HTML report: self-contained (no external URL), escaped, with the graph and every finding; and in Chromium.

The Chromium test loads the report in Debian's headless Chromium over the
DevTools pipe (``tests/report/chromium.py``) and requires no console error or
warning, no uncaught exception and no CSP or network error, and that the SVG
graph and the findings table are in the live DOM.  It is skipped when
/usr/bin/chromium is absent (``make test`` installs it: apt-get install chromium).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import html
import importlib.util
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest

from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.html import CSP, SCRIPT_TEXT, STYLE_TEXT
from scanner.results import ScanResult

URL_ATTRIBUTES = {
    "src",
    "href",
    "xlink:href",
    "action",
    "formaction",
    "poster",
    "data",
    "srcset",
    "background",
    "cite",
    "manifest",
}
EXTERNAL = re.compile(r"^\s*(https?:|//|ftp:|ws:|wss:)", re.IGNORECASE)


class ReportParser(HTMLParser):
    """Collects what the assertions need: URLs, ids, tags, the text of style/script, and the page text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()
        self.tags: list[str] = []
        self.text: list[str] = []
        self.inline_styles: list[str] = []
        self._in: str | None = None
        self.style_text = ""
        self.script_text = ""
        self.meta: list[dict[str, str | None]] = []
        self._glue = False  # <wbr> (a line-break opportunity in a host or path) does not end a text

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "wbr":
            self._glue = True
            return
        for name, value in attrs:
            if name in URL_ATTRIBUTES and value is not None:
                self.urls.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)
            if name == "style":
                self.inline_styles.append(value or "")
        if tag in ("style", "script"):
            self._in = tag
        if tag == "meta":
            self.meta.append(dict(attrs))

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in == "style":
            self.style_text += data
        elif self._in == "script":
            self.script_text += data
        elif self._glue and self.text:
            self.text[-1] += data
        else:
            self.text.append(data)
        self._glue = False


def plain(text: str) -> str:
    """The HTML without its <wbr> line-break opportunities (hosts and paths break only at their dots)."""
    return text.replace("<wbr>", "")


def parse(text: str) -> ReportParser:
    parser = ReportParser()
    parser.feed(text)
    parser.close()
    return parser


def render(result: ScanResult) -> str:
    text = get_format("html")(RenderOptions(stable=True)).render(result)
    assert isinstance(text, str)
    return text


def render_plain(result: ScanResult) -> str:
    return plain(render(result))


def test_no_external_resource(scan_result_with_values: ScanResult) -> None:
    text = render(scan_result_with_values)
    page = parse(text)
    external = [u for u in page.urls if EXTERNAL.match(u[2])]
    assert not external, external
    assert all(u[2].startswith("#") for u in page.urls), page.urls  # only in-page links
    assert "link" not in page.tags and "img" not in page.tags and "iframe" not in page.tags
    assert "@import" not in page.style_text and "url(" not in page.style_text
    assert not page.inline_styles, "inline style attributes would need 'unsafe-inline' in the CSP"


def test_content_security_policy_pins_the_one_style_and_script(scan_result: ScanResult) -> None:
    page = parse(render(scan_result))
    csp = [m for m in page.meta if (m.get("http-equiv") or "").lower() == "content-security-policy"]
    assert csp and csp[0]["content"] == CSP
    assert "default-src 'none'" in CSP

    def digest(text: str) -> str:
        return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"

    assert page.style_text == STYLE_TEXT and digest(page.style_text) in CSP
    assert page.script_text == SCRIPT_TEXT and digest(page.script_text) in CSP


def test_graph_svg_and_every_finding(scan_result: ScanResult) -> None:
    text = render(scan_result)
    page = parse(text)
    assert "svg" in page.tags and "dataflow-graph" in page.ids
    assert "findings" in page.ids
    for finding in scan_result.findings:
        assert finding.id in text
        assert f"finding-{finding.id}" in page.ids
    body = " ".join(page.text)
    for section in (
        "Summary",
        "Findings",
        "Data flows",
        "Subjects",
        "Organisations",
        "Allow-listed findings",
        "Captures",
    ):
        assert section in body


def test_summary_for_an_executive(scan_result: ScanResult) -> None:
    text = render(scan_result)
    summary = text[text.index('<section id="summary">') : text.index("</section>")]
    assert "Children with findings" in summary
    assert '<div class="big">2</div><div>of the 2 subjects known to be minors' in summary
    assert "Organisations that received identifiers" in summary
    assert "Identifier types exposed" in summary
    # what to do first: the worst rules' remediation, worst first
    actions = summary[summary.index("What to do first") :]
    assert actions.index("precise location") < actions.index("Report the ad network") < actions.index("Block or flag")
    # local multicast (mDNS) is not an organisation
    assert "224.0.0.251" not in summary[: summary.index("The worst findings")]


def test_the_worst_findings_are_never_padded_with_info(scan_result: ScanResult) -> None:
    text = render(scan_result)
    worst = text[text.index("<h3>The worst findings</h3>") : text.index("<h3>What to do first</h3>")]
    assert "sev-info" not in worst
    assert worst.count("<tr>") == 1 + 5  # the header and WORST_SHOWN rows
    only_info = dataclasses.replace(
        scan_result, findings=tuple(dataclasses.replace(f, severity="info") for f in scan_result.findings)
    )
    text = render(only_info)
    worst = text[text.index("<h3>The worst findings</h3>") : text.index("<h3>What to do first</h3>")]
    assert "No finding above INFO" in worst and "<table" not in worst


def test_what_to_do_first_summarises_hosts_by_organisation(scan_result: ScanResult) -> None:
    # Fifty hosts of one organisation under one rule: the action names the organisation, not fifty hosts.
    base = scan_result.findings[0]
    many = tuple(
        dataclasses.replace(base, id=f"{i:016x}", destination=dataclasses.replace(base.destination, host=f"h{i}.adnet.example"))
        for i in range(50)
    )
    text = render(dataclasses.replace(scan_result, findings=many))
    actions = text[text.index("<h3>What to do first</h3>") : text.index('<section id="all-findings">')]
    assert "50 findings" in actions and "50 hosts of AdNet Example Ltd" in actions
    assert "h17.adnet.example" not in actions
    assert 'data-filter="PS104"' in actions  # a link to the rule's findings instead


def test_every_finding_once_info_grouped_and_closed(scan_result: ScanResult) -> None:
    text = render(scan_result)
    for finding in scan_result.findings:
        assert text.count(f'id="finding-{finding.id}"') == 1
    assert text.count('<details class="finding"') == len(scan_result.findings)
    info = text[text.index('id="sev-info"') - 40 :]
    assert info.startswith('<details class="group" id="sev-info">') or '<details class="group" id="sev-info">' in info[:60]
    assert '<details class="group" id="sev-info" open' not in text
    # INFO comes after every other severity
    assert text.index('id="sev-info"') > text.index('id="sev-low"') > text.index('id="sev-critical"')


def test_the_local_network_is_not_counted_as_an_organisation() -> None:
    # The demo's children broadcast their devices' names over DHCP: that reaches the local network,
    # which the summary names apart from the companies that received identifiers.
    from scanner.ingest import expand_inputs
    from scanner.pipeline import ScanSettings, run_scan

    captures = Path(__file__).resolve().parents[2] / "captures"
    result = run_scan(expand_inputs([str(captures / "demo.pcap")]),
                      ScanSettings(inventory=str(captures / "demo.inventory.yaml")))
    assert any(f.destination.category == "local_network" for f in result.findings)
    text = render(result)
    summary = text[text.index('<section id="summary">') : text.index("The worst findings")]
    card = summary[summary.index("Organisations that received identifiers") :]
    card = card[: card.index("Identifier types exposed")]
    companies = {f.destination.org for f in result.findings
                 if f.identifier is not None and f.destination.org and f.destination.category != "local_network"}
    assert f'<div class="big">{len(companies)}</div>' in card
    assert "<li>Local network</li>" not in card
    assert "and the local network: device names broadcast" in card


def test_traffic_text_is_escaped(scan_result_with_values: ScanResult, injection_key: str) -> None:
    text = render_plain(scan_result_with_values)
    assert "<img src=x" not in text and "<b>click</b>" not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "Emma’s iPad" in text
    page = parse(text)
    assert "b" not in page.tags and "img" not in page.tags
    assert injection_key in " ".join(page.text)


def test_allowlisted_reason_and_capture_list(scan_result: ScanResult) -> None:
    text = render_plain(scan_result)
    allowed = text[text.index('<section id="allowlisted">') :]
    assert "contracted processor: DPA AV-2024-017" in allowed
    scan = text[text.index('<section id="scan">') :]
    for capture in scan_result.captures:
        assert capture.sha256 in scan and capture.path in scan
    assert "frame 812: TCP segment truncated" in scan


def test_evidence_tables(scan_result: ScanResult) -> None:
    text = render_plain(scan_result)
    finding = scan_result.findings[0]
    detail = text[text.index(f'id="finding-{finding.id}"') :]
    detail = detail[: detail.index("</details>")]
    for evidence in finding.evidence:
        assert f'<td class="num">{evidence.frame}</td>' in detail
        assert f"{evidence.flow.src}:{evidence.flow.sport} → {evidence.flow.dst}:{evidence.flow.dport}" in detail
        # Wireshark display filters to paste: the frame, and the flow
        assert f"<code class=\"nowrap\">frame.number == {evidence.frame}</code>" in detail
        assert html.escape(evidence.flow_filter) in detail


def test_the_request_excerpt_is_shown_escaped(scan_result: ScanResult) -> None:
    finding = scan_result.findings[0]
    excerpt = "GET /v1/ad?app=<script>&adid=3840****-****-****-****-********000d&v=7 HTTP/1.1\nHost: ads.adnet.example"
    evidence = tuple(dataclasses.replace(e, excerpt=excerpt) for e in finding.evidence)
    result = dataclasses.replace(scan_result, findings=(dataclasses.replace(finding, evidence=evidence),
                                                        *scan_result.findings[1:]))
    text = render(result)
    detail = text[text.index(f'id="finding-{finding.id}"') :]
    detail = detail[: detail.index("</details>")]
    assert detail.count('<pre class="excerpt">') == 1  # the same excerpt three times is shown once
    assert f'<pre class="excerpt">{html.escape(excerpt)}</pre>' in detail
    assert "<script>&" not in text


def test_empty_scan_still_renders(scan_result: ScanResult) -> None:
    import networkx as nx

    empty = dataclasses.replace(scan_result, findings=(), graph=nx.MultiDiGraph())
    page = parse(render(empty))
    assert "dataflow-graph" in page.ids


# --------------------------------------------------------------------------- Chromium

CHROMIUM = "/usr/bin/chromium"


def _chromium_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("privscan_test_chromium", Path(__file__).with_name("chromium.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chromium() -> str:
    if not Path(CHROMIUM).exists() and shutil.which("chromium") is None:
        pytest.skip("Chromium is not installed (make test installs Debian's: apt-get install chromium)")
    return CHROMIUM if Path(CHROMIUM).exists() else str(shutil.which("chromium"))


@pytest.mark.timeout(180)
def test_report_loads_in_chromium(chromium: str, scan_result_with_values: ScanResult, tmp_path: Path) -> None:
    cdp = _chromium_module()
    report = tmp_path / "report.html"
    report.write_text(render(scan_result_with_values), encoding="utf-8")
    # A control page with one console error: proves the test would see one.
    control = tmp_path / "control.html"
    control.write_text('<!DOCTYPE html><title>c</title><script>console.error("control")</script>', encoding="utf-8")
    with cdp.Chromium(chromium, tmp_path / "profile") as browser:
        control_session = browser.open_page(control.as_uri())
        assert any("control" in p for p in browser.problems(control_session)), "console errors are not being seen"

        session = browser.open_page(report.as_uri())
        assert browser.problems(session) == []
        assert browser.evaluate(session, "document.querySelector('svg#dataflow-graph') !== null")
        width = browser.evaluate(session, "document.querySelector('svg#dataflow-graph').getBoundingClientRect().width")
        assert width > 300, "the graph is laid out with a real size"
        nodes = browser.evaluate(session, "document.querySelectorAll('svg#dataflow-graph g.node').length")
        assert nodes > 10
        rows = browser.evaluate(session, "document.querySelectorAll('#findings .finding').length")
        assert rows == sum(1 for f in scan_result_with_values.findings if f.allowlisted is None)
        ids = browser.evaluate(session, "Array.from(document.querySelectorAll('details.finding')).map(d => d.id)")
        assert sorted(ids) == sorted(f"finding-{f.id}" for f in scan_result_with_values.findings)
        # The CSS applied (it is pinned by hash in the CSP): badges are coloured, not default black on white.
        colour = browser.evaluate(session, "getComputedStyle(document.querySelector('.sev-critical')).backgroundColor")
        assert colour == "rgb(153, 27, 27)"
        # The inline script runs (allowed by its hash): filtering hides rows.
        browser.evaluate(
            session,
            "(function(){var i=document.getElementById('filter'); i.value='geoloc';"
            "i.dispatchEvent(new Event('input')); return true;})()",
        )
        visible = browser.evaluate(
            session, "Array.from(document.querySelectorAll('#findings .finding')).filter(r => !r.hidden).length"
        )
        assert visible == 1
        # Open all / close all
        browser.evaluate(session, "document.getElementById('open-all').click()")
        assert browser.evaluate(session, "Array.from(document.querySelectorAll('#findings .finding')).every(d => d.open)")
        browser.evaluate(session, "document.getElementById('close-all').click()")
        assert not browser.evaluate(session, "Array.from(document.querySelectorAll('#findings .finding')).some(d => d.open)")
        # The graph zooms (offline, in the page's one script) and highlights what the box matches
        before = browser.evaluate(session, "document.getElementById('dataflow-graph').getBoundingClientRect().width")
        browser.evaluate(session, "document.getElementById('zoom-in').click()")
        after = browser.evaluate(session, "document.getElementById('dataflow-graph').getBoundingClientRect().width")
        assert after > before * 1.2
        browser.evaluate(session, "document.getElementById('zoom-fit').click()")
        assert browser.evaluate(session, "document.getElementById('dataflow-graph').getBoundingClientRect().width") == before
        browser.evaluate(
            session,
            "(function(){var i=document.getElementById('graph-filter'); i.value='adnet';"
            "i.dispatchEvent(new Event('input')); return true;})()",
        )
        hits = browser.evaluate(session, "document.querySelectorAll('svg#dataflow-graph g.node.hit').length")
        dimmed = browser.evaluate(session, "document.querySelectorAll('svg#dataflow-graph g.node.dim').length")
        assert hits >= 1 and dimmed > hits
        assert browser.problems(session) == []
