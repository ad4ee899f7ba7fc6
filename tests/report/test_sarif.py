"""The SARIF report against the official SARIF 2.1.0 schema, and what GitHub code scanning needs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.report.formats import RenderOptions, get_format
from scanner.report.formats.sarif import LEVELS, SECURITY_SEVERITY, capture_uri
from scanner.results import ScanResult

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture(scope="module")
def validator() -> Any:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(schema)


def render(result: ScanResult) -> dict[str, Any]:
    return json.loads(get_format("sarif")(RenderOptions(stable=True)).render(result))


def test_valid_against_the_official_schema(scan_result: ScanResult, validator: Any) -> None:
    errors = sorted(validator.iter_errors(render(scan_result)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_valid_with_values_too(scan_result_with_values: ScanResult, validator: Any) -> None:
    validator.validate(render(scan_result_with_values))


def test_driver_and_rules(scan_result: ScanResult) -> None:
    run = render(scan_result)["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "privscan" and driver["version"] == "0.1.0"
    assert "informationUri" not in driver  # no home page yet: never a guessed address
    rules = {rule["id"]: rule for rule in driver["rules"]}
    assert set(rules) == {r.id for r in scan_result.rules}
    for info in scan_result.rules:
        rule = rules[info.id]
        assert rule["shortDescription"]["text"] == info.title
        assert rule["fullDescription"]["text"] == info.rationale
        assert info.remediation in rule["help"]["text"]
        for regulation in info.regulations:
            assert regulation in rule["help"]["text"]
        assert rule["defaultConfiguration"]["level"] == LEVELS[info.severity]
        assert rule["properties"]["security-severity"] == SECURITY_SEVERITY[info.severity]
        assert rule["name"].isidentifier()


@pytest.mark.parametrize(
    ("severity", "level"),
    [("critical", "error"), ("high", "error"), ("medium", "warning"), ("low", "note"), ("info", "note")],
)
def test_level_mapping(severity: str, level: str) -> None:
    assert LEVELS[severity] == level
    assert 0.0 <= float(SECURITY_SEVERITY[severity]) <= 10.0


def test_results(scan_result: ScanResult) -> None:
    run = render(scan_result)["runs"][0]
    results = run["results"]
    assert len(results) == len(scan_result.findings)
    rules = run["tool"]["driver"]["rules"]
    by_id = {f.id: f for f in scan_result.findings}
    for result in results:
        finding = by_id[result["partialFingerprints"]["privscanFindingId/v1"]]
        assert result["ruleId"] == finding.rule
        assert rules[result["ruleIndex"]]["id"] == finding.rule
        assert result["level"] == LEVELS[finding.severity]
        text = result["message"]["text"]
        assert finding.subject.id in text and finding.destination.host in text
        assert (finding.identifier.type if finding.identifier else "contacted") in text
        location = result["locations"][0]
        # GitHub needs an artifact location; a capture has no lines, so there is no region.
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact["uri"] == finding.evidence[0].capture
        assert run["artifacts"][artifact["index"]]["location"]["uri"] == artifact["uri"]
        assert "region" not in location["physicalLocation"]
        assert location["properties"]["frames"][0] == finding.evidence[0].frame
        assert [r["properties"]["frame"] for r in result["relatedLocations"]] == [e.frame for e in finding.evidence]
        if finding.allowlisted:
            assert result["suppressions"] == [{"kind": "external", "justification": finding.allowlisted}]
        else:
            assert "suppressions" not in result


def test_artifacts_and_notifications(scan_result: ScanResult) -> None:
    run = render(scan_result)["runs"][0]
    assert [a["hashes"]["sha-256"] for a in run["artifacts"]] == [c.sha256 for c in scan_result.captures]
    assert all(a["roles"] == ["analysisTarget"] for a in run["artifacts"])
    notes = [n["message"]["text"] for n in run["invocations"][0]["toolExecutionNotifications"]]
    assert any("frame 812: TCP segment truncated" in n for n in notes)
    assert any("old-phone" in n for n in notes)
    assert run["invocations"][0]["executionSuccessful"] is True


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("captures/a.pcap", "captures/a.pcap"),
        ("captures/with space.pcap", "captures/with%20space.pcap"),
        ("/data/caps/x#1.pcapng", "file:///data/caps/x%231.pcapng"),
        ("-", "stdin"),
    ],
)
def test_capture_uri(path: str, uri: str) -> None:
    assert capture_uri(path) == uri
