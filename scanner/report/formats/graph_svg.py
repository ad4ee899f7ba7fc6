"""The data-flow graph drawn as inline SVG for the HTML report: a layered layout, computed here.

Why layers and not a force-directed layout (networkx ``spring_layout`` and the
like): the graph is a flow with a direction, subject -> identifier -> host ->
organisation, and the question a reader brings is "where does this child's
identifier end up"; four columns answer it left to right, every edge points
the same way, and the picture is the same on every run.  A spring layout
needs numpy (and scipy for large graphs), is seeded-random, and knots a
hundred hosts into a hairball.

The layout (a small Sugiyama-style pass):

- columns: subjects (and the operator, when it injects headers), identifiers,
  hosts, organisations.  Domains are not drawn: a host goes straight to the
  organisation that owns its domain (the domain is in the host's tooltip), or
  to its registrable domain when no organisation is known;
- order within a column: subjects minors first, then unknown age, then adults;
  every other column by the barycentre of its neighbours in the column before
  (mean position), ties by label, which keeps crossings low for this kind of
  graph without an optimiser;
- edges: ``sent_to`` coloured by the worst severity on it, thicker with the
  count, dashed when encrypted; ``injected`` (operator) purple and dashed;
  ``contacted`` (a subject reaching a host with no identifier, over DNS or
  TLS) dotted grey, drawn only where no identifier path already links the
  two;
- columns longer than ``MAX_PER_COLUMN`` keep their worst nodes and say how
  many were left out (the HTML tables still list everything).

Every label goes through ``html.escape``; coordinates are rounded to 0.1 so
the SVG is byte-stable.  No ``style`` attributes: presentation is SVG
attributes and classes, so the HTML report can forbid inline styles in its
Content-Security-Policy.
"""

from __future__ import annotations

import html
import math
from bisect import bisect_right, insort
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from scanner.report.formats.common import canonical_graph, minor_rank, printable, severity_rank

MAX_PER_COLUMN = 150
COLUMNS = ("Subjects", "Identifiers", "Hosts", "Organisations")

NODE_W = 210.0
NODE_H = 26.0
ROW_GAP = 10.0
COL_GAP = 90.0
MARGIN_X = 16.0
MARGIN_TOP = 44.0
MARGIN_BOTTOM = 16.0
CHAR_W = 6.6  # average glyph width of the 11px sans-serif labels, to truncate before the box ends

# Fill and stroke per node class, as SVG attributes: the drawing stays readable even where the
# page's CSS does not apply (the SVG copied out of the report, a viewer without styles).
NODE_COLOURS = {
    "subject-minor": ("#fce7f3", "#be185d"),
    "subject-unknown": ("#fef3c7", "#b45309"),
    "subject-adult": ("#f3f4f6", "#6b7280"),
    "operator": ("#ede9fe", "#7c3aed"),
    "identifier": ("#e0e7ff", "#4338ca"),
    "host": ("#f9fafb", "#9ca3af"),
    "host-tracker": ("#fff7ed", "#c2410c"),
    "org": ("#f3f4f6", "#6b7280"),
    "org-tracker": ("#ffedd5", "#9a3412"),
}

SEVERITY_COLOUR = {
    "critical": "#991b1b",
    "high": "#dc2626",
    "medium": "#d97706",
    "low": "#2563eb",
    "info": "#6b7280",
}


@dataclass
class _Node:
    id: str
    column: int
    label: str
    css: str
    tooltip: str
    rank: int = 0  # worst severity touching it, for trimming long columns
    y: float = 0.0


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
    nodes: dict[str, _Node] = field(default_factory=dict)
    edges: list[_Edge] = field(default_factory=list)
    left_out: dict[int, int] = field(default_factory=dict)
    width: float = 0.0
    height: float = 0.0


def _esc(text: object) -> str:
    return html.escape(printable(text), quote=True)


