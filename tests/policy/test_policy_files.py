"""Policy files: the shipped ones load, and broken ones fail with the file and the line, so a typo
cannot silently disable a rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.datafiles import default_signatures_root
from scanner.errors import SignatureError
from scanner.model import SEVERITIES
from scanner.policy.ruleset import FACTS, Condition, load_policy_rules

RULE = """\
rules:
  - id: PS990
    title: A test rule
    severity: high
    when:
      subject.minor: true
      identifier.class: [hardware, subscriber]
      destination.party: {not: first}
      linkability.organisations: {min: 2}
    rationale: why
    remediation: what to do
    regulations: [GDPR Art. 8]
"""


def _root(tmp_path: Path, text: str, name: str = "test.yaml") -> tuple[Path, Path]:
    directory = tmp_path / "policies"
    directory.mkdir(exist_ok=True)
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return tmp_path, path


def test_shipped_rules_load() -> None:
    rules, files = load_policy_rules(default_signatures_root())
    assert len(rules) >= 16
    ids = [rule.id for rule in rules]
    assert len(ids) == len(set(ids))
    assert all(rule.severity in SEVERITIES for rule in rules)
    assert all(len(f.sha256) == 64 for f in files)
    assert all(c.fact in FACTS for rule in rules for c in rule.conditions)


def test_a_valid_rule_parses_every_operator(tmp_path: Path) -> None:
    root, path = _root(tmp_path, RULE)
    ((rule,), _) = load_policy_rules(root)
    assert rule.conditions == (
        Condition("subject.minor", "eq", True),
        Condition("identifier.class", "in", ("hardware", "subscriber")),
        Condition("destination.party", "not", ("first",)),
        Condition("linkability.organisations", "min", 2),
    )
    assert rule.source == str(path) and rule.applies_to == "leak"
    facts = {"subject.minor": True, "identifier.class": "hardware", "destination.party": "third", "linkability.organisations": 2}
    assert rule.matches(facts)
    assert not rule.matches({**facts, "linkability.organisations": 1})
    assert not rule.matches({**facts, "destination.party": "first"})
    assert not rule.matches({**facts, "subject.minor": None})
    assert not rule.matches({k: v for k, v in facts.items() if k != "linkability.organisations"})


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        (RULE.replace("subject.minor: true", "subject.age: 9"), 6, "unknown fact 'subject.age'"),
        (RULE.replace("severity: high", "severity: catastrophic"), 4, "severity must be one of"),
        (RULE + RULE.replace("rules:\n", ""), 13, "PS990 is also declared"),
        (RULE.replace("title: A test rule", "title: A test rule\n    colour: red"), 4, "unknown rule key 'colour'"),
        (RULE.replace("id: PS990", "id: R990"), 2, "rule ids look like PS101"),
        (RULE.replace("    rationale: why\n", ""), 2, "needs a 'rationale'"),
        (RULE.replace("    remediation: what to do\n", ""), 2, "needs a 'remediation'"),
        (RULE.replace("{min: 2}", "{between: 2}"), 9, "unknown operator 'between'"),
        (RULE.replace("{min: 2}", "{min: two}"), 9, "min needs a number"),
        (RULE.replace("{min: 2}", "{min: 2, max: 3}"), 9, "one operator"),
        (RULE.replace("severity: high", "severity: high\n    applies_to: packet"), 5, "applies_to must be one of"),
        (RULE.replace("when:", "when: [a]\n    x_when:"), 6, "unknown rule key"),
        (RULE.replace("    severity: high\n", "    severity: high\n    severity: low\n"), 5, "given twice"),
        (RULE.replace("title: A test rule", "title: !!python/object/apply:os.system ['true']"), 3, "not valid YAML"),
        (RULE.replace("rules:", "rules: ["), 2, "not valid YAML"),
        ("policies: []\n", 1, "'rules' list"),
        ("rules:\n  - just a string\n", 2, "each rule must be a mapping"),
    ],
)
def test_broken_policy_file_names_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    root, path = _root(tmp_path, text)
    with pytest.raises(SignatureError) as caught:
        load_policy_rules(root)
    error = caught.value
    assert words in error.message
    assert (error.file, error.line) == (str(path), line)
    assert str(error).startswith(f"{path}:{line}: ")


def test_duplicate_id_across_files_names_the_other_file(tmp_path: Path) -> None:
    root, first = _root(tmp_path, RULE, "a.yaml")
    _, second = _root(tmp_path, RULE, "b.yaml")
    with pytest.raises(SignatureError) as caught:
        load_policy_rules(root)
    assert caught.value.file == str(second) and caught.value.line == 2
    assert str(first) in caught.value.message


def test_no_policies_directory(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="policies"):
        load_policy_rules(tmp_path)
