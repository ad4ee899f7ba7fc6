"""First parties learned from the traffic, and the unknown destinations that received identifiers.

Who is a first party (DESIGN.md, "attribute"; issue 13).  A destination that no
tracker list names is an *unknown* destination.  Before this module every
unknown destination was called a first party; now it is a third party unless
it is the subject's own service, known from:

1. the inventory (a device's ``first_party:`` domains), or
2. the traffic, by this rule: a client address's *learned first parties* are
   the registrable domains that carry at least ``SHARE`` (25 %) of its
   requests to destinations that are not trackers, and at least ``MIN_REQUESTS``
   (2: a DNS query and the request it led to) of them.  Requests are HTTP requests, TLS and QUIC client hellos and
   DNS queries, counted by registrable domain; CDN names, addresses without a
   name and the local network are not counted (they say nothing about whom the
   user visits).  So a capture of one child using one app learns that app's
   backend; a capture of many sites learns none of them, and every unknown
   destination stays a third party.

   Learned first parties never make a *tracker* a first party: a child on
   YouTube whose advertising ID reaches DoubleClick is still sending it to
   ad-tech (only a Referer/Origin or the inventory does that, destinations.py).

The rule is applied when the scan ends (``reclassify``), over the leaks the
aggregator holds: a leak's client addresses are the sources of its evidence
flows.  Memory is bounded: ``MAX_ADDRESSES`` client addresses, ``MAX_DOMAINS``
domains each (a domain first seen after that is not counted; the dominant ones
are seen early and often).

``unknown_destinations`` lists the unknown destinations that received
identifiers, grouped by registrable domain (or the address, for a flow with no
name), so that a person can classify them: the report's
``unknown_destinations`` key and its table and HTML sections.
"""

from __future__ import annotations

import dataclasses
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field

from scanner.model import Destination

SHARE = 0.25
MIN_REQUESTS = 2
MAX_ADDRESSES = 65_536
MAX_DOMAINS = 256
_NOT_COUNTED_CATEGORIES = frozenset({"cdn", "local_network"})


@dataclass(frozen=True, slots=True)
class UnknownDestination:
    """An organisation no list names, that received identifiers: one registrable domain (or address)."""

    domain: str
    hosts: tuple[str, ...]
    identifier_types: tuple[str, ...]
    subjects: int
    minor_subjects: int
    party: str  # "third", or "first" when it is a subject's own service (inventory or learned)
    count: int  # requests that carried identifiers

    def to_record(self) -> dict[str, object]:
        return {
            "domain": self.domain,
            "hosts": list(self.hosts),
            "identifier_types": list(self.identifier_types),
            "subjects": self.subjects,
            "minor_subjects": self.minor_subjects,
            "party": self.party,
            "count": self.count,
        }


class FirstPartyLearner:
    """Counts each client address's requests by registrable domain; says which are its first parties."""

    def __init__(self) -> None:
        self._counts: OrderedDict[str, dict[str, int]] = OrderedDict()

    def count(self, address: str, destination: Destination) -> None:
        counts = self._counts.get(address)
        if counts is None:
            if len(self._counts) >= MAX_ADDRESSES:
                self._counts.popitem(last=False)
            counts = self._counts[address] = {}  # also: this address sent a request (addresses())
        if destination.tracker or not destination.domain or destination.category in _NOT_COUNTED_CATEGORIES:
            return
        domain = destination.domain
        if domain in counts:
            counts[domain] += 1
        elif len(counts) < MAX_DOMAINS:
            counts[domain] = 1

    def addresses(self) -> frozenset[str]:
        """The client addresses that sent requests (the most recent ``MAX_ADDRESSES``)."""
        return frozenset(self._counts)

    def learned(self, address: str) -> frozenset[str]:
        counts = self._counts.get(address)
        if not counts:
            return frozenset()
        total = sum(counts.values())
        return frozenset(d for d, n in counts.items() if n >= MIN_REQUESTS and n >= SHARE * total)


def reclassify(
    destination: Destination,
    addresses: Iterable[str],
    learner: FirstPartyLearner,
    inventory_first: frozenset[str],
) -> Destination:
    """The destination's party by the rule in the module docstring (``inventory_first``: the subject's
    inventory ``first_party`` domains)."""
    if destination.category == "local_network":
        return destination
    learned: set[str] = set()
    for address in addresses:
        learned |= learner.learned(address)
    own = inventory_first | learned
    if not destination.unknown:
        return destination
    party = "first" if destination.domain is not None and destination.domain in own else "third"
    return destination if party == destination.party else dataclasses.replace(destination, party=party)


@dataclass(slots=True)
class _Group:
    hosts: set[str] = field(default_factory=set)
    types: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)
    minors: set[str] = field(default_factory=set)
    third: bool = False
    count: int = 0


def unknown_destinations(leaks: Iterable[tuple[Destination, str, str, bool | None, int]]) -> tuple[UnknownDestination, ...]:
    """Group (destination, identifier type, subject id, minor, count) of unknown destinations by domain."""
    groups: dict[str, _Group] = {}
    for destination, id_type, subject, minor, count in leaks:
        if not destination.unknown:
            continue
        group = groups.setdefault(destination.domain or destination.host, _Group())
        group.hosts.add(destination.host)
        group.types.add(id_type)
        group.subjects.add(subject)
        if minor is True:
            group.minors.add(subject)
        group.third = group.third or destination.party == "third"
        group.count += count
    out = [
        UnknownDestination(domain, tuple(sorted(g.hosts)), tuple(sorted(g.types)), len(g.subjects), len(g.minors),
                           "third" if g.third else "first", g.count)
        for domain, g in groups.items()
    ]
    # Most minors first, then most subjects, then by name: what a person should classify first.
    return tuple(sorted(out, key=lambda u: (-u.minor_subjects, -u.subjects, u.domain)))
