"""The HTML report of a scan of every public capture (../shared/captures/real), as a user sees it.

Two scans: without an inventory (every client of unknown age), and with a made-up inventory whose
child-profile pools make every private-address client a minor (so tracker contacts become
findings: the hard case, ~140 findings and ~100 hosts).  For each:

- every label in the SVG graph is either whole or cut with ``…`` at a word, label or path
  boundary (the full text is its ``data-full``), never "Mobile operator (header enri…";
- in headless Chromium at 1400 and 800 px: no console or CSP error, the page never scrolls
  sideways (``document.scrollWidth`` against the window's width), no graph label overruns its
  box (``getComputedTextLength``);
- for the minors scan (the hard case): a full-page screenshot at each width, and the page
  printed to PDF by Chromium (``Page.printToPDF``) and turned into images with ``pdftoppm``.

The screenshots and page images go to ``$PRIVSCAN_SCREENSHOTS`` when set (to look at them),
else to the test's temporary directory.  Skipped with the reason when ../shared, Chromium or
pdftoppm is absent (``make test`` installs chromium and poppler-utils).
"""

from __future__ import annotations

import base64
import importlib.util
import ipaddress
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest

from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.graph_svg import shorten
from scanner.results import ScanResult

CAPTURE_SUFFIXES = (".pcap", ".pcapng", ".cap")
BOUNDARY = re.compile(r"[\s.\-_/:,;@()]")
WIDTHS = (1400, 800)
SHOWN = "minors"  # the scan photographed and printed: the hard case (~140 findings, ~100 hosts)
SHOT_SCALE = 0.5  # full-page screenshots at half scale: readable, and a few seconds instead of many


def minors_inventory(unknown_age: ScanResult) -> str:
    """A made-up inventory: every client address the scan saw becomes a minor's device (until
    --assume-minor and child-profile pools land, this is how a user marks them)."""
    lines = ["devices:"]
    for subject in unknown_age.subjects:
        try:
            ipaddress.ip_address(subject.id)
        except ValueError:
            continue  # a MAC-named subject: not an address to list
        lines.append(f'  - {{id: "kid-{subject.id}", minor: true, ips: ["{subject.id}"]}}')
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def reports(real_captures: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[ScanResult, Path]]:
    out = tmp_path_factory.mktemp("real-html")
    paths = sorted(str(p) for p in real_captures.iterdir() if p.suffix in CAPTURE_SUFFIXES)
    unknown_age = run_scan(expand_inputs(paths), ScanSettings())
    inventory = out / "minors.yaml"
    inventory.write_text(minors_inventory(unknown_age), encoding="utf-8")
    minors = run_scan(expand_inputs(paths), ScanSettings(inventory=str(inventory)))
    assert sum(1 for s in minors.subjects if s.minor is True) >= 10, "the made-up inventory makes the clients minors"
    assert len(minors.findings) > 100 and len({f.destination.host for f in minors.findings}) > 50, "the hard case"
    made: dict[str, tuple[ScanResult, Path]] = {}
    for name, result in (("unknown-age", unknown_age), ("minors", minors)):
        page = out / f"{name}.html"
        text = get_format("html")(RenderOptions(stable=True)).render(result)
        assert isinstance(text, str)
        page.write_text(text, encoding="utf-8")
        made[name] = (result, page)
    return made


