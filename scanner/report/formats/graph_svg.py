"""The data-flow graph drawn as inline SVG for the HTML report: a grouped, layered layout computed here.

What a reader asks of it: where does this child's identifier end up, and who
is behind the hosts it reached.  A real capture reaches a hundred hosts; a
column of a hundred host boxes (the first version) answers nothing.  So the
drawing groups what the reader groups in their head:

- three columns: **subjects** (and the operator, when it injects headers),
  the **identifiers** they sent, and **organisations**, each organisation a
  box that lists the hosts it runs (the hosts an identifier reached are the
  rows its line ends on); a host whose domain no organisation owns is listed
  under its registrable domain;
- organisations stacked under their **category** (advertising, analytics,
  local network, ...), the category whose worst flow is worst first, and in
  a category the worst organisation first;
- subjects minors first, then unknown age, then adults; grouped under their
  pool or app when the graph's subject nodes carry a ``pool`` or ``app``
  attribute (``GROUP_KEYS``: optional, other stages add them);
- identifiers ordered by the mean position of their subjects (few crossings
  without an optimiser);
- edges: ``sent_to`` coloured by the worst severity on it, thicker with the
  count, dashed when encrypted; ``injected`` (operator) purple and dashed;
  ``contacted`` (a subject reaching an organisation's hosts with no
  identifier, over DNS or TLS) one dotted grey line per subject and
  organisation, drawn only where no identifier line already joins them.

Labels are shortened to their box with ``shorten``: whole when they fit, else
cut at a word, label or path boundary with ``…`` (a host keeps its end:
``…googlesyndication.com``); the full text is in the element's
``data-full`` attribute and ``<title>``, and every organisation box links to
its row in the report's Organisations table, so nothing needs a hover.
Long lists are bounded (``MAX_HOSTS_PER_ORG`` rows per box, ``MAX_ROWS`` per
column) and say how many were left out; the HTML tables list everything.

Every label goes through ``html.escape``; coordinates are rounded to 0.1 so
the SVG is byte-stable.  No ``style`` attributes: presentation is SVG
attributes and classes, so the HTML report can forbid inline styles in its
Content-Security-Policy.
"""

from __future__ import annotations

import html
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scanner.model import LOCAL_NETWORK_CATEGORY
from scanner.report.formats.common import canonical_graph, minor_rank, printable, severity_rank

COLUMNS = ("Subjects", "Identifiers", "Organisations and their hosts")
GROUP_KEYS = ("pool", "app")  # subject attributes that group subjects, when present

SUBJECT_W = 210.0
IDENT_W = 200.0
ORG_W = 300.0
NODE_H = 24.0
ROW_GAP = 8.0
HOST_H = 17.0
ORG_HEAD_H = 24.0
ORG_GAP = 10.0
GROUP_HEAD_H = 22.0
COL_GAP = 80.0
MARGIN_X = 12.0
MARGIN_TOP = 40.0
MARGIN_BOTTOM = 24.0
CHAR_W = 6.4  # average glyph width of the 11px sans-serif labels (generous: a label never overruns)
TEXT_PAD = 16.0

MAX_HOSTS_PER_ORG = 6
MAX_ROWS = 120  # subjects or identifiers drawn; organisations: MAX_ORGS
MAX_ORGS = 60

NODE_COLOURS = {
    "subject-minor": ("#fce7f3", "#be185d"),
    "subject-unknown": ("#fef3c7", "#b45309"),
    "subject-adult": ("#f3f4f6", "#6b7280"),
    "operator": ("#ede9fe", "#7c3aed"),
    "identifier": ("#e0e7ff", "#4338ca"),
    "org": ("#f9fafb", "#9ca3af"),
    "org-tracker": ("#fff7ed", "#c2410c"),
}

SEVERITY_COLOUR = {
    "critical": "#991b1b",
    "high": "#dc2626",
    "medium": "#d97706",
    "low": "#2563eb",
    "info": "#6b7280",
}

_BOUNDARY = re.compile(r"[\s.\-_/:,;@()]")
_MASK_RUN = re.compile(r"[*\-]*\*{3,}[*\-]*")
_STRIP = " .-_/:,;@(\t\n"


