"""CNAME cloaking (scanner/attribute/cname.py): a site's host that DNS aliases to a tracker is it."""

from __future__ import annotations

from scanner.attribute.cname import CnameCloaks
from scanner.attribute.destinations import DestinationResolver
from scanner.attribute.trackers import TrackerDatabase
from scanner.datafiles import default_signatures_root
from scanner.model import DnsMessage, FlowTuple

FLOW = FlowTuple("udp", "10.0.0.1", 5353, "10.0.0.138", 53)


def _answer(query: str, *answers: str) -> DnsMessage:
    return DnsMessage(ts=1.0, capture="c.pcap", frame=1, flow=FLOW, query=query, qtype="A", answers=answers, rcode=0,
                      response=True)


def _cloaks(max_names: int = 10) -> tuple[CnameCloaks, DestinationResolver]:
    resolver = DestinationResolver(TrackerDatabase.load(default_signatures_root()))
    return CnameCloaks(resolver, max_names), resolver


def test_a_site_host_aliased_to_adobe_is_adobe_under_its_own_name() -> None:
    cloaks, resolver = _cloaks()
    # A site's own name that no tracker list names (as sa.bbc.com was before the lists named it).
    cloaks.learn(_answer("smetrics.example-site.org", "example-site.112.2o7.net", "66.117.29.38"))
    destination = cloaks.uncloak(resolver.resolve("smetrics.example-site.org", "66.117.29.38", 80))
    assert destination.host == "smetrics.example-site.org"
    assert (destination.tracker, destination.party, destination.org) == (True, "third", "Adobe")


def test_an_alias_to_a_cdn_changes_nothing() -> None:
    cloaks, resolver = _cloaks()
    cloaks.learn(_answer("dy.ynet.co.il", "dy.ynet.co.il.edgesuite.net", "a1784.b.akamai.net", "212.199.202.37"))
    destination = resolver.resolve("dy.ynet.co.il", "212.199.202.37", 80)
    assert cloaks.uncloak(destination) == destination


def test_the_table_is_bounded() -> None:
    cloaks, _ = _cloaks(max_names=2)
    for i in range(5):
        cloaks.learn(_answer(f"m{i}.example.org", "bbc.112.2o7.net"))
    assert cloaks.evicted == 3
