"""``--format json``: the ``privscan/report/v1`` document of docs/report.md, for other tools.

The keys docs/report.md fixes are all here with the meaning it gives them
(``schema``, ``tool``, ``captures``, ``stats``, ``subjects``, ``findings`` as
``Finding.to_record()``, ``graph`` as networkx node-link data); the JSON
Schema in ``schemas/report-v1.schema.json`` is the machine-checked form of
that contract.  Extra keys, which consumers must ignore if they do not know
them: ``engine``, ``hmac_key_id``, ``show_values``, ``analyses`` (linkable
identifiers, per-organisation and per-subject exposure), ``rules`` (every
policy rule with its rationale and remediation), ``signatures`` (the signature
files with their sha256, so a report says what produced it), ``warnings``.

Deterministic: objects keep the key order the code gives them (the
contract's keys first, as docs/report.md lists them), and every object whose keys
come from data (``stats``, graph attributes) is sorted; graph nodes and links
are sorted, findings are worst first (the ``ScanResult`` order, sorted again
so a merge order cannot show), and the only value that depends on the
run rather than the input, ``stats.elapsed_s``, is ``null`` under
``RenderOptions(stable=True)`` (the CLI's ``PRIVSCAN_STABLE_REPORT=1``).  Then the
serial and the parallel scans of one input write the same bytes.

The graph is node-link data with its edges under ``"links"`` (networkx's
historical key; passed explicitly because networkx 3.4 began moving the
default to ``"edges"``), each link carrying ``source``, ``target`` and ``key``
(the relation).
"""

from __future__ import annotations

import json
from typing import Any

from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import canonical_graph, ordered_findings, stats_record
from scanner.results import ScanResult

SCHEMA_ID = "privscan/report/v1"


def node_link(graph: Any) -> dict[str, Any]:
    """networkx node-link data with edges under ``links``, nodes and links sorted."""
    import networkx as nx

    canonical = canonical_graph(graph)
    try:
        data: dict[str, Any] = nx.node_link_data(canonical, edges="links")
    except TypeError:  # networkx < 3.4 names the argument ``link``
        data = nx.node_link_data(canonical, link="links")
    data["nodes"] = sorted(data.get("nodes", []), key=lambda n: str(n.get("id")))
    data["links"] = sorted(
        data.get("links", []), key=lambda e: (str(e.get("source")), str(e.get("target")), str(e.get("key")))
    )
    return data


def sorted_mapping(value: Any) -> Any:
    """``value`` with the keys of every dict in it sorted (for dicts whose keys come from data)."""
    if isinstance(value, dict):
        return {str(k): sorted_mapping(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list | tuple):
        return [sorted_mapping(v) for v in value]
    return value


def report_document(result: ScanResult, *, stable: bool) -> dict[str, Any]:
    """The report as a JSON-ready dict (also what the JSONL and SARIF formats borrow from)."""
    analyses = result.analyses
    return {
        "schema": SCHEMA_ID,
        "tool": {"name": "privscan", "version": result.tool_version},
        "captures": [capture.to_record() for capture in result.captures],
        "stats": sorted_mapping(stats_record(result, stable=stable)),
        "subjects": [subject.to_record() for subject in sorted(result.subjects, key=lambda s: s.id)],
        "findings": [finding.to_record() for finding in ordered_findings(result.findings)],
        "graph": node_link(result.graph),
        "engine": result.engine,
        "hmac_key_id": result.hmac_key_id,
        "show_values": result.show_values,
        "unknown_destinations": [item.to_record() for item in result.unknown_destinations],
        "analyses": {
            "linkable_identifiers": [
                {
                    "subject": item.subject,
                    "minor": item.minor,
                    "identifier_type": item.id_type,
                    "value_hmac": item.value_hmac,
                    "organisations": list(item.orgs),
                    "hosts": list(item.hosts),
                }
                for item in sorted(analyses.linkable, key=lambda i: (i.subject, i.id_type, i.value_hmac))
            ],
            "organisations": [
                {
                    "organisation": item.org,
                    "category": item.category,
                    "tracker": item.tracker,
                    "subjects": list(item.subjects),
                    "minor_subjects": list(item.minor_subjects),
                    "identifier_types": list(item.id_types),
                    "hosts": list(item.hosts),
                }
                for item in sorted(analyses.organisations, key=lambda i: i.org)
            ],
            "subjects": [
                {
                    "subject": item.subject,
                    "minor": item.minor,
                    "organisations": list(item.orgs),
                    "identifier_types": list(item.id_types),
                    "hosts": list(item.hosts),
                    "worst_severity": item.worst_severity,
                }
                for item in sorted(analyses.subjects, key=lambda i: i.subject)
            ],
        },
        "rules": [
            {
                "id": rule.id,
                "title": rule.title,
                "severity": rule.severity,
                "rationale": rule.rationale,
                "remediation": rule.remediation,
                "regulations": list(rule.regulations),
                "source": rule.source,
            }
            for rule in sorted(result.rules, key=lambda r: r.id)
        ],
        "signatures": [
            {"path": signature.path, "sha256": signature.sha256}
            for signature in sorted(result.signatures, key=lambda s: s.path)
        ],
        "warnings": list(result.warnings),
    }


class JsonReport(ReportFormat):
    name = "json"
    extensions = (".json",)
    description = "privscan/report/v1 (docs/report.md), for other tools; schemas/report-v1.schema.json"

    def render(self, result: ScanResult) -> str:
        document = report_document(result, stable=self.options.is_stable)
        # ensure_ascii=False: names like "Emma’s iPad" stay readable; the file is UTF-8.
        return json.dumps(document, indent=2, ensure_ascii=False, allow_nan=False) + "\n"
