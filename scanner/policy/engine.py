"""Leaks and contacts, evaluated against the policy, become findings.

Every leak is a finding (PS000 at least); its severity is that of the most
severe rule that applies, and every applying rule is listed with it.  A
finding's id is a fingerprint of what the leak is, not of when or where it
was seen: rule-independent, built from what names a finding (docs/report.md): the
subject, the identifier type, the destination organisation and host.  No
timestamps, frame numbers, ports or reassignable addresses (a subject named by
its address is the one exception: it has no better name), and no value: a
device whose advertising ID is reset, or that sends a second e-mail address to
the same host, still has the one finding, so next week's audit of the same leak
gives the same id and a baseline entry keeps holding.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from scanner.aggregate import Aggregator, ContactRecord, LeakRecord
from scanner.detect.signatures import IdentifierSignatures
from scanner.graph import Linkability
from scanner.model import (
    LOCAL_NETWORK_CATEGORY,
    SEVERITY_RANK,
    Channel,
    Finding,
    Flag,
    IdentifierRef,
    RuleMatch,
    contact_location,
    flag_note,
)
from scanner.policy.allowlist import AllowEntry
from scanner.policy.ruleset import CodeRule, Rule
from scanner.privacy import Pseudonymizer, preview

FINGERPRINT_VERSION = "v2"  # v1 also hashed the smallest value HMAC, so a new value changed the id


class PolicyEngine:
    def __init__(
        self,
        rules: Sequence[Rule],
        code_rules: Sequence[CodeRule],
        signatures: IdentifierSignatures,
        allowlist: Sequence[AllowEntry] = (),
    ) -> None:
        self.rules = list(rules)
        self.code_rules = list(code_rules)
        # A code rule as a Rule (title, rationale from its docstring...), made once, not per leak.
        self._code_rule_info = {rule.id: rule.as_rule() for rule in self.code_rules}
        self.signatures = signatures
        self.allowlist = list(allowlist)

    def all_rules(self) -> list[Rule]:
        return [*self.rules, *self._code_rule_info.values()]

    def findings(
        self,
        aggregator: Aggregator,
        linkability: dict[str, Linkability],
        pseudonyms: Pseudonymizer,
        show_values: bool,
    ) -> list[Finding]:
        out = [self._leak_finding(leak, linkability, pseudonyms, show_values) for leak in aggregator.leaks.values()]
        for contact in aggregator.contacts.values():
            finding = self._contact_finding(contact)
            if finding is not None:
                out.append(finding)
        out.sort(key=lambda f: (-SEVERITY_RANK[f.severity], f.subject.id, f.identifier.type if f.identifier else "", f.destination.host, f.id))
        return out

    # ------------------------------------------------------------------ leaks

    def leak_facts(self, leak: LeakRecord, link: Linkability | None) -> dict[str, Any]:
        signature = self.signatures.signature(leak.id_type)
        destination = leak.destination
        flagged, unflagged = leak.child_directed_flagged, leak.child_directed_unflagged
        return {
            "subject.minor": leak.subject.minor,
            "subject.source": leak.subject.source,
            "identifier.type": leak.id_type,
            "identifier.class": signature.id_class,
            "identifier.persistent": signature.persistent,
            "identifier.contact": signature.contact,
            "identifier.known": leak.known,
            # identifier.randomised, .personal_name, .operator_injected: one fact per flag, read
            # from the flags (data), never from the note's wording
            **{f"identifier.{flag.value}": flag in leak.flags for flag in Flag},
            "destination.tracker": destination.tracker,
            "destination.party": destination.party,
            "destination.category": destination.category,
            "destination.local": destination.category == LOCAL_NETWORK_CATEGORY,
            "channel.clear_text": leak.clear_text,
            "channel.encrypted_only": not leak.clear_text,
            "ad_request.advertising": destination.category == "advertising",
            "ad_request.child_directed": "flagged" if flagged else ("unflagged" if unflagged else "none"),
            "linkability.organisations": link.organisations if link else 1,
            "linkability.parents": link.parents if link else 1,
        }

    def _matching(self, facts: dict[str, Any], applies_to: str) -> list[Rule]:
        matched = [rule for rule in self.rules if rule.applies_to == applies_to and rule.matches(facts)]
        matched += [
            self._code_rule_info[rule.id] for rule in self.code_rules if rule.applies_to == applies_to and rule.matches(facts)
        ]
        return matched

    def _leak_finding(
        self, leak: LeakRecord, linkability: dict[str, Linkability], pseudonyms: Pseudonymizer, show_values: bool
    ) -> Finding:
        hmacs = sorted(leak.values)
        link = max((linkability[h] for h in hmacs if h in linkability), key=lambda lk: (lk.parents, lk.organisations), default=None)
        facts = self.leak_facts(leak, link)
        destination = leak.destination
        value_hmac = hmacs[0]
        finding_id = fingerprint(leak.subject.id, leak.id_type, destination.org, destination.host)
        matched = self._matching(facts, "leak")
        identifier = IdentifierRef(
            type=leak.id_type,
            encoding=_most_common(leak.encodings) or "plain",
            key=_most_common(leak.keys),
            value=leak.values[value_hmac] if show_values else preview(leak.id_type, leak.values[value_hmac]),
            value_hmac=value_hmac,
            encodings=tuple(sorted(leak.encodings)),
            keys=tuple(sorted(leak.keys)),
            note=flag_note(leak.flags),
        )
        channel = Channel(
            protocol=_most_common(leak.protocols) or "",
            encrypted=not leak.clear_text,
            location=_most_common(leak.locations) or "",
            operator_injected=leak.operator_injected,
            # Decrypted only says something of a leak that never travelled in clear text.
            decrypted=leak.decrypted and not leak.clear_text,
        )
        return self._finish(finding_id, matched, leak, identifier, channel, leak.subject.id, destination.org, destination.host, destination.domain)

    def _finish(
        self,
        finding_id: str,
        matched: list[Rule],
        record: LeakRecord | ContactRecord,
        identifier: IdentifierRef | None,
        channel: Channel,
        subject: str,
        org: str | None,
        host: str,
        domain: str | None,
    ) -> Finding:
        allowlisted = None
        lifted: list[tuple[str, str]] = []
        for entry in self.allowlist:
            if not entry.selects(finding_id, subject, org, host, domain):
                continue
            if entry.rule is not None:
                if any(rule.id == entry.rule for rule in matched):
                    lifted.append((entry.rule, entry.describe()))
                matched = [rule for rule in matched if rule.id != entry.rule]
            elif allowlisted is None:
                allowlisted = entry.describe()
        matched.sort(key=lambda rule: (-SEVERITY_RANK[rule.severity], rule.id))
        top = matched[0] if matched else None
        severity = top.severity if top else "info"
        regulations = tuple(dict.fromkeys(r for rule in matched for r in rule.regulations))
        remediation = top.remediation if top else ""
        return Finding(
            id=finding_id,
            rule=top.id if top else "PS000",
            title=top.title if top else "An identifier leaves the subject",
            severity=severity,
            subject=record.subject,
            identifier=identifier,
            destination=record.destination,
            channel=channel,
            evidence=tuple(record.evidence),
            count=record.count,
            first_seen=record.first_seen,
            last_seen=record.last_seen,
            regulations=regulations,
            remediation=remediation,
            rules=tuple(RuleMatch(r.id, r.title, r.severity, r.regulations, r.remediation) for r in matched),
            allowlisted=allowlisted,
            channels=tuple(sorted(record.protocols)),
            rules_allowlisted=tuple(lifted),
        )

    # ------------------------------------------------------------------ contacts

    def _contact_finding(self, contact: ContactRecord) -> Finding | None:
        facts = {
            "subject.minor": contact.subject.minor,
            "subject.source": contact.subject.source,
            "destination.tracker": contact.destination.tracker,
            "destination.party": contact.destination.party,
            "destination.category": contact.destination.category,
            "destination.local": False,
            "channel.encrypted_only": contact.encrypted_only,
            "channel.clear_text": not contact.encrypted_only,
        }
        matched = self._matching(facts, "contact")
        if not matched:
            return None
        destination = contact.destination
        finding_id = fingerprint(contact.subject.id, "-", destination.org, destination.host)
        protocol = _most_common(contact.protocols) or "tls"
        channel = Channel(protocol=protocol, encrypted=contact.encrypted_only, location=contact_location(protocol))
        return self._finish(finding_id, matched, contact, None, channel, contact.subject.id, destination.org, destination.host, destination.domain)


def fingerprint(subject: str, id_type: str, org: str | None, host: str) -> str:
    text = "|".join((FINGERPRINT_VERSION, subject, id_type, org or "", host))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def _most_common(counter: dict[str, int]) -> str | None:
    if not counter:
        return None
    return max(sorted(counter), key=lambda k: counter[k])


def code_rules() -> list[CodeRule]:
    """One instance of every code-backed rule (importing the package registers them)."""
    import scanner.policy.rules  # noqa: F401
    from scanner.policy.ruleset import CODE_RULES

    return [cls() for _, cls in sorted(CODE_RULES.items())]


def severities(findings: Iterable[Finding]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for finding in findings:
        counts[finding.severity] = counts.get(finding.severity, 0) + 1
    return counts
