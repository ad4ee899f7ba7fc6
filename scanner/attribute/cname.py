"""CNAME cloaking: a site's own host name that its DNS answers alias to a tracker's.

Sites hide third-party collectors under their own names (``sa.bbc.com`` is a CNAME of
``bbc.112.2o7.net``, Adobe Analytics; ``sa.bbc.co.uk`` of ``bbc01.sitestat.com``, comScore), so
that the browser sends them the site's first-party cookies.  A DNS response (RFC 1034 §3.6.2)
lists the CNAME chain before the addresses; when a name in the chain is a tracker and the asked
name is not, requests to the asked name are requests to that tracker.  The table is bounded
(oldest first out, counted) and learns only from the capture's own answers.
"""

from __future__ import annotations

from collections import OrderedDict

from scanner.attribute.destinations import DestinationResolver
from scanner.knowledge.psl import is_ip_literal
from scanner.model import Destination, DnsMessage

MAX_CLOAKED_NAMES = 50_000


class CnameCloaks:
    def __init__(self, destinations: DestinationResolver, max_names: int = MAX_CLOAKED_NAMES) -> None:
        self.destinations = destinations
        self.max_names = max_names
        self.evicted = 0
        self._target: OrderedDict[str, str] = OrderedDict()  # asked name -> the tracker name it aliases

    def learn(self, message: DnsMessage) -> None:
        if not message.response or not message.answers:
            return
        asked = message.query.rstrip(".").lower()
        info = self.destinations.describe(asked)
        if info is None or info.tracker:
            return  # a tracker's own name needs no uncloaking
        for answer in message.answers:
            if is_ip_literal(answer):
                continue
            target = answer.rstrip(".").lower()
            described = self.destinations.describe(target)
            if described is not None and described.tracker:
                if asked not in self._target and len(self._target) >= self.max_names:
                    self._target.popitem(last=False)
                    self.evicted += 1
                self._target[asked] = target
                self._target.move_to_end(asked)
                return

    def uncloak(self, destination: Destination) -> Destination:
        """The destination as the tracker it aliases, keeping the name the request used."""
        if destination.tracker:
            return destination
        target = self._target.get(destination.host)
        if target is None:
            return destination
        real = self.destinations.resolve(target, destination.ip, destination.port, host_source=destination.host_source)
        return Destination(
            host=destination.host,
            ip=destination.ip,
            port=destination.port,
            domain=destination.domain,
            org=real.org,
            category=real.category,
            tracker=True,
            party="third",
            host_source=destination.host_source,
        )
