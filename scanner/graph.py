"""The data-flow graph (networkx): who sends which identifier to whom, and who owns whom.

Nodes: ``subject:<id>`` (minor or not), ``identifier:<type>:<hmac16>`` (a keyed
hash of the value, never the value), ``host:<name>``, ``domain:<registrable>``,
``org:<name>``, and ``operator`` when the network injected headers.  Edges
(keyed by relation): subject -has_identifier-> identifier -sent_to-> host
-part_of-> domain -owned_by-> org; subject -contacted-> host (DNS/SNI, even
encrypted); operator -injected-> identifier.  Attribute values are strings,
numbers and booleans only (lists are comma-joined), so GraphML and GEXF
writers take the graph as it is.

Analyses over it: identifiers that reach two or more organisations
(cross-party linkability, computed once here: the policy's PS601/PS602 read it
by parent company through ``linkability``, the reports by organisation through
``analyse``), per organisation the minors and identifier types reaching it,
per subject its exposure.

The graph is built before the policy runs (the linkability is an input of the
policy) and the findings are written onto its sent_to edges afterwards
(``annotate_findings``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import networkx as nx

from scanner.aggregate import Aggregator
from scanner.model import LOCAL_NETWORK_CATEGORY, SEVERITY_RANK, AppRef, Finding
from scanner.results import GraphAnalyses, LinkableIdentifier, OrgExposure, SubjectExposure


def _minor_text(minor: bool | None) -> str:
    return "unknown" if minor is None else ("true" if minor else "false")


def identifier_node(id_type: str, value_hmac: str) -> str:
    return f"identifier:{id_type}:{value_hmac[:16]}"


def _app_order(app: AppRef) -> tuple[str, str, str]:
    return app.name or "", app.id or "", app.version or ""


@dataclass(frozen=True, slots=True)
class Linkability:
    """For one identifier value: how many organisations and parent companies it reached."""

    organisations: int
    parents: int


@dataclass(frozen=True, slots=True)
class Reach:
    """Where one identifier node went, the local network left out: host names and their
    organisations (a host without one counts as its own), each sorted."""

    hosts: tuple[str, ...]
    orgs: tuple[str, ...]


def identifier_reach(graph: nx.MultiDiGraph) -> dict[str, Reach]:
    """Identifier node -> its reach, for every identifier node of the graph."""
    out: dict[str, Reach] = {}
    for node, data in graph.nodes(data=True):
        if data.get("kind") != "identifier":
            continue
        # The local network is where a name is heard, not a company that keeps it.
        hosts = sorted(
            graph.nodes[h]["label"]
            for _, h, k in graph.out_edges(node, keys=True)
            if k == "sent_to" and graph.nodes[h].get("category") != LOCAL_NETWORK_CATEGORY
        )
        orgs = sorted({graph.nodes[f"host:{h}"].get("org") or h for h in hosts})
        out[node] = Reach(tuple(hosts), tuple(orgs))
    return out


def linkability(graph: nx.MultiDiGraph, parent_of: Callable[[str, str], str]) -> dict[str, Linkability]:
    """Identifier node -> how many organisations and parent companies its value reached, for the
    values that reached at least one. ``parent_of(host, org)``: the host's parent company (the
    tracker database's ``parent``), or the organisation itself."""
    out: dict[str, Linkability] = {}
    for node, reach in identifier_reach(graph).items():
        if not reach.orgs:
            continue
        parents = {parent_of(host, graph.nodes[f"host:{host}"].get("org") or host) for host in reach.hosts}
        out[node] = Linkability(len(reach.orgs), len(parents))
    return out


def annotate_findings(graph: nx.MultiDiGraph, aggregator: Aggregator, findings: Iterable[Finding]) -> None:
    """Write each leak's finding id and severity onto its sent_to edges; a value two subjects share
    (a family's e-mail) has one edge with both findings and the worst severity."""
    finding_ids: dict[tuple[str, str, str], tuple[str, str]] = {}
    for finding in findings:
        if finding.identifier is not None:
            finding_ids[(finding.subject.id, finding.identifier.type, finding.destination.host)] = (finding.id, finding.severity)
    for leak in aggregator.leaks.values():
        finding_id, severity = finding_ids.get((leak.subject.id, leak.id_type, leak.destination.host), ("", "info"))
        host_node = f"host:{leak.destination.host}"
        for value_hmac in leak.values:
            data = graph.edges[identifier_node(leak.id_type, value_hmac), host_node, "sent_to"]
            data["findings"] = ",".join(sorted({*data["findings"].split(","), finding_id} - {""}))
            data["severity"] = max(severity, data["severity"], key=lambda s: SEVERITY_RANK[s])


