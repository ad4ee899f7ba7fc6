"""Every policy rule (signatures/policies/minors.yaml and the code rules) with a positive and a
negative case, built from leak and contact records directly; a finding's severity is the most
severe rule that applies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from scanner.aggregate import ContactRecord, LeakRecord
from scanner.flags import FLAG_NOTES, Flag, flag_note
from scanner.model import SEVERITY_RANK, Finding
from scanner.policy.engine import Linkability, code_rules
from scanner.policy.ruleset import FACTS, Rule

KID_SUBJECT = "kid-tablet-01"
LINKED = Linkability(organisations=2, parents=2)
SAME_PARENT = Linkability(organisations=2, parents=1)


# Subjects and destinations by name (the ``records`` fixture holds them).
KID, ADULT, UNKNOWN = "KID", "ADULT", "UNKNOWN"
TRACKER, ANALYTICS, FIRST, LOCAL = "TRACKER", "ANALYTICS", "FIRST", "LOCAL"

# A case: (records -> (leak or contact, linkability or None))
Case = Callable[[Any], tuple[LeakRecord | ContactRecord, Linkability | None]]


def L(**kwargs: Any) -> Case:  # a leak (reads as a table)
    link = kwargs.pop("link", None)
    id_type = kwargs.pop("id_type", "gaid")
    return lambda records: (records.leak(id_type, **kwargs), link)


def C(**kwargs: Any) -> Case:  # a contact
    return lambda records: (records.contact(**kwargs), None)


# rule id -> (positive case, negative cases)
CASES: dict[str, tuple[Case, list[Case]]] = {
    "PS000": (L(subject=ADULT, destination=FIRST), [C(subject=KID, destination=ANALYTICS)]),
    "PS101": (L(id_type="imei"), [L(id_type="imei", subject=ADULT), L(id_type="imei", destination=FIRST),
                                  L(id_type="mac", flags=[Flag.RANDOMISED_MAC]), L(id_type="imei", subject=UNKNOWN)]),
    "PS102": (L(id_type="gaid"), [L(id_type="gaid", destination=FIRST), L(id_type="gaid", subject=ADULT),
                                  L(id_type="email")]),
    "PS103": (L(id_type="imei", destination=FIRST), [L(id_type="imei", destination=FIRST, subject=ADULT),
                                                    L(id_type="geo", destination=FIRST)]),
    "PS201": (L(id_type="geo"), [L(id_type="geo", destination=FIRST), L(id_type="geo", subject=ADULT)]),
    "PS202": (L(id_type="geo", destination=FIRST), [L(id_type="geo"), L(id_type="geo", destination=FIRST, subject=UNKNOWN)]),
    "PS301": (L(id_type="email"), [L(id_type="email", destination=FIRST), L(id_type="email", subject=ADULT)]),
    "PS302": (L(id_type="msisdn", destination=FIRST), [L(id_type="gaid", destination=FIRST), L(id_type="email")]),
    "PS401": (L(id_type="imei", subject=ADULT, clear_text=True), [L(id_type="imei", subject=ADULT),
                                                                  L(id_type="cookie_id", subject=ADULT, clear_text=True)]),
    "PS402": (L(id_type="geo", clear_text=True), [L(id_type="geo", subject=ADULT, clear_text=True), L(id_type="geo")]),
    "PS501": (L(id_type="msisdn", subject=ADULT, destination=FIRST, operator_injected=True),
              [L(id_type="msisdn", subject=ADULT, destination=FIRST)]),
    "PS502": (L(id_type="uidh", destination=FIRST, operator_injected=True),
              [L(id_type="uidh", subject=ADULT, destination=FIRST, operator_injected=True), L(id_type="msisdn")]),
    "PS601": (L(id_type="gaid", subject=ADULT, link=LINKED), [L(id_type="gaid", subject=ADULT, link=SAME_PARENT),
                                                              L(id_type="geo", subject=ADULT, link=LINKED),
                                                              L(id_type="gaid", subject=ADULT)]),
    "PS602": (L(id_type="android_id", link=LINKED), [L(id_type="android_id", subject=ADULT, link=LINKED),
                                                     L(id_type="android_id", link=SAME_PARENT)]),
    "PS701": (L(id_type="gaid", unflagged=3), [L(id_type="gaid", flagged=1), L(id_type="gaid", unflagged=3, destination=ANALYTICS),
                                               L(id_type="geo", unflagged=3), L(id_type="gaid")]),
    "PS702": (L(id_type="gaid", flagged=1, unflagged=2), [L(id_type="gaid", unflagged=3),
                                                         L(id_type="gaid", flagged=1, subject=ADULT),
                                                         L(id_type="geo", flagged=1)]),
    "PS801": (L(id_type="device_name", destination=LOCAL, flags=[Flag.PERSONAL_NAME]),
              [L(id_type="device_name", destination=LOCAL), L(id_type="device_name", destination=LOCAL, subject=ADULT,
                                                               flags=[Flag.PERSONAL_NAME])]),
    "PS901": (C(subject=KID, destination=ANALYTICS), [C(subject=ADULT, destination=ANALYTICS), C(subject=UNKNOWN)]),
}


def _rule_ids(findings: list[Finding]) -> set[str]:
    return {match.rule for finding in findings for match in finding.rules}


def _run(case: Case, records: Any, evaluate: Any) -> list[Finding]:
    record, link = case(records)
    if isinstance(record, ContactRecord):
        return list(evaluate(contacts=[record]))
    links = {h: link for h in record.values} if link else None
    return list(evaluate([record], links=links))


def test_every_rule_has_cases(policy_rules: list[Rule]) -> None:
    shipped = {rule.id for rule in policy_rules} | {rule.id for rule in code_rules()}
    assert shipped == set(CASES)


@pytest.mark.parametrize("rule_id", sorted(CASES))
def test_positive(rule_id: str, records: Any, evaluate: Any) -> None:
    findings = _run(CASES[rule_id][0], records, evaluate)
    assert rule_id in _rule_ids(findings)


@pytest.mark.parametrize(("rule_id", "index"), [(r, i) for r, (_, negatives) in sorted(CASES.items()) for i in range(len(negatives))])
def test_negative(rule_id: str, index: int, records: Any, evaluate: Any) -> None:
    findings = _run(CASES[rule_id][1][index], records, evaluate)
    assert rule_id not in _rule_ids(findings)


def test_rules_are_documented(policy_rules: list[Rule]) -> None:
    for rule in [*policy_rules, *(r.as_rule() for r in code_rules())]:
        assert rule.title and rule.rationale and rule.remediation, rule.id
        assert rule.severity in SEVERITY_RANK
        if rule.id != "PS000":
            assert rule.regulations, rule.id
    references = " ".join(r for rule in policy_rules for r in rule.regulations)
    for law in ("COPPA 16 CFR 312.2", "GDPR Art. 8", "GDPR Recital 38", "UK AADC standard 9", "UK AADC standard 10",
                "UK AADC standard 12", "LGPD Art. 14", "Children's Rights and Business Principles", "ITU COP Guidelines"):
        assert law in references, law


# ---------------------------------------------------------------------- severity and what a finding carries


def test_severity_is_the_most_severe_matching_rule(records: Any, evaluate: Any) -> None:
    finding = evaluate.one(records.leak("imei", clear_text=True, unflagged=1))
    ids = [m.rule for m in finding.rules]
    assert ids[0] == "PS101" and finding.rule == "PS101" and finding.severity == "critical"
    assert {"PS000", "PS101", "PS401", "PS402", "PS701"} <= set(ids)
    ranks = [SEVERITY_RANK[m.severity] for m in finding.rules]
    assert ranks == sorted(ranks, reverse=True), "most severe first"
    assert finding.title == finding.rules[0].title and finding.remediation == finding.rules[0].remediation
    assert "COPPA 16 CFR 312.2 persistent identifier" in finding.regulations
    assert "GDPR Art. 32 (security of processing)" in finding.regulations, "every matching rule's regulations"
    assert len(finding.regulations) == len(set(finding.regulations))


@pytest.mark.parametrize(
    ("kwargs", "severity", "rule"),
    [
        ({"id_type": "gaid", "subject": ADULT, "destination": FIRST}, "info", "PS000"),
        ({"id_type": "gaid", "subject": ADULT, "destination": FIRST, "clear_text": True}, "medium", "PS401"),
        ({"id_type": "gaid"}, "high", "PS102"),
        ({"id_type": "gaid", "flagged": 1}, "critical", "PS702"),
        ({"id_type": "email", "destination": FIRST}, "low", "PS302"),
        ({"id_type": "geo"}, "critical", "PS201"),
        ({"id_type": "msisdn", "subject": ADULT, "operator_injected": True, "destination": FIRST}, "high", "PS501"),
        ({"id_type": "gaid", "subject": UNKNOWN, "clear_text": True}, "medium", "PS401"),
    ],
)
def test_severity_table(kwargs: dict[str, Any], severity: str, rule: str, records: Any, evaluate: Any) -> None:
    fields = dict(kwargs)
    id_type = fields.pop("id_type")
    finding = evaluate.one(records.leak(id_type, **fields))
    assert (finding.severity, finding.rule) == (severity, rule)


def test_code_rule_needs_the_graph(records: Any, evaluate: Any) -> None:
    assert "PS602" not in {m.rule for m in evaluate.one(records.leak("gaid")).rules}
    finding = evaluate.one(records.leak("gaid"), LINKED)
    assert {"PS601", "PS602"} <= {m.rule for m in finding.rules}
    assert finding.rules[0].severity == "high"


def test_linkability_of_the_most_linked_value(records: Any, evaluate: Any) -> None:
    leak = records.leak("gaid", subject=ADULT, values={"a" * 64: "v1", "b" * 64: "v2"})
    findings = evaluate([leak], links={"a" * 64: SAME_PARENT, "b" * 64: LINKED})
    assert "PS601" in _rule_ids(findings)


def test_every_leak_is_a_finding_and_contacts_only_when_a_rule_says_so(records: Any, evaluate: Any) -> None:
    leaks = [records.leak("gaid", subject=ADULT, destination=FIRST), records.leak("email", subject=ADULT, destination=FIRST)]
    contacts = [records.contact(subject=ADULT), records.contact(subject=KID)]
    findings = evaluate(leaks, contacts)
    assert len(findings) == 3
    contact = [f for f in findings if f.identifier is None]
    assert len(contact) == 1 and contact[0].subject.id == KID_SUBJECT and contact[0].rule == "PS901"
    assert contact[0].channel.location == "sni" and contact[0].severity == "info"


def test_findings_are_ordered_worst_first(records: Any, evaluate: Any) -> None:
    leaks = [records.leak("gaid", subject=ADULT, destination=FIRST), records.leak("geo"), records.leak("email", destination=FIRST)]
    findings = evaluate(leaks)
    assert [f.severity for f in findings] == ["critical", "low", "info"]


def test_finding_carries_the_leak(records: Any, evaluate: Any) -> None:
    leak = records.leak("gaid", frames=(17, 23, 31), clear_text=True)
    finding = evaluate.one(leak)
    assert finding.count == 3 and [e.frame for e in finding.evidence] == [17, 23, 31]
    assert (finding.first_seen, finding.last_seen) == (leak.first_seen, leak.last_seen)
    assert finding.identifier is not None
    assert finding.identifier.value != "38400000-8cf0-11bd-b23e-10b96e40000d", "redacted unless asked"
    assert finding.identifier.value_hmac == "a" * 64
    assert finding.channel.encrypted is False and finding.channel.protocol == "http"
    shown = evaluate.one(leak, show_values=True)
    assert shown.identifier is not None and shown.identifier.value == "38400000-8cf0-11bd-b23e-10b96e40000d"


# ---------------------------------------------------------------------- flags are data, the note is their rendering


def test_rules_read_flags_not_the_note_text(records: Any, evaluate: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Reword both notes: the rules that test the flags fire (PS801) or stay quiet (PS101) as
    # before, and the report shows the new wording, rendered from the flag.
    monkeypatch.setitem(FLAG_NOTES, Flag.PERSONAL_NAME, "a first name in it")
    monkeypatch.setitem(FLAG_NOTES, Flag.RANDOMISED_MAC, "a private address")
    named = evaluate.one(records.leak("device_name", destination=LOCAL, flags=[Flag.PERSONAL_NAME]))
    assert "PS801" in {m.rule for m in named.rules}
    assert named.identifier.note == "a first name in it"
    randomised = evaluate.one(records.leak("mac", flags=[Flag.RANDOMISED_MAC]))
    assert "PS101" not in {m.rule for m in randomised.rules}
    assert randomised.identifier.note == "a private address"
    # The same leaks without the flags: the rules see the difference, and no note is shown.
    assert "PS801" not in {m.rule for m in evaluate.one(records.leak("device_name", destination=LOCAL)).rules}
    real = evaluate.one(records.leak("mac"))
    assert "PS101" in {m.rule for m in real.rules}
    assert real.identifier.note is None


def test_every_flag_is_a_fact_rules_can_test() -> None:
    assert {f"identifier.{flag.value}" for flag in Flag} <= FACTS
    assert flag_note([Flag.RANDOMISED_MAC, Flag.OPERATOR_INJECTED]) == "randomised MAC"  # operator-injected shows in the channel
    assert flag_note([]) is None
