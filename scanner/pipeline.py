"""The scan: events -> detect -> attribute -> aggregate -> graph -> policy -> ScanResult.

This is the one place that knows the order of the stages.  Events stream
through ``ScanPipeline.consume`` one at a time (control-plane events teach the
subject bindings, DNS answers teach the destination names, everything else is
searched for identifiers); nothing is kept per packet, only the bounded leak
and contact records.  ``ScanPipeline.result`` builds the graph, applies the
policy and returns the ``ScanResult`` that every report format reads.  Nothing
here knows which engine produced the events.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

from scanner import __version__
from scanner.aggregate import Aggregator
from scanner.attribute.apps import app_of
from scanner.attribute.bindings import BindingLearner
from scanner.attribute.cname import CnameCloaks
from scanner.attribute.collectors import Collectors
from scanner.attribute.destinations import DestinationResolver, DnsBindings
from scanner.attribute.first_party import FirstPartyLearner, reclassify, unknown_destinations
from scanner.attribute.resolvers import EncryptedDns
from scanner.attribute.subjects import SubjectResolver
from scanner.attribute.tracker_lists import load_tracker_lists
from scanner.attribute.trackers import TrackerDatabase
from scanner.datafiles import default_signatures_root
from scanner.decode.keylog import load_keylogs
from scanner.decode.tlsdecrypt.context import decryption_warnings
from scanner.detect.behaviour import BehaviourTracker, behaviour_type
from scanner.detect.digests import DigestMatch, LearnedDigests, is_digest
from scanner.detect.engine import Detection, Detector
from scanner.detect.fields import Field, join_encodings
from scanner.detect.signatures import load_identifier_signatures
from scanner.engines.base import EngineStats
from scanner.graph import Linkability, analyse, annotate_findings, build_graph, identifier_node, linkability
from scanner.ingest import CaptureSource
from scanner.knowledge.identifiers import identifier_type
from scanner.knowledge.inventory import Inventory, Subscriber, load_inventory, load_networks, load_subscribers
from scanner.knowledge.networks import PoolMatcher
from scanner.model import (
    LOCAL_NETWORK_CATEGORY,
    AppRef,
    AttributedObservation,
    Channel,
    Destination,
    DnsMessage,
    Event,
    Flag,
    HttpRequest,
    Observation,
    Subject,
    channel_location,
)
from scanner.policy.allowlist import AllowEntry, load_allowlist
from scanner.policy.engine import PolicyEngine, code_rules, severities
from scanner.policy.ruleset import load_policy_rules
from scanner.privacy import Pseudonymizer, load_key, preview
from scanner.results import ScanResult, SignatureFile
from scanner.run import make_runner
from scanner.settings import Settings

if TYPE_CHECKING:
    import networkx as nx

LOCAL_NETWORK = "local-network"
_DIGEST_LOCATIONS = frozenset({"query", "body", "cookie", "header"})
_BEHAVIOUR = frozenset({Flag.BEHAVIOUR})
_LEARNED_DIGEST = frozenset({Flag.LEARNED_DIGEST})


@dataclass(frozen=True, slots=True)
class _Sighting:
    """A hashed value waiting to learn what it hashes (detect/digests.py)."""

    event: Event
    field: Field
    subject: Subject
    destination: Destination
    app: AppRef | None


_UNSET = object()  # not worked out yet


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """Everything a scan is configured with (no global settings anywhere else)."""

    inventory: str | None = None
    subscribers: str | None = None
    allowlist: str | None = None
    signatures: str | None = None  # the signatures root (identifiers/, trackers/, policies/)
    engine: str = "native"
    show_values: bool = False
    hmac_key_file: str | None = None
    jobs: int = 1  # processes decoding captures in parallel (run/parallel.py, run/sharded.py)
    scheduler: str | None = None  # a Dask scheduler's address, or local:N (run/dask_cluster.py)
    runtime: Settings = field(default_factory=Settings)  # strict decoding, the tshark path (built once by the CLI)
    keylogs: tuple[str, ...] = ()  # NSS key log files (SSLKEYLOGFILE) for TLS/QUIC decryption
    assume_minor: bool = False  # every subject whose age is unknown is a minor (--assume-minor)
    trackers: tuple[str, ...] = ()  # FORMAT:FILE tracker lists the user supplies (--trackers; tracker_lists.py)


class ScanPipeline:
    def __init__(self, settings: ScanSettings) -> None:
        self.settings = settings
        root = Path(settings.signatures) if settings.signatures else default_signatures_root()
        self.id_signatures = load_identifier_signatures(root)
        self.trackers = TrackerDatabase.load(root)
        if settings.trackers:
            lists = load_tracker_lists(settings.trackers)
            self.trackers = self.trackers.with_imported(
                (entry for found in lists for entry in found.entries),
                (SignatureFile(f"{found.format}:{found.path}", found.sha256) for found in lists),
            )
        rules, policy_files = load_policy_rules(root)
        self.inventory: Inventory | None = load_inventory(settings.inventory) if settings.inventory else None
        subscribers: tuple[Subscriber, ...] = load_subscribers(settings.subscribers) if settings.subscribers else ()
        allowlist: tuple[AllowEntry, ...] = load_allowlist(settings.allowlist) if settings.allowlist else ()
        self.pseudonyms = Pseudonymizer(load_key(settings.hmac_key_file))
        # Read before any capture: an unreadable key log is the user's to fix (exit 2).
        self.keylog = load_keylogs(settings.keylogs)
        self.detector = Detector(self.id_signatures, self.inventory)
        self.bindings = BindingLearner()
        pools = (self.inventory.networks if self.inventory else ()) + (load_networks(settings.subscribers) if settings.subscribers else ())
        self.subjects = SubjectResolver(self.inventory, subscribers, self.bindings, self.pseudonyms,
                                        pools=PoolMatcher(pools), assume_minor=settings.assume_minor)
        self.destinations = DestinationResolver(self.trackers)
        self.dns = DnsBindings()
        self.cnames = CnameCloaks(self.destinations)
        self.encrypted_dns = EncryptedDns.load(root)
        self.collectors = Collectors.load(root)
        self.behaviour: BehaviourTracker[AttributedObservation] = BehaviourTracker(self.id_signatures.negative_keys)
        self.digests: LearnedDigests[_Sighting] = LearnedDigests()
        self.aggregator = Aggregator()
        self.first_parties = FirstPartyLearner()
        self.policy = PolicyEngine(rules, code_rules(), self.id_signatures, allowlist)
        self.first_party = {d.id: frozenset(d.first_party) for d in self.inventory.devices} if self.inventory else {}
        # Paths relative to the signatures root: a report names "trackers/google.yaml", the same
        # on every machine, so reports of the same input compare byte for byte.
        self.root = root
        files = [*self.id_signatures.files, *self.trackers.files, *policy_files, *self.encrypted_dns.files, *self.collectors.files]
        self.signature_files = tuple(SignatureFile(_relative(f.path, root), f.sha256) for f in files)
        self.started = time.monotonic()

    # ------------------------------------------------------------------ streaming

    def consume(self, event: Event) -> None:
        # What each kind of event is for is declared on its class (scanner/model.py), not listed here.
        if event.binds_subjects:
            self.bindings.learn(event)
            if event.control_plane:
                return  # the operator's own signalling: bindings, not leaks
        if isinstance(event, DnsMessage) and event.response:
            if event.addresses:
                self.dns.learn_message(event)
            self.cnames.learn(event)
            return
        detection = self.detector.observe(event)
        # A request read from decrypted TLS/QUIC travelled encrypted: the lab's keys opened it.
        decrypted = event.decrypted_from() is not None
        encrypted = decrypted or event.encrypted
        destination: Destination | None = None
        subject: Subject | None = None
        if detection.observations:
            # One request, one sender: a value the inventory gives a device names the sender of all
            # of the request's identifiers (when neither a binding nor an address does), not only of
            # those found after it.
            owner = next((o.owner for o in detection.observations if o.owner), None)
            if event.local_network:
                owner = None  # a name heard on the LAN (even one asked for) does not say who asked
            subject = self.subjects.resolve(event, owner)
            destination = self._first_party(self._destination(event), subject)
            app = app_of(event, detection.fields) if isinstance(event, HttpRequest) else None
            for observation in detection.observations:
                if destination.host == LOCAL_NETWORK and subject.minor is not True:
                    continue  # names on the local network are a minors' risk (PS801), not a leak to a company
                self._add(AttributedObservation(observation, subject, destination, self._channel(event, observation), app),
                          detection.child_directed)
                self._learn(subject, observation.id_type, observation.value)
        if isinstance(event, HttpRequest) and detection.fields:
            subject, destination = self._by_behaviour(event, detection, subject, destination)
        if event.contact_location is not None:  # (DNS answers returned above)
            if destination is None:
                destination = self._destination(event)
            self.first_parties.count(event.flow.src, destination)
            resolver = self.encrypted_dns.describe(destination, event.type) if not destination.tracker else None
            if resolver is not None:
                destination = resolver  # a DoH/DoT resolver: past the operator's DNS filtering (PS902)
            if destination.tracker or resolver is not None:
                if subject is None:
                    subject = self.subjects.resolve(event)
                    destination = self._first_party(destination, subject)
                app = app_of(event, detection.fields) if isinstance(event, HttpRequest) else None
                self.aggregator.add_contact(subject, destination, event.type, encrypted, event, app)

    @staticmethod
    def _channel(event: Event, observation: Observation) -> Channel:
        # A request read from decrypted TLS/QUIC travelled encrypted: the lab's keys opened it.
        decrypted = event.decrypted_from() is not None
        return Channel(
            event.type,
            decrypted or event.encrypted,
            channel_location(observation.location, event.type),
            observation.operator_injected,
            decrypted,
        )

    def _add(self, item: AttributedObservation, child_directed: bool | None) -> None:
        observation, destination = item.observation, item.destination
        if identifier_type(observation.id_type).only_to_trackers and not destination.tracker and Flag.VENDOR_FORMAT not in observation.flags:
            # A tracker's cookie counts when it reaches a tracker (or, read by its vendor's format, the
            # vendor's own host that no list names yet), not the site that set it: a site's own
            # analytics cookie sent back to the site is no leak to a company.
            return
        value_hmac = self.pseudonyms.hmac(observation.id_type, observation.value)
        self.aggregator.add(item, value_hmac, child_directed)

    def _by_behaviour(
        self, event: HttpRequest, detection: Detection, subject: Subject | None, destination: Destination | None
    ) -> tuple[Subject | None, Destination | None]:
        """Values no detector named that behave like a tracker's ID (detect/behaviour.py)."""
        behaviour = self.behaviour
        claimed = {o.key for o in detection.observations}
        claimed.update(k for o in detection.observations for k in o.also_keys)
        seen: set[str] = set()
        light: Event | None = None  # the request without its body: what a waiting sighting keeps
        page: set[tuple[str, str]] | None = None
        app: AppRef | object | None = _UNSET
        for item in detection.fields:
            if item.key in claimed or item.value in seen:
                continue
            if item.location in _DIGEST_LOCATIONS and is_digest(item.value):
                # A digest under a name that does not say whose: of an identifier this subject sent in clear?
                seen.add(item.value)
                if subject is None:
                    subject = self.subjects.resolve(event)
                if destination is None:
                    destination = self._first_party(self._destination(event), subject)
                if app is _UNSET:
                    app = app_of(event, detection.fields)
                light = light or _without_body(event)
                sighting = _Sighting(light, item, subject, destination, app if isinstance(app, AppRef) else None)
                match = self.digests.match(subject.id, item.value, sighting)
                if match is not None:
                    self._add(self._hashed(match, sighting), None)
                continue
            if not behaviour.candidate(item):
                continue
            if item.location == "header":
                if page is None:
                    page = _referer_parameters(event)
                if (item.key, item.value) in page:
                    continue  # the embedding page's own parameter, repeated to every host it loads from
            seen.add(item.value)
            if subject is None:
                subject = self.subjects.resolve(event)
            if destination is None:
                destination = self._first_party(self._destination(event), subject)
            observation = Observation(
                id_type=behaviour_type(item.value, item.location),
                value=item.value,
                encoding=item.encoding,
                key=item.key,
                location=item.location,
                confidence=0.6,
                source="behaviour",
                flags=_BEHAVIOUR,
                event=(light := light or _without_body(event)),
            )
            if app is _UNSET:
                app = app_of(event, detection.fields)
            attributed = AttributedObservation(observation, subject, destination, self._channel(event, observation),
                                               app if isinstance(app, AppRef) else None)
            org = destination.org or destination.domain or destination.host
            for ready in behaviour.sighting(subject.id, item.value, org, event.ts, attributed):
                self._add(ready, None)
                self._learn(ready.subject, ready.observation.id_type, ready.observation.value)
        return subject, destination

    def _learn(self, subject: Subject, id_type: str, value: str) -> None:
        """An identifier seen in clear: its digests that were waiting become observations of it."""
        for match, sighting in self.digests.learn(subject.id, id_type, value):
            self._add(self._hashed(match, sighting), None)

    def _hashed(self, match: DigestMatch, sighting: _Sighting) -> AttributedObservation:
        item = sighting.field
        observation = Observation(
            id_type=match.id_type,
            value=match.value,
            encoding=join_encodings(item.encoding, match.algorithm),
            key=item.key,
            location=item.location,
            confidence=0.9,
            source="pattern",
            flags=_LEARNED_DIGEST,
            event=sighting.event,
        )
        return AttributedObservation(observation, sighting.subject, sighting.destination,
                                     self._channel(sighting.event, observation), sighting.app)

    def _destination(self, event: Event) -> Destination:
        flow = event.flow
        if event.local_network:
            return _local_network(flow.dst, flow.dport)
        host = event.destination_name()
        source = event.host_source
        context = event.page_context()
        if not host:
            host = self.dns.lookup(flow.dst, event.ts)
            source = "dns" if host else "ip"
        destination = self.cnames.uncloak(self.destinations.resolve(host, flow.dst, flow.dport, context=context, host_source=source))
        if isinstance(event, HttpRequest) and not destination.tracker:
            destination = self.collectors.describe(destination, event.uri)  # a tracker's protocol on a site's host
        return destination

    def _first_party(self, destination: Destination, subject: Subject) -> Destination:
        """The inventory may name the domains a device's own apps talk to: those are first parties."""
        if destination.party == "third" and destination.domain and destination.domain in self.first_party.get(subject.id, ()):
            return dataclasses.replace(destination, party="first")
        return destination

    # ------------------------------------------------------------------ results

    def result(self, stats: EngineStats, engine: str) -> ScanResult:
        aggregator = self.aggregator
        show = self.settings.show_values
        self._reclassify_parties()
        previews: dict[str, str] = {}
        for leak in aggregator.leaks.values():
            for value_hmac, value in leak.values.items():
                previews[value_hmac] = value if show else preview(leak.id_type, value)
        # The graph first: the policy evaluates its cross-party linkability (PS601/PS602), the
        # reports its analyses, one computation for both; the findings then go onto its edges.
        graph = build_graph(aggregator, previews)
        findings = self.policy.findings(aggregator, self._linkability(graph), self.pseudonyms, show)
        annotate_findings(graph, aggregator, findings)
        analyses = analyse(graph, findings)
        warnings: list[str] = [f"{info.path}: {warning}" for info in stats.captures for warning in info.warnings]
        if aggregator.dropped_leaks:
            warnings.append(f"{aggregator.dropped_leaks} observations dropped: more than {len(aggregator.leaks)} distinct leaks")
        if self.behaviour.evicted:
            warnings.append(f"{self.behaviour.evicted} values forgotten by the behaviour detector: more than {self.behaviour.max_values} followed")
        if self.digests.evicted:
            warnings.append(f"{self.digests.evicted} subjects' learned identifiers forgotten: more than {self.digests.max_subjects}")
        if self.cnames.evicted:
            warnings.append(f"{self.cnames.evicted} CNAME aliases of trackers forgotten: more than {self.cnames.max_names} names")
        if aggregator.dropped_contacts:
            warnings.append(f"{aggregator.dropped_contacts} contacts dropped: more than {len(aggregator.contacts)} distinct ones")
        warnings += decryption_warnings(stats.counters, self.keylog.warnings if self.keylog is not None else ())
        record = stats.to_record()
        record.update(
            {
                "observations": aggregator.observations,
                "leaks": len(aggregator.leaks),
                "contacts": len(aggregator.contacts),
                "subject_bindings_learned": self.bindings.bindings_learned,
                "findings": len(findings),
                "findings_by_severity": dict(sorted(severities(findings).items())),
            }
        )
        # The one run-dependent number: reports blank it for byte-identical output
        # (RenderOptions(stable=True) or PRIVSCAN_STABLE_REPORT=1).
        record["elapsed_s"] = round(time.monotonic() - self.started, 3)
        subjects = sorted(self.subjects.subjects(), key=lambda s: (s.minor is not True, s.id))
        return ScanResult(
            tool_version=__version__,
            engine=engine,
            captures=tuple(stats.captures),
            stats=record,
            subjects=tuple(subjects),
            findings=tuple(findings),
            graph=graph,
            analyses=analyses,
            rules=tuple(
                dataclasses.replace(info, source=_relative(info.source, self.root))
                for info in (rule.info() for rule in self.policy.all_rules())
            ),
            signatures=self.signature_files,
            show_values=show,
            hmac_key_id=self.pseudonyms.key_id,
            warnings=tuple(warnings),
            unknown_destinations=unknown_destinations(
                (leak.destination, leak.id_type, leak.subject.id, leak.subject.minor, leak.count) for leak in aggregator.leaks.values()
            ),
            present_subjects=self._present_subjects(),
        )

    def _present_subjects(self) -> tuple[str, ...]:
        """Client addresses that sent requests, and the inventory devices that own them."""
        seen = self.first_parties.addresses()
        devices = [d.id for d in self.inventory.devices if any(a.address in seen for a in d.addresses)] if self.inventory else []
        return tuple(sorted(seen | set(devices)))

    def _reclassify_parties(self) -> None:
        """Unknown destinations are third parties unless the subject's own service (first_party.py)."""
        for leak in self.aggregator.leaks.values():
            addresses = {e.flow.src for e in leak.evidence}
            leak.destination = reclassify(leak.destination, addresses, self.first_parties,
                                          self.first_party.get(leak.subject.id, frozenset()))

    def _linkability(self, graph: nx.MultiDiGraph) -> dict[str, Linkability]:
        """Value HMAC -> its linkability in the graph, by parent company (the tracker database's
        ``parent``, else the organisation), as the policy reads it."""

        def parent_of(host: str, org: str) -> str:
            info = self.destinations.describe(host)
            return info.match.parent if info is not None and info.match is not None else org

        by_node = linkability(graph, parent_of)
        return {
            value_hmac: by_node[node]
            for leak in self.aggregator.leaks.values()
            for value_hmac in leak.values
            if (node := identifier_node(leak.id_type, value_hmac)) in by_node
        }

