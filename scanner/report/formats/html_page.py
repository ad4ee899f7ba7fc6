"""The HTML report's style sheet and script, and the Content-Security-Policy that allows exactly
them (by hash: no inline code beyond these, nothing fetched).  Not a format itself: it declares none.
"""

from __future__ import annotations

import base64
import hashlib

CSS = """
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff; --panel: #f9fafb;
  --critical: #991b1b; --high: #dc2626; --medium: #b45309; --low: #1d4ed8; --info: #4b5563; --minor: #be185d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header, main, footer, nav { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
a { color: #1d4ed8; }
nav { margin-top: 10px; font-size: 13px; }
nav a { margin-right: 14px; }
.muted, .meta { color: var(--muted); }
.notice { background: #fef3c7; border: 1px solid #fcd34d; padding: 8px 12px; border-radius: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 12px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; min-width: 0; }
.card .big { font-size: 28px; font-weight: 700; }
.card ul { margin: 6px 0 0; padding-left: 18px; }
.table-wrap { overflow-x: auto; margin: 8px 0 16px; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; }
tbody th.group { background: #eef2ff; font-size: 13px; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px; }
.nowrap { white-space: nowrap; }
code.hash { word-break: break-all; }  /* a digest has no words: it may break anywhere */
.sev { display: inline-block; min-width: 64px; text-align: center; padding: 1px 6px; border-radius: 4px;
  color: #fff; font-size: 12px; font-weight: 700; text-transform: uppercase; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); } .sev-low { background: var(--low); } .sev-info { background: var(--info); }
a.badge { text-decoration: none; color: inherit; margin-right: 10px; white-space: nowrap; }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; border: 1px solid var(--line);
  margin-right: 4px; white-space: nowrap; }
.tag-minor { color: #fff; background: var(--minor); border-color: var(--minor); }
.tag-tracker { color: #9a3412; border-color: #fdba74; background: #fff7ed; }
.tag-clear { color: #991b1b; border-color: #fca5a5; background: #fef2f2; }
.tag-enc { color: #166534; border-color: #86efac; background: #f0fdf4; }
ol.actions li { margin-bottom: 10px; }
.finding { border: 1px solid var(--line); border-radius: 8px; margin: 6px 0; background: #fff; }
.finding > summary { cursor: pointer; padding: 6px 10px; display: grid; gap: 2px 12px; align-items: start;
  grid-template-columns: 78px minmax(0, 3fr) minmax(0, 2fr) minmax(0, 1.3fr) 56px; }
.finding > summary::-webkit-details-marker { display: none; }
.finding[open] > summary { border-bottom: 1px solid var(--line); background: var(--panel); border-radius: 8px 8px 0 0; }
.finding .body { padding: 8px 12px; }
.finding .who { color: var(--muted); }
.finding .count { text-align: right; font-variant-numeric: tabular-nums; }
details.group { border: 1px dashed #d1d5db; border-radius: 8px; padding: 6px 10px; margin: 10px 0; }
details.group > summary { cursor: pointer; font-weight: 600; }
dl.facts { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; min-width: 0; }
pre.excerpt { white-space: pre-wrap; overflow-wrap: anywhere; background: #f8fafc; border: 1px solid var(--line);
  border-radius: 6px; padding: 6px 8px; margin: 4px 0; font-size: 12px; }
.toolbar { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin: 6px 0; }
.toolbar button, #all-findings button { font: inherit; padding: 2px 10px; border: 1px solid #d1d5db; border-radius: 6px; background: #fff; cursor: pointer; }
.graph-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fff; }
svg.dataflow { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.dataflow.zoomed { width: auto; max-width: none; }
svg.dataflow text.column { font-weight: 700; font-size: 13px; fill: #374151; }
svg.dataflow text.group { font-weight: 700; fill: #4338ca; }
svg.dataflow text.org-name { font-weight: 600; }
svg.dataflow text.host-name, svg.dataflow text.more { font-family: ui-monospace, Menlo, Consolas, monospace; font-size: 10.5px; }
svg.dataflow text.more, svg.dataflow text.left-out, svg.dataflow text.empty { fill: var(--muted); }
svg.dataflow .node rect { stroke-width: 1.2; }
svg.dataflow .org-tracker > rect { stroke-width: 2; }
svg.dataflow .dim { opacity: 0.15; }
svg.dataflow .hit > rect { stroke-width: 3; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0 0; color: var(--muted); font-size: 12.5px; }
.legend svg { vertical-align: middle; }
input[type=search] { width: 320px; max-width: 100%; padding: 5px 8px; border: 1px solid #d1d5db; border-radius: 6px; }
footer { margin-top: 40px; padding-bottom: 32px; color: var(--muted); font-size: 12.5px; }
@media (max-width: 900px) {
  header, main, footer, nav { padding: 0 12px; }
  .finding > summary { grid-template-columns: 78px minmax(0, 1fr) 48px; }
  .finding > summary .ident, .finding > summary .chan { grid-column: 2 / 3; }
}
@media print {
  .no-print { display: none !important; }
  body { font-size: 11px; }
  header, main, footer { max-width: none; padding: 0; }
  .finding > summary, tr, .card, dl.facts, pre.excerpt { break-inside: avoid; }  /* a finding may span pages */
  h2, h3 { break-after: avoid; }
  .graph-wrap { overflow: visible; max-height: none; border: 0; padding: 0; }
  svg.dataflow, svg.dataflow.zoomed { width: 100%; height: auto; }
  .table-wrap { overflow: visible; }
  a { color: inherit; text-decoration: none; }
  pre.excerpt { font-size: 9.5px; }
  code, .mono { font-size: 10px; }
}
""".strip()

