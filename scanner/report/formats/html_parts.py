"""Pieces of the HTML report (scanner/report/formats/html.py) that need no report state: escaping,
tags, links, table boxes and a finding's evidence.  Not a format itself: it declares none.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from scanner.model import Finding, Subject
from scanner.report.formats.common import identifier_text, iso_utc, minor_text, printable
from scanner.report.formats.graph_svg import anchor_id

NAMES_SHOWN = 6  # subjects or organisations named in a card or a line before "and N more"
HOSTS_SHOWN = 5  # hosts listed in a table cell before the rest folds away
EXCERPTS_SHOWN = 3  # distinct request excerpts shown per finding


def esc(value: object) -> str:
    """Escape anything for HTML text or a quoted attribute (control characters shown as \\xNN)."""
    return html.escape(printable("" if value is None else value), quote=True)


def breakable(value: object) -> str:
    """Escaped, with a line-break opportunity after each ``.``, ``-``, ``/`` and ``_``: a host name
    or a path wraps between its labels on a narrow screen, never in the middle of one."""
    out = esc(value)
    for char in "./_":
        out = out.replace(char, char + "<wbr>")
    return out.replace("-", "-<wbr>")


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _sev(severity: str) -> str:
    return f'<span class="sev sev-{esc(severity)}">{esc(severity)}</span>'


def _minor_tag(minor: bool | None) -> str:
    if minor is True:
        return '<span class="tag tag-minor">minor</span>'
    return f'<span class="tag">{esc(minor_text(minor))}</span>'


def _anchor(finding_id: str) -> str:
    return anchor_id("finding", finding_id)


def _org_name(finding: Finding) -> str:
    dest = finding.destination
    return dest.org or dest.domain or dest.host


def _subject_name(name: str) -> str:
    """A subject id kept on one line when short (an address: "kid-169.254.225.216" must not lose
    its last octet to the next line), breakable at its separators when long (an IPv6 address)."""
    return f'<span class="nowrap">{esc(name)}</span>' if len(name) <= 24 else breakable(name)


def _subject_link(subject: Subject | str) -> str:
    name = subject if isinstance(subject, str) else subject.id
    return f'<a href="#{esc(anchor_id("subject", name))}">{_subject_name(name)}</a>'


def _org_link(name: str, known: frozenset[str] | None = None) -> str:
    """A link to the organisation's row, when the Organisations table has one (else its name)."""
    if known is not None and name not in known:
        return esc(name)
    return f'<a href="#{esc(anchor_id("org", name))}">{esc(name)}</a>'


def _names(names: Sequence[str], link: Any, more_href: str, shown: int = NAMES_SHOWN) -> str:
    """``a, b, c and 7 more``: the first names linked, the rest counted with a link to the full list."""
    head = ", ".join(link(n) for n in names[:shown])
    if len(names) > shown:
        head += f' and <a href="{esc(more_href)}">{len(names) - shown:,} more</a>'
    return head


def _app_text(finding: Finding) -> str:
    """The app behind a finding, when the scan knows it (DESIGN's ``app``: name and bundle or
    package id; a Finding without the field, or with None, has no app)."""
    app = getattr(finding, "app", None)
    if app is None:
        return ""
    if isinstance(app, dict):
        name, ident = app.get("name"), app.get("id")
    else:
        name, ident = getattr(app, "name", None), getattr(app, "id", None)
    if name and ident and name != ident:
        return f"{name} ({ident})"
    return str(name or ident or "")


def _channel_tags(finding: Finding) -> str:
    channel = finding.channel
    tag = (
        '<span class="tag tag-enc">encrypted</span>'
        if channel.encrypted
        else '<span class="tag tag-clear">clear text</span>'
    )
    injected = ' <span class="tag">injected by the operator</span>' if channel.operator_injected else ""
    return f"{esc(channel.protocol)} {esc(channel.location)} {tag}{injected}"


