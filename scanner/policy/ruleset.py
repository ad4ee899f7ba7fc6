"""Policy rules: what makes a leak a violation, and how bad.

Rules are data (``signatures/policies/*.yaml``); a rule that data cannot say
is one module in ``scanner/policy/rules/`` (a ``CodeRule`` subclass, its
docstring the rule's documentation).  Every rule has a stable id (``PS101``;
numbered groups like bandit's: PS0 any identifier, PS1 minors' persistent
identifiers, PS2 location, PS3 contact data, PS4 clear text, PS5 operator
enrichment, PS6 linkability, PS7 ad requests, PS8 the local network, PS9
contacts), a title, a severity, a rationale, remediation guidance for the
operator, and the regulations it maps to.

A YAML rule's ``when`` lists facts that must all hold::

    when:
      subject.minor: true               # equality
      identifier.class: [hardware, subscriber]   # one of
      destination.party: {not: first}   # negation
      linkability.organisations: {min: 2}

The facts a rule may name are ``FACTS``; an unknown fact is an error with its
file and line, so a typo cannot silently disable a rule.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scanner.datafiles import LineDict, LineList, line_of, load_yaml
from scanner.errors import SignatureError
from scanner.model import SEVERITIES, Flag
from scanner.results import RuleInfo, SignatureFile

APPLIES_TO = ("leak", "contact")
# The facts a condition can test (PolicyEngine.leak_facts in policy/engine.py computes them).
FACTS = frozenset(
    {
        "subject.minor", "subject.source",
        "identifier.type", "identifier.class", "identifier.persistent", "identifier.contact",
        "identifier.known",
        *(f"identifier.{flag.value}" for flag in Flag),  # operator_injected, randomised, personal_name
        "destination.tracker", "destination.party", "destination.category", "destination.local",
        "channel.clear_text", "channel.encrypted_only",
        "ad_request.advertising", "ad_request.child_directed",
        "linkability.organisations", "linkability.parents",
    }
)
_RULE_KEYS = {"id", "title", "severity", "applies_to", "when", "rationale", "remediation", "regulations", "references"}


@dataclass(frozen=True, slots=True)
class Condition:
    fact: str
    op: str  # eq | in | not | min | max
    value: Any

    def holds(self, facts: dict[str, Any]) -> bool:
        actual = facts.get(self.fact)
        if self.op == "eq":
            return bool(actual == self.value)
        if self.op == "in":
            return actual in self.value
        if self.op == "not":
            return actual not in self.value
        if self.op == "min":
            return actual is not None and actual >= self.value
        return actual is not None and actual <= self.value


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    title: str
    severity: str
    applies_to: str
    conditions: tuple[Condition, ...]
    rationale: str
    remediation: str
    regulations: tuple[str, ...]
    references: tuple[str, ...]
    source: str

    def matches(self, facts: dict[str, Any]) -> bool:
        return all(condition.holds(facts) for condition in self.conditions)

    def info(self) -> RuleInfo:
        return RuleInfo(self.id, self.title, self.severity, self.rationale, self.remediation, self.regulations, self.source)


class CodeRule:
    """A rule that needs code.  Subclasses declare the same fields as a YAML rule; the
    module docstring is the rationale.  ``matches`` gets the facts (linkability among them)."""

    id: ClassVar[str] = ""
    title: ClassVar[str] = ""
    severity: ClassVar[str] = "info"
    applies_to: ClassVar[str] = "leak"
    remediation: ClassVar[str] = ""
    regulations: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kwargs: object) -> None:
        if cls.__dict__.get("id"):
            CODE_RULES[cls.id] = cls

    def matches(self, facts: dict[str, Any]) -> bool:
        raise NotImplementedError

    @classmethod
    def rationale(cls) -> str:
        import sys

        module = sys.modules[cls.__module__]
        return " ".join((module.__doc__ or "").split())

    def as_rule(self) -> Rule:
        return Rule(
            id=self.id,
            title=self.title,
            severity=self.severity,
            applies_to=self.applies_to,
            conditions=(),
            rationale=self.rationale(),
            remediation=self.remediation,
            regulations=self.regulations,
            references=(),
            source=type(self).__module__,
        )


CODE_RULES: dict[str, type[CodeRule]] = {}


def load_policy_rules(root: str | Path) -> tuple[list[Rule], list[SignatureFile]]:
    directory = Path(root) / "policies"
    if not directory.is_dir():
        raise SignatureError(directory, None, "no policies/ directory in the signatures")
    rules: list[Rule] = []
    files: list[SignatureFile] = []
    seen: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = path.read_bytes()
        files.append(SignatureFile(str(path), hashlib.sha256(data).hexdigest()))
        document = load_yaml(path, SignatureError, data.decode("utf-8", "replace"))
        if not isinstance(document, LineDict) or not isinstance(document.get("rules"), LineList):
            raise SignatureError(path, line_of(document), "a policy file is a mapping with a 'rules' list")
        for index, item in enumerate(document["rules"]):
            rule = _parse_rule(path, item, document["rules"].line_of(index))
            if rule.id in seen:
                raise SignatureError(path, line_of(item), f"rule {rule.id} is also declared in {seen[rule.id]}")
            seen[rule.id] = str(path)
            rules.append(rule)
    return rules, files


def _parse_rule(path: Path, item: Any, line: int | None) -> Rule:
    if not isinstance(item, LineDict):
        raise SignatureError(path, line, "each rule must be a mapping")
    unknown = set(item) - _RULE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise SignatureError(path, line_of(item, key), f"unknown rule key {key!r}")
    for key in ("id", "title", "severity", "rationale", "remediation"):
        if not isinstance(item.get(key), str) or not item[key].strip():
            raise SignatureError(path, line_of(item, key), f"a rule needs a {key!r}")
    rule_id = item["id"]
    if not (rule_id.startswith("PS") and rule_id[2:].isdigit()):
        raise SignatureError(path, line_of(item, "id"), f"rule ids look like PS101, not {rule_id!r}")
    if item["severity"] not in SEVERITIES:
        raise SignatureError(path, line_of(item, "severity"), f"severity must be one of {', '.join(SEVERITIES)}")
    applies_to = item.get("applies_to", "leak")
    if applies_to not in APPLIES_TO:
        raise SignatureError(path, line_of(item, "applies_to"), f"applies_to must be one of {', '.join(APPLIES_TO)}")
    when = item.get("when") or LineDict()
    if not isinstance(when, dict):
        raise SignatureError(path, line_of(item, "when"), "'when' must map facts to values")
    conditions = []
    for fact, expected in when.items():
        where = line_of(when, fact)
        if fact not in FACTS:
            raise SignatureError(path, where, f"unknown fact {fact!r} (known: {', '.join(sorted(FACTS))})")
        conditions.append(_condition(path, fact, expected, where))
    return Rule(
        id=rule_id,
        title=" ".join(item["title"].split()),
        severity=item["severity"],
        applies_to=applies_to,
        conditions=tuple(conditions),
        rationale=" ".join(item["rationale"].split()),
        remediation=" ".join(item["remediation"].split()),
        regulations=tuple(str(r) for r in _as_list(item.get("regulations"))),
        references=tuple(str(r) for r in _as_list(item.get("references"))),
        source=str(path),
    )


def _condition(path: Path, fact: str, expected: Any, line: int | None) -> Condition:
    if isinstance(expected, list):
        return Condition(fact, "in", tuple(expected))
    if isinstance(expected, dict):
        if len(expected) != 1:
            raise SignatureError(path, line, "a condition mapping has one operator: not, min or max")
        op, value = next(iter(expected.items()))
        if op == "not":
            return Condition(fact, "not", tuple(value) if isinstance(value, list) else (value,))
        if op in ("min", "max"):
            if not isinstance(value, (int, float)):
                raise SignatureError(path, line, f"{op} needs a number")
            return Condition(fact, op, value)
        raise SignatureError(path, line, f"unknown operator {op!r} (not, min, max)")
    return Condition(fact, "eq", expected)


def _as_list(value: Any) -> Iterable[Any]:
    if value is None:
        return ()
    return value if isinstance(value, list) else (value,)
