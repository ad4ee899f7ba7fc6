"""Fixtures for the policy tests: the shipped rules and a factory of leak and contact records,
built directly (no capture), so each rule is tested on exactly the facts it names."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from scanner.aggregate import Aggregator, ContactRecord, LeakRecord
from scanner.datafiles import default_signatures_root
from scanner.detect.signatures import IdentifierSignatures, load_identifier_signatures
from scanner.model import Destination, Evidence, Finding, Flag, FlowTuple, Subject
from scanner.policy.allowlist import AllowEntry
from scanner.policy.engine import Linkability, PolicyEngine, code_rules
from scanner.policy.ruleset import Rule, load_policy_rules
from scanner.privacy import Pseudonymizer

T0 = 1_714_557_600.0
KID = Subject("kid-tablet-01", True, "inventory")
ADULT = Subject("parent-phone", False, "inventory")
UNKNOWN = Subject("10.20.0.99", None, "address")

TRACKER = Destination("googleads.g.doubleclick.net", "142.250.1.1", 80, "doubleclick.net", "Google", "advertising", True, "third",
                      "http_host")
ANALYTICS = Destination("api.mixpanel.com", "107.178.240.1", 443, "mixpanel.com", "Mixpanel", "analytics", True, "third", "sni")
FIRST = Destination("api.kinderspiele-welt.de", "185.199.111.26", 80, "kinderspiele-welt.de", "kinderspiele-welt.de", None, False,
                    "first", "http_host")
LOCAL = Destination("local-network", "224.0.0.251", 5353, None, "Local network", "local_network", False, "third", "local")


class Records:
    """What the tests call ``records``: factories of leak and contact records, and the subjects
    and destinations they use (``records.KID``, ``records.TRACKER``...)."""

    KID = KID
    ADULT = ADULT
    UNKNOWN = UNKNOWN
    TRACKER = TRACKER
    ANALYTICS = ANALYTICS
    FIRST = FIRST
    LOCAL = LOCAL

    def leak(
        self,
        id_type: str = "gaid",
        *,
        subject: Subject | str = KID,
        destination: Destination | str = TRACKER,
        clear_text: bool = False,
        protocol: str = "http",
        operator_injected: bool = False,
        flags: Sequence[Flag] = (),
        flagged: int = 0,
        unflagged: int = 0,
        known: bool = True,
        values: dict[str, str] | None = None,
        frames: Sequence[int] = (17,),
        ts: float = T0,
        sport: int = 51514,
    ) -> LeakRecord:
        subject = getattr(self, subject) if isinstance(subject, str) else subject
        destination = getattr(self, destination) if isinstance(destination, str) else destination
        evidence = [Evidence("c.pcap", frame, ts + i, FlowTuple("tcp", "10.20.0.7", sport, destination.ip or "", 80))
                    for i, frame in enumerate(frames)]
        return LeakRecord(
            subject=subject,
            id_type=id_type,
            destination=destination,
            first_seen=ts,
            last_seen=ts + len(frames) - 1,
            count=len(frames),
            evidence=evidence,
            values=dict(values or {"a" * 64: "38400000-8cf0-11bd-b23e-10b96e40000d"}),
            encodings={"plain": len(frames)},
            keys={"adid": len(frames)},
            protocols={protocol: len(frames)},
            locations={"query": len(frames)},
            clear_text=clear_text,
            operator_injected=operator_injected,
            known=known,
            flags=set(flags) | ({Flag.OPERATOR_INJECTED} if operator_injected else set()),
            child_directed_flagged=flagged,
            child_directed_unflagged=unflagged,
        )

    def contact(self, *, subject: Subject | str = KID, destination: Destination | str = ANALYTICS,
                encrypted_only: bool = True) -> ContactRecord:
        subject = getattr(self, subject) if isinstance(subject, str) else subject
        destination = getattr(self, destination) if isinstance(destination, str) else destination
        return ContactRecord(subject=subject, destination=destination, first_seen=T0, last_seen=T0, count=1,
                             evidence=[Evidence("c.pcap", 5, T0, FlowTuple("tcp", "10.20.0.7", 50000, "107.178.240.1", 443))],
                             protocols={"tls": 1}, encrypted_only=encrypted_only)


@pytest.fixture(scope="session")
def records() -> Records:
    return Records()


@pytest.fixture(scope="session")
def id_signatures() -> IdentifierSignatures:
    return load_identifier_signatures(default_signatures_root())


@pytest.fixture(scope="session")
def policy_rules() -> list[Rule]:
    rules, _ = load_policy_rules(default_signatures_root())
    return rules


class Evaluate:
    """``evaluate(leaks=[...], contacts=[...], links={hmac: Linkability}, allow=[...])`` -> findings."""

    def __init__(self, rules: list[Rule], signatures: IdentifierSignatures) -> None:
        self.rules = rules
        self.signatures = signatures

    def __call__(
        self,
        leaks: Sequence[LeakRecord] = (),
        contacts: Sequence[ContactRecord] = (),
        links: dict[str, Linkability] | None = None,
        allow: Sequence[AllowEntry] = (),
        key: bytes = b"policy-test-key-0123",
        show_values: bool = False,
    ) -> list[Finding]:
        aggregator = Aggregator()
        for leak in leaks:
            aggregator.leaks[(leak.subject.id, leak.id_type, leak.destination.host)] = leak
        for contact in contacts:
            aggregator.contacts[(contact.subject.id, contact.destination.host)] = contact
        engine = PolicyEngine(self.rules, code_rules(), self.signatures, allow)
        return engine.findings(aggregator, links or {}, Pseudonymizer(key), show_values)

    def one(self, leak: LeakRecord, link: Linkability | None = None, **kwargs: Any) -> Finding:
        links = {h: link for h in leak.values} if link else None
        (finding,) = self([leak], links=links, **kwargs)
        return finding


@pytest.fixture(scope="session")
def evaluate(policy_rules: list[Rule], id_signatures: IdentifierSignatures) -> Evaluate:
    return Evaluate(policy_rules, id_signatures)
