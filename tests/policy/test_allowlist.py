"""The user's allow-list: accept a finding (by organisation, host, domain, subject or finding id)
with a reason the report shows, or lift one rule from the findings an entry selects."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scanner.errors import ConfigError
from scanner.policy.allowlist import AllowEntry, load_allowlist

ALLOW = """\
allow:
  - org: Duolingo                 # selectors: all given must match
    kind: first_party
    reason: "the child's own language course; DPA 2024-03"
  - rule: PS102
    host: api.mixpanel.com
    kind: processor
    reason: contracted analytics processor
"""


def entry(**fields: Any) -> AllowEntry:
    selectors = {key: fields.pop(key, None) for key in ("rule", "org", "host", "domain", "subject", "finding")}
    return AllowEntry(**selectors, kind=fields.pop("kind", "accepted_risk"), reason=fields.pop("reason", "accepted in review 42"))


def test_load(tmp_path: Path) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(ALLOW)
    first, second = load_allowlist(path)
    assert first == AllowEntry(None, "Duolingo", None, None, None, None, "first_party", "the child's own language course; DPA 2024-03")
    assert (second.rule, second.host, second.kind) == ("PS102", "api.mixpanel.com", "processor")
    assert first.describe() == "first_party: the child's own language course; DPA 2024-03"


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("allow:\n  - org: X\n    reason: r\n    colour: red\n", 4, "unknown key 'colour'"),
        ("allow:\n  - org: X\n", 2, "needs a 'reason'"),
        ("allow:\n  - org: X\n    reason: '  '\n", 2, "needs a 'reason'"),
        ("allow:\n  - reason: everything\n", 2, "at least one of"),
        ("allow:\n  - org: X\n    reason: r\n    kind: friend\n", 4, "'kind' must be one of"),
        ("allow:\n  - org: X\n    reason: r\n  - just text\n", 4, "must be a mapping"),
        ("accept: []\n", 1, "'allow' list"),
        ("allow:\n  - org: !!python/object/apply:os.system ['true']\n    reason: r\n", 2, "not valid YAML"),
        ("allow:\n  - org: X\n    org: Y\n    reason: r\n", 3, "given twice"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = tmp_path / "allow.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_allowlist(path)
    assert words in caught.value.message
    assert (caught.value.file, caught.value.line) == (str(path), line)


# ---------------------------------------------------------------------- in the policy engine


def _kid_leaks(records: Any) -> list[Any]:
    return [
        records.leak("gaid", destination=records.TRACKER),  # Google, doubleclick.net: PS102
        records.leak("gaid", destination=records.ANALYTICS),  # Mixpanel: PS102
        records.leak("email", destination=records.FIRST),  # kinderspiele-welt.de: PS302
    ]


def _by_host(findings: list[Any]) -> dict[str, Any]:
    return {f.destination.host: f for f in findings}


@pytest.mark.parametrize(
    ("selector", "accepted"),
    [
        ({"org": "google"}, {"googleads.g.doubleclick.net"}),  # organisation names compare without case
        ({"host": "API.Mixpanel.com"}, {"api.mixpanel.com"}),
        ({"domain": "kinderspiele-welt.de"}, {"api.kinderspiele-welt.de"}),
        ({"subject": "kid-tablet-01"}, {"googleads.g.doubleclick.net", "api.mixpanel.com", "api.kinderspiele-welt.de"}),
        ({"subject": "someone-else"}, set()),
        ({"org": "Google", "host": "api.mixpanel.com"}, set()),  # every selector given must match
        ({"org": "Mixpanel", "host": "api.mixpanel.com", "subject": "kid-tablet-01"}, {"api.mixpanel.com"}),
    ],
)
def test_accept_whole_findings_with_the_reason(selector: dict[str, str], accepted: set[str], records: Any, evaluate: Any) -> None:
    allow = [entry(**selector, kind="processor", reason="DPA signed 2024-03")]
    findings = _by_host(evaluate(_kid_leaks(records), allow=allow))
    assert {host for host, f in findings.items() if f.allowlisted} == accepted
    for host in accepted:
        finding = findings[host]
        assert finding.allowlisted == "processor: DPA signed 2024-03", "the report shows why"
        assert finding.rules, "an accepted finding keeps its rules and severity: it is marked, not hidden"


def test_accept_by_finding_id(records: Any, evaluate: Any) -> None:
    plain = _by_host(evaluate(_kid_leaks(records)))
    target = plain["api.mixpanel.com"].id
    findings = _by_host(evaluate(_kid_leaks(records), allow=[entry(finding=target, reason="reviewed")]))
    assert [h for h, f in findings.items() if f.allowlisted] == ["api.mixpanel.com"]
    assert findings["api.mixpanel.com"].id == target, "allow-listing does not change the id"


def test_lift_one_rule(records: Any, evaluate: Any) -> None:
    findings = _by_host(evaluate(_kid_leaks(records), allow=[entry(rule="PS102", host="api.mixpanel.com", kind="processor")]))
    mixpanel, google = findings["api.mixpanel.com"], findings["googleads.g.doubleclick.net"]
    assert "PS102" not in {m.rule for m in mixpanel.rules} and mixpanel.severity == "info" and mixpanel.rule == "PS000"
    assert mixpanel.allowlisted is None, "the finding itself still counts"
    assert mixpanel.rules_allowlisted == (("PS102", "processor: accepted in review 42"),), "the report says why"
    assert mixpanel.to_record()["allowlisted_rules"] == [{"rule": "PS102", "reason": "processor: accepted in review 42"}]
    assert google.rule == "PS102" and google.severity == "high", "other hosts keep the rule"
    assert google.rules_allowlisted == () and "allowlisted_rules" not in google.to_record()


def test_lift_a_rule_everywhere(records: Any, evaluate: Any) -> None:
    leak = records.leak("imei", clear_text=True)
    finding = evaluate.one(leak, allow=[entry(rule="PS101")])
    assert finding.rule == "PS402" and finding.severity == "high"
    assert "PS101" not in {m.rule for m in finding.rules}


def test_contact_findings_can_be_accepted(records: Any, evaluate: Any) -> None:
    (finding,) = evaluate(contacts=[records.contact()], allow=[entry(org="Mixpanel", reason="school's analytics, DPA")])
    assert finding.identifier is None and finding.allowlisted == "accepted_risk: school's analytics, DPA"
