"""``--format html``: one self-contained file an executive reads in a minute and an engineer works from.

Sections, in reading order:

1. Summary, for an executive: how many of the children's devices and
   subscriptions have findings, the organisations that received their
   identifiers, the identifier types exposed, the worst findings (never
   padded with INFO rows) and what to do first (the remediation of the worst
   rules, each once, its findings summarised by organisation with a link to
   them, never a wall of host names);
2. the findings, each once: worst severity first, one ``<details>`` per
   finding whose summary line is the row of an index and whose body is the
   evidence (capture, frame, time, flow, a Wireshark display filter for the
   frame and for the flow, the redacted request excerpt), the rules that
   apply and what to do.  INFO findings sit in a group of their own, closed,
   so they never bury the CRITICAL ones; a filter box narrows the list;
3. the data-flow graph (``graph_svg``): subjects -> identifiers ->
   organisations that list their hosts, organisations grouped by category;
   zoom buttons and a highlight box (offline, in the page's one script);
4. subjects and organisations as tables that link to the findings;
5. allow-listed findings with their reasons, the rules, and the scan itself:
   captures with sha256 and warnings, counters, signature files.

Self-contained: inline CSS, inline SVG, one inline script, no URL to
anything (no fonts, no CDN, no images); a Content-Security-Policy meta tag
with ``default-src 'none'`` and the hashes of the one style and the one
script makes the browser refuse anything else, so even a mistake cannot make
the report call out when opened.

Prints to PDF: a print style sheet hides the controls, keeps the INFO group
closed, opens nothing by hover, and keeps rows and findings whole on a page.
Wide tables scroll inside their own box on a narrow screen, so the page
itself never scrolls sideways; host names break only at their dots.

Everything that comes from traffic or from the user (hosts, keys, names,
values, reasons, paths, excerpts) goes through ``html.escape``.  Identifier
values are whatever the ``ScanResult`` holds: redacted previews unless the
scan ran with ``--show-values``, and the report says which; request excerpts
are always redacted (they are made so at detection time).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from scanner.model import LOCAL_NETWORK_CATEGORY, Finding, Subject
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
    rules_by_id,
    rules_in_order,
    severity_counts,
    severity_rank,
    short_time,
    stats_record,
    worst_severity,
)
from scanner.report.formats.graph_svg import anchor_id, category_title, render_svg
from scanner.report.formats.html_page import CSP, SCRIPT_TEXT, STYLE_TEXT
from scanner.report.formats.html_parts import (
    _NONE,
    _NONE_CONTACT,
    NAMES_SHOWN,
    _anchor,
    _app_text,
    _channel_tags,
    _destination_marks,
    _hosts_cell,
    _identifier_html,
    _minor_tag,
    _names,
    _org_link,
    _org_name,
    _plural,
    _pool_html,
    _sev,
    _subject_link,
    _subject_name,
    _wrap,
    breakable,
    esc,
    evidence_html,
)
from scanner.results import RuleInfo, ScanResult

WORST_SHOWN = 5
ACTIONS_SHOWN = 3
INFO_RANK = 0  # severity_rank("info")
CAPTURES_LISTED = 12  # more captures than this: those without warnings fold away

class HtmlReport(ReportFormat):
    name = "html"
    extensions = (".html", ".htm")
    description = "one self-contained page: summary, findings with evidence, graph, subjects and organisations"

    def render(self, result: ScanResult) -> str:
        # The organisations the Organisations table lists: only those are linked to.
        self._orgs = frozenset(o.org for o in result.analyses.organisations)
        active = active_findings(result)
        rules = rules_by_id(result)
        body = "\n".join(
            [
                self._header(result, active),
                self._nav(),
                "<main>",
                self._summary(result, active, rules),
                self._findings(result, active),
                self._graph(result),
                self._subjects(result, active),
                self._apps(active),
                self._organisations(result),
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
                + " Request excerpts are always redacted.</footer>",
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

    _orgs: frozenset[str] = frozenset()

    def _org(self, name: str) -> str:
        return _org_link(name, self._orgs)

    # --------------------------------------------------------------------- header

    def _header(self, result: ScanResult, active: list[Finding]) -> str:
        counts = severity_counts(active)
        badges = " ".join(
            f'<a class="badge" href="#sev-{esc(s)}">{_sev(s)} {counts[s]:,}</a>' if counts[s] else
            f'<span class="badge">{_sev(s)} 0</span>'
            for s in SEVERITIES_WORST_FIRST
        )
        names = [c.path.rsplit("/", 1)[-1] for c in result.captures]
        captures = ", ".join(f'<span class="mono">{breakable(n)}</span>' for n in names[:3])
        if len(names) > 3:
            captures += f' and <a href="#scan">{len(names) - 3:,} more</a>'
        firsts = [c.first_ts for c in result.captures if c.first_ts is not None]
        lasts = [c.last_ts for c in result.captures if c.last_ts is not None]
        span = (
            f" · traffic from {esc(short_time(min(firsts)))} to {esc(short_time(max(lasts)))}"
            if firsts and lasts and len(result.captures) <= 3
            else ""
        )
        notice = ""
        if result.show_values:
            notice = (
                '<p class="notice">This report shows identifier values in full (--show-values). '
                "It is personal data about children: store and share it accordingly.</p>"
            )
        allowed = len(result.findings) - len(active)
        return (
            "<header>\n<h1>Children's privacy audit</h1>\n"
            f'<p class="meta">privscan {esc(result.tool_version)} · {esc(result.engine)} engine · '
            f"{_plural(len(result.captures), 'capture')}: {captures}{span}</p>\n"
            f"<p>{_plural(len(active), 'finding')}: {badges}"
            + (f' <a class="muted" href="#allowlisted">(+ {allowed:,} allow-listed)</a>' if allowed else "")
            + f"</p>\n{notice}\n</header>"
        )

    @staticmethod
    def _nav() -> str:
        links = [("summary", "Summary"), ("all-findings", "Findings"), ("graph", "Data flows"), ("subjects", "Subjects"),
                 ("organisations", "Organisations"), ("rules", "Rules"), ("scan", "The scan")]
        return '<nav class="no-print">' + "".join(f'<a href="#{k}">{v}</a>' for k, v in links) + "</nav>"

    # --------------------------------------------------------------------- summary

    def _summary(self, result: ScanResult, active: list[Finding], rules: dict[str, RuleInfo]) -> str:
        minors = [s for s in result.subjects if s.minor is True]
        unknown = [s for s in result.subjects if s.minor is None]
        minors_affected = sorted({f.subject.id for f in active if f.subject.minor is True})
        minors_serious = {f.subject.id for f in active if f.subject.minor is True and severity_rank(f.severity) >= 3}
        reached = [f for f in active if f.identifier is not None and (f.destination.org or f.destination.domain)]
        # Names broadcast on the local network reach whoever shares it, not a company.
        to_companies = [f for f in reached if f.destination.category != LOCAL_NETWORK_CATEGORY]
        local = any(f.destination.category == LOCAL_NETWORK_CATEGORY for f in reached)
        orgs = sorted({_org_name(f) for f in to_companies})
        tracker_orgs = {_org_name(f) for f in to_companies if f.destination.tracker}
        minor_orgs = sorted({_org_name(f) for f in to_companies if f.subject.minor is True})
        types: dict[str, set[str]] = {}
        for f in reached:
            assert f.identifier is not None
            types.setdefault(f.identifier.type, set()).add(f.subject.id)

        if minors:
            children = (
                '<div class="card"><div class="muted">Children with findings</div>'
                f'<div class="big">{len(minors_affected):,}</div>'
                f"<div>of the {_plural(len(minors), 'subject')} known to be minors"
                f" ({len(minors_affected):,} with findings, {len(minors_serious):,} of them high or critical)</div>"
                + (f"<div>{_names(minors_affected, _subject_link, '#subjects')}</div>" if minors_affected else "")
                + "</div>"
            )
        else:
            children = (
                '<div class="card"><div class="muted">Children with findings</div>'
                '<div class="big">-</div>'
                "<div>No subject is known to be a minor: give an inventory, a subscriber list or child-profile "
                f"pools to tell. {_plural(len(unknown), 'subject')} of unknown age.</div></div>"
            )
        # Organisations that received a minor's identifier first: those are the ones to act on.
        ranked_orgs = minor_orgs + [o for o in orgs if o not in minor_orgs]
        cards = [
            children,
            '<div class="card"><div class="muted">Organisations that received identifiers</div>'
            f'<div class="big">{len(orgs):,}</div>'
            f"<div>{_plural(len(tracker_orgs), 'tracker')}; {len(minor_orgs):,} received a minor's identifier</div>"
            + (
                f"<ul>{''.join(f'<li>{_org_link(o, self._orgs)}</li>' for o in ranked_orgs[:NAMES_SHOWN])}</ul>"
                if ranked_orgs
                else ""
            )
            + (
                f'<div><a href="#organisations">and {len(ranked_orgs) - NAMES_SHOWN:,} more</a></div>'
                if len(ranked_orgs) > NAMES_SHOWN
                else ""
            )
            + ('<div class="muted">and the local network: device names broadcast to whoever shares it</div>' if local else "")
            + "</div>",
            '<div class="card"><div class="muted">Identifier types exposed</div>'
            f'<div class="big">{len(types):,}</div>'
            + (
                "<ul>"
                + "".join(
                    f'<li>{esc(t)} <span class="muted">({_plural(len(s), "subject")})</span></li>'
                    for t, s in sorted(types.items())
                )
                + "</ul>"
                if types
                else ""
            )
            + "</div>",
        ]
        return (
            '<section id="summary">\n<h2>Summary</h2>\n'
            f'<div class="cards">{"".join(cards)}</div>\n{self._worst(active)}\n'
            f"<h3>What to do first</h3>\n{self._actions(active, rules)}\n</section>"
        )

    @staticmethod
    def _worst(active: list[Finding]) -> str:
        """The worst findings above INFO (never padded with INFO rows), with a link to the rest."""
        serious = [f for f in active if severity_rank(f.severity) > INFO_RANK]
        if not active:
            return "<h3>The worst findings</h3>\n<p>No findings: nothing left the devices that the policy flags.</p>"
        if not serious:
            return (
                "<h3>The worst findings</h3>\n"
                f'<p>No finding above INFO. <a href="#sev-info">{_plural(len(active), "informational finding")}</a>: '
                "contacts with trackers and identifiers the policy does not flag.</p>"
            )
        rows = "".join(
            f'<tr><td>{_sev(f.severity)}</td><td><a href="#{esc(_anchor(f.id))}">{esc(f.title)}</a></td>'
            f"<td>{_subject_link(f.subject)} {_minor_tag(f.subject.minor)}</td><td>{esc(identifier_text(f))}</td>"
            f'<td><span class="mono">{breakable(f.destination.host)}</span>'
            + (f"<br>{esc(f.destination.org)}" if f.destination.org and f.destination.org != f.destination.host else "")
            + f" {_destination_marks(f)}</td></tr>"
            for f in serious[:WORST_SHOWN]
        )
        more = len(serious) - WORST_SHOWN
        return (
            "<h3>The worst findings</h3>\n"
            + _wrap(
                "<table><thead><tr><th>Severity</th><th>Finding</th><th>Subject</th><th>Identifier</th>"
                f"<th>Destination</th></tr></thead><tbody>{rows}</tbody></table>"
            )
            + (
                f'<p><a href="#all-findings">{_plural(more, "more finding")} above INFO</a></p>'
                if more > 0
                else ""
            )
        )

    @staticmethod
    def _actions(active: list[Finding], rules: dict[str, RuleInfo]) -> str:
        """The remediation of the rules behind the worst findings, each rule once, worst first; the
        findings summarised (subjects, organisations), never listed host by host."""
        by_rule: dict[str, list[Finding]] = {}
        for finding in active:
            by_rule.setdefault(finding.rule, []).append(finding)
        if not by_rule:
            return "<p>Nothing to do.</p>"

        def priority(rule_id: str) -> tuple[int, int, int, str]:
            findings = by_rule[rule_id]
            minors = sum(1 for f in findings if f.subject.minor is True)
            return (-severity_rank(rules[rule_id].severity), -minors, -len(findings), rule_id)

        ordered = sorted(by_rule, key=priority)
        above_info = [r for r in ordered if severity_rank(rules[r].severity) > INFO_RANK]
        items = []
        for rule_id in (above_info or ordered)[:ACTIONS_SHOWN]:
            rule = rules[rule_id]
            findings = by_rule[rule_id]
            subjects = sorted({f.subject.id for f in findings})
            minors = {f.subject.id for f in findings if f.subject.minor is True}
            hosts = {f.destination.host for f in findings}
            org_counts: dict[str, int] = {}
            for f in findings:
                org_counts[_org_name(f)] = org_counts.get(_org_name(f), 0) + 1
            org_names = sorted(org_counts, key=lambda o: (-org_counts[o], o))
            who = (
                f"{_plural(len(subjects), 'subject')}"
                + (f" ({len(minors):,} {'a minor' if len(minors) == 1 and len(subjects) == 1 else 'minors'})" if minors else "")
                + f", {_plural(len(hosts), 'host')} of "
                + _names(org_names, esc, "#organisations", 4)
            )
            items.append(
                f"<li>{_sev(rule.severity)} <strong>{esc(rule.remediation or rule.title)}</strong><br>"
                f'<span class="muted"><a href="#{esc(anchor_id("rule", rule.id))}">{esc(rule.id)}</a> · '
                f"{esc(rule.title)} · "
                f'<a href="#all-findings" data-filter="{esc(rule.id)}">{_plural(len(findings), "finding")}</a>: '
                f"{who}</span></li>"
            )
        rest = len(above_info or ordered) - ACTIONS_SHOWN
        more = f'<p class="muted">{_plural(rest, "more rule")} with findings: see <a href="#rules">Rules</a>.</p>' if rest > 0 else ""
        return f'<ol class="actions">{"".join(items)}</ol>{more}'

    # --------------------------------------------------------------------- findings

    def _findings(self, result: ScanResult, active: list[Finding]) -> str:
        parts = [
            '<section id="all-findings">\n<h2>Findings</h2>',
            '<p class="no-print toolbar"><label>Filter: <input id="filter" type="search" '
            'placeholder="subject, host, organisation, identifier, rule…" autocomplete="off"></label> '
            '<button id="open-all" type="button">open all</button> <button id="close-all" type="button">close all</button> '
            '<span id="filter-count" class="muted"></span></p>',
            '<p class="muted">Worst first; open one for its evidence: the capture and frame, Wireshark '
            "display filters to paste, and the request around the identifier (redacted).</p>",
            '<div id="findings">',
        ]
        if not active:
            parts.append("<p>No findings.</p>")
        by_severity: dict[str, list[Finding]] = {}
        for finding in active:
            by_severity.setdefault(finding.severity, []).append(finding)
        for severity in SEVERITIES_WORST_FIRST:
            findings = by_severity.get(severity, [])
            if not findings:
                continue
            items = "\n".join(self._finding(f) for f in findings)
            title = f"{severity.capitalize()} ({len(findings):,})"
            if severity == "info":
                # INFO never buries the rest: a closed group, with what it holds said on its summary.
                parts.append(
                    f'<details class="group" id="sev-info"><summary>{_sev(severity)} {title}: contacts with trackers '
                    "and identifiers the policy does not flag</summary>\n"
                    f"{items}\n</details>"
                )
            else:
                parts.append(f'<h3 id="sev-{esc(severity)}">{_sev(severity)} {title}</h3>\n{items}')
        parts.append("</div>\n</section>")
        return "\n".join(parts)

    @staticmethod
    def _search_text(finding: Finding) -> str:
        ref = finding.identifier
        dest = finding.destination
        words = [finding.rule, finding.title, finding.severity, finding.subject.id, minor_text(finding.subject.minor),
                 dest.host, dest.org or "", dest.domain or "", dest.category or "", finding.channel.protocol,
                 finding.channel.location, finding.id]
        if ref is not None:
            words += [ref.type, ref.key or "", ref.encoding]
        words.append(_app_text(finding))
        return " ".join(w for w in words if w).lower()

    def _finding(self, finding: Finding) -> str:
        dest = finding.destination
        # Critical findings open; the rest one click away (the summary line says what each is).
        open_attr = " open" if severity_rank(finding.severity) >= 4 else ""
        summary = (
            f"<summary>{_sev(finding.severity)}"
            f"<span><strong>{esc(finding.title)}</strong><br>"
            f'<span class="who">{esc(finding.subject.id)}'
            + (f" · {esc(_app_text(finding))}" if _app_text(finding) else "")
            + f' → <span class="mono">{breakable(dest.host)}</span>'
            + (f" ({esc(dest.org)})" if dest.org and dest.org != dest.host else "")
            + "</span></span>"
            f'<span class="ident">{_identifier_html(finding)}</span>'
            f'<span class="chan">{_channel_tags(finding)}</span>'
            f'<span class="count">×{finding.count:,}</span></summary>'
        )
        return (
            f'<details class="finding" id="{esc(_anchor(finding.id))}" data-search="{esc(self._search_text(finding))}"'
            f"{open_attr}>{summary}<div class=\"body\">{self._detail(finding)}</div></details>"
        )

    def _detail(self, finding: Finding) -> str:
        ref = finding.identifier
        dest = finding.destination
        facts: list[tuple[str, str]] = [
            ("Finding id", f"<code>{esc(finding.id)}</code>"),
            (
                "Subject",
                f"{_subject_link(finding.subject)} {_minor_tag(finding.subject.minor)} "
                f'<span class="muted">(known from {esc(finding.subject.source)})</span>',
            ),
        ]
        subject = finding.subject
        if subject.pool is not None:  # the child-profile pool that gave the subject its age
            facts.append(("Pool", esc(subject.pool) + (f", age {subject.age}" if subject.age is not None else "")))
        if _app_text(finding):
            facts.append(("App", esc(_app_text(finding))))
        if ref is not None:
            facts += [
                (
                    "Identifier",
                    f"{esc(ref.type)}, encoded {esc(ref.encoding)}"
                    + (f", key <code>{breakable(ref.key)}</code>" if ref.key else "")
                    + (
                        f' <span class="muted">(also keys {esc(", ".join(k for k in ref.keys if k != ref.key))})</span>'
                        if len(ref.keys) > 1
                        else ""
                    ),
                ),
                (
                    "Value",
                    f'<code class="hash">{esc(ref.value)}</code>'
                    + (f' <span class="muted">({esc(ref.note)})</span>' if ref.note else ""),
                ),
                ("Value HMAC", f'<code class="nowrap">{esc(ref.value_hmac[:16])}…</code>'),
            ]
            if len(ref.values) > 1:
                # Two identifiers to one host are one finding, never shown as one value.
                facts.append((
                    f"All {len(ref.values)} values",
                    "<br>".join(
                        f'<code class="hash">{esc(v.value)}</code> <span class="muted">under {esc(", ".join(v.keys) or "-")}</span>'
                        for v in ref.values
                    ),
                ))
        else:
            facts.append(("Identifier", '<span class="muted">none: the device contacted the destination</span>'))
        facts += [
            (
                "Destination",
                f'<span class="mono">{breakable(dest.host)}</span>'
                + (f" ({esc(dest.ip)}{':' + esc(dest.port) if dest.port is not None else ''})" if dest.ip else "")
                + f" {_destination_marks(finding)}<br>"
                + (f"{_org_link(dest.org, self._orgs)}, " if dest.org else "")
                + f"domain {esc(dest.domain or '-')}, category {esc(category_title(dest.category or ''))}, "
                f"{esc(dest.party)} party",
            ),
            ("Channel", _channel_tags(finding)),
            (
                "Seen",
                f"{_plural(finding.count, 'time')}, "
                f'<span class="nowrap">{esc(short_time(finding.first_seen))}</span> to '
                f'<span class="nowrap">{esc(short_time(finding.last_seen))}</span>',
            ),
            (
                "Rules",
                "<br>".join(
                    f'{_sev(m.severity)} <a href="#{esc(anchor_id("rule", m.rule))}">{esc(m.rule)}</a> {esc(m.title)}'
                    for m in finding.rules
                )
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
        return f'<dl class="facts">{"".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in facts)}</dl>' + evidence_html(finding)

    # --------------------------------------------------------------------- graph

    def _graph(self, result: ScanResult) -> str:
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
        toolbar = (
            '<div class="toolbar no-print">'
            '<button id="zoom-out" type="button" title="Zoom out">−</button>'
            '<button id="zoom-fit" type="button" title="Fit the width">fit</button>'
            '<button id="zoom-in" type="button" title="Zoom in">+</button>'
            '<label>Highlight: <input id="graph-filter" type="search" placeholder="subject, identifier, organisation, host" '
            'autocomplete="off"></label></div>'
        )
        return (
            '<section id="graph">\n<h2>Data flows</h2>\n'
            '<p class="muted">Who sent which identifier to which organisation, and through which of its hosts; '
            "organisations grouped by category, the worst first. A shortened label's full text is in the tables below: "
            "click a subject or an organisation to go there.</p>\n"
            f'{toolbar}\n<div class="graph-wrap">\n{render_svg(result.graph, linked_orgs=self._orgs)}\n</div>\n{legend}\n</section>'
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
            f"<td>{_hosts_cell(list(g.hosts))}</td></tr>"
            for g in groups
        )
        return (
            '<section id="apps">\n<h2>Apps</h2>\n<p class="muted">Where the traffic says which app sent it '
            "(User-Agent, X-Requested-With, bundle or package IDs in ad requests).</p>\n"
            + _wrap(
                "<table><thead><tr><th>Subject</th><th>App</th><th>Package / bundle</th><th>Version</th>"
                '<th class="num">Findings</th><th>Identifier types</th><th>Hosts</th></tr></thead>'
                f"<tbody>{rows}</tbody></table>"
            )
            + "\n</section>"
        )

    # --------------------------------------------------------------------- subjects, organisations

    def _subjects(self, result: ScanResult, active: list[Finding]) -> str:
        exposure = {item.subject: item for item in result.analyses.subjects}
        groups: dict[str, list[Finding]] = {}
        for finding in active:
            groups.setdefault(finding.subject.id, []).append(finding)
        ordered: list[Subject] = sorted(
            result.subjects,
            key=lambda s: (minor_rank(s.minor), -severity_rank(worst_severity(groups.get(s.id, []))), s.id),
        )
        rows = []
        for subject in ordered:
            findings = groups.get(subject.id, [])
            counts = severity_counts(findings)
            tally = " · ".join(f"{n:,} {s}" for s, n in counts.items() if n) or '<span class="muted">none</span>'
            item = exposure.get(subject.id)
            orgs = list(item.orgs) if item else sorted({_org_name(f) for f in findings})
            types = list(item.id_types) if item else sorted({f.identifier.type for f in findings if f.identifier})
            link = (
                f' <a class="no-print" href="#all-findings" data-filter="{esc(subject.id.lower())}">show</a>'
                if findings
                else ""
            )
            worst = worst_severity(findings)
            rows.append(
                f'<tr id="{esc(anchor_id("subject", subject.id))}"><td>{_subject_name(subject.id)}<br>{_minor_tag(subject.minor)}</td>'
                f"<td>{esc(subject.source)}{_pool_html(subject)}</td><td>{_sev(worst) if worst else _NONE}</td><td>{tally}{link}</td>"
                f"<td>{esc(', '.join(types)) or _NONE}</td>"
                f"<td>{_names(orgs, self._org, '#organisations') or _NONE}</td></tr>"
            )
        table = _wrap(
            "<table><thead><tr><th>Subject</th><th>Known from</th><th>Worst</th><th>Findings</th>"
            f"<th>Identifier types</th><th>Organisations reached</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
        )
        with_findings = sum(1 for s in result.subjects if groups.get(s.id))
        return (
            '<section id="subjects">\n<h2>Subjects</h2>\n'
            f'<p class="muted">{_plural(len(result.subjects), "subject")}, {with_findings:,} with findings; '
            "minors first, then unknown age, then adults.</p>\n"
            f"{table}\n</section>"
        )

    def _organisations(self, result: ScanResult) -> str:
        orgs = sorted(result.analyses.organisations, key=lambda o: (-len(o.minor_subjects), not o.tracker, o.org))
        by_category: dict[str, list[Any]] = {}
        for org in orgs:
            by_category.setdefault(org.category or "", []).append(org)
        categories = sorted(by_category, key=lambda c: (-max(len(o.minor_subjects) for o in by_category[c]), category_title(c)))
        bodies = []
        for category in categories:
            rows = "".join(
                f'<tr id="{esc(anchor_id("org", o.org))}"><td><strong>{esc(o.org)}</strong>'
                + (' <span class="tag tag-tracker">tracker</span>' if o.tracker else "")
                + f'</td><td class="num">{len(o.minor_subjects):,}</td>'
                f"<td>{_names(list(o.subjects), _subject_link, '#subjects', 4)}</td>"
                f"<td>{esc(', '.join(o.id_types)) or _NONE_CONTACT}</td>"
                f"<td>{_hosts_cell(list(o.hosts))}</td></tr>"
                for o in by_category[category]
            )
            bodies.append(
                f'<tbody><tr><th class="group" colspan="5">{esc(category_title(category))} '
                f'<span class="muted">({_plural(len(by_category[category]), "organisation")})</span></th></tr>{rows}</tbody>'
            )
        table = (
            _wrap(
                '<table><thead><tr><th>Organisation</th><th class="num">Minors</th><th>Subjects</th>'
                f"<th>Identifier types</th><th>Hosts</th></tr></thead>{''.join(bodies)}</table>"
            )
            if orgs
            else '<p class="muted">No organisation analysis in this scan.</p>'
        )
        linkable = sorted(result.analyses.linkable, key=lambda i: (minor_rank(i.minor), i.subject, i.id_type))
        link_rows = "".join(
            f"<tr><td>{_subject_link(i.subject)} {_minor_tag(i.minor)}</td><td>{esc(i.id_type)}</td>"
            f'<td><code class="nowrap">{esc(i.value_hmac[:16])}</code></td><td>{_names(list(i.orgs), self._org, "#organisations")}</td>'
            f"<td>{_hosts_cell(list(i.hosts))}</td></tr>"
            for i in linkable
        )
        link_table = (
            "<h3>Identifiers that reach two or more organisations</h3>\n"
            '<p class="muted">The same identifier at several companies lets them join what each knows '
            "(cross-service profiling).</p>\n"
            + _wrap(
                "<table><thead><tr><th>Subject</th><th>Identifier type</th><th>HMAC</th><th>Organisations</th>"
                f"<th>Hosts</th></tr></thead><tbody>{link_rows}</tbody></table>"
            )
            if linkable
            else ""
        )
        unknown_rows = "".join(
            f'<tr><td><strong>{esc(u.domain)}</strong></td><td>{esc(u.party)}</td><td class="num">{u.minor_subjects}</td>'
            f'<td class="num">{u.subjects}</td><td>{esc(", ".join(u.identifier_types))}</td>'
            f"<td>{_hosts_cell(list(u.hosts))}</td></tr>"
            for u in result.unknown_destinations
        )
        unknown_table = (
            "<h3>Unknown destinations that received identifiers</h3>\n"
            '<p class="muted">No tracker list names these: classify them (add them to a tracker list with '
            "--trackers, or to the inventory's first_party when they are the subject's own service).</p>\n"
            + _wrap(
                '<table><thead><tr><th>Domain</th><th>Party</th><th class="num">Minors</th><th class="num">Subjects</th>'
                f"<th>Identifier types</th><th>Hosts</th></tr></thead><tbody>{unknown_rows}</tbody></table>"
            )
            if result.unknown_destinations
            else ""
        )
        unknown_part = f"{unknown_table}\n" if unknown_table else ""
        return f'<section id="organisations">\n<h2>Organisations</h2>\n{table}\n{link_table}\n{unknown_part}</section>'

    # --------------------------------------------------------------------- the rest

    def _allowlisted(self, result: ScanResult) -> str:
        allowed = allowlisted_findings(result)
        if not allowed:
            return '<section id="allowlisted">\n<h2>Allow-listed findings</h2>\n<p class="muted">None.</p>\n</section>'
        rows = "".join(
            f'<tr><td>{_sev(f.severity)}</td><td><a href="#{esc(_anchor(f.id))}" class="mono">{esc(f.id)}</a><br>{esc(f.rule)}</td>'
            f"<td>{_subject_link(f.subject)} {_minor_tag(f.subject.minor)}</td><td>{esc(identifier_text(f))}</td>"
            f'<td><span class="mono">{breakable(f.destination.host)}</span> {_destination_marks(f)}</td>'
            f"<td><strong>{esc(f.allowlisted)}</strong></td></tr>"
            for f in allowed
        )
        details = "\n".join(self._finding(f) for f in allowed)
        return (
            '<section id="allowlisted">\n<h2>Allow-listed findings</h2>\n'
            '<p class="muted">Accepted by the operator (first party, contracted processor, accepted risk): '
            "not counted above and never failing a run, but listed so the acceptance can be reviewed.</p>\n"
            + _wrap(
                "<table><thead><tr><th>Severity</th><th>Id / rule</th><th>Subject</th><th>Identifier</th>"
                f"<th>Destination</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table>"
            )
            + f"\n{details}\n</section>"
        )

    @staticmethod
    def _rules(result: ScanResult) -> str:
        counts: dict[str, int] = {}
        for finding in result.findings:
            if finding.allowlisted is None:
                counts[finding.rule] = counts.get(finding.rule, 0) + 1
        def row(r: RuleInfo) -> str:
            return (
                f'<tr id="{esc(anchor_id("rule", r.id))}"><td>{_sev(r.severity)}</td><td class="mono">{esc(r.id)}</td>'
                f'<td class="num">{counts.get(r.id, 0):,}</td>'
                f"<td><strong>{esc(r.title)}</strong><br>{esc(r.rationale)}</td><td>{esc(r.remediation)}</td>"
                f"<td>{esc('; '.join(r.regulations))}</td></tr>"
            )

        head = (
            '<table><thead><tr><th>Severity</th><th>Rule</th><th class="num">Findings</th><th>What and why</th>'
            "<th>What to do</th><th>Regulations</th></tr></thead><tbody>"
        )
        ordered = rules_in_order(result)
        used = [r for r in ordered if counts.get(r.id)]
        unused = [r for r in ordered if not counts.get(r.id)]
        # The rules behind findings first; the others, which found nothing, one click away.
        out = '<section id="rules">\n<h2>Rules</h2>\n' + _wrap(head + "".join(row(r) for r in used) + "</tbody></table>")
        if unused:
            out += (
                f'<details class="group"><summary>{_plural(len(unused), "other rule")} (no findings in this scan)</summary>'
                + _wrap(head + "".join(row(r) for r in unused) + "</tbody></table>")
                + "</details>"
            )
        return out + "\n</section>"

    def _scan(self, result: ScanResult) -> str:
        # One cell per capture for what identifies it (path, format, size, sha256), so the table
        # keeps four columns and stays readable at 800 px.
        def rows(captures: Iterable[Any]) -> str:
            return "".join(
                f'<tr><td><span class="mono">{breakable(c.path)}</span><br><span class="muted">{esc(c.format or "-")}, '
                f'{c.bytes:,} bytes, sha256</span> <code class="hash">{esc(c.sha256 or "-")}</code></td>'
                f'<td class="num">{c.packets:,}</td>'
                f'<td class="mono nowrap">{esc(iso_utc(c.first_ts))}<br>{esc(iso_utc(c.last_ts))}</td>'
                f"<td>{'<br>'.join(esc(w) for w in c.warnings) or _NONE}</td></tr>"
                for c in captures
            )

        head = (
            '<table><thead><tr><th>Capture</th><th class="num">Packets</th>'
            "<th>First / last packet (UTC)</th><th>Warnings</th></tr></thead>"
        )
        # Many captures (a directory of them): those with warnings in view, the others one click away.
        if len(result.captures) > CAPTURES_LISTED:
            flagged = [c for c in result.captures if c.warnings]
            quiet = [c for c in result.captures if not c.warnings]
            captures_html = (
                (_wrap(f"{head}<tbody>{rows(flagged)}</tbody></table>") if flagged else "")
                + f'<details class="group"><summary>{_plural(len(quiet), "capture")} without warnings</summary>'
                + _wrap(f"{head}<tbody>{rows(quiet)}</tbody></table>")
                + "</details>"
            )
        else:
            captures_html = _wrap(f"{head}<tbody>{rows(result.captures)}</tbody></table>")
        stats = stats_record(result, stable=self.options.is_stable)
        stat_rows = "".join(
            f'<tr><td>{esc(k)}</td><td class="num">{esc(self._stat(v))}</td></tr>' for k, v in sorted(stats.items())
        )
        signature_rows = "".join(
            f'<tr><td class="mono">{breakable(s.path)}</td><td><code class="hash">{esc(s.sha256)}</code></td></tr>'
            for s in sorted(result.signatures, key=lambda s: s.path)
        )
        # The scan's warnings repeat each capture's ("path: warning"): those are in the captures table.
        capture_lines = {f"{c.path}: {w}" for c in result.captures for w in c.warnings}
        warnings = "".join(f"<li>{esc(w)}</li>" for w in result.warnings if w not in capture_lines)
        return (
            '<section id="scan">\n<h2>The scan</h2>\n'
            f"<h3>Captures</h3>\n{captures_html}\n"
            + (f"<h3>Warnings</h3>\n<ul>{warnings}</ul>\n" if warnings else "")
            + '<h3>Counters</h3>\n'
            + _wrap(
                '<table><thead><tr><th>Counter</th><th class="num">Value</th></tr></thead>'
                f"<tbody>{stat_rows}</tbody></table>"
            )
            + f'\n<h3>Signature files</h3>\n<p class="muted">Engine: {esc(result.engine)}; HMAC key id: '
            f"<code>{esc(result.hmac_key_id or '-')}</code></p>\n"
            + _wrap(
                "<table><thead><tr><th>File</th><th>SHA-256</th></tr></thead>"
                f"<tbody>{signature_rows}</tbody></table>"
            )
            + "\n</section>"
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