def _destination_marks(finding: Finding) -> str:
    dest = finding.destination
    tags = []
    if dest.tracker:
        tags.append('<span class="tag tag-tracker">tracker</span>')
    if dest.party == "third":
        tags.append('<span class="tag">third party</span>')
    return "".join(tags)


def _identifier_html(finding: Finding) -> str:
    ref = finding.identifier
    if ref is None:
        return '<span class="muted">no identifier (contact)</span>'
    out = esc(identifier_text(finding))
    if ref.key:
        out += f' <span class="muted">key</span> <code>{breakable(ref.key)}</code>'
    return out


_NONE = '<span class="muted">none</span>'
_NONE_CONTACT = '<span class="muted">none (contact only)</span>'


def _wrap(table: str) -> str:
    """A table in a box of its own that scrolls sideways on a narrow screen (the page never does)."""
    return f'<div class="table-wrap">{table}</div>'


def _hosts_cell(hosts: Sequence[str]) -> str:
    """Up to HOSTS_SHOWN hosts, the rest behind a "N more hosts" disclosure (closed on paper too:
    the count says what is behind it, and the JSON report lists them all)."""
    shown = "<br>".join(f'<span class="mono">{breakable(h)}</span>' for h in hosts[:HOSTS_SHOWN])
    if len(hosts) > HOSTS_SHOWN:
        rest = "<br>".join(f'<span class="mono">{breakable(h)}</span>' for h in hosts[HOSTS_SHOWN:])
        shown += f"<details><summary>{_plural(len(hosts) - HOSTS_SHOWN, 'more host')}</summary>{rest}</details>"
    return shown or _NONE


def evidence_html(finding: Finding) -> str:
    """A finding's evidence: frames with their Wireshark filters, the flows' filters, the redacted excerpts."""
    # Two identifiers of one request are two evidence items of one frame: one row.
    evidence = list({(e.capture, e.frame): e for e in finding.evidence}.values())
    rows = "".join(
        f'<tr><td class="mono">{breakable(e.capture.rsplit("/", 1)[-1])}</td><td class="num">{e.frame}</td>'
        f'<td class="mono nowrap">{esc(iso_utc(e.ts))}</td>'
        f'<td class="mono">{esc(e.flow.proto)} {breakable(e.flow.src)}:{e.flow.sport} → '
        f"{breakable(e.flow.dst)}:{e.flow.dport}</td>"
        f'<td><code class="nowrap">{esc(e.display_filter)}</code></td></tr>'
        for e in evidence
    )
    more = finding.count - len(finding.evidence)
    flows = list(dict.fromkeys(e.flow_filter for e in finding.evidence))
    excerpts = list(dict.fromkeys(e.excerpt for e in finding.evidence if e.excerpt))
    out = _wrap(
        '<table class="evidence"><thead><tr><th>Capture</th><th class="num">Frame</th><th>Time (UTC)</th>'
        f"<th>Flow</th><th>Wireshark filter</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    if more > 0:
        out += f'<p class="muted">{_plural(more, "more occurrence")} not listed (evidence is bounded).</p>'
    if flows:
        out += (
            f'<p><span class="muted">The flow{"s" if len(flows) != 1 else ""} in Wireshark:</span> '
            + "<br>".join(f"<code>{esc(f)}</code>" for f in flows[:EXCERPTS_SHOWN])
            + "</p>"
        )
    if excerpts:
        out += (
            '<p class="muted">The request around the identifier (redacted: the value as its preview, '
            "other identifiers and identifier-like tokens masked):</p>"
            + "".join(f'<pre class="excerpt">{esc(x)}</pre>' for x in excerpts[:EXCERPTS_SHOWN])
        )
    return out

def _pool_html(subject: Subject) -> str:
    """The child-profile pool that gave a subject its age (knowledge/networks.py), if any."""
    if subject.pool is None:
        return ""
    age = f", age {subject.age}" if subject.age is not None else ""
    return f'<br><span class="muted">pool {esc(subject.pool)}{age}</span>'
