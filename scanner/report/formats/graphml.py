"""``--format graphml``: the data-flow graph as GraphML, for yEd, Cytoscape, igraph and networkx.

Written by networkx's GraphML writer from a canonical copy of the graph
(``common.canonical_graph``: nodes, edges and attributes sorted), so equal
graphs give equal files whatever order the pipeline built them in.  The node
and edge attributes are the graph conventions' (``kind``, ``label``,
``minor``, ``tracker``, ``count``, ``severity`` ...); the edge key (the
relation: ``sent_to``, ``has_identifier`` ...) is also written as the edge's
``relation`` attribute, because GraphML keeps multigraph keys only as edge ids
that readers often drop.  Graph-level attributes say which tool and which
captures (with their sha256) produced it.

Identifier nodes carry the redacted preview and an HMAC prefix, never a value.
"""

from __future__ import annotations

from typing import Any

from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import canonical_graph
from scanner.results import ScanResult

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'


def export_graph(result: ScanResult) -> Any:
    """The canonical graph with each edge's relation as an attribute and provenance on the graph."""
    graph = canonical_graph(result.graph)
    for _source, _target, key, data in graph.edges(keys=True, data=True):
        data.setdefault("relation", str(key))
    graph.graph["tool"] = f"privscan {result.tool_version}"
    graph.graph["captures"] = ",".join(f"{c.path}={c.sha256}" for c in result.captures)
    return graph


class GraphmlReport(ReportFormat):
    name = "graphml"
    extensions = (".graphml",)
    description = "the data-flow graph as GraphML (yEd, Cytoscape, networkx)"

    def render(self, result: ScanResult) -> str:
        import networkx as nx

        lines = nx.generate_graphml(export_graph(result), encoding="utf-8", prettyprint=True)
        body = "\n".join(line for line in lines if not line.startswith("<?xml"))
        return f"{XML_DECLARATION}\n{body}\n"
