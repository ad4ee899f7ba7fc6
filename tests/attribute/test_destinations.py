"""Destinations (owner, category, tracker flag, party) and time-aware DNS bindings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.attribute.destinations import DestinationResolver, DnsBindings
from scanner.model import DnsMessage, FlowTuple


@pytest.fixture(scope="module")
def resolver() -> DestinationResolver:
    return DestinationResolver()


# ---------------------------------------------------------------------- host -> Destination


def test_tracker_destination(resolver: DestinationResolver) -> None:
    dest = resolver.resolve("GoogleAds.G.DoubleClick.net.", "142.250.1.1", 443, host_source="sni")
    assert dest.to_record() == {
        "host": "googleads.g.doubleclick.net",
        "ip": "142.250.1.1",
        "port": 443,
        "domain": "doubleclick.net",
        "org": "Google",
        "category": "advertising",
        "tracker": True,
        "party": "third",
    }
    assert dest.host_source == "sni"


def test_unknown_site_is_named_by_its_registrable_domain(resolver: DestinationResolver) -> None:
    dest = resolver.resolve("api.kinderspiele-welt.de:8080", "203.0.113.9", 8080, host_source="http_host")
    assert (dest.host, dest.domain, dest.org, dest.category, dest.tracker, dest.party) == (
        "api.kinderspiele-welt.de",
        "kinderspiele-welt.de",
        "kinderspiele-welt.de",
        None,
        False,
        "first",
    )


def test_first_party_service_of_a_tracker_company(resolver: DestinationResolver) -> None:
    dest = resolver.resolve("www.google.com")
    assert (dest.org, dest.category, dest.tracker, dest.party) == ("Google", "first_party_service", False, "first")
    assert dest.host_source == "unknown" and dest.ip is None


def test_address_only(resolver: DestinationResolver) -> None:
    dest = resolver.resolve(None, "198.51.100.4", 80)
    assert (dest.host, dest.domain, dest.org, dest.tracker, dest.party, dest.host_source) == (
        "198.51.100.4",
        None,
        None,
        False,
        "first",
        "ip",
    )
    assert resolver.resolve("[2001:db8::1]:443", "2001:db8::1", 443).host == "2001:db8::1"
    with pytest.raises(ValueError):
        resolver.resolve(None, None)


def test_private_suffix_customer_is_not_the_cdn(resolver: DestinationResolver) -> None:
    dest = resolver.resolve("d1234abcd.cloudfront.net")
    assert (dest.domain, dest.org, dest.tracker) == ("d1234abcd.cloudfront.net", "d1234abcd.cloudfront.net", False)


PARTY = [
    # destination, context, party
    ("googleads.g.doubleclick.net", None, "third"),
    ("googleads.g.doubleclick.net", "https://www.kinderspiele-welt.de/spiele/1", "third"),
    ("googleads.g.doubleclick.net", "https://www.youtube.com", "first"),  # Google measuring Google
    ("app-measurement.com", "www.google.com", "first"),
    ("ads.tiktok.com", "https://www.tiktok.com/@someone", "first"),
    ("graph.facebook.com", "https://www.instagram.com", "first"),
    ("graph.facebook.com", "https://www.duolingo.com", "third"),
    ("ib.adnxs.com", "www.bing.com", "third"),  # organisations are compared, not parents: Xandr is not Microsoft
    ("ib.adnxs.com", "https://acdn.adnxs.com/ast/ast.js", "first"),  # same registrable domain
    ("api.kinderspiele-welt.de", None, "first"),  # not a tracker
    ("api.kinderspiele-welt.de", "https://www.tiktok.com", "first"),
    ("t.appsflyer.com", "null", "third"),  # Origin: null
    ("t.appsflyer.com", "", "third"),
]


@pytest.mark.parametrize(("host", "context", "party"), PARTY, ids=[f"{h}<-{c}" for h, c, _ in PARTY])
def test_party(resolver: DestinationResolver, host: str, context: str | None, party: str) -> None:
    assert resolver.resolve(host, context=context).party == party


def test_separate_resolvers_use_their_own_signatures(tmp_path: Path) -> None:
    from scanner.attribute.trackers import TrackerDatabase

    (tmp_path / "trackers").mkdir()
    (tmp_path / "trackers" / "kids.yaml").write_text(
        "organisation: Kidsgames\nparent: Kidsgames\ncountry: DE\nwebsite: https://kinderspiele-welt.de/\n"
        "licence: CC0-1.0\nsources: [https://kinderspiele-welt.de/]\n"
        "domains:\n  - domain: kinderspiele-welt.de\n    categories: [first_party_service]\n"
    )
    own = DestinationResolver(TrackerDatabase.load(tmp_path))
    assert own.resolve("api.kinderspiele-welt.de").org == "Kidsgames"
    assert own.resolve("googleads.g.doubleclick.net").org == "doubleclick.net"
    assert DestinationResolver().resolve("api.kinderspiele-welt.de").org == "kinderspiele-welt.de"


def test_labelled_capture_destinations(resolver: DestinationResolver, labelled_dir: Path) -> None:
    """Every destination host of the labelled capture gets the truth's tracker flag, and
    trackers the truth's organisation.  The truth names first parties by brand (Kidsgames,
    Duolingo, Roblox): a service the database lists (Duolingo, Roblox) carries that name; one no
    list names (Kidsgames) gets its registrable domain and is marked unknown."""
    truth = json.loads((labelled_dir / "leaks_public.truth.json").read_text())
    wrong = []
    for host, expected in truth["destinations"].items():
        dest = resolver.resolve(host)
        named = expected["is_tracker"] or not dest.unknown
        org_ok = dest.org == expected["org"] if named else dest.org == dest.domain
        if dest.tracker != expected["is_tracker"] or not org_ok:
            wrong.append((host, expected, dest.org, dest.tracker))
    assert wrong == []
    assert len(truth["destinations"]) >= 10


# ---------------------------------------------------------------------- DNS bindings


def test_a_name_learned_later_does_not_apply_to_earlier_traffic() -> None:
    dns = DnsBindings()
    dns.learn("203.0.113.5", "ads.example.net", ts=100.0, ttl=60)
    assert dns.lookup("203.0.113.5", 99.9) is None
    assert dns.lookup("203.0.113.5", 100.0) == "ads.example.net"
    assert dns.lookup("203.0.113.5", 130.0) == "ads.example.net"
    assert dns.lookup("203.0.113.6", 130.0) is None


def test_reassigned_address() -> None:
    dns = DnsBindings()
    dns.learn("203.0.113.5", "first.example", ts=100.0, ttl=300)
    dns.learn("203.0.113.5", "second.example", ts=200.0, ttl=300)
    assert dns.lookup("203.0.113.5", 150.0) == "first.example"
    assert dns.lookup("203.0.113.5", 250.0) == "second.example"
    # The first name comes back: each stretch of time keeps its own name.
    dns.learn("203.0.113.5", "first.example", ts=300.0, ttl=300)
    assert [dns.lookup("203.0.113.5", t) for t in (150.0, 250.0, 350.0)] == [
        "first.example",
        "second.example",
        "first.example",
    ]


def test_answers_out_of_order() -> None:
    dns = DnsBindings()
    dns.learn("203.0.113.5", "second.example", ts=200.0)
    dns.learn("203.0.113.5", "first.example", ts=100.0)
    assert dns.lookup("203.0.113.5", 150.0) == "first.example"
    assert dns.lookup("203.0.113.5", 250.0) == "second.example"
    dns.learn("203.0.113.5", "second.example", ts=180.0)  # the same name, known earlier
    assert dns.lookup("203.0.113.5", 190.0) == "second.example"


def test_repeated_answers_extend_a_binding() -> None:
    dns = DnsBindings(grace=10.0)
    dns.learn("203.0.113.5", "a.example", ts=0.0, ttl=60)
    dns.learn("203.0.113.5", "a.example", ts=1000.0, ttl=60)
    assert dns.lookup("203.0.113.5", 1050.0) == "a.example"
    assert dns.lookup("203.0.113.5", 1071.0) is None  # past TTL + grace of the latest answer


def test_ttl_expiry_only_after_a_generous_grace() -> None:
    dns = DnsBindings()  # a day of grace: caches and open connections outlive TTLs
    dns.learn("203.0.113.5", "a.example", ts=0.0, ttl=30)
    assert dns.lookup("203.0.113.5", 3600.0) == "a.example"
    assert dns.lookup("203.0.113.5", 2 * 86_400.0) is None


def test_names_are_normalised_and_ipv6_spellings_agree() -> None:
    dns = DnsBindings()
    dns.learn("2001:DB8:0:0::1", "Cdn.Example.COM.", ts=1.0)
    assert dns.lookup("2001:db8::1", 2.0) == "cdn.example.com"


def test_bounded_addresses() -> None:
    dns = DnsBindings(max_addresses=3)
    for i in range(5):
        dns.learn(f"192.0.2.{i}", f"n{i}.example", ts=float(i))
    assert len(dns) == 3 and dns.evicted_addresses == 2
    assert dns.lookup("192.0.2.0", 10.0) is None and dns.lookup("192.0.2.1", 10.0) is None
    # Learning again keeps an address: the least recently learned one goes.
    dns.learn("192.0.2.2", "n2.example", ts=10.0)
    dns.learn("192.0.2.9", "n9.example", ts=11.0)
    assert dns.lookup("192.0.2.2", 12.0) == "n2.example"
    assert dns.lookup("192.0.2.3", 12.0) is None


def test_bounded_names_per_address() -> None:
    dns = DnsBindings(max_names_per_address=2)
    for i in range(4):
        dns.learn("192.0.2.1", f"n{i}.example", ts=float(i * 10))
    assert dns.lookup("192.0.2.1", 5.0) is None  # the oldest names were dropped
    assert dns.lookup("192.0.2.1", 25.0) == "n2.example"
    assert dns.lookup("192.0.2.1", 35.0) == "n3.example"
    with pytest.raises(ValueError):
        DnsBindings(max_addresses=0)


def _dns(ts: float, addresses: tuple[tuple[str, str], ...], rcode: int | None = 0, response: bool = True) -> DnsMessage:
    return DnsMessage(
        ts=ts,
        capture="test.pcap",
        frame=1,
        flow=FlowTuple("udp", "10.0.0.7", 40000, "10.0.0.1", 53),
        query=addresses[0][1] if addresses else "x.example",
        qtype="A",
        answers=tuple(a for a, _ in addresses),
        rcode=rcode,
        response=response,
        ttl=300,
        addresses=addresses,
    )


def test_learn_from_dns_messages() -> None:
    dns = DnsBindings()
    assert dns.learn_message(_dns(5.0, (("198.51.100.1", "t.appsflyer.com"), ("198.51.100.2", "t.appsflyer.com")))) == 2
    assert dns.learn_message(_dns(6.0, (("198.51.100.3", "x.example"),), response=False)) == 0
    assert dns.learn_message(_dns(6.0, (("198.51.100.3", "x.example"),), rcode=3)) == 0
    assert dns.lookup("198.51.100.2", 7.0) == "t.appsflyer.com"
    assert dns.lookup("198.51.100.3", 7.0) is None


def test_bindings_feed_the_resolver(resolver: DestinationResolver) -> None:
    dns = DnsBindings()
    dns.learn("198.51.100.1", "ib.adnxs.com", ts=5.0)
    name = dns.lookup("198.51.100.1", 6.0)
    dest = resolver.resolve(name, "198.51.100.1", 443, host_source="dns")
    assert (dest.org, dest.tracker, dest.host_source) == ("Xandr", True, "dns")
