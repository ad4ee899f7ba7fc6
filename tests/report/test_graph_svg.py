"""The SVG data-flow graph's grouped layout (scanner/report/formats/graph_svg.py).

Hosts sit inside their organisation's box, organisations under their category (the worst
category first), subjects under their pool or app when the graph says, organisations that only
got contacts are one line, identifier values are drawn short, every shortened label keeps its
full text, and the HTML's in-page links all lead somewhere.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import networkx as nx

from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.graph_svg import build_layout, render_svg, shorten
from scanner.results import ScanResult


def graph(*, pools: bool) -> nx.MultiDiGraph:
    g = nx.MultiDiGraph()
    for name, pool in (("kid-a", "pool-east"), ("kid-b", "pool-west"), ("kid-c", "pool-east")):
        attrs = {"kind": "subject", "label": name, "minor": "true", "source": "inventory"}
        if pools:
            attrs["pool"] = pool
        g.add_node(f"subject:{name}", **attrs)
    g.add_node("identifier:gaid:1", kind="identifier", id_type="gaid", label="3840****-****-****-****-********000d")
    g.add_edge("subject:kid-a", "identifier:gaid:1", key="has_identifier")
    orgs = {"AdNet": ("advertising", True), "Metrics": ("analytics", True), "Social": ("social", True)}
    for org, (category, tracker) in orgs.items():
        g.add_node(f"org:{org}", kind="organisation", label=org, category=category, tracker=tracker)
        g.add_node(f"domain:{org.lower()}.example", kind="domain", label=f"{org.lower()}.example")
        g.add_edge(f"domain:{org.lower()}.example", f"org:{org}", key="owned_by")
    for i in range(12):  # twelve AdNet hosts, one of them reached by the identifier
        host = f"host:h{i}.adnet.example"
        g.add_node(host, kind="host", label=f"h{i}.adnet.example", tracker=True)
        g.add_edge(host, "domain:adnet.example", key="part_of")
    g.add_edge("identifier:gaid:1", "host:h7.adnet.example", key="sent_to", severity="high", count=3, encrypted=False)
    for org in ("metrics", "social"):
        g.add_node(f"host:t.{org}.example", kind="host", label=f"t.{org}.example", tracker=True)
        g.add_edge(f"host:t.{org}.example", f"domain:{org}.example", key="part_of")
        g.add_edge("subject:kid-b", f"host:t.{org}.example", key="contacted", count=2)
    return g


def test_hosts_inside_organisations_grouped_by_category() -> None:
    layout = build_layout(graph(pools=False))
    assert set(layout.orgs) == {"org:AdNet", "org:Metrics", "org:Social"}
    adnet = layout.orgs["org:AdNet"]
    shown = [h.label for h in adnet.hosts]
    assert shown[0] == "h7.adnet.example", "the host the identifier reached is listed first"
    assert len(shown) == 6 and adnet.hidden_hosts == 6
    # contact-only organisations are one line, their hosts counted, not listed
    assert layout.orgs["org:Metrics"].hosts == [] and layout.orgs["org:Metrics"].host_total == 1
    headings = [text for column, _, text in layout.headings if column == 2]
    assert headings[0] == "Advertising", "the category of the worst flow first"
    assert set(headings) == {"Advertising", "Analytics", "Social"}
    svg = render_svg(graph(pools=False))
    assert "+ 6 more hosts" in svg and ">1 host<" in svg


def test_subjects_grouped_by_pool_when_the_graph_has_pools() -> None:
    plain = [text for column, _, text in build_layout(graph(pools=False)).headings if column == 0]
    assert plain == []
    layout = build_layout(graph(pools=True))
    assert [text for column, _, text in layout.headings if column == 0] == ["pool-east", "pool-west"]
    ys = {box.label: box.y for box in layout.boxes.values() if box.column == 0}
    assert ys["kid-a"] < ys["kid-c"] < ys["kid-b"], "pool members together"


def test_identifier_values_drawn_short_and_labels_keep_their_full_text() -> None:
    svg = render_svg(graph(pools=False))
    assert ">gaid 3840…000d<" in svg
    for full, shown in re.findall(r'data-full="([^"]*)">([^<]*)<', svg):
        assert shown == full or "…" in shown


def test_shorten_cuts_at_a_boundary() -> None:
    assert shorten("Mobile operator (header enrichment)", 140) == "Mobile operator…"
    assert shorten("29f684b8abc82ef05d6dfafb256bce36.safeframe.googlesyndication.com", 200, keep_tail=True) == (
        "…googlesyndication.com"
    )
    assert shorten("kid-tablet-01", 200) == "kid-tablet-01"


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.targets: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name == "id" and value:
                self.ids.add(value)
            if name == "href" and value and value.startswith("#"):
                self.targets.append(value[1:])


def test_every_in_page_link_leads_somewhere(scan_result: ScanResult) -> None:
    text = get_format("html")(RenderOptions(stable=True)).render(scan_result)
    assert isinstance(text, str)
    links = _Links()
    links.feed(text)
    assert len(links.targets) > 30
    dangling = sorted({t for t in links.targets if t not in links.ids})
    assert not dangling, dangling
