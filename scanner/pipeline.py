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

from scanner import __version__
from scanner.aggregate import Aggregator
from scanner.attribute.bindings import BindingLearner
from scanner.attribute.destinations import DestinationResolver, DnsBindings
from scanner.attribute.subjects import SubjectResolver
from scanner.attribute.trackers import TrackerDatabase
from scanner.datafiles import default_signatures_root
from scanner.decode.keylog import load_keylogs
from scanner.decode.tlsdecrypt.context import decryption_warnings
from scanner.detect.engine import Detector
from scanner.detect.signatures import load_identifier_signatures
from scanner.engines.base import EngineStats
from scanner.graph import Linkability, analyse, annotate_findings, build_graph, identifier_node, linkability
from scanner.ingest import CaptureSource
from scanner.knowledge.identifiers import identifier_type
from scanner.knowledge.inventory import Inventory, Subscriber, load_inventory, load_subscribers
from scanner.model import (
    LOCAL_NETWORK_CATEGORY,
    AttributedObservation,
    Channel,
    Destination,
    DnsMessage,
    Event,
    ScanResult,
    SignatureFile,
    Subject,
    channel_location,
)
from scanner.policy.allowlist import AllowEntry, load_allowlist
from scanner.policy.engine import PolicyEngine, code_rules, severities
from scanner.policy.ruleset import load_policy_rules
from scanner.privacy import Pseudonymizer, load_key, preview
from scanner.run import make_runner
from scanner.settings import Settings

if TYPE_CHECKING:
    import networkx as nx

LOCAL_NETWORK = "local-network"


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


class ScanPipeline:
    def __init__(self, settings: ScanSettings) -> None:
        self.settings = settings
        root = Path(settings.signatures) if settings.signatures else default_signatures_root()
        self.id_signatures = load_identifier_signatures(root)
        self.trackers = TrackerDatabase.load(root)
        rules, policy_files = load_policy_rules(root)
        self.inventory: Inventory | None = load_inventory(settings.inventory) if settings.inventory else None
        subscribers: tuple[Subscriber, ...] = load_subscribers(settings.subscribers) if settings.subscribers else ()
        allowlist: tuple[AllowEntry, ...] = load_allowlist(settings.allowlist) if settings.allowlist else ()
        self.pseudonyms = Pseudonymizer(load_key(settings.hmac_key_file))
        # Read before any capture: an unreadable key log is the user's to fix (exit 2).
        self.keylog = load_keylogs(settings.keylogs)
        self.detector = Detector(self.id_signatures, self.inventory)
        self.bindings = BindingLearner()
        self.subjects = SubjectResolver(self.inventory, subscribers, self.bindings, self.pseudonyms)
        self.destinations = DestinationResolver(self.trackers)
        self.dns = DnsBindings()
        self.aggregator = Aggregator()
        self.policy = PolicyEngine(rules, code_rules(), self.id_signatures, allowlist)
        self.first_party = {d.id: frozenset(d.first_party) for d in self.inventory.devices} if self.inventory else {}
        # Paths relative to the signatures root: a report names "trackers/google.yaml", the same
        # on every machine, so reports of the same input compare byte for byte.
        self.root = root
        files = [*self.id_signatures.files, *self.trackers.files, *policy_files]
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
            for observation in detection.observations:
                if identifier_type(observation.id_type).only_to_trackers and not destination.tracker:
                    continue  # a tracker's cookie counts when it reaches a tracker, not its own site
                if destination.host == LOCAL_NETWORK and subject.minor is not True:
                    continue  # names on the local network are a minors' risk (PS801), not a leak to a company
                channel = Channel(
                    event.type,
                    encrypted,
                    channel_location(observation.location, event.type),
                    observation.operator_injected,
                    decrypted,
                )
                value_hmac = self.pseudonyms.hmac(observation.id_type, observation.value)
                self.aggregator.add(
                    AttributedObservation(observation, subject, destination, channel), value_hmac, detection.child_directed
                )
        if event.contact_location is not None:  # (DNS answers returned above)
            if destination is None:
                destination = self._destination(event)
            if destination.tracker:
                if subject is None:
                    subject = self.subjects.resolve(event)
                    destination = self._first_party(destination, subject)
                self.aggregator.add_contact(subject, destination, event.type, encrypted, event)

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
        return self.destinations.resolve(host, flow.dst, flow.dport, context=context, host_source=source)

    def _first_party(self, destination: Destination, subject: Subject) -> Destination:
        """The inventory may name the domains a device's own apps talk to: those are first parties."""
        if destination.party == "third" and destination.domain and destination.domain in self.first_party.get(subject.id, ()):
            return dataclasses.replace(destination, party="first")
        return destination

    # ------------------------------------------------------------------ results

    def result(self, stats: EngineStats, engine: str) -> ScanResult:
        aggregator = self.aggregator
        show = self.settings.show_values
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
        )

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
