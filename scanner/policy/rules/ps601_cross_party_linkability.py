"""One identifier of a subject reaches two or more unrelated companies.

When the same advertising ID, e-mail or hardware ID arrives at two companies
that do not share a parent, either of them (or a data broker buying from both)
can join the profiles they hold: the identifier becomes a key that links the
person's activity across services.  Organisations under one parent (Google's
DoubleClick and Google Analytics) count once, because they can join the data
anyway.  This needs the data-flow graph across every destination of the value,
which a per-leak condition cannot see, hence code.  Worse for a minor: UK AADC
standard 12 (profiling) and GDPR Recital 38.
"""

from __future__ import annotations

from typing import Any, ClassVar

from scanner.policy.ruleset import CodeRule


class CrossPartyLinkability(CodeRule):
    id = "PS601"
    title = "The same identifier reaches two or more unrelated companies"
    severity = "medium"
    remediation = (
        "Find the SDKs that share this identifier (the hosts are listed with the finding) and raise it with "
        "the app's publisher; for child-profile subscriptions, block the trackers among them."
    )
    regulations: ClassVar[tuple[str, ...]] = (
        "GDPR Art. 5(1)(b) purpose limitation",
        "UK AADC standard 12 (profiling)",
        "GDPR Recital 38",
    )

    def matches(self, facts: dict[str, Any]) -> bool:
        parents = facts.get("linkability.parents", 0)
        return bool(facts.get("identifier.persistent")) and parents >= 2


class MinorCrossPartyLinkability(CodeRule):
    id = "PS602"
    title = "A minor's identifier reaches two or more unrelated companies"
    severity = "high"
    remediation = CrossPartyLinkability.remediation
    regulations: ClassVar[tuple[str, ...]] = (
        "UK AADC standard 12 (profiling)",
        "GDPR Recital 38",
        "COPPA 16 CFR 312.2 persistent identifier",
        "Children's Rights and Business Principles 6",
    )

    def matches(self, facts: dict[str, Any]) -> bool:
        return facts.get("subject.minor") is True and CrossPartyLinkability().matches(facts)
