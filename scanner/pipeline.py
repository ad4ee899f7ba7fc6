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
from dataclasses import dataclass
from pathlib import Path

from scanner import __version__
from scanner.aggregate import Aggregator
from scanner.attribute.bindings import BindingLearner
from scanner.attribute.destinations import DestinationResolver, DnsBindings
from scanner.attribute.inventory import Inventory, Subscriber, load_inventory, load_subscribers
from scanner.attribute.subjects import SubjectResolver
from scanner.attribute.trackers import TrackerDatabase
from scanner.datafiles import default_signatures_root
from scanner.detect.engine import Detector
from scanner.detect.signatures import load_identifier_signatures
from scanner.engines import make_engine
from scanner.engines.base import EngineStats
from scanner.graph import analyse, build_graph, identifier_node
from scanner.ingest import CaptureSource
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
from scanner.policy.engine import Linkability, PolicyEngine, code_rules, severities
from scanner.policy.ruleset import load_policy_rules
from scanner.privacy import Pseudonymizer, load_key, preview

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
    jobs: int = 1  # processes decoding captures in parallel (run/parallel.py)


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
                if observation.id_type == "cookie_id" and not destination.tracker:
                    continue  # a tracker's cookie counts when it reaches a tracker, not its own site
                if destination.host == LOCAL_NETWORK and subject.minor is not True:
                    continue  # names on the local network are a minors' risk (PS801), not a leak to a company
                channel = Channel(
                    event.type,
                    event.encrypted,
                    channel_location(observation.location, event.type),
                    observation.operator_injected,
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
                self.aggregator.add_contact(subject, destination, event.type, event.encrypted, event)

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
        linkability = self._linkability()
        findings = self.policy.findings(aggregator, linkability, self.pseudonyms, show)
        previews: dict[str, str] = {}
        for leak in aggregator.leaks.values():
            for value_hmac, value in leak.values.items():
                previews[value_hmac] = value if show else preview(leak.id_type, value)
        graph = build_graph(aggregator, findings, previews)
        analyses = analyse(graph, findings)
        warnings: list[str] = [f"{info.path}: {warning}" for info in stats.captures for warning in info.warnings]
        if aggregator.dropped_leaks:
            warnings.append(f"{aggregator.dropped_leaks} observations dropped: more than {len(aggregator.leaks)} distinct leaks")
        if aggregator.dropped_contacts:
            warnings.append(f"{aggregator.dropped_contacts} contacts dropped: more than {len(aggregator.contacts)} distinct ones")
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

    def _linkability(self) -> dict[str, Linkability]:
        orgs: dict[str, set[str]] = {}
        parents: dict[str, set[str]] = {}
        for leak in self.aggregator.leaks.values():
            destination = leak.destination
            if destination.host == LOCAL_NETWORK:
                continue
            org = destination.org or destination.host
            info = self.destinations.describe(destination.host)
            parent = info.match.parent if info is not None and info.match is not None else org
            for value_hmac in leak.values:
                orgs.setdefault(value_hmac, set()).add(org)
                parents.setdefault(value_hmac, set()).add(parent)
        return {h: Linkability(len(orgs[h]), len(parents[h])) for h in orgs}


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
    engine = make_engine(settings.engine, progress, settings.jobs)
    consume = pipeline.consume
    for event in engine.events(sources):
        consume(event)
    return pipeline.result(engine.stats, engine.name)


__all__ = ["ScanPipeline", "ScanSettings", "identifier_node", "run_scan"]
