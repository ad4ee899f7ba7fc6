"""What several report formats share: the order of findings and subjects, times, labels, the graph.

Kept apart so that every format orders and words things the same way: a
finding that is third in the table is third in the HTML and in the SARIF, and
a time is written the same way everywhere (ISO 8601, UTC, microseconds, as
the capture has them).  No format class lives here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from scanner.model import SEVERITIES, SEVERITY_RANK, AppRef, Finding, Subject
from scanner.results import RuleInfo, ScanResult

# Worst first, for headers and summaries.
SEVERITIES_WORST_FIRST: tuple[str, ...] = tuple(reversed(SEVERITIES))

# Graph node kinds, in the order the data flows (the layered drawing and the DOT ranks follow it).
NODE_KINDS = ("operator", "subject", "identifier", "host", "domain", "organisation")


def severity_rank(severity: str | None) -> int:
    """Higher is worse; unknown severities sort below ``info``."""
    return SEVERITY_RANK.get(severity or "", -1)


def finding_sort_key(finding: Finding) -> tuple[int, str, str, str, str]:
    """Most severe first, then subject, identifier type, host, and the id to break ties.

    This is the order ``ScanResult.findings`` promises; formats sort again so
    that their bytes do not depend on how a parallel run merged its shards.
    """
    return (
        -severity_rank(finding.severity),
        finding.subject.id,
        finding.identifier.type if finding.identifier else "",
        finding.destination.host,
        finding.id,
    )


def ordered_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=finding_sort_key)


def active_findings(result: ScanResult) -> list[Finding]:
    """Findings nobody accepted (not allow-listed), worst first."""
    return ordered_findings(f for f in result.findings if f.allowlisted is None)


def allowlisted_findings(result: ScanResult) -> list[Finding]:
    return ordered_findings(f for f in result.findings if f.allowlisted is not None)


def worst_severity(findings: Iterable[Finding]) -> str | None:
    worst: str | None = None
    for finding in findings:
        if worst is None or severity_rank(finding.severity) > severity_rank(worst):
            worst = finding.severity
    return worst


def severity_counts(findings: Iterable[Finding]) -> dict[str, int]:
    """Count per severity, every severity present (zero included), worst first."""
    counts = dict.fromkeys(SEVERITIES_WORST_FIRST, 0)
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts


def minor_rank(minor: bool | None) -> int:
    """Minors first, then subjects of unknown age (they may be children), adults last."""
    return 0 if minor is True else 1 if minor is None else 2


def minor_text(minor: bool | None) -> str:
    return "minor" if minor is True else "adult" if minor is False else "age unknown"


def minor_value(minor: bool | None) -> str:
    """``true`` / ``false`` / ``unknown``, as the graph and the CSV write it."""
    return "true" if minor is True else "false" if minor is False else "unknown"


def subject_groups(result: ScanResult, findings: Iterable[Finding]) -> list[tuple[Subject, list[Finding]]]:
    """Findings grouped by subject: minors first, then the worst severity first, then the id."""
    groups: dict[str, tuple[Subject, list[Finding]]] = {}
    for finding in ordered_findings(findings):
        groups.setdefault(finding.subject.id, (finding.subject, []))[1].append(finding)
    return sorted(
        groups.values(),
        key=lambda group: (minor_rank(group[0].minor), -severity_rank(worst_severity(group[1])), group[0].id),
    )


@dataclass(frozen=True, slots=True)
class AppGroup:
    """The findings one app on one subject's device caused (attribute/apps.py)."""

    subject: Subject
    app: AppRef
    findings: tuple[Finding, ...]

    @property
    def id_types(self) -> list[str]:
        return sorted({f.identifier.type for f in self.findings if f.identifier is not None})

    @property
    def hosts(self) -> list[str]:
        return sorted({f.destination.host for f in self.findings})


def app_groups(findings: Iterable[Finding]) -> list[AppGroup]:
    """Findings grouped by subject and app, for the findings whose traffic named its app: minors
    first, then the worst severity first, then the subject and the app."""
    groups: dict[tuple[str, AppRef], list[Finding]] = {}
    subjects: dict[str, Subject] = {}
    for finding in ordered_findings(findings):
        if finding.app is not None:
            groups.setdefault((finding.subject.id, finding.app), []).append(finding)
            subjects[finding.subject.id] = finding.subject
    return sorted(
        (AppGroup(subjects[subject_id], app, tuple(items)) for (subject_id, app), items in groups.items()),
        key=lambda g: (minor_rank(g.subject.minor), -severity_rank(worst_severity(list(g.findings))), g.subject.id,
                       g.app.label, g.app.id or ""),
    )


def subjects_in_order(result: ScanResult) -> list[Subject]:
    """Every subject of the scan, minors first, then by id."""
    return sorted(result.subjects, key=lambda s: (minor_rank(s.minor), s.id))


def utc_datetime(ts: float) -> datetime | None:
    """The UTC time of a capture timestamp, or None when no calendar has it: a damaged or
    crafted capture can say year 112003 or -5000, which must not stop a report."""
    try:
        return datetime.fromtimestamp(ts, UTC)
    except (ValueError, OverflowError, OSError):
        return None


