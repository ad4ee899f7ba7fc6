"""``--format gexf``: the data-flow graph as GEXF 1.2 for Gephi.

networkx's GEXF writer, with three changes for a report:

- its ``<meta lastmodifieddate>`` is today's date, which would make two runs
  over the same capture differ; privscan writes the date of the last packet
  of the captures instead (the data's date, and stable);
- the ``<creator>`` is privscan and its version (not the networkx version,
  which would change the file on a library upgrade), and ``<description>``
  names the captures and their sha256;
- nodes carry ``viz:color`` by kind (minors pink, unknown age amber, trackers
  orange, identifiers indigo), so Gephi shows the same picture as the HTML
  report before any styling; edges keep the relation in ``networkx_key``.

The graph is the canonical copy (``common.canonical_graph``), so the bytes
depend only on the graph's content.
"""

from __future__ import annotations

from typing import Any

from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import canonical_graph, utc_datetime
from scanner.results import ScanResult

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>'

# (r, g, b) per node class, the HTML drawing's stroke colours.
COLOURS = {
    "subject-minor": (190, 24, 93),
    "subject-unknown": (180, 83, 9),
    "subject-adult": (107, 114, 128),
    "operator": (124, 58, 237),
    "identifier": (67, 56, 202),
    "host": (156, 163, 175),
    "host-tracker": (194, 65, 12),
    "domain": (156, 163, 175),
    "organisation": (107, 114, 128),
    "organisation-tracker": (154, 52, 18),
}


def _colour_class(attrs: dict[str, Any]) -> str:
    kind = str(attrs.get("kind", ""))
    tracker = attrs.get("tracker") is True or str(attrs.get("tracker")).lower() == "true"
    if kind == "subject":
        return {"true": "subject-minor", "false": "subject-adult"}.get(str(attrs.get("minor")), "subject-unknown")
    if kind in ("host", "organisation") and tracker:
        return f"{kind}-tracker"
    return kind


def data_date(result: ScanResult) -> str:
    """The UTC date of the last packet of the scan (``YYYY-MM-DD``), or the epoch when unknown."""
    last = max((c.last_ts for c in result.captures if c.last_ts is not None), default=0.0)
    moment = utc_datetime(last) or utc_datetime(0.0)
    assert moment is not None
    return moment.strftime("%Y-%m-%d")


class GexfReport(ReportFormat):
    name = "gexf"
    extensions = (".gexf",)
    description = "the data-flow graph as GEXF 1.2 (Gephi)"

    def render(self, result: ScanResult) -> str:
        from xml.etree.ElementTree import SubElement

        from networkx.readwrite.gexf import GEXFWriter

        graph = canonical_graph(result.graph)
        for _node, attrs in graph.nodes(data=True):
            r, g, b = COLOURS.get(_colour_class(attrs), (107, 114, 128))
            attrs["viz"] = {"color": {"r": r, "g": g, "b": b, "a": 1.0}}
        writer = GEXFWriter(encoding="utf-8", prettyprint=True, version="1.2draft")
        meta = writer.xml.find("meta")
        if meta is not None:
            meta.set("lastmodifieddate", data_date(result))
            creator = meta.find("creator")
            if creator is not None:
                creator.text = f"privscan {result.tool_version}"
            captures = "; ".join(f"{c.path} (sha256 {c.sha256})" for c in result.captures)
            SubElement(meta, "description").text = f"privscan data-flow graph of: {captures}"
        writer.add_graph(graph)
        return f"{XML_DECLARATION}\n{str(writer).strip()}\n"