def build_graph(aggregator: Aggregator, previews: dict[str, str]) -> nx.MultiDiGraph:
    """``previews``: value HMAC -> the label shown for that identifier (redacted unless asked).
    The sent_to edges' ``findings`` and ``severity`` are filled by ``annotate_findings``."""
    graph = nx.MultiDiGraph()

    def add_destination(host: str, domain: str | None, org: str | None, category: str | None, tracker: bool, party: str) -> str:
        host_node = f"host:{host}"
        if host_node in graph:
            if party == "third":  # party depends on who sent and from where: the node shows the worst
                graph.nodes[host_node]["party"] = "third"
        else:
            graph.add_node(host_node, kind="host", label=host, domain=domain or "", org=org or "", category=category or "",
                           tracker=tracker, party=party)
            parent = host_node
            if domain and domain != host:
                domain_node = f"domain:{domain}"
                graph.add_node(domain_node, kind="domain", label=domain)
                graph.add_edge(host_node, domain_node, key="part_of", relation="part_of")
                parent = domain_node
            if org:
                org_node = f"org:{org}"
                if org_node not in graph:
                    graph.add_node(org_node, kind="organisation", label=org, category=category or "", tracker=tracker)
                elif tracker:
                    graph.nodes[org_node]["tracker"] = True
                if not graph.has_edge(parent, org_node, key="owned_by"):
                    graph.add_edge(parent, org_node, key="owned_by", relation="owned_by")
        return host_node

    def add_subject(subject_id: str, minor: bool | None, source: str) -> str:
        node = f"subject:{subject_id}"
        if node not in graph:
            graph.add_node(node, kind="subject", label=subject_id, minor=_minor_text(minor), source=source)
        return node

    def add_app(subject_node: str, subject_id: str, app: AppRef) -> str:
        # An app is one subject's: the same app on two devices is two nodes (subject -> app -> ...).
        node = f"app:{subject_id}|{app.id or app.name}"
        if node not in graph:
            graph.add_node(node, kind="app", label=app.label, app_id=app.id or "", version=app.version or "")
            graph.add_edge(subject_node, node, key="runs", relation="runs")
        return node

    for leak in aggregator.leaks.values():
        subject_node = add_subject(leak.subject.id, leak.subject.minor, leak.subject.source)
        destination = leak.destination
        host_node = add_destination(destination.host, destination.domain, destination.org, destination.category,
                                    destination.tracker, destination.party)
        app_nodes = [add_app(subject_node, leak.subject.id, app) for app in sorted(leak.apps, key=_app_order)]
        for app_node in app_nodes:
            if not graph.has_edge(app_node, host_node, key="reached"):
                graph.add_edge(app_node, host_node, key="reached", relation="reached")
        for value_hmac in leak.values:
            id_node = identifier_node(leak.id_type, value_hmac)
            if id_node not in graph:
                graph.add_node(id_node, kind="identifier", id_type=leak.id_type, label=previews.get(value_hmac, leak.id_type))
            if not graph.has_edge(subject_node, id_node, key="has_identifier"):
                graph.add_edge(subject_node, id_node, key="has_identifier", relation="has_identifier")
            for app_node in app_nodes:
                if not graph.has_edge(app_node, id_node, key="sent"):
                    graph.add_edge(app_node, id_node, key="sent", relation="sent")
            _add_sent_to(graph, id_node, host_node, leak.count, leak.first_seen, leak.last_seen, leak.protocols,
                         leak.encodings, not leak.clear_text)
            if leak.operator_injected:
                if "operator" not in graph:
                    graph.add_node("operator", kind="operator", label="Mobile operator (header enrichment)")
                if not graph.has_edge("operator", id_node, key="injected"):
                    graph.add_edge("operator", id_node, key="injected", relation="injected")
    for contact in aggregator.contacts.values():
        subject_node = add_subject(contact.subject.id, contact.subject.minor, contact.subject.source)
        destination = contact.destination
        host_node = add_destination(destination.host, destination.domain, destination.org, destination.category,
                                    destination.tracker, destination.party)
        graph.add_edge(
            subject_node,
            host_node,
            key="contacted",
            relation="contacted",
            count=contact.count,
            protocols=",".join(sorted(contact.protocols)),
            first_seen=round(contact.first_seen, 6),
            last_seen=round(contact.last_seen, 6),
        )
    return graph