def iso_utc(ts: float | None) -> str:
    """``2024-05-01T10:00:00.123456Z``; empty for None.  Microseconds, as pcap keeps them.
    A timestamp outside the calendar is given as the capture's seconds, as they are."""
    if ts is None:
        return ""
    moment = utc_datetime(ts)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else repr(round(ts, 6))


def short_time(ts: float | None) -> str:
    """``2024-05-01 10:00:00Z``: to the second, for tables people read."""
    if ts is None:
        return ""
    moment = utc_datetime(ts)
    return moment.strftime("%Y-%m-%d %H:%M:%SZ") if moment else f"{ts:.0f} s"


def rules_by_id(result: ScanResult) -> dict[str, RuleInfo]:
    """The scan's rules by id, plus any rule a finding names that ``result.rules`` lacks.

    The fallback entry is built from the finding's own title, severity,
    regulations and remediation, so a report never names a rule it cannot describe.
    """
    rules = {rule.id: rule for rule in result.rules}
    for finding in ordered_findings(result.findings):
        for match in finding.rules:
            if match.rule not in rules:
                rules[match.rule] = RuleInfo(
                    id=match.rule,
                    title=match.title,
                    severity=match.severity,
                    rationale="",
                    remediation=match.remediation,
                    regulations=match.regulations,
                    source="",
                )
        if finding.rule not in rules:
            rules[finding.rule] = RuleInfo(
                id=finding.rule,
                title=finding.title,
                severity=finding.severity,
                rationale="",
                remediation=finding.remediation,
                regulations=finding.regulations,
                source="",
            )
    return rules


def rules_in_order(result: ScanResult) -> list[RuleInfo]:
    """Rules worst severity first, then by id."""
    return sorted(rules_by_id(result).values(), key=lambda r: (-severity_rank(r.severity), r.id))


def identifier_text(finding: Finding) -> str:
    """``gaid (base64)``, ``gaid`` for plain values, or ``-`` for a contact without an identifier."""
    ref = finding.identifier
    if ref is None:
        return "-"
    if ref.encoding and ref.encoding != "plain":
        return f"{ref.type} ({ref.encoding})"
    return ref.type


def destination_marks(finding: Finding) -> list[str]:
    """Short marks for a destination: ``tracker``, ``third party``."""
    marks: list[str] = []
    if finding.destination.tracker:
        marks.append("tracker")
    if finding.destination.party == "third":
        marks.append("third party")
    return marks


def capture_hashes(result: ScanResult) -> dict[str, str]:
    return {capture.path: capture.sha256 for capture in result.captures}


def stats_record(result: ScanResult, *, stable: bool) -> dict[str, Any]:
    """``result.stats`` with ``elapsed_s`` set to None when a stable output is asked for."""
    stats = dict(result.stats)
    if stable and "elapsed_s" in stats:
        stats["elapsed_s"] = None
    return stats


_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def printable(text: object) -> str:
    """Text from traffic made safe to print: control characters (ANSI escapes) shown as ``\\xNN``.

    A host name or a key in a capture can hold an escape sequence; written raw to
    a terminal it would recolour or rewrite the report (terminal injection).
    """
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def one_line(text: object) -> str:
    """``printable`` text with newlines and tabs shown as escapes too (comments, table cells)."""
    return printable(text).replace("\t", "\\t").replace("\n", "\\n")


def _graph_value(value: Any) -> Any:
    if isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return ",".join(str(v) for v in items)
    return str(value)


def canonical_graph(graph: Any) -> Any:
    """A copy of the data-flow graph with nodes, edges and attributes in sorted order.

    The pipeline may add nodes in any order (a parallel run merges shards), and
    GraphML/GEXF/DOT/node-link keep insertion order; sorting here makes those
    outputs depend on the graph's content only.  Attribute values are kept to
    str/int/float/bool as the graph conventions say (None dropped, lists
    comma-joined) so that the XML writers never meet a type they cannot write.
    """
    import networkx as nx

    canonical = nx.MultiDiGraph()
    if graph is None:
        return canonical
    canonical.graph.update({str(k): _graph_value(v) for k, v in sorted(graph.graph.items()) if v is not None})
    for node in sorted(graph.nodes, key=str):
        attrs = graph.nodes[node]
        canonical.add_node(node, **{str(k): _graph_value(attrs[k]) for k in sorted(attrs) if attrs[k] is not None})
    if graph.is_multigraph():
        edges = [(u, v, k, d) for u, v, k, d in graph.edges(keys=True, data=True)]
    else:
        edges = [(u, v, str(d.get("relation", "")), d) for u, v, d in graph.edges(data=True)]
    for u, v, key, data in sorted(edges, key=lambda e: (str(e[0]), str(e[1]), str(e[2]))):
        canonical.add_edge(
            u, v, key=key, **{str(k): _graph_value(data[k]) for k in sorted(data) if data[k] is not None}
        )
    return canonical
