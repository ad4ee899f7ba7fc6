"""``--format dot``: the data-flow graph in Graphviz DOT, written here (no pydot/pygraphviz).

``dot -Tsvg report.dot > graph.svg`` draws it left to right in the same four
layers as the HTML report (subjects, identifiers, hosts, domains and
organisations: ``rank=same`` groups per kind), minors pink, trackers orange,
``sent_to`` edges coloured by severity and dashed when encrypted.

Every node id, attribute name and value is a double-quoted DOT string with
``\\`` and ``"`` escaped and newlines written as ``\\n``; control characters
are shown as ``\\xNN`` (``common.printable``).  Escaping the backslash also
stops Graphviz from expanding escString sequences such as ``\\N`` or ``\\G``
that a host name or key from traffic could carry.  All graph attributes are
kept as DOT attributes (Graphviz ignores names it does not know), so the file
loses nothing compared with GraphML.

The graph is the canonical copy (``common.canonical_graph``): sorted nodes,
edges and attributes, so the bytes depend only on the content.
"""

from __future__ import annotations

from typing import Any

from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import NODE_KINDS, canonical_graph, one_line, printable
from scanner.results import ScanResult

NODE_STYLE = {
    "subject-minor": {"shape": "box", "fillcolor": "#fce7f3", "color": "#be185d"},
    "subject-unknown": {"shape": "box", "fillcolor": "#fef3c7", "color": "#b45309"},
    "subject-adult": {"shape": "box", "fillcolor": "#f3f4f6", "color": "#6b7280"},
    "operator": {"shape": "box", "fillcolor": "#ede9fe", "color": "#7c3aed"},
    "identifier": {"shape": "box", "fillcolor": "#e0e7ff", "color": "#4338ca"},
    "host": {"shape": "box", "fillcolor": "#f9fafb", "color": "#9ca3af"},
    "host-tracker": {"shape": "box", "fillcolor": "#fff7ed", "color": "#c2410c"},
    "domain": {"shape": "box", "fillcolor": "#ffffff", "color": "#9ca3af"},
    "organisation": {"shape": "box", "fillcolor": "#f3f4f6", "color": "#6b7280"},
    "organisation-tracker": {"shape": "box", "fillcolor": "#ffedd5", "color": "#9a3412", "penwidth": "2"},
}
SEVERITY_COLOUR = {"critical": "#991b1b", "high": "#dc2626", "medium": "#d97706", "low": "#2563eb", "info": "#6b7280"}
RELATION_STYLE = {
    "has_identifier": {"color": "#9ca3af"},
    "part_of": {"color": "#d1d5db"},
    "owned_by": {"color": "#d1d5db"},
    "contacted": {"color": "#9ca3af", "style": "dotted"},
    "injected": {"color": "#7c3aed", "style": "dashed"},
}


def quote(value: object) -> str:
    """A DOT double-quoted string: backslash and quote escaped, newlines as \\n, controls as \\xNN."""
    text = printable(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _format_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(round(value, 6))
    return str(value)


def _attributes(attrs: dict[str, Any]) -> str:
    return ", ".join(f"{quote(k)}={quote(_format_value(v))}" for k, v in attrs.items())


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def _node_style(attrs: dict[str, Any]) -> dict[str, str]:
    kind = str(attrs.get("kind", ""))
    if kind == "subject":
        key = {"true": "subject-minor", "false": "subject-adult"}.get(str(attrs.get("minor")), "subject-unknown")
    elif kind in ("host", "organisation") and _is_true(attrs.get("tracker")):
        key = f"{kind}-tracker"
    else:
        key = kind
    return NODE_STYLE.get(key, {"shape": "box"})


def _edge_style(relation: str, attrs: dict[str, Any]) -> dict[str, str]:
    if relation == "sent_to":
        count = attrs.get("count", 1)
        width = 1.0 + min(3.0, len(str(count)) * 0.8)
        style = {"color": SEVERITY_COLOUR.get(str(attrs.get("severity")), "#6b7280"), "penwidth": f"{width:.1f}"}
        if _is_true(attrs.get("encrypted")):
            style["style"] = "dashed"
        return style
    return dict(RELATION_STYLE.get(relation, {}))


class DotReport(ReportFormat):
    name = "dot"
    extensions = (".dot", ".gv")
    description = "the data-flow graph in Graphviz DOT"

    def render(self, result: ScanResult) -> str:
        graph = canonical_graph(result.graph)
        captures = ", ".join(f"{c.path} sha256 {c.sha256}" for c in result.captures)
        lines = [
            f"// privscan {one_line(result.tool_version)} data-flow graph",
            f"// captures: {one_line(captures)}",
            "// draw it with: dot -Tsvg this.dot > graph.svg",
            'digraph "privscan" {',
            '  graph [rankdir="LR", fontname="Helvetica", nodesep="0.25", ranksep="1.2"];',
            '  node [fontname="Helvetica", fontsize="10", style="rounded,filled"];',
            '  edge [fontname="Helvetica", fontsize="9", arrowsize="0.6"];',
        ]
        by_kind: dict[str, list[str]] = {}
        for node, attrs in graph.nodes(data=True):
            label = attrs.get("label", node)
            if attrs.get("kind") == "identifier" and attrs.get("id_type"):
                label = f"{attrs['id_type']} {label}"
            merged = {**attrs, "label": label, **_node_style(attrs)}
            lines.append(f"  {quote(node)} [{_attributes(merged)}];")
            by_kind.setdefault(str(attrs.get("kind", "")), []).append(str(node))
        for source, target, key, attrs in graph.edges(keys=True, data=True):
            merged = {"relation": str(key), **attrs, **_edge_style(str(key), attrs)}
            lines.append(f"  {quote(source)} -> {quote(target)} [{_attributes(merged)}];")
        for kind in NODE_KINDS:
            if kind in by_kind:
                members = "; ".join(quote(n) for n in by_kind[kind])
                lines.append(f"  {{ rank=same; {members}; }}")
        lines.append("}")
        return "\n".join(lines) + "\n"