def _add_sent_to(
    graph: nx.MultiDiGraph,
    id_node: str,
    host_node: str,
    count: int,
    first_seen: float,
    last_seen: float,
    protocols: Iterable[str],
    encodings: Iterable[str],
    encrypted: bool,
) -> None:
    """One sent_to edge per (identifier, host): a value two subjects share (a family's e-mail)
    reaches the host once in the graph, with both leaks' counts on the edge."""
    if graph.has_edge(id_node, host_node, key="sent_to"):
        data = graph.edges[id_node, host_node, "sent_to"]
        count += data["count"]
        first_seen = min(first_seen, data["first_seen"])
        last_seen = max(last_seen, data["last_seen"])
        protocols = {*protocols, *data["protocols"].split(",")}
        encodings = {*encodings, *data["encodings"].split(",")}
        encrypted = encrypted and data["encrypted"]
    graph.add_edge(
        id_node,
        host_node,
        key="sent_to",
        relation="sent_to",
        count=count,
        first_seen=round(first_seen, 6),
        last_seen=round(last_seen, 6),
        protocols=",".join(sorted(p for p in protocols if p)),
        encodings=",".join(sorted(e for e in encodings if e)),
        encrypted=encrypted,
        findings="",  # annotate_findings, once the policy has run
        severity="info",
    )


def analyse(graph: nx.MultiDiGraph, findings: Iterable[Finding]) -> GraphAnalyses:
    findings = list(findings)
    linkable: list[LinkableIdentifier] = []
    for node, reach in identifier_reach(graph).items():
        data = graph.nodes[node]
        hosts, orgs = reach.hosts, reach.orgs
        if len(orgs) < 2:
            continue
        for subject_node, _, key in graph.in_edges(node, keys=True):
            if key != "has_identifier":
                continue
            subject = graph.nodes[subject_node]
            linkable.append(
                LinkableIdentifier(
                    subject=subject["label"],
                    minor={"true": True, "false": False}.get(subject["minor"]),
                    id_type=data["id_type"],
                    value_hmac=node.rsplit(":", 1)[1],
                    orgs=tuple(orgs),
                    hosts=tuple(hosts),
                )
            )
    linkable.sort(key=lambda item: (-len(item.orgs), item.subject, item.id_type, item.value_hmac))

    per_org: dict[str, dict[str, set[str]]] = {}
    org_meta: dict[str, tuple[str | None, bool]] = {}
    per_subject: dict[str, dict[str, set[str]]] = {}
    worst: dict[str, str] = {}
    minors: dict[str, bool | None] = {}
    for finding in findings:
        if finding.identifier is None or finding.allowlisted:
            continue
        org = finding.destination.org or finding.destination.host
        entry = per_org.setdefault(org, {"subjects": set(), "minors": set(), "types": set(), "hosts": set()})
        entry["subjects"].add(finding.subject.id)
        if finding.subject.minor:
            entry["minors"].add(finding.subject.id)
        entry["types"].add(finding.identifier.type)
        entry["hosts"].add(finding.destination.host)
        category, tracker = org_meta.get(org, (finding.destination.category, finding.destination.tracker))
        org_meta[org] = (category or finding.destination.category, tracker or finding.destination.tracker)
        exposure = per_subject.setdefault(finding.subject.id, {"orgs": set(), "types": set(), "hosts": set()})
        exposure["orgs"].add(org)
        exposure["types"].add(finding.identifier.type)
        exposure["hosts"].add(finding.destination.host)
        minors[finding.subject.id] = finding.subject.minor
        if finding.subject.id not in worst or SEVERITY_RANK[finding.severity] > SEVERITY_RANK[worst[finding.subject.id]]:
            worst[finding.subject.id] = finding.severity
    organisations = tuple(
        OrgExposure(
            org=org,
            category=org_meta[org][0],
            tracker=org_meta[org][1],
            subjects=tuple(sorted(entry["subjects"])),
            minor_subjects=tuple(sorted(entry["minors"])),
            id_types=tuple(sorted(entry["types"])),
            hosts=tuple(sorted(entry["hosts"])),
        )
        for org, entry in sorted(per_org.items(), key=lambda item: (-len(item[1]["minors"]), -len(item[1]["subjects"]), item[0]))
    )
    subjects = tuple(
        SubjectExposure(
            subject=subject,
            minor=minors[subject],
            orgs=tuple(sorted(entry["orgs"])),
            id_types=tuple(sorted(entry["types"])),
            hosts=tuple(sorted(entry["hosts"])),
            worst_severity=worst.get(subject),
        )
        for subject, entry in sorted(per_subject.items(), key=lambda item: (not minors[item[0]], -len(item[1]["orgs"]), item[0]))
    )
    return GraphAnalyses(linkable=tuple(linkable), organisations=organisations, subjects=subjects)