# The page's one script: the findings filter, subject/rule links that filter, and the graph's
# zoom and highlight.  Allowed by its hash in the CSP; the page reads fine without it.
SCRIPT = """
(function () {
  var input = document.getElementById("filter");
  var info = document.getElementById("sev-info");
  function filter(query) {
    query = query.toLowerCase();
    var items = document.querySelectorAll("#findings .finding");
    var shown = 0;
    for (var i = 0; i < items.length; i++) {
      var hit = query === "" || items[i].getAttribute("data-search").indexOf(query) >= 0;
      items[i].hidden = !hit;
      if (hit) { shown++; }
    }
    if (info && query !== "") { info.open = true; }
    var count = document.getElementById("filter-count");
    if (count) { count.textContent = query === "" ? "" : shown + " shown"; }
  }
  if (input) {
    input.addEventListener("input", function () { filter(input.value); });
    var links = document.querySelectorAll("a[data-filter]");
    for (var j = 0; j < links.length; j++) {
      links[j].addEventListener("click", function (event) {
        input.value = event.currentTarget.getAttribute("data-filter");
        filter(input.value);
      });
    }
  }
  function openAll(open, withInfo) {
    var items = document.querySelectorAll("#findings .finding");
    for (var i = 0; i < items.length; i++) {
      if (withInfo || !info || !info.contains(items[i])) { items[i].open = open; }
    }
  }
  var openButton = document.getElementById("open-all");
  if (openButton) { openButton.addEventListener("click", function () { openAll(true, true); }); }
  var closeButton = document.getElementById("close-all");
  if (closeButton) { closeButton.addEventListener("click", function () { openAll(false, true); }); }
  // On paper every finding above INFO shows its evidence; INFO stays one closed line.
  window.addEventListener("beforeprint", function () { openAll(true, false); });
  var svg = document.getElementById("dataflow-graph");
  if (!svg) { return; }
  var natural = parseFloat(svg.getAttribute("width"));
  var ratio = parseFloat(svg.getAttribute("height")) / natural;
  var zoom = 0;
  function setZoom(next) {
    zoom = next;
    if (zoom === 0) { svg.classList.remove("zoomed"); return; }
    svg.classList.add("zoomed");
    svg.setAttribute("width", String(natural * zoom));
    svg.setAttribute("height", String(natural * zoom * ratio));
  }
  function current() { return zoom === 0 ? svg.getBoundingClientRect().width / natural : zoom; }
  var buttons = { "zoom-in": function () { setZoom(current() * 1.25); },
                  "zoom-out": function () { setZoom(Math.max(0.2, current() / 1.25)); },
                  "zoom-fit": function () { setZoom(0); } };
  Object.keys(buttons).forEach(function (id) {
    var button = document.getElementById(id);
    if (button) { button.addEventListener("click", buttons[id]); }
  });
  var highlight = document.getElementById("graph-filter");
  if (highlight) {
    highlight.addEventListener("input", function () {
      var query = highlight.value.toLowerCase();
      var nodes = svg.querySelectorAll("g.node");
      var hits = {};
      for (var i = 0; i < nodes.length; i++) {
        var hit = query !== "" && nodes[i].getAttribute("data-search").indexOf(query) >= 0;
        nodes[i].classList.toggle("dim", query !== "" && !hit);
        nodes[i].classList.toggle("hit", hit);
        if (hit) { hits[nodes[i].getAttribute("data-id")] = true; }
      }
      var paths = svg.querySelectorAll("g.edges path");
      for (var k = 0; k < paths.length; k++) {
        var ends = paths[k].getAttribute("data-ends").split(" ");
        paths[k].classList.toggle("dim", query !== "" && !hits[ends[0]] && !hits[ends[1]]);
      }
    });
  }
})();
""".strip()


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


# The exact text of the <style> and <script> elements: their CSP hashes cover every character.
STYLE_TEXT = "\n" + CSS + "\n"
SCRIPT_TEXT = "\n" + SCRIPT + "\n"
CSP = (
    f"default-src 'none'; style-src {_csp_hash(STYLE_TEXT)}; script-src {_csp_hash(SCRIPT_TEXT)}; "
    "img-src data:; base-uri 'none'; form-action 'none'"
)