def _truncate(text: str, width: float) -> str:
    limit = max(4, int((width - 16) / CHAR_W))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _bool(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def build_layout(graph: Any) -> Layout:
    g = canonical_graph(graph)
    layout = Layout()
    org_of_host: dict[str, str] = {}

    def add(node_id: str, column: int, css: str, tooltip: str) -> None:
        attrs = g.nodes[node_id]
        label = str(attrs.get("label") or node_id.split(":", 1)[-1])
        layout.nodes[node_id] = _Node(node_id, column, label, css, tooltip)

    for node_id, attrs in g.nodes(data=True):
        kind = attrs.get("kind")
        if kind == "subject":
            minor = attrs.get("minor", "unknown")
            css = {"true": "subject-minor", "false": "subject-adult"}.get(str(minor), "subject-unknown")
            age = {"true": "minor", "false": "adult"}.get(str(minor), "age unknown")
            add(node_id, 0, css, f"subject {attrs.get('label', '')} ({age}, {attrs.get('source', '')})")
        elif kind == "operator":
            add(node_id, 0, "operator", "the network operator (injected headers)")
        elif kind == "identifier":
            add(node_id, 1, "identifier", f"{attrs.get('id_type', '')} {attrs.get('label', '')}")
            # the type says more than the masked value: "gaid 38…0d"
            layout.nodes[node_id].label = f"{attrs.get('id_type', '')} {attrs.get('label', '')}".strip()
        elif kind == "host":
            tracker = _bool(attrs.get("tracker"))
            details = ", ".join(
                str(v)
                for v in (
                    attrs.get("org"),
                    attrs.get("domain"),
                    attrs.get("category"),
                    "tracker" if tracker else "",
                    f"{attrs.get('party')} party" if attrs.get("party") else "",
                )
                if v
            )
            add(node_id, 2, "host-tracker" if tracker else "host", f"{attrs.get('label', '')} ({details})")

    # host -> organisation (through its domain), or host -> domain when no organisation owns it
    for host_id, domain_id, key in g.edges(keys=True):
        if key != "part_of" or host_id not in layout.nodes:
            continue
        owners = [org for _, org, k in g.out_edges(domain_id, keys=True) if k == "owned_by"]
        target = owners[0] if owners else domain_id
        if target not in layout.nodes:
            attrs = g.nodes[target]
            tracker = _bool(attrs.get("tracker"))
            kind = "organisation" if owners else "domain"
            details = ", ".join(v for v in (kind, str(attrs.get("category") or ""), "tracker" if tracker else "") if v)
            add(target, 3, "org-tracker" if tracker else "org", f"{attrs.get('label', target)} ({details})")
        org_of_host[host_id] = target

    identifier_pairs: set[tuple[str, str]] = set()
    subject_of_identifier: dict[str, set[str]] = defaultdict(set)
    for source, target, key in g.edges(keys=True):
        if key == "has_identifier":
            subject_of_identifier[target].add(source)
    for source, target, key in g.edges(keys=True):
        if key == "sent_to":
            for subject in subject_of_identifier.get(source, ()):
                identifier_pairs.add((subject, target))

    for source, target, key, data in g.edges(keys=True, data=True):
        if source not in layout.nodes or target not in layout.nodes:
            continue
        if key == "has_identifier":
            layout.edges.append(_Edge(source, target, "has", "#9ca3af", 1.2, False, "has identifier"))
        elif key == "injected":
            layout.edges.append(_Edge(source, target, "injected", "#7c3aed", 1.6, True, "injected by the network"))
        elif key == "sent_to":
            severity = str(data.get("severity", "info"))
            count = int(data.get("count", 1) or 1)
            encrypted = _bool(data.get("encrypted"))
            tooltip = (
                f"{severity}: sent {count} time{'s' if count != 1 else ''} over {data.get('protocols', '')}"
                f"{' (encrypted)' if encrypted else ' in clear text'}"
            )
            layout.edges.append(
                _Edge(
                    source,
                    target,
                    f"sent sev-{severity}",
                    SEVERITY_COLOUR.get(severity, "#6b7280"),
                    round(1.5 + min(3.5, math.log10(count + 1) * 1.5), 1),
                    encrypted,
                    tooltip,
                )
            )
            for node_id in (source, target):
                layout.nodes[node_id].rank = max(layout.nodes[node_id].rank, severity_rank(severity) + 1)
        elif key == "contacted" and (source, target) not in identifier_pairs:
            layout.edges.append(
                _Edge(
                    source,
                    target,
                    "contacted",
                    "#9ca3af",
                    1.0,
                    True,
                    f"contacted {data.get('count', '')} time(s) over {data.get('protocols', '')}",
                )
            )
    for host_id, target in sorted(org_of_host.items()):
        layout.edges.append(_Edge(host_id, target, "owned", "#d1d5db", 1.2, False, "belongs to"))
    # subjects -> their hosts' worst severity, so trimming keeps the worst subjects too
    for edge in layout.edges:
        if edge.css.startswith("sent"):
            for subject in subject_of_identifier.get(edge.source, ()):
                if subject in layout.nodes:
                    layout.nodes[subject].rank = max(layout.nodes[subject].rank, layout.nodes[edge.source].rank)
    for host_id, target in org_of_host.items():
        layout.nodes[target].rank = max(layout.nodes[target].rank, layout.nodes[host_id].rank)

    _order_and_place(g, layout)
    return layout


def _order_and_place(g: Any, layout: Layout) -> None:
    columns: list[list[_Node]] = [[] for _ in COLUMNS]
    for node in layout.nodes.values():
        columns[node.column].append(node)

    # Trim very long columns: keep the worst nodes, say how many were left out.
    for index, column in enumerate(columns):
        if len(column) > MAX_PER_COLUMN:
            column.sort(key=lambda n: (-n.rank, n.label, n.id))
            for dropped in column[MAX_PER_COLUMN:]:
                del layout.nodes[dropped.id]
            layout.left_out[index] = len(column) - MAX_PER_COLUMN
            columns[index] = column[:MAX_PER_COLUMN]
    layout.edges = [e for e in layout.edges if e.source in layout.nodes and e.target in layout.nodes]

    def subject_key(node: _Node) -> tuple[int, str, str]:
        if node.css == "operator":
            return (-1, node.label, node.id)
        minor = str(g.nodes[node.id].get("minor", "unknown"))
        return (minor_rank(True if minor == "true" else False if minor == "false" else None), node.label, node.id)

    columns[0].sort(key=subject_key)
    _reduce_crossings(columns, layout)

    tallest = max((len(c) for c in columns), default=0)
    area = tallest * (NODE_H + ROW_GAP)
    for column in columns:
        offset = (area - len(column) * (NODE_H + ROW_GAP)) / 2
        for i, node in enumerate(column):
            node.y = MARGIN_TOP + offset + i * (NODE_H + ROW_GAP)
    layout.width = MARGIN_X * 2 + len(COLUMNS) * NODE_W + (len(COLUMNS) - 1) * COL_GAP
    extra = 18.0 if layout.left_out else 0.0
    layout.height = MARGIN_TOP + max(area, NODE_H) + extra + MARGIN_BOTTOM


def _x(column: int) -> float:
    return MARGIN_X + column * (NODE_W + COL_GAP)


def _f(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def render_svg(graph: Any, *, element_id: str = "dataflow-graph") -> str:
    """The graph as one ``<svg>`` element (no XML declaration, no external reference)."""
    layout = build_layout(graph)
    if not layout.nodes:
        return (
            f'<svg id="{element_id}" class="dataflow" viewBox="0 0 400 40" width="400" height="40" role="img" '
            f'aria-label="data-flow graph (empty)"><text x="10" y="25" class="empty">No data flows.</text></svg>'
        )
    w, h = layout.width, layout.height
    out = [
        f'<svg id="{element_id}" class="dataflow" viewBox="0 0 {_f(w)} {_f(h)}" width="{_f(w)}" height="{_f(h)}" '
        f'role="img" aria-labelledby="{element_id}-title">',
        f'<title id="{element_id}-title">Data flows: subjects, the identifiers they sent, the hosts that '
        f"received them and the organisations behind those hosts</title>",
    ]
    for index, name in enumerate(COLUMNS):
        out.append(f'<text class="column" x="{_f(_x(index))}" y="20">{_esc(name)}</text>')
    out.append('<g class="edges" fill="none">')
    for edge in layout.edges:
        source, target = layout.nodes[edge.source], layout.nodes[edge.target]
        x1, y1 = _x(source.column) + NODE_W, source.y + NODE_H / 2
        x2, y2 = _x(target.column), target.y + NODE_H / 2
        bend = (x2 - x1) / 2
        dash = ' stroke-dasharray="5 4"' if edge.dashed else ""
        out.append(
            f'<path class="{edge.css}" d="M{_f(x1)},{_f(y1)} C{_f(x1 + bend)},{_f(y1)} {_f(x2 - bend)},{_f(y2)} '
            f'{_f(x2)},{_f(y2)}" stroke="{edge.colour}" stroke-width="{_f(edge.width)}"{dash}>'
            f"<title>{_esc(source.label)} → {_esc(target.label)}: {_esc(edge.tooltip)}</title></path>"
        )
    out.append("</g>")
    out.append('<g class="nodes">')
    for node in sorted(layout.nodes.values(), key=lambda n: (n.column, n.y)):
        x = _x(node.column)
        fill, stroke = NODE_COLOURS.get(node.css, ("#ffffff", "#6b7280"))
        out.append(
            f'<g class="node {node.css}"><title>{_esc(node.tooltip)}</title>'
            f'<rect x="{_f(x)}" y="{_f(node.y)}" width="{_f(NODE_W)}" height="{_f(NODE_H)}" rx="5" '
            f'fill="{fill}" stroke="{stroke}"/>'
            f'<text x="{_f(x + 8)}" y="{_f(node.y + NODE_H / 2 + 4)}" fill="#111827">'
            f"{_esc(_truncate(node.label, NODE_W))}</text></g>"
        )
    out.append("</g>")
    for index, count in sorted(layout.left_out.items()):
        out.append(
            f'<text class="left-out" x="{_f(_x(index))}" y="{_f(h - MARGIN_BOTTOM)}">'
            f"+ {count} more not drawn (see the tables)</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


SWEEPS = 4


def _reduce_crossings(columns: list[list[_Node]], layout: Layout) -> None:
    """Order columns 1.. by barycentres (column 0 stays: minors first), keeping the order with fewest crossings.

    Positions are centred (columns of different heights are drawn centred), a
    forward sweep orders each column by its predecessors, a backward sweep the
    middle columns by their successors; ``SWEEPS`` rounds, the best kept.
    Ties keep the current order, then the label: deterministic.
    """
    predecessors: dict[str, list[str]] = defaultdict(list)
    successors: dict[str, list[str]] = defaultdict(list)
    for edge in layout.edges:
        predecessors[edge.target].append(edge.source)
        successors[edge.source].append(edge.target)
    position: dict[str, float] = {}

    def place(index: int) -> None:
        half = (len(columns[index]) - 1) / 2
        for i, node in enumerate(columns[index]):
            position[node.id] = i - half

    def order(index: int, neighbours: dict[str, list[str]], side: int) -> None:
        def key(node: _Node) -> tuple[float, float, str, str]:
            near = [
                position[n]
                for n in neighbours[node.id]
                if n in position and (layout.nodes[n].column - index) * side > 0
            ]
            mean = sum(near) / len(near) if near else position.get(node.id, float("inf"))
            return (mean, position.get(node.id, 0.0), node.label, node.id)

        columns[index].sort(key=key)
        place(index)

    def crossings() -> int:
        total = 0
        for index in range(len(columns) - 1):
            pairs = sorted(
                (position[e.source], position[e.target])
                for e in layout.edges
                if layout.nodes[e.source].column == index and layout.nodes[e.target].column == index + 1
            )
            # two edges cross when one starts above the other and ends below it: count, for each
            # edge in source order, the earlier edges that end lower (bisect keeps it fast)
            ends: list[float] = []
            for _, end in pairs:
                total += len(ends) - bisect_right(ends, end)
                insort(ends, end)
        return total

    place(0)
    for index in range(1, len(columns)):
        columns[index].sort(key=lambda n: (n.label, n.id))
        place(index)
    for index in range(1, len(columns)):
        order(index, predecessors, -1)
    best = [list(column) for column in columns]
    best_crossings = crossings()
    for _ in range(SWEEPS):
        for index in range(len(columns) - 2, 0, -1):
            order(index, successors, +1)
        for index in range(1, len(columns)):
            order(index, predecessors, -1)
        current = crossings()
        if current < best_crossings:
            best, best_crossings = [list(column) for column in columns], current
    columns[:] = best