class _Labels(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.labels: list[tuple[str, str]] = []  # (full, shown)
        self._full: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "text":
            self._full = dict(attrs).get("data-full")
            if self._full is not None:
                self.labels.append((self._full, ""))

    def handle_endtag(self, tag: str) -> None:
        self._full = None

    def handle_data(self, data: str) -> None:
        if self._full is not None:
            full, shown = self.labels[-1]
            self.labels[-1] = (full, shown + data)


def label_problem(full: str, shown: str) -> str | None:
    """Why ``shown`` is not an honest short form of ``full``, or None when it is: whole, or its head
    or tail cut next to a boundary with ``…``; a label that is one token (an opaque id) may be cut
    anywhere, with ``…``."""
    if shown == full:
        return None
    one_token = BOUNDARY.search(full) is None
    if shown.endswith("…") and not shown.startswith("…"):
        kept = shown[:-1]
        if not kept or not full.startswith(kept):
            return "not a prefix of the label"
        return None if one_token or BOUNDARY.match(full[len(kept)]) else "cut mid-word"
    if shown.startswith("…") and not shown.endswith("…"):
        kept = shown[1:]
        if not kept or not full.endswith(kept):
            return "not a suffix of the label"
        return None if one_token or BOUNDARY.match(full[-len(kept) - 1]) else "cut mid-word"
    return "cut without an ellipsis"


def test_the_label_check_can_fail() -> None:
    assert label_problem("Mobile operator (header enrichment)", "Mobile operator (header enri…") == "cut mid-word"
    assert label_problem("8a755a3fef0b189d8ab5c1", "8a755a3fef0b189d8ab5") == "cut without an ellipsis"
    assert label_problem("Mobile operator (header enrichment)", "Mobile operator…") is None
    assert label_problem("a.googlesyndication.com", "…googlesyndication.com") is None
    assert label_problem("8a755a3fef0b189d8ab5c1", "8a755a3fef…") is None  # a single token: any cut
    for text in ("Mobile operator (header enrichment)", "29f684b8abc82ef05d6dfafb256bce36.safeframe.googlesyndication.com",
                 "kid-2601-647-4b02-1d20-fd05-6f66-ecce-8bc7", "device_name j*******", "x" * 80):
        for width in range(120, 320, 7):
            for tail in (False, True):
                shown = shorten(text, width, keep_tail=tail)
                assert label_problem(text, shown) is None, (text, width, tail, shown)


@pytest.mark.parametrize("name", ["unknown-age", "minors"])
def test_graph_labels_are_whole_or_cut_at_a_boundary(reports: dict[str, tuple[ScanResult, Path]], name: str) -> None:
    text = reports[name][1].read_text(encoding="utf-8")
    svg = text[text.index("<svg id=\"dataflow-graph\"") : text.index("</svg>", text.index("<svg id=\"dataflow-graph\""))]
    parser = _Labels()
    parser.feed(svg)
    assert len(parser.labels) > 20
    problems = [(full, shown, why) for full, shown in parser.labels if (why := label_problem(full, shown))]
    assert not problems, problems[:10]
    # and every in-page link of the report leads to an element of the page
    ids = set(re.findall(r' id="([^"]+)"', text))
    dangling = sorted({t for t in re.findall(r' href="#([^"]*)"', text) if t not in ids})
    assert not dangling, dangling[:10]


# --------------------------------------------------------------------------- Chromium and PDF


def _cdp() -> ModuleType:
    spec = importlib.util.spec_from_file_location("privscan_test_chromium_real", Path(__file__).with_name("chromium.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip("Chromium is not installed (make test installs Debian's: apt-get install chromium)")
    return found


@pytest.fixture(scope="module")
def pdftoppm() -> str:
    found = shutil.which("pdftoppm")
    if found is None:
        pytest.skip("pdftoppm is not installed (make test installs Debian's poppler-utils)")
    return found


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    wanted = os.environ.get("PRIVSCAN_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        return Path(wanted)
    return tmp_path_factory.mktemp("screenshots")


# For each graph label: how far it reaches past the right edge of its box (<= 0: inside).
OVERRUN = """(function () {
  var out = [];
  document.querySelectorAll("svg#dataflow-graph g.node text[data-full]").forEach(function (t) {
    var rect = t.closest("g.node").querySelector("rect");
    var right = rect.x.baseVal.value + rect.width.baseVal.value;
    var end = t.x.baseVal.getItem(0).value + t.getComputedTextLength();
    if (t.getAttribute("text-anchor") !== "end" && end > right - 2) { out.push([t.getAttribute("data-full"), end - right]); }
  });
  return out;
})()"""


@pytest.mark.timeout(120)
def test_real_report_in_chromium_screenshots_and_pdf(
    reports: dict[str, tuple[ScanResult, Path]], chromium: str, pdftoppm: str, shots: Path, tmp_path: Path
) -> None:
    cdp = _cdp()
    timings: dict[str, float] = {}
    with cdp.Chromium(chromium, tmp_path / "profile") as browser:
        for name, (_result, page) in sorted(reports.items()):
            session = browser.open_page(page.as_uri())
            for width in WIDTHS:
                browser.send("Emulation.setDeviceMetricsOverride",
                             {"width": width, "height": 1000, "deviceScaleFactor": 1, "mobile": False}, session=session)
                scroll, window = browser.evaluate(session, "[document.documentElement.scrollWidth, window.innerWidth]")
                assert scroll <= window == width, f"{name} at {width} px scrolls sideways: {scroll} > {window}"
                assert browser.evaluate(session, OVERRUN) == [], f"{name} at {width} px: labels overrun their boxes"
                if name != SHOWN:
                    continue  # the other scan: checked, not photographed (keeps the test fast)
                shot = shots / f"{name}-{width}.png"
                started = time.monotonic()
                browser.screenshot(session, shot, scale=SHOT_SCALE)
                timings[f"screenshot {name} {width}"] = time.monotonic() - started
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 50_000
            assert browser.problems(session) == []
            if name != SHOWN:
                continue
            # Print as a user does (A4, backgrounds for the severity badges), then look at the pages.
            started = time.monotonic()
            pdf = browser.send("Page.printToPDF", {"printBackground": True, "paperWidth": 8.27, "paperHeight": 11.69},
                               session=session)["data"]
            timings[f"pdf {name}"] = time.monotonic() - started
            pdf_path = shots / f"{name}.pdf"
            pdf_path.write_bytes(base64.b64decode(pdf))
            assert pdf_path.read_bytes()[:5] == b"%PDF-"
            subprocess.run([pdftoppm, "-png", "-r", "40", "-l", "4", str(pdf_path), str(shots / f"{name}-page")],
                           check=True, timeout=60)
            pages = sorted(shots.glob(f"{name}-page*.png"))
            assert 1 <= len(pages) <= 4 and all(p.stat().st_size > 2_000 for p in pages)
    print({k: round(v, 1) for k, v in timings.items()})
