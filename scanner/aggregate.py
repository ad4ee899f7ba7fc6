"""Attributed observations folded into leaks: one per subject x identifier type x destination host.

A leak counts its repeats and keeps a bounded sample of evidence, so memory
follows the number of distinct (subject, type, host) triples, never the
number of packets.  Contacts (a subject reaching a tracker, identifiers or
not) are folded the same way per (subject, host).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scanner.model import AppRef, AttributedObservation, Destination, Event, Evidence, Flag, Subject

MAX_EVIDENCE = 10
MAX_VALUES_PER_LEAK = 16
MAX_KEYS_PER_VALUE = 8
MAX_APPS_PER_RECORD = 8
MAX_LEAKS = 1_000_000
MAX_CONTACTS = 1_000_000


@dataclass(slots=True)
class LeakRecord:
    subject: Subject
    id_type: str
    destination: Destination
    first_seen: float
    last_seen: float
    count: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    values: dict[str, str] = field(default_factory=dict)  # value HMAC -> the value (kept in memory only)
    encodings: dict[str, int] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)
    value_keys: dict[str, list[str]] = field(default_factory=dict)  # value HMAC -> its keys (bounded)
    protocols: dict[str, int] = field(default_factory=dict)
    locations: dict[str, int] = field(default_factory=dict)
    clear_text: bool = False  # seen at least once on an unencrypted channel
    decrypted: bool = False  # seen at least once inside TLS/QUIC decrypted with the lab's keys
    operator_injected: bool = False
    known: bool = False  # an inventory value, not a shape-only match
    flags: set[Flag] = field(default_factory=set)  # of all its observations
    child_directed_flagged: int = 0  # ad requests that said the user is a child
    child_directed_unflagged: int = 0  # ad requests that did not say so
    apps: dict[AppRef, int] = field(default_factory=dict)  # the apps its requests named (bounded)


@dataclass(slots=True)
class ContactRecord:
    subject: Subject
    destination: Destination
    first_seen: float
    last_seen: float
    count: int = 0
    evidence: list[Evidence] = field(default_factory=list)
    protocols: dict[str, int] = field(default_factory=dict)
    encrypted_only: bool = True
    apps: dict[AppRef, int] = field(default_factory=dict)


def _bump(counter: dict[str, int], key: str | None) -> None:
    if key is not None:
        counter[key] = counter.get(key, 0) + 1


def _count_app(apps: dict[AppRef, int], app: AppRef | None) -> None:
    if app is not None and (app in apps or len(apps) < MAX_APPS_PER_RECORD):
        apps[app] = apps.get(app, 0) + 1


class Aggregator:
    def __init__(self) -> None:
        self.leaks: dict[tuple[str, str, str], LeakRecord] = {}
        self.contacts: dict[tuple[str, str], ContactRecord] = {}
        self.observations = 0
        self.dropped_leaks = 0
        self.dropped_contacts = 0

    def add(self, item: AttributedObservation, value_hmac: str, child_directed: bool | None) -> None:
        observation = item.observation
        event = observation.event
        self.observations += 1
        key = (item.subject.id, observation.id_type, item.destination.host)
        leak = self.leaks.get(key)
        if leak is None:
            if len(self.leaks) >= MAX_LEAKS:
                self.dropped_leaks += 1
                return
            leak = self.leaks[key] = LeakRecord(
                item.subject, observation.id_type, item.destination, event.ts, event.ts
            )
        leak.count += 1
        leak.first_seen = min(leak.first_seen, event.ts)
        leak.last_seen = max(leak.last_seen, event.ts)
        if len(leak.evidence) < MAX_EVIDENCE:
            leak.evidence.append(Evidence.of(event, observation.excerpt))
        if value_hmac not in leak.values and len(leak.values) < MAX_VALUES_PER_LEAK:
            leak.values[value_hmac] = observation.value
        _bump(leak.encodings, observation.encoding)
        _bump(leak.keys, observation.key)
        for also in observation.also_keys:
            _bump(leak.keys, also)
        if value_hmac in leak.values:
            value_keys = leak.value_keys.setdefault(value_hmac, [])
            for name in (observation.key, *observation.also_keys):
                if name is not None and name not in value_keys and len(value_keys) < MAX_KEYS_PER_VALUE:
                    value_keys.append(name)
        _bump(leak.protocols, item.channel.protocol)
        _bump(leak.locations, item.channel.location)
        leak.clear_text = leak.clear_text or not item.channel.encrypted
        leak.decrypted = leak.decrypted or item.channel.decrypted
        leak.operator_injected = leak.operator_injected or observation.operator_injected
        leak.known = leak.known or observation.source == "known"
        leak.flags.update(observation.flags)
        _count_app(leak.apps, item.app)
        if child_directed is True:
            leak.child_directed_flagged += 1
        elif child_directed is False:
            leak.child_directed_unflagged += 1

    def add_contact(
        self, subject: Subject, destination: Destination, protocol: str, encrypted: bool, event: Event, app: AppRef | None = None
    ) -> None:
        key = (subject.id, destination.host)
        contact = self.contacts.get(key)
        if contact is None:
            if len(self.contacts) >= MAX_CONTACTS:
                self.dropped_contacts += 1
                return
            contact = self.contacts[key] = ContactRecord(subject, destination, event.ts, event.ts)
        contact.count += 1
        contact.first_seen = min(contact.first_seen, event.ts)
        contact.last_seen = max(contact.last_seen, event.ts)
        if len(contact.evidence) < MAX_EVIDENCE:
            contact.evidence.append(Evidence.of(event))
        _bump(contact.protocols, protocol)
        _count_app(contact.apps, app)
        contact.encrypted_only = contact.encrypted_only and encrypted