def shorten(text: str, width: float, *, keep_tail: bool = False) -> str:
    """``text`` in ``width`` pixels: whole if it fits, else cut at a boundary with ``…``.

    The cut is at a space, ``.``, ``-``, ``_``, ``/``, ``:``, ``,``, ``@`` or a
    parenthesis, in the second half of the room, so "Mobile operator (header
    enrichment)" becomes "Mobile operator…", not "Mobile operator (header enri…".
    ``keep_tail`` keeps the end instead (a host name: "…googlesyndication.com").
    A single token with no boundary at all (an opaque id) is cut where the room
    ends, with ``…``.
    """
    limit = max(4, int((width - TEXT_PAD) / CHAR_W))
    if len(text) <= limit:
        return text
    room = limit - 1  # the ellipsis takes one
    if _BOUNDARY.search(text) is None:
        return ("…" + text[-room:]) if keep_tail else (text[:room] + "…")  # one long token (an id)
    if keep_tail:
        tail = text[-room:]
        for at, char in enumerate(tail):
            if _BOUNDARY.match(char) and len(tail) - at - 1 >= 4:
                return "…" + tail[at + 1 :]
        # no boundary that keeps a useful tail ("…com"): keep the head instead
    # Cut before the last boundary that leaves at least half the room, else before any boundary.
    cuts = [m.start() for m in _BOUNDARY.finditer(text[: room + 1]) if m.start() > 0]
    wide = [at for at in cuts if at >= room // 2]
    for at in reversed(wide or cuts):
        kept = text[:at].rstrip(_STRIP)
        if kept:
            return kept + "…"
    # No room for even the first word: the first word whole, overrunning a little, rather than half of it.
    first = next((m.start() for m in _BOUNDARY.finditer(text) if m.start() > 0), len(text))
    return text[:first] + "…"


def anchor_id(prefix: str, text: str) -> str:
    """An HTML id for ``text`` (an organisation, a subject): ``org-Google``, ``subject-kid_tablet_01``."""
    return prefix + "-" + "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


@dataclass
class _Box:
    id: str
    column: int
    label: str
    css: str
    tooltip: str
    rank: int = 0  # worst severity touching it, +1 (0: none)
    y: float = 0.0
    h: float = NODE_H
    group: str = ""  # subjects: pool/app; organisations: category
    href: str | None = None


@dataclass
class _Org:
    box: _Box
    hosts: list[_Box] = field(default_factory=list)
    hidden_hosts: int = 0
    host_total: int = 0
    all_hosts: list[_Box] = field(default_factory=list)


@dataclass
class _Edge:
    source: str
    target: str
    css: str
    colour: str
    width: float
    dashed: bool
    tooltip: str


@dataclass
class Layout:
    boxes: dict[str, _Box] = field(default_factory=dict)  # subjects, identifiers, organisations, host rows
    orgs: dict[str, _Org] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    headings: list[tuple[int, float, str]] = field(default_factory=list)  # (column, y, text)
    left_out: dict[int, int] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


def _esc(text: object) -> str:
    return html.escape(printable(text), quote=True)


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def category_title(category: str) -> str:
    if not category:
        return "Other"
    if category == LOCAL_NETWORK_CATEGORY:
        return "Local network"
    return category.replace("_", " ").replace("-", " ").capitalize()


def build_layout(graph: Any) -> Layout:
    g = canonical_graph(graph)
    layout = Layout()
    subjects: dict[str, _Box] = {}
    identifiers: dict[str, _Box] = {}
    host_attrs: dict[str, dict[str, Any]] = {}

    for node_id, attrs in g.nodes(data=True):
        kind = attrs.get("kind")
        label = str(attrs.get("label") or node_id.split(":", 1)[-1])
        if kind == "subject":
            minor = str(attrs.get("minor", "unknown"))
            css = {"true": "subject-minor", "false": "subject-adult"}.get(minor, "subject-unknown")
            age = {"true": "minor", "false": "adult"}.get(minor, "age unknown")
            group = next((str(attrs[k]) for k in GROUP_KEYS if attrs.get(k)), "")
            subjects[node_id] = _Box(
                node_id, 0, label, css, f"subject {label} ({age}, known from {attrs.get('source', '')})",
                group=group, href="#" + anchor_id("subject", label),
            )
        elif kind == "operator":
            subjects[node_id] = _Box(node_id, 0, label or "operator", "operator", "the network operator (injected headers)")
        elif kind == "identifier":
            # The type says more than the masked value, and a run of mask characters says nothing:
            # "cookie_id 1f1b**…**56" is drawn "cookie_id 1f1b…56" (the preview, shorter; never more of it).
            shown = f"{attrs.get('id_type', '')} {_MASK_RUN.sub('…', label)}".strip()
            identifiers[node_id] = _Box(node_id, 1, shown, "identifier", f"identifier {shown}")
        elif kind == "host":
            host_attrs[node_id] = dict(attrs)

    # host -> its organisation (through its domain), or its registrable domain when nobody owns it
    org_of_host: dict[str, str] = {}
    for host_id, domain_id, key in g.edges(keys=True):
        if key != "part_of" or host_id not in host_attrs:
            continue
        owners = sorted(org for _, org, k in g.out_edges(domain_id, keys=True) if k == "owned_by")
        org_of_host[host_id] = owners[0] if owners else domain_id
    for host_id, host_id_attrs in host_attrs.items():
        if host_id not in org_of_host:
            # A host without a domain edge (an address, the local network): its own owner, if named
            direct = sorted(t for _, t, k in g.out_edges(host_id, keys=True) if k == "owned_by")
            org_of_host[host_id] = direct[0] if direct else "org:" + str(host_id_attrs.get("org") or host_id_attrs.get("label") or host_id)

    orgs: dict[str, _Org] = {}
    hosts: dict[str, _Box] = {}
    for host_id, org_id in sorted(org_of_host.items()):
        attrs = host_attrs[host_id]
        if org_id not in orgs:
            org_attrs = g.nodes.get(org_id, {})
            name = str(org_attrs.get("label") or attrs.get("org") or org_id.split(":", 1)[-1])
            tracker = _bool(org_attrs.get("tracker")) or _bool(attrs.get("tracker"))
            category = str(org_attrs.get("category") or attrs.get("category") or "")
            kind = "organisation" if org_id.startswith("org:") or org_attrs.get("kind") == "organisation" else "domain"
            details = ", ".join(v for v in (kind, category_title(category) if category else "", "tracker" if tracker else "") if v)
            orgs[org_id] = _Org(
                _Box(org_id, 2, name, "org-tracker" if tracker else "org", f"{name} ({details})", group=category,
                     href="#" + anchor_id("org", name))
            )
        label = str(attrs.get("label") or host_id.split(":", 1)[-1])
        details = ", ".join(
            str(v)
            for v in (
                attrs.get("domain"),
                "tracker" if _bool(attrs.get("tracker")) else "",
                f"{attrs.get('party')} party" if attrs.get("party") else "",
            )
            if v
        )
        hosts[host_id] = _Box(host_id, 2, label, "host", f"{label} ({details})" if details else label)
        orgs[org_id].hosts.append(hosts[host_id])

    # Edges, and each box's worst severity (to order and to trim)
    subjects_of_identifier: dict[str, set[str]] = defaultdict(set)
    for source, target, key in g.edges(keys=True):
        if key in ("has_identifier", "injected") and source in subjects and target in identifiers:
            subjects_of_identifier[target].add(source)
    sent_pairs: set[tuple[str, str]] = set()  # (subject, organisation) joined by an identifier line
    for source, target, key, data in g.edges(keys=True, data=True):
        if key in ("has_identifier", "injected") and source in subjects and target in identifiers:
            injected = key == "injected"
            layout.edges.append(_Edge(source, target, "injected" if injected else "has",
                                      "#7c3aed" if injected else "#9ca3af", 1.6 if injected else 1.2, injected,
                                      "injected by the network" if injected else "has identifier"))
        elif key == "sent_to" and source in identifiers and target in hosts:
            severity = str(data.get("severity", "info"))
            count = int(data.get("count", 1) or 1)
            encrypted = _bool(data.get("encrypted"))
            tooltip = (
                f"{severity}: sent {count} time{'s' if count != 1 else ''} over {data.get('protocols', '')}"
                f"{' (encrypted)' if encrypted else ' in clear text'}"
            )
            layout.edges.append(_Edge(source, target, f"sent sev-{severity}", SEVERITY_COLOUR.get(severity, "#6b7280"),
                                      round(1.5 + min(3.5, math.log10(count + 1) * 1.5), 1), encrypted, tooltip))
            rank = severity_rank(severity) + 1
            org = orgs[org_of_host[target]]
            for box in (identifiers[source], hosts[target], org.box):
                box.rank = max(box.rank, rank)
            for subject in subjects_of_identifier.get(source, ()):
                subjects[subject].rank = max(subjects[subject].rank, rank)
                sent_pairs.add((subject, org.box.id))
    contacts: dict[tuple[str, str], list[int]] = {}
    for source, target, key, data in g.edges(keys=True, data=True):
        if key == "contacted" and source in subjects and target in hosts:
            pair = (source, org_of_host[target])
            if pair not in sent_pairs:
                contacts.setdefault(pair, []).append(int(data.get("count", 1) or 1))
    for (subject, org_id), counts in sorted(contacts.items()):
        hosts_n = len(counts)
        layout.edges.append(_Edge(subject, org_id, "contacted", "#9ca3af", 1.0, True,
                                  f"contacted {hosts_n} host{'s' if hosts_n != 1 else ''} {sum(counts)} time(s), no identifier"))

    _place(layout, subjects, identifiers, orgs, g)
    return layout


def _place(layout: Layout, subjects: dict[str, _Box], identifiers: dict[str, _Box], orgs: dict[str, _Org], g: Any) -> None:
    # Column 0: subjects, by group (pool/app) then minors first, worst first.
    def subject_key(box: _Box) -> tuple[int, str, int, int, str]:
        if box.css == "operator":
            return (0, "", -1, 0, box.id)
        minor = str(g.nodes[box.id].get("minor", "unknown"))
        rank = minor_rank(True if minor == "true" else False if minor == "false" else None)
        return (1 if box.group else 2, box.group, rank, -box.rank, box.label)

    column0 = sorted(subjects.values(), key=subject_key)
    if len(column0) > MAX_ROWS:
        kept = sorted(column0, key=lambda b: (-b.rank, subject_key(b)))[:MAX_ROWS]
        layout.left_out[0] = len(column0) - MAX_ROWS
        column0 = sorted(kept, key=subject_key)
    y = MARGIN_TOP
    group = None
    grouped = any(box.group for box in column0)
    for box in column0:
        if grouped and box.css != "operator" and box.group != group:
            group = box.group
            layout.headings.append((0, y + 15, group or "Not in a pool or app"))
            y += GROUP_HEAD_H
        box.y = y
        layout.boxes[box.id] = box
        y += NODE_H + ROW_GAP
    bottom = [y]

    # Column 2: organisations under their category, worst first; hosts in a box worst first.
    ordered_orgs = sorted(orgs.values(), key=lambda o: (-o.box.rank, o.box.label.lower(), o.box.id))
    if len(ordered_orgs) > MAX_ORGS:
        layout.left_out[2] = len(ordered_orgs) - MAX_ORGS
        ordered_orgs = ordered_orgs[:MAX_ORGS]
    by_category: dict[str, list[_Org]] = defaultdict(list)
    for org in ordered_orgs:
        by_category[org.box.group].append(org)
    categories = sorted(by_category, key=lambda c: (-max(o.box.rank for o in by_category[c]), category_title(c)))
    y = MARGIN_TOP
    for category in categories:
        layout.headings.append((2, y + 15, category_title(category)))
        y += GROUP_HEAD_H
        for org in by_category[category]:
            org.hosts.sort(key=lambda h: (-h.rank, h.label))
            # The hosts an identifier line ends on (rank > 0, sorted first) are never the ones left out.
            # An organisation no identifier reached (contacts only) is one line: name and host count.
            keep = max(MAX_HOSTS_PER_ORG, sum(1 for h in org.hosts if h.rank)) if org.box.rank else 0
            org.host_total = len(org.hosts)
            org.all_hosts = list(org.hosts)
            shown, org.hidden_hosts = org.hosts[:keep], max(0, len(org.hosts) - keep) if org.box.rank else 0
            org.hosts = shown
            org.box.y = y
            row_y = y + ORG_HEAD_H
            for host in org.hosts:
                host.y = row_y
                host.h = HOST_H
                layout.boxes[host.id] = host
                row_y += HOST_H
            if org.hidden_hosts:
                row_y += HOST_H
            org.box.h = row_y - y + 4
            layout.boxes[org.box.id] = org.box
            layout.orgs[org.box.id] = org
            y += org.box.h + ORG_GAP
    bottom.append(y)

    # Column 1: identifiers by the mean position of their subjects.
    def mean_subject_y(box: _Box) -> tuple[float, str, str]:
        ys = [layout.boxes[e.source].y for e in layout.edges if e.target == box.id and e.source in layout.boxes]
        return (sum(ys) / len(ys) if ys else float("inf"), box.label, box.id)

    column1 = sorted(identifiers.values(), key=lambda b: (-b.rank, b.label))
    if len(column1) > MAX_ROWS:
        layout.left_out[1] = len(column1) - MAX_ROWS
        column1 = column1[:MAX_ROWS]
    column1.sort(key=mean_subject_y)
    y = MARGIN_TOP
    for box in column1:
        box.y = y
        layout.boxes[box.id] = box
        y += NODE_H + ROW_GAP
    bottom.append(y)

    layout.edges = [e for e in layout.edges if e.source in layout.boxes and e.target in layout.boxes]
    layout.width = MARGIN_X * 2 + SUBJECT_W + IDENT_W + ORG_W + 2 * COL_GAP
    layout.height = max(bottom) + (18.0 if layout.left_out else 0.0) + MARGIN_BOTTOM


def _x(column: int) -> float:
    return MARGIN_X + (0, SUBJECT_W + COL_GAP, SUBJECT_W + IDENT_W + 2 * COL_GAP)[column]


def _w(column: int) -> float:
    return (SUBJECT_W, IDENT_W, ORG_W)[column]


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _label(x: float, y: float, full: str, width: float, *, keep_tail: bool = False, css: str = "") -> str:
    shown = shorten(full, width, keep_tail=keep_tail)
    cls = f' class="{css}"' if css else ""
    return (
        f'<text x="{_f(x)}" y="{_f(y)}"{cls} fill="#111827" data-full="{_esc(full)}">{_esc(shown)}</text>'
    )


def render_svg(graph: Any, *, element_id: str = "dataflow-graph", linked_orgs: frozenset[str] | None = None) -> str:
    """The graph as one ``<svg>`` element (no XML declaration, no external reference).

    ``linked_orgs``: the organisations the page has a row for; other boxes link to the
    Organisations section as a whole (None: link every box to its own row)."""
    layout = build_layout(graph)
    if not layout.boxes:
        return (
            f'<svg id="{element_id}" class="dataflow" viewBox="0 0 400 40" width="400" height="40" role="img" '
            f'aria-label="data-flow graph (empty)"><text x="10" y="25" class="empty">No data flows.</text></svg>'
        )
    w, h = layout.width, layout.height
    out = [
        f'<svg id="{element_id}" class="dataflow" viewBox="0 0 {_f(w)} {_f(h)}" width="{_f(w)}" height="{_f(h)}" '
        f'role="img" aria-labelledby="{element_id}-title">',
        f'<title id="{element_id}-title">Data flows: subjects, the identifiers they sent, and the organisations '
        f"(with their hosts) that received them</title>",
    ]
    for index, name in enumerate(COLUMNS):
        out.append(f'<text class="column" x="{_f(_x(index))}" y="20">{_esc(name)}</text>')
    for column, y, text in layout.headings:
        out.append(_label(_x(column), y, text, _w(column) + TEXT_PAD, css="group"))
    out.append('<g class="edges" fill="none">')
    for edge in layout.edges:
        source, target = layout.boxes[edge.source], layout.boxes[edge.target]
        x1 = _x(source.column) + _w(source.column)
        y1 = source.y + source.h / 2 if source.column < 2 else source.y + NODE_H / 2
        x2 = _x(target.column)
        y2 = target.y + (target.h / 2 if target.column < 2 or target.id not in layout.orgs else ORG_HEAD_H / 2)
        bend = (x2 - x1) / 2
        dash = ' stroke-dasharray="5 4"' if edge.dashed else ""
        out.append(
            f'<path class="{edge.css}" data-ends="{_esc(edge.source)} {_esc(edge.target)}" '
            f'd="M{_f(x1)},{_f(y1)} C{_f(x1 + bend)},{_f(y1)} {_f(x2 - bend)},{_f(y2)} {_f(x2)},{_f(y2)}" '
            f'stroke="{edge.colour}" stroke-width="{_f(edge.width)}"{dash}>'
            f"<title>{_esc(source.label)} → {_esc(target.label)}: {_esc(edge.tooltip)}</title></path>"
        )
    out.append("</g>")
    out.append('<g class="nodes">')
    for box in sorted((b for b in layout.boxes.values() if b.column < 2), key=lambda b: (b.column, b.y)):
        x = _x(box.column)
        fill, stroke = NODE_COLOURS.get(box.css, ("#ffffff", "#6b7280"))
        inner = (
            f'<rect x="{_f(x)}" y="{_f(box.y)}" width="{_f(_w(box.column))}" height="{_f(NODE_H)}" rx="5" '
            f'fill="{fill}" stroke="{stroke}"/>' + _label(x + 8, box.y + NODE_H / 2 + 4, box.label, _w(box.column))
        )
        if box.href:
            inner = f'<a href="{_esc(box.href)}">{inner}</a>'
        out.append(
            f'<g class="node {box.css}" data-id="{_esc(box.id)}" data-search="{_esc(box.tooltip.lower())}">'
            f"<title>{_esc(box.tooltip)}</title>{inner}</g>"
        )
    for org in sorted(layout.orgs.values(), key=lambda o: o.box.y):
        box = org.box
        x = _x(2)
        fill, stroke = NODE_COLOURS.get(box.css, ("#ffffff", "#6b7280"))
        search = " ".join([box.tooltip.lower(), *(host.label.lower() for host in org.all_hosts)])
        rows = [
            f'<rect x="{_f(x)}" y="{_f(box.y)}" width="{_f(ORG_W)}" height="{_f(box.h)}" rx="5" fill="{fill}" '
            f'stroke="{stroke}"/>',
            f'<a href="{_esc(box.href if linked_orgs is None or box.label in linked_orgs else "#organisations")}">'
            + _label(x + 8, box.y + ORG_HEAD_H / 2 + 4, box.label, ORG_W - (70 if not org.hosts else 0), css="org-name")
            + "</a>",
        ]
        if not org.hosts:
            total = f"{org.host_total} host{'s' if org.host_total != 1 else ''}"
            rows.append(
                f'<text class="more" x="{_f(x + ORG_W - 8)}" y="{_f(box.y + ORG_HEAD_H / 2 + 4)}" '
                f'text-anchor="end">{_esc(total)}</text>'
            )
        for host in org.hosts:
            rows.append(
                f'<g class="host" data-id="{_esc(host.id)}"><title>{_esc(host.tooltip)}</title>'
                + _label(x + 16, host.y + HOST_H / 2 + 4, host.label, ORG_W - 8, keep_tail=True, css="host-name")
                + "</g>"
            )
        if org.hidden_hosts:
            more = f"+ {org.hidden_hosts} more host{'s' if org.hidden_hosts != 1 else ''}"
            rows.append(_label(x + 16, box.y + box.h - HOST_H / 2, more, ORG_W - 8, css="more"))
        out.append(
            f'<g class="node org-box {box.css}" data-id="{_esc(box.id)}" data-search="{_esc(search)}">'
            f"<title>{_esc(box.tooltip)}</title>{''.join(rows)}</g>"
        )
    out.append("</g>")
    for index, count in sorted(layout.left_out.items()):
        out.append(
            f'<text class="left-out" x="{_f(_x(index))}" y="{_f(h - MARGIN_BOTTOM + 10)}">'
            f"+ {count} more not drawn (see the tables)</text>"
        )
    out.append("</svg>")
    return "\n".join(out)