def _without_body(event: HttpRequest) -> HttpRequest:
    """The request as evidence needs it (capture, frame, time, flow): a sighting that waits for a
    later one must not hold a body of up to megabytes."""
    return dataclasses.replace(event, body=b"", headers=())


def _referer_parameters(event: HttpRequest) -> set[tuple[str, str]]:
    """(name, value) of the query parameters in a request's Referer header."""
    for name, value in event.headers:
        if name.lower() == "referer" and "?" in value:
            return {(k, v) for k, v in parse_qsl(value.partition("?")[2], keep_blank_values=False)}
    return set()


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return path  # not a file under the root (a code rule's module name)


def _local_network(ip: str, port: int) -> Destination:
    return Destination(
        host=LOCAL_NETWORK,
        ip=ip,
        port=port,
        domain=None,
        org="Local network",
        category=LOCAL_NETWORK_CATEGORY,
        tracker=False,
        party="third",
        host_source="local",
    )


def run_scan(
    sources: Sequence[CaptureSource],
    settings: ScanSettings,
    progress: Callable[[str, int], None] | None = None,
) -> ScanResult:
    """Scan captures end to end with the configured engine."""
    pipeline = ScanPipeline(settings)
    engine = make_runner(settings.engine, progress, settings.jobs, settings.runtime, settings.scheduler, pipeline.keylog)
    consume = pipeline.consume
    for event in engine.events(sources):
        consume(event)
    return pipeline.result(engine.stats, engine.name)


__all__ = ["ScanPipeline", "ScanSettings", "identifier_node", "run_scan"]
