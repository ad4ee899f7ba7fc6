"""Who received a flow: host name -> ``scanner.model.Destination``, and address -> name over time.

``DestinationResolver.resolve(host, ip, port, context=...)`` fills a Destination:

- ``host``: the name as DNS carries it (lower case, no port, no trailing dot,
  punycode), or the IP literal when the flow has no name;
- ``domain``: the registrable domain (``scanner.knowledge.psl``; private suffixes
  count, so ``d1234.cloudfront.net`` is its own domain); None for addresses and
  local names;
- ``org``, ``category``, ``tracker``: from the tracker signatures
  (``scanner.attribute.trackers``) when a host or domain entry matches; otherwise
  the registrable domain stands in for the organisation (``kinderspiele-welt.de``),
  with no category and ``tracker=False``;
- ``party``, by this rule:

  * ``"first"`` when the destination is not a tracker: a service the user (or
    the app) talks to on purpose, whoever runs it;
  * ``"first"`` when it is a tracker run by the same organisation as the
    *context*, or under the same registrable domain: YouTube's app measuring
    itself with Google Analytics is Google talking to Google;
  * ``"third"`` when it is a tracker and there is no context, or the context
    belongs to another organisation.

  The *context* is the first party the traffic was made for, when the traffic
  says so: the host of a ``Referer`` or ``Origin`` header, or a known app
  domain.  A URL or origin (``https://www.example.com/page``) is accepted as
  well as a bare host.  Its organisation is worked out the same way as the
  destination's (signatures, else registrable domain).

``DnsBindings`` remembers which names resolved to which addresses, and when, so
that a flow without a name of its own (no SNI, no Host header) can be named by
the DNS answer the device used.  It is time-aware because addresses are reused
(CDNs, cloud load balancers): a name learned after an event does not apply to
it, and a later answer for the same address replaces an earlier one
from then on.  TTLs are honoured only loosely (``grace``, a day by default),
because caches and long-lived connections outlive them.  Memory is bounded: at
most ``max_addresses`` addresses (the least recently learned go first) and
``max_names_per_address`` names per address (the oldest go first).
"""

from __future__ import annotations

import functools
import ipaddress
from bisect import bisect_right
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import urlsplit

from scanner.attribute.trackers import TrackerDatabase, TrackerMatch, default_database
from scanner.knowledge.psl import is_ip_literal, normalise_host, registrable_domain
from scanner.model import Destination, DnsMessage

# --------------------------------------------------------------------------- names -> organisations


@dataclass(frozen=True, slots=True)
class HostInfo:
    """What a host name says about its owner, independent of the flow."""

    host: str
    domain: str | None
    org: str | None
    category: str | None
    tracker: bool
    match: TrackerMatch | None  # the signature entry, when one matched


class DestinationResolver:
    """Turns host names (or addresses) into Destinations; one per scan, results cached."""

    def __init__(self, trackers: TrackerDatabase | None = None, *, cache_size: int = 65536) -> None:
        self.trackers = trackers if trackers is not None else default_database()
        # Per instance, so that two resolvers with different signatures never share answers.
        self._describe_cached = functools.lru_cache(maxsize=cache_size)(self._describe)

    def describe(self, host: str) -> HostInfo | None:
        """Owner, category and tracker flag of one host name or address; None when ``host`` is empty."""
        name = normalise_host(host)
        return None if name is None else self._describe_cached(name)

    def _describe(self, name: str) -> HostInfo:
        domain = registrable_domain(name)
        if domain is None and is_ip_literal(name):
            return HostInfo(name, None, None, None, False, None)
        match = self.trackers.match(name)
        if match is not None:
            return HostInfo(name, domain, match.org, match.category, match.tracker, match)
        return HostInfo(name, domain, domain, None, False, None)

    def resolve(
        self,
        host: str | None,
        ip: str | None = None,
        port: int | None = None,
        *,
        context: str | None = None,
        host_source: str | None = None,
    ) -> Destination:
        """The Destination of a flow to ``host`` (or, without a name, to ``ip``).

        ``host_source`` says where the name came from (``http_host``, ``sni``,
        ``dns``, ``local``); it defaults to ``"ip"`` when the destination has no
        name and ``"unknown"`` otherwise.  Raises ValueError when neither a host
        nor an address is given.
        """
        info = self.describe(host) if host else None
        if info is None:
            info = self.describe(ip) if ip else None
            if info is None:
                raise ValueError("a destination needs a host name or an address")
            source = "ip"
        elif host_source is not None:
            source = host_source
        else:
            source = "ip" if is_ip_literal(info.host) else "unknown"
        return Destination(
            host=info.host,
            ip=ip,
            port=port,
            domain=info.domain,
            org=info.org,
            category=info.category,
            tracker=info.tracker,
            party=self.party(info, context),
            host_source=source,
        )

    def party(self, info: HostInfo, context: str | None) -> str:
        """``"first"`` or ``"third"`` by the rule in the module docstring."""
        if not info.tracker:
            return "first"
        context_name = _context_host(context)
        owner = self.describe(context_name) if context_name else None
        if owner is None:
            return "third"
        same_org = owner.org is not None and owner.org == info.org
        same_domain = owner.domain is not None and owner.domain == info.domain
        return "first" if same_org or same_domain else "third"


