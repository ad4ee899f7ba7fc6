"""``--format html``: one self-contained file an auditor or an executive opens offline in a browser.

Sections, in reading order:

1. Summary, for an executive: minors' subjects affected, organisations
   reached, identifier types exposed, the worst findings, and what to do
   first (the remediation of the rules behind the worst findings, each once);
2. all findings in one table (a small inline script filters it as you type);
3. the data-flow graph, drawn as inline SVG (``graph_svg``: a layered layout
   subjects -> identifiers -> hosts -> organisations);
4. per subject (minors first) and per organisation (with the identifiers that
   reach two or more organisations);
5. each finding in detail with its evidence table (capture, frame, time,
   flow), the rules that apply and what to do;
6. allow-listed findings with their reasons, the rules, and the scan itself:
   captures with sha256 and warnings, counters, signature files.

Self-contained: inline CSS, inline SVG, one inline script, no URL to
anything (no fonts, no CDN, no images); a Content-Security-Policy meta tag
with ``default-src 'none'`` and the hashes of the one style and the one
script makes the browser refuse anything else, so even a mistake cannot make
the report call out when opened.

Everything that comes from traffic or from the user (hosts, keys, names,
values, reasons, paths) goes through ``html.escape``.  Identifier values are
whatever the ``ScanResult`` holds: redacted previews unless the scan ran with
``--show-values``, and the report says which.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections.abc import Iterable
from typing import Any

from scanner.model import LOCAL_NETWORK_CATEGORY, Finding, RuleInfo, ScanResult, Subject
from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import (
    SEVERITIES_WORST_FIRST,
    active_findings,
    allowlisted_findings,
    app_groups,
    identifier_text,
    iso_utc,
    minor_rank,
    minor_text,
    ordered_findings,
    printable,
    rules_by_id,
    rules_in_order,
    severity_counts,
    severity_rank,
    short_time,
    stats_record,
    subject_groups,
    subjects_in_order,
    worst_severity,
)
from scanner.report.formats.graph_svg import render_svg

WORST_SHOWN = 5
ACTIONS_SHOWN = 3

CSS = """
:root { --fg: #111827; --muted: #6b7280; --line: #e5e7eb; --bg: #ffffff; --panel: #f9fafb;
  --critical: #991b1b; --high: #dc2626; --medium: #b45309; --low: #1d4ed8; --info: #4b5563; --minor: #be185d; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", sans-serif;
  color: var(--fg); background: var(--bg); }
