"""Cross-party linkability is computed once, from the graph: the policy reads it by parent company
(linkability), the reports by organisation (analyse), both from identifier_reach."""

from __future__ import annotations

import networkx as nx

from scanner.graph import Linkability, identifier_reach, linkability
from scanner.model import LOCAL_NETWORK_CATEGORY


def _graph() -> nx.MultiDiGraph:
    graph = nx.MultiDiGraph()
    for host, org, category in (
        ("ads.example", "AdCo", "advertising"),
        ("stats.example", "StatsCo", "analytics"),  # owned by AdCo's parent
        ("cdn.example", "", "cdn"),  # no organisation: counts as its own
        ("local-network", "Local network", LOCAL_NETWORK_CATEGORY),
    ):
        graph.add_node(f"host:{host}", kind="host", label=host, org=org, category=category)
    graph.add_node("identifier:gaid:aa", kind="identifier", id_type="gaid")
    graph.add_node("identifier:device_name:bb", kind="identifier", id_type="device_name")
    for host in ("ads.example", "stats.example", "cdn.example", "local-network"):
        graph.add_edge("identifier:gaid:aa", f"host:{host}", key="sent_to")
    graph.add_edge("identifier:device_name:bb", "host:local-network", key="sent_to")
    return graph


def test_reach_leaves_out_the_local_network() -> None:
    reach = identifier_reach(_graph())
    assert reach["identifier:gaid:aa"].orgs == ("AdCo", "StatsCo", "cdn.example")
    assert reach["identifier:gaid:aa"].hosts == ("ads.example", "cdn.example", "stats.example")
    assert reach["identifier:device_name:bb"].orgs == ()


def test_linkability_counts_parents_through_the_given_lookup() -> None:
    parents = {"stats.example": "AdCo Holdings", "ads.example": "AdCo Holdings"}
    links = linkability(_graph(), lambda host, org: parents.get(host, org))
    assert links == {"identifier:gaid:aa": Linkability(organisations=3, parents=2)}  # heard only locally: no entry