def _context_host(context: str | None) -> str | None:
    """The host of a Referer/Origin value or a bare host; None for empty and ``null`` origins."""
    if not context:
        return None
    context = context.strip()
    if "://" in context:
        try:
            return urlsplit(context).hostname
        except ValueError:
            return None
    if context.lower() == "null":  # Origin: null (sandboxed frames, file: pages)
        return None
    return context.split("/", 1)[0]


# --------------------------------------------------------------------------- addresses -> names over time


@dataclass(slots=True)
class _Binding:
    name: str
    first_ts: float  # when this name was first learned for the address (in this run of answers)
    last_ts: float  # the latest answer that repeated it
    ttl: float


class DnsBindings:
    """Address -> the names that resolved to it, with when they were learned.

    ``lookup(address, ts)`` is the name most recently learned at or before ``ts``
    (and not older than its TTL plus ``grace`` at ``ts``).
    """

    def __init__(
        self,
        max_addresses: int = 200_000,
        max_names_per_address: int = 4,
        grace: float = 86_400.0,
    ) -> None:
        if max_addresses < 1 or max_names_per_address < 1:
            raise ValueError("DnsBindings needs room for at least one address and one name")
        self.max_addresses = max_addresses
        self.max_names_per_address = max_names_per_address
        self.grace = grace
        self.evicted_addresses = 0
        # Ordered by when each address was last learned: the first is the one to evict.
        self._table: OrderedDict[str, list[_Binding]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._table)

    def learn(self, address: str, name: str, ts: float, ttl: float | None = None) -> None:
        """Record that ``name`` resolved to ``address`` in an answer seen at ``ts``."""
        address = _canonical_address(address)
        name = name.rstrip(".").lower()
        ttl = float(ttl) if ttl is not None and ttl > 0 else 0.0
        bindings = self._table.get(address)
        if bindings is None:
            if len(self._table) >= self.max_addresses:
                self._table.popitem(last=False)
                self.evicted_addresses += 1
            bindings = self._table[address] = []
        else:
            self._table.move_to_end(address)
        # Bindings stay sorted by first_ts; answers usually arrive in order, but captures
        # merged from several taps need not.
        at = bisect_right([b.first_ts for b in bindings], ts)
        before = bindings[at - 1] if at > 0 else None
        if before is not None and before.name == name:
            if ts >= before.last_ts:
                before.last_ts, before.ttl = ts, ttl
            return
        after = bindings[at] if at < len(bindings) else None
        if after is not None and after.name == name:
            after.first_ts = ts  # the same name, learned earlier than we knew
            return
        bindings.insert(at, _Binding(name, ts, ts, ttl))
        if len(bindings) > self.max_names_per_address:
            del bindings[0]

    def learn_message(self, message: DnsMessage) -> int:
        """Learn the address answers of a DNS response; returns how many were learned."""
        if not message.response or message.rcode not in (0, None):
            return 0
        for address, name in message.addresses:
            self.learn(address, name, message.ts, message.ttl)
        return len(message.addresses)

    def lookup(self, address: str, ts: float) -> str | None:
        """The name most recently learned for ``address`` at or before ``ts``, or None."""
        bindings = self._table.get(_canonical_address(address))
        if not bindings:
            return None
        for binding in reversed(bindings):
            if binding.first_ts <= ts:
                if ts <= binding.last_ts + binding.ttl + self.grace:
                    return binding.name
                return None  # the latest answer before ts has long expired; older ones more so
        return None


def _canonical_address(address: str) -> str:
    # IPv6 has many spellings (case, zero compression); IPv4 text from the decoders is canonical.
    if ":" in address:
        try:
            return str(ipaddress.ip_address(address))
        except ValueError:
            return address
    return address