header, main, footer { max-width: 1280px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 24px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
.muted, .meta { color: var(--muted); }
.notice { background: #fef3c7; border: 1px solid #fcd34d; padding: 8px 12px; border-radius: 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(220px, 1fr)); gap: 12px; margin: 12px 0; }
.card { background: var(--panel); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px; }
.card .big { font-size: 28px; font-weight: 700; }
.card ul { margin: 6px 0 0; padding-left: 18px; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; }
th, td { text-align: left; vertical-align: top; padding: 5px 8px; border-bottom: 1px solid var(--line); }
th { background: var(--panel); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  overflow-wrap: anywhere; }
.sev { display: inline-block; min-width: 64px; text-align: center; padding: 1px 6px; border-radius: 4px;
  color: #fff; font-size: 12px; font-weight: 700; text-transform: uppercase; }
.sev-critical { background: var(--critical); } .sev-high { background: var(--high); }
.sev-medium { background: var(--medium); } .sev-low { background: var(--low); } .sev-info { background: var(--info); }
.tag { display: inline-block; padding: 0 6px; border-radius: 4px; font-size: 12px; border: 1px solid var(--line);
  margin-right: 4px; }
.tag-minor { color: #fff; background: var(--minor); border-color: var(--minor); }
.tag-tracker { color: #9a3412; border-color: #fdba74; background: #fff7ed; }
.tag-clear { color: #991b1b; border-color: #fca5a5; background: #fef2f2; }
.tag-enc { color: #166534; border-color: #86efac; background: #f0fdf4; }
ol.actions li { margin-bottom: 8px; }
details.finding { border: 1px solid var(--line); border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
details.finding summary { cursor: pointer; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 8px 0; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.graph-wrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; background: #fff; }
svg.dataflow { max-width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg.dataflow text.column { font-weight: 700; font-size: 13px; fill: #374151; }
svg.dataflow text.left-out, svg.dataflow text.empty { fill: var(--muted); }
svg.dataflow .node rect { stroke-width: 1.2; }
svg.dataflow .org-tracker rect { stroke-width: 2; }
.legend { display: flex; flex-wrap: wrap; gap: 14px; margin: 6px 0 0; color: var(--muted); font-size: 12.5px; }
.legend svg { vertical-align: middle; }
#filter { width: 320px; max-width: 100%; padding: 5px 8px; border: 1px solid #d1d5db; border-radius: 6px; }
footer { margin-top: 40px; padding-bottom: 32px; color: var(--muted); font-size: 12.5px; }
@media print { .no-print { display: none; } details.finding { break-inside: avoid; } h2 { break-after: avoid; } }
""".strip()

# Filters the findings table as you type; no other script in the page.
SCRIPT = """
(function () {
  var input = document.getElementById("filter");
  if (!input) { return; }
  input.addEventListener("input", function () {
    var query = input.value.toLowerCase();
    var rows = document.querySelectorAll("#findings tbody tr");
    for (var i = 0; i < rows.length; i++) {
      rows[i].hidden = query !== "" && rows[i].textContent.toLowerCase().indexOf(query) < 0;
    }
  });
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


def esc(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute (control characters shown as \\xNN)."""
    return html.escape(printable("" if value is None else value), quote=True)


def _sev(severity: str) -> str:
    return f'<span class="sev sev-{esc(severity)}">{esc(severity)}</span>'


def _minor_tag(minor: bool | None) -> str:
    if minor is True:
        return '<span class="tag tag-minor">minor</span>'
    return f'<span class="tag">{esc(minor_text(minor))}</span>'


def _anchor(finding_id: str) -> str:
    return "finding-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in finding_id)


def _destination_html(finding: Finding) -> str:
    dest = finding.destination
    parts = [f'<span class="mono">{esc(dest.host)}</span>']
    if dest.org:
        parts.append(f"<br>{esc(dest.org)}")
    tags = []
    if dest.tracker:
        tags.append('<span class="tag tag-tracker">tracker</span>')
    if dest.party == "third":
        tags.append('<span class="tag">third party</span>')
    if tags:
        parts.append("<br>" + "".join(tags))
    return "".join(parts)


def _channel_html(finding: Finding) -> str:
    channel = finding.channel
    tag = (
        '<span class="tag tag-enc">encrypted</span>'
        if channel.encrypted
        else '<span class="tag tag-clear">clear text</span>'
    )
    injected = '<br><span class="tag">injected by the operator</span>' if channel.operator_injected else ""
    return f"{esc(channel.protocol)} {esc(channel.location)}<br>{tag}{injected}"


def _identifier_html(finding: Finding) -> str:
    ref = finding.identifier
    if ref is None:
        return '<span class="muted">none (contact)</span>'
    out = esc(identifier_text(finding))
    if ref.key:
        out += f'<br><span class="muted">key</span> <code>{esc(ref.key)}</code>'
    return out


_NONE = '<span class="muted">none</span>'
_NONE_CONTACT = '<span class="muted">none (contact only)</span>'


def _type_item(id_type: str, subjects: int) -> str:
    return f'<li>{esc(id_type)} <span class="muted">({subjects} subject{"s" if subjects != 1 else ""})</span></li>'


def _org_name(finding: Finding) -> str:
    dest = finding.destination
    return dest.org or dest.domain or dest.host


class HtmlReport(ReportFormat):
    name = "html"
    extensions = (".html", ".htm")
    description = "one self-contained page: summary, graph, per subject and organisation, evidence"

    def render(self, result: ScanResult) -> str:
        active = active_findings(result)
        rules = rules_by_id(result)
        body = "\n".join(
            [
                self._header(result, active),
                "<main>",
                self._summary(result, active, rules),
                self._findings_table(active),
                self._graph(result),
                self._subjects(result, active),
                self._apps(active),
                self._organisations(result),
                self._details(result),
                self._allowlisted(result),
                self._rules(result),
                self._scan(result),
                "</main>",
                "<footer>Written by privscan. Identifier values are "
                + (
                    "shown in full (--show-values): handle this file as personal data."
                    if result.show_values
                    else "redacted previews; keyed HMACs identify them across reports."
                )
                + "</footer>",
            ]
        )
        title = "privscan report: " + ", ".join(c.path.rsplit("/", 1)[-1] for c in result.captures[:3])
        if len(result.captures) > 3:
            title += f" and {len(result.captures) - 3} more"
        return (
            "<!DOCTYPE html>\n"
            '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
            f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">\n'
            '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            '<meta name="referrer" content="no-referrer">\n'
            f'<meta name="generator" content="privscan {esc(result.tool_version)}">\n'
            f"<title>{esc(title)}</title>\n<style>{STYLE_TEXT}</style>\n</head>\n<body>\n"
            f"{body}\n<script>{SCRIPT_TEXT}</script>\n</body>\n</html>\n"
        )

    # --------------------------------------------------------------------- sections

    def _header(self, result: ScanResult, active: list[Finding]) -> str:
        counts = severity_counts(active)
        badges = " ".join(f"{_sev(s)} {counts[s]}" for s in SEVERITIES_WORST_FIRST)
        captures = ", ".join(f'<span class="mono">{esc(c.path)}</span>' for c in result.captures)
        notice = ""
        if result.show_values:
            notice = (
                '<p class="notice">This report shows identifier values in full (--show-values). '
                "It is personal data about children: store and share it accordingly.</p>"
            )
        return (
            "<header>\n<h1>Children's privacy audit</h1>\n"
            f'<p class="meta">privscan {esc(result.tool_version)} · {esc(result.engine)} engine · '
            f"{len(result.captures)} capture{'s' if len(result.captures) != 1 else ''}: {captures}</p>\n"
            f"<p>{len(active)} finding{'s' if len(active) != 1 else ''}: {badges}"
            + (
                f' <span class="muted">(+ {len(result.findings) - len(active)} allow-listed)</span>'
                if len(result.findings) != len(active)
                else ""
            )
            + f"</p>\n{notice}\n</header>"
        )

    def _summary(self, result: ScanResult, active: list[Finding], rules: dict[str, RuleInfo]) -> str:
        minors = [s for s in result.subjects if s.minor is True]
        minors_affected = sorted({f.subject.id for f in active if f.subject.minor is True})
        minors_serious = sorted(
            {f.subject.id for f in active if f.subject.minor is True and severity_rank(f.severity) >= 3}
        )
        reached = [f for f in active if f.identifier is not None and (f.destination.org or f.destination.domain)]
        # Names broadcast on the local network reach whoever shares it, not a company.
        to_companies = [f for f in reached if f.destination.category != LOCAL_NETWORK_CATEGORY]
        local = any(f.destination.category == LOCAL_NETWORK_CATEGORY for f in reached)
        orgs = sorted({_org_name(f) for f in to_companies})
        tracker_orgs = sorted({_org_name(f) for f in to_companies if f.destination.tracker})
        minor_orgs = sorted({_org_name(f) for f in to_companies if f.subject.minor is True})
        types: dict[str, set[str]] = {}
        for f in reached:
            assert f.identifier is not None
            types.setdefault(f.identifier.type, set()).add(f.subject.id)

        cards = [
            '<div class="card"><div class="muted">Minors\' subjects affected</div>'
            f'<div class="big">{len(minors_affected)} <span class="muted">of {len(minors)}</span></div>'
            f"<div>{len(minors_serious)} with high or critical findings</div>"
            + (f'<div class="mono">{esc(", ".join(minors_affected))}</div>' if minors_affected else "")
            + "</div>",
            '<div class="card"><div class="muted">Organisations that received identifiers</div>'
            f'<div class="big">{len(orgs)}</div>'
            f"<div>{len(tracker_orgs)} tracker{'s' if len(tracker_orgs) != 1 else ''}; "
            f"{len(minor_orgs)} received a minor's identifier</div>"
            + (f"<ul>{''.join(f'<li>{esc(o)}</li>' for o in minor_orgs)}</ul>" if minor_orgs else "")
            + ('<div class="muted">and the local network: device names broadcast to whoever shares it</div>' if local else "")
            + "</div>",
            '<div class="card"><div class="muted">Identifier types exposed</div>'
            f'<div class="big">{len(types)}</div>'
            + (f"<ul>{''.join(_type_item(t, len(s)) for t, s in sorted(types.items()))}</ul>" if types else "")
            + "</div>",
        ]
        worst = "".join(
            f'<tr><td>{_sev(f.severity)}</td><td><a href="#{_anchor(f.id)}">{esc(f.title)}</a></td>'
            f"<td>{esc(f.subject.id)} {_minor_tag(f.subject.minor)}</td><td>{esc(identifier_text(f))}</td>"
            f"<td>{_destination_html(f)}</td></tr>"
            for f in active[:WORST_SHOWN]
        )
        worst_table = (
            "<h3>The worst findings</h3>\n<table><thead><tr><th>Severity</th><th>Finding</th><th>Subject</th>"
            f"<th>Identifier</th><th>Destination</th></tr></thead><tbody>{worst}</tbody></table>"
            if active
            else "<p>No findings: nothing left the devices that the policy flags.</p>"
        )
        return (
            '<section id="summary">\n<h2>Summary</h2>\n'
            f'<div class="cards">{"".join(cards)}</div>\n{worst_table}\n'
            f"<h3>What to do first</h3>\n{self._actions(active, rules)}\n</section>"
        )

    @staticmethod
    def _actions(active: list[Finding], rules: dict[str, RuleInfo]) -> str:
        """The remediation of the rules behind the worst findings, each rule once, worst first."""
        by_rule: dict[str, list[Finding]] = {}
        for finding in active:
            by_rule.setdefault(finding.rule, []).append(finding)
        if not by_rule:
            return "<p>Nothing to do.</p>"

        def priority(rule_id: str) -> tuple[int, int, int, str]:
            findings = by_rule[rule_id]
            minors = sum(1 for f in findings if f.subject.minor is True)
            return (-severity_rank(rules[rule_id].severity), -minors, -len(findings), rule_id)

        items = []
        for rule_id in sorted(by_rule, key=priority)[:ACTIONS_SHOWN]:
            rule = rules[rule_id]
            findings = by_rule[rule_id]
            hosts = sorted({f.destination.host for f in findings})
            subjects = sorted({f.subject.id for f in findings})
            items.append(
                f"<li>{_sev(rule.severity)} <strong>{esc(rule.remediation or rule.title)}</strong><br>"
                f'<span class="muted">{esc(rule.id)} · {esc(rule.title)} · {len(findings)} finding'
                f"{'s' if len(findings) != 1 else ''}; subjects: {esc(', '.join(subjects))}; "
                f"destinations: {esc(', '.join(hosts))}</span></li>"
            )
        return f'<ol class="actions">{"".join(items)}</ol>'

    @staticmethod
    def _finding_row(finding: Finding) -> str:
        return (
            f'<tr><td>{_sev(finding.severity)}</td><td><a href="#{_anchor(finding.id)}" class="mono">{esc(finding.id)}</a>'
            f"<br>{esc(finding.rule)}</td><td>{esc(finding.title)}</td>"
            f"<td>{esc(finding.subject.id)}<br>{_minor_tag(finding.subject.minor)}</td>"
            f"<td>{_identifier_html(finding)}</td><td>{_destination_html(finding)}</td>"
            f'<td>{_channel_html(finding)}</td><td class="num">{finding.count:,}</td>'
            f'<td class="mono">{esc(short_time(finding.first_seen))}</td></tr>'
        )

    def _findings_table(self, active: list[Finding]) -> str:
        rows = "".join(self._finding_row(f) for f in active)
        return (
            '<section id="all-findings">\n<h2>Findings</h2>\n'
            '<p class="no-print"><label>Filter: <input id="filter" type="search" '
            'placeholder="subject, host, identifier, rule…" autocomplete="off"></label></p>\n'
            '<table id="findings"><thead><tr><th>Severity</th><th>Id / rule</th><th>Finding</th><th>Subject</th>'
            '<th>Identifier</th><th>Destination</th><th>Channel</th><th class="num">Count</th><th>First seen (UTC)</th>'
            f"</tr></thead><tbody>{rows}</tbody></table>\n</section>"
        )

    @staticmethod
    def _graph(result: ScanResult) -> str:
        legend = (
            '<div class="legend">'
            '<span><svg width="26" height="12"><rect width="26" height="12" rx="3" fill="#fce7f3" stroke="#be185d"/></svg> minor</span>'
            '<span><svg width="26" height="12"><rect width="26" height="12" rx="3" fill="#fef3c7" stroke="#b45309"/></svg> age unknown</span>'
            '<span><svg width="26" height="12"><rect width="26" height="12" rx="3" fill="#f3f4f6" stroke="#6b7280"/></svg> adult / other</span>'
            '<span><svg width="26" height="12"><rect width="26" height="12" rx="3" fill="#fff7ed" stroke="#c2410c"/></svg> tracker</span>'
            '<span><svg width="30" height="12"><line x1="0" y1="6" x2="30" y2="6" stroke="#991b1b" stroke-width="3"/></svg> identifier sent (colour = severity, width = count)</span>'
            '<span><svg width="30" height="12"><line x1="0" y1="6" x2="30" y2="6" stroke="#dc2626" stroke-width="3" stroke-dasharray="5 4"/></svg> sent encrypted</span>'
            '<span><svg width="30" height="12"><line x1="0" y1="6" x2="30" y2="6" stroke="#9ca3af" stroke-width="1" stroke-dasharray="5 4"/></svg> contacted, no identifier</span>'
            '<span><svg width="30" height="12"><line x1="0" y1="6" x2="30" y2="6" stroke="#7c3aed" stroke-width="2" stroke-dasharray="5 4"/></svg> injected by the network</span>'
            "</div>"
        )
        return (
            '<section id="graph">\n<h2>Data flows</h2>\n'
            '<p class="muted">Who sent which identifier to which host, and which organisation is behind it. '
            "Hover over a box or a line for details.</p>\n"
            f'<div class="graph-wrap">\n{render_svg(result.graph)}\n</div>\n{legend}\n</section>'
        )

    @staticmethod
    def _apps(active: list[Finding]) -> str:
        """Findings by subject and app, where the traffic named the app (attribute/apps.py)."""
        groups = app_groups(active)
        if not groups:
            return ""
        rows = "".join(
            f"<tr><td>{esc(g.subject.id)} {_minor_tag(g.subject.minor)}</td><td>{esc(g.app.name or '-')}</td>"
            f'<td class="mono">{esc(g.app.id or "-")}</td><td>{esc(g.app.version or "-")}</td>'
            f'<td class="num">{len(g.findings)}</td><td>{esc(", ".join(g.id_types)) or "-"}</td>'
            f'<td class="mono">{esc(", ".join(g.hosts))}</td></tr>'
            for g in groups
        )
        return (
            '<section id="apps">\n<h2>Apps</h2>\n<p class="muted">Where the traffic says which app sent it '
            "(User-Agent, X-Requested-With, bundle or package IDs in ad requests).</p>\n"
            "<table><thead><tr><th>Subject</th><th>App</th><th>Package / bundle</th><th>Version</th>"
            '<th class="num">Findings</th><th>Identifier types</th><th>Hosts</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>\n</section>"
        )

    def _subjects(self, result: ScanResult, active: list[Finding]) -> str:
        exposure = {item.subject: item for item in result.analyses.subjects}
        groups = dict((subject.id, findings) for subject, findings in subject_groups(result, active))
        ordered: list[Subject] = sorted(
            result.subjects,
            key=lambda s: (minor_rank(s.minor), -severity_rank(worst_severity(groups.get(s.id, []))), s.id),
        )
        parts = ['<section id="subjects">\n<h2>Subjects</h2>']
        for subject in ordered:
            findings = groups.get(subject.id, [])
            item = exposure.get(subject.id)
            facts = [f"<dt>Source</dt><dd>{esc(subject.source)}</dd>"]
            if subject.pool is not None:  # the child-profile pool that gave its age
                age = f", age {subject.age}" if subject.age is not None else ""
                facts.append(f"<dt>Pool</dt><dd>{esc(subject.pool)}{age}</dd>")
            if item is not None:
                facts.append(f"<dt>Organisations reached</dt><dd>{esc(', '.join(item.orgs)) or '-'}</dd>")
                facts.append(f"<dt>Identifier types leaked</dt><dd>{esc(', '.join(item.id_types)) or '-'}</dd>")
                facts.append(f'<dt>Hosts</dt><dd class="mono">{esc(", ".join(item.hosts)) or "-"}</dd>')
            worst = worst_severity(findings)
            heading = f"{esc(subject.id)} {_minor_tag(subject.minor)}" + (f" {_sev(worst)}" if worst else "")
            rows = "".join(self._finding_row(f) for f in findings)
            table = (
                "<table><thead><tr><th>Severity</th><th>Id / rule</th><th>Finding</th><th>Subject</th><th>Identifier</th>"
                '<th>Destination</th><th>Channel</th><th class="num">Count</th><th>First seen (UTC)</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>"
                if findings
                else '<p class="muted">No findings.</p>'
            )
            parts.append(
                f'<h3 id="subject-{esc(_anchor(subject.id))}">{heading}</h3>\n'
                f'<dl class="facts">{"".join(facts)}</dl>\n{table}'
            )
        parts.append("</section>")
        return "\n".join(parts)

    @staticmethod
    def _organisations(result: ScanResult) -> str:
        orgs = sorted(result.analyses.organisations, key=lambda o: (-len(o.minor_subjects), not o.tracker, o.org))
        rows = "".join(
            f"<tr><td><strong>{esc(o.org)}</strong>"
            + ('<br><span class="tag tag-tracker">tracker</span>' if o.tracker else "")
            + f"</td><td>{esc(o.category or '-')}</td>"
            f'<td class="num">{len(o.minor_subjects)}</td><td>{esc(", ".join(o.minor_subjects)) or "-"}</td>'
            f"<td>{esc(', '.join(o.subjects))}</td><td>{esc(', '.join(o.id_types)) or _NONE_CONTACT}</td>"
            f'<td class="mono">{esc(", ".join(o.hosts))}</td></tr>'
            for o in orgs
        )
        table = (
            '<table><thead><tr><th>Organisation</th><th>Category</th><th class="num">Minors</th><th>Minors\' subjects</th>'
            "<th>All subjects</th><th>Identifier types</th><th>Hosts</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
            if orgs
            else '<p class="muted">No organisation analysis in this scan.</p>'
        )
        linkable = sorted(result.analyses.linkable, key=lambda i: (minor_rank(i.minor), i.subject, i.id_type))
        link_rows = "".join(
            f"<tr><td>{esc(i.subject)} {_minor_tag(i.minor)}</td><td>{esc(i.id_type)}</td>"
            f"<td><code>{esc(i.value_hmac[:16])}</code></td><td>{esc(', '.join(i.orgs))}</td>"
            f'<td class="mono">{esc(", ".join(i.hosts))}</td></tr>'
            for i in linkable
        )
        link_table = (
            "<h3>Identifiers that reach two or more organisations</h3>\n"
            '<p class="muted">The same identifier at several companies lets them join what each knows '
            "(cross-service profiling).</p>\n"
            "<table><thead><tr><th>Subject</th><th>Identifier type</th><th>HMAC</th><th>Organisations</th>"
            f"<th>Hosts</th></tr></thead><tbody>{link_rows}</tbody></table>"
            if linkable
            else ""
        )
        unknown_rows = "".join(
            f'<tr><td><strong>{esc(u.domain)}</strong></td><td>{esc(u.party)}</td><td class="num">{u.minor_subjects}</td>'
            f'<td class="num">{u.subjects}</td><td>{esc(", ".join(u.identifier_types))}</td>'
            f'<td class="mono">{esc(", ".join(u.hosts))}</td></tr>'
            for u in result.unknown_destinations
        )
        unknown_table = (
            "<h3>Unknown destinations that received identifiers</h3>\n"
            '<p class="muted">No tracker list names these: classify them (add them to a tracker list with '
            "--trackers, or to the inventory's first_party when they are the subject's own service).</p>\n"
            '<table><thead><tr><th>Domain</th><th>Party</th><th class="num">Minors</th><th class="num">Subjects</th>'
            f"<th>Identifier types</th><th>Hosts</th></tr></thead><tbody>{unknown_rows}</tbody></table>"
            if result.unknown_destinations
            else ""
        )
        unknown_part = f"{unknown_table}\n" if unknown_table else ""
        return f'<section id="organisations">\n<h2>Organisations</h2>\n{table}\n{link_table}\n{unknown_part}</section>'

    def _details(self, result: ScanResult) -> str:
        parts = ['<section id="details">\n<h2>Finding details and evidence</h2>']
        for finding in ordered_findings(result.findings):
            parts.append(self._detail(finding))
        parts.append("</section>")
        return "\n".join(parts)

    @staticmethod
    def _detail(finding: Finding) -> str:
        ref = finding.identifier
        dest = finding.destination
        facts: list[tuple[str, str]] = [
            ("Finding id", f"<code>{esc(finding.id)}</code>"),
            (
                "Subject",
                f"{esc(finding.subject.id)} {_minor_tag(finding.subject.minor)} "
                f'<span class="muted">({esc(finding.subject.source)})</span>',
            ),
        ]
        if ref is not None:
            facts += [
                (
                    "Identifier",
                    f"{esc(ref.type)}, encoded {esc(ref.encoding)}"
                    + (f", key <code>{esc(ref.key)}</code>" if ref.key else ""),
                ),
                (
                    "Value",
                    f"<code>{esc(ref.value)}</code>"
                    + (f' <span class="muted">({esc(ref.note)})</span>' if ref.note else ""),
                ),
                ("Value HMAC", f"<code>{esc(ref.value_hmac)}</code>"),
            ]
            if len(ref.keys) > 1:
                facts.append(("Keys", ", ".join(f"<code>{esc(k)}</code>" for k in ref.keys)))
            if len(ref.values) > 1:
                # Two identifiers to one host are one finding, never shown as one value.
                facts.append((
                    f"All {len(ref.values)} values",
                    "<br>".join(
                        f"<code>{esc(v.value)}</code> <span class=\"muted\">under {esc(', '.join(v.keys) or '-')}</span>"
                        for v in ref.values
                    ),
                ))
        else:
            facts.append(("Identifier", '<span class="muted">none: the device contacted the destination</span>'))
        facts += [
            (
                "Destination",
                f'<span class="mono">{esc(dest.host)}</span>'
                + (f" ({esc(dest.ip)}{':' + esc(dest.port) if dest.port is not None else ''})" if dest.ip else "")
                + f"<br>domain {esc(dest.domain or '-')}, organisation {esc(dest.org or '-')}, "
                f"category {esc(dest.category or '-')}, {'tracker' if dest.tracker else 'not a known tracker'}, "
                f"{esc(dest.party)} party",
            ),
            ("Channel", _channel_html(finding)),
            (
                "Seen",
                f"{finding.count:,} time{'s' if finding.count != 1 else ''}, "
                f"{esc(iso_utc(finding.first_seen))} to {esc(iso_utc(finding.last_seen))}",
            ),
            (
                "Rules",
                "<br>".join(f"{_sev(m.severity)} {esc(m.rule)} {esc(m.title)}" for m in finding.rules)
                or f"{esc(finding.rule)}",
            ),
            ("What to do", esc(finding.remediation)),
            ("Regulations", esc("; ".join(finding.regulations)) or "-"),
        ]
        if finding.allowlisted is not None:
            facts.append(("Allow-listed", f"<strong>{esc(finding.allowlisted)}</strong>"))
        if finding.rules_allowlisted:
            facts.append(
                ("Rules accepted", "<br>".join(f"{esc(rule)}: {esc(reason)}" for rule, reason in finding.rules_allowlisted))
            )
        evidence_rows = "".join(
            f'<tr><td class="mono">{esc(e.capture)}</td><td class="num">{e.frame}</td>'
            f'<td class="mono">{esc(iso_utc(e.ts))}</td>'
            f'<td class="mono">{esc(e.flow.proto)} {esc(e.flow.src)}:{e.flow.sport} → {esc(e.flow.dst)}:{e.flow.dport}</td></tr>'
            for e in finding.evidence
        )
        more = finding.count - len(finding.evidence)
        evidence = (
            '<table class="evidence"><thead><tr><th>Capture</th><th class="num">Frame</th><th>Time (UTC)</th>'
            f"<th>Flow</th></tr></thead><tbody>{evidence_rows}</tbody></table>"
            + (
                f'<p class="muted">{more} more occurrence{"s" if more != 1 else ""} not listed (evidence is bounded).</p>'
                if more > 0
                else ""
            )
            + '<p class="muted">Open the capture in Wireshark and go to the frame (Ctrl+G).</p>'
        )
        open_attr = " open" if severity_rank(finding.severity) >= 3 and finding.allowlisted is None else ""
        return (
            f'<details class="finding" id="{esc(_anchor(finding.id))}"{open_attr}>'
            f"<summary>{_sev(finding.severity)} <strong>{esc(finding.title)}</strong> · {esc(finding.subject.id)} → "
            f'{esc(dest.host)} <span class="muted mono">{esc(finding.id)}</span></summary>'
            f'<dl class="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)}</dl>{evidence}</details>'
        )

    @staticmethod
    def _allowlisted(result: ScanResult) -> str:
        allowed = allowlisted_findings(result)
        if not allowed:
            return '<section id="allowlisted">\n<h2>Allow-listed findings</h2>\n<p class="muted">None.</p>\n</section>'
        rows = "".join(
            f'<tr><td>{_sev(f.severity)}</td><td><a href="#{_anchor(f.id)}" class="mono">{esc(f.id)}</a><br>{esc(f.rule)}</td>'
            f"<td>{esc(f.subject.id)} {_minor_tag(f.subject.minor)}</td><td>{esc(identifier_text(f))}</td>"
            f"<td>{_destination_html(f)}</td><td><strong>{esc(f.allowlisted)}</strong></td></tr>"
            for f in allowed
        )
        return (
            '<section id="allowlisted">\n<h2>Allow-listed findings</h2>\n'
            '<p class="muted">Accepted by the operator (first party, contracted processor, accepted risk): '
            "not counted above and never failing a run, but listed so the acceptance can be reviewed.</p>\n"
            "<table><thead><tr><th>Severity</th><th>Id / rule</th><th>Subject</th><th>Identifier</th>"
            f"<th>Destination</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table>\n</section>"
        )

    @staticmethod
    def _rules(result: ScanResult) -> str:
        rows = "".join(
            f'<tr id="rule-{esc(_anchor(r.id))}"><td>{_sev(r.severity)}</td><td class="mono">{esc(r.id)}</td>'
            f"<td><strong>{esc(r.title)}</strong><br>{esc(r.rationale)}</td><td>{esc(r.remediation)}</td>"
            f"<td>{esc('; '.join(r.regulations))}</td></tr>"
            for r in rules_in_order(result)
        )
        return (
            '<section id="rules">\n<h2>Rules</h2>\n<table><thead><tr><th>Severity</th><th>Rule</th><th>What and why</th>'
            f"<th>What to do</th><th>Regulations</th></tr></thead><tbody>{rows}</tbody></table>\n</section>"
        )

    def _scan(self, result: ScanResult) -> str:
        capture_rows = "".join(
            f'<tr><td class="mono">{esc(c.path)}</td><td>{esc(c.format or "-")}</td><td class="num">{c.packets:,}</td>'
            f'<td class="num">{c.bytes:,}</td><td class="mono">{esc(iso_utc(c.first_ts))}<br>{esc(iso_utc(c.last_ts))}</td>'
            f"<td><code>{esc(c.sha256 or '-')}</code></td>"
            f"<td>{'<br>'.join(esc(w) for w in c.warnings) or _NONE}</td></tr>"
            for c in result.captures
        )
        stats = stats_record(result, stable=self.options.is_stable)
        stat_rows = "".join(
            f'<tr><td>{esc(k)}</td><td class="num">{esc(self._stat(v))}</td></tr>' for k, v in sorted(stats.items())
        )
        signature_rows = "".join(
            f'<tr><td class="mono">{esc(s.path)}</td><td><code>{esc(s.sha256)}</code></td></tr>'
            for s in sorted(result.signatures, key=lambda s: s.path)
        )
        warnings = "".join(f"<li>{esc(w)}</li>" for w in result.warnings)
        subjects = "".join(
            f"<tr><td>{esc(s.id)}</td><td>{_minor_tag(s.minor)}</td><td>{esc(s.source)}</td></tr>"
            for s in subjects_in_order(result)
        )
        return (
            '<section id="scan">\n<h2>The scan</h2>\n<h3>Captures</h3>\n'
            '<table><thead><tr><th>Capture</th><th>Format</th><th class="num">Packets</th><th class="num">Bytes</th>'
            "<th>First / last packet (UTC)</th><th>SHA-256</th><th>Warnings</th></tr></thead>"
            f"<tbody>{capture_rows}</tbody></table>\n"
            + (f"<h3>Warnings</h3>\n<ul>{warnings}</ul>\n" if warnings else "")
            + "<h3>Subjects</h3>\n<table><thead><tr><th>Subject</th><th>Age</th><th>Known from</th></tr></thead>"
            f"<tbody>{subjects}</tbody></table>\n"
            '<h3>Counters</h3>\n<table><thead><tr><th>Counter</th><th class="num">Value</th></tr></thead>'
            f"<tbody>{stat_rows}</tbody></table>\n"
            f'<h3>Signature files</h3>\n<p class="muted">Engine: {esc(result.engine)}; HMAC key id: '
            f"<code>{esc(result.hmac_key_id or '-')}</code></p>\n"
            "<table><thead><tr><th>File</th><th>SHA-256</th></tr></thead>"
            f"<tbody>{signature_rows}</tbody></table>\n</section>"
        )

    @staticmethod
    def _stat(value: Any) -> str:
        if value is None:
            return "-"
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, int):
            return f"{value:,}"
        if isinstance(value, float):
            return f"{value:,.3f}"
        if isinstance(value, dict):
            return ", ".join(f"{k}: {HtmlReport._stat(v)}" for k, v in sorted(value.items()))
        if isinstance(value, Iterable) and not isinstance(value, str):
            return ", ".join(HtmlReport._stat(v) for v in value)
        return str(value)
