"""``--format sarif``: SARIF 2.1.0 (OASIS), for GitHub code scanning and other SARIF viewers.

One run; ``tool.driver`` carries the policy rules (``ScanResult.rules``) as
``reportingDescriptor`` objects: ``id``, ``name``, ``shortDescription`` (the
title), ``fullDescription`` (the rationale), ``help`` (the remediation and the
regulations, text and markdown), ``defaultConfiguration.level`` from the
severity (critical/high -> error, medium -> warning, low/info -> note, as
bandit maps its own) and ``properties.security-severity``, the CVSS-like score
GitHub reads to rank alerts (critical 9.5, high 8.0, medium 5.5, low 3.0,
info 0.0: each inside the band GitHub names the same way).

Each finding is a ``result``: ``ruleId``/``ruleIndex``, ``level``, a message
naming the subject, the identifier type, the destination and the count,
``partialFingerprints["privscanFindingId/v1"]`` = the finding id (stable across
runs, so GitHub keeps one alert per leak), and ``suppressions`` of kind
``external`` with the reason for allow-listed findings.

Locations: a capture is not a text file, so a result has no ``region`` (a
fake ``startLine`` would send a reader to a line that does not exist; SARIF
s3.29.4 leaves ``region`` out when a result concerns the artifact as a whole).
GitHub needs a ``physicalLocation`` with an ``artifactLocation`` to accept a
result, so each result has one: the capture of its first evidence, with the
frame numbers in the location's ``properties`` and message; the destination
is a ``logicalLocation`` (kind ``resource``).  Every evidence frame is also a
``relatedLocation``.  The captures are ``run.artifacts`` with their sha-256,
size and role ``analysisTarget``; capture warnings and scan warnings are
``toolExecutionNotifications``.  Relative capture paths stay relative
(GitHub resolves them against the repository root); absolute ones become
``file://`` URIs.

No clock is read: the output depends only on the ``ScanResult``.
"""

from __future__ import annotations

import json
import posixpath
from pathlib import PurePath, PurePosixPath
from typing import Any
from urllib.parse import quote

from scanner.model import Finding
from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import (
    capture_hashes,
    destination_marks,
    iso_utc,
    minor_text,
    ordered_findings,
    rules_in_order,
)
from scanner.results import RuleInfo, ScanResult

SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
# tool.driver.informationUri is left out until the project publishes a home page: a guessed
# address could belong to someone else, and SARIF does not require it.

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "0.0"}
CAPTURE_MIME = {"pcapng": "application/x-pcapng", "pcap": "application/vnd.tcpdump.pcap"}


def capture_uri(path: str) -> str:
    """A capture path as a SARIF ``uri``: relative paths stay relative (POSIX form), absolute ones ``file://``."""
    if path in ("", "-"):
        return "stdin"
    posix = PurePosixPath(PurePath(path).as_posix())
    if posix.is_absolute():
        return "file://" + quote(posixpath.normpath(str(posix)), safe="/:@")
    return quote(str(posix), safe="/:@")


def _rule_name(rule: RuleInfo) -> str:
    # SARIF's "name" is an identifier-like form (e.g. "MinorIdToTracker"); derive it from the title.
    words = [w for w in "".join(c if c.isalnum() else " " for c in rule.title).split() if w]
    return "".join(w[:1].upper() + w[1:] for w in words) or rule.id


def _help(rule: RuleInfo) -> tuple[str, str]:
    regulations = ", ".join(rule.regulations)
    text = rule.remediation or rule.title
    markdown = f"**What to do:** {rule.remediation or rule.title}"
    if rule.rationale:
        markdown += f"\n\n**Why:** {rule.rationale}"
    if regulations:
        text += f"\n\nRegulations: {regulations}"
        markdown += f"\n\n**Regulations:** {regulations}"
    return text, markdown


def rule_descriptor(rule: RuleInfo) -> dict[str, Any]:
    text, markdown = _help(rule)
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": _rule_name(rule),
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale or rule.title},
        "help": {"text": text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVELS.get(rule.severity, "warning")},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(rule.severity, "5.5"),
            "severity": rule.severity,
            "regulations": list(rule.regulations),
            "tags": ["privacy", "security", "children"],
        },
    }
    if rule.source:
        descriptor["properties"]["source"] = rule.source
    return descriptor


def result_message(finding: Finding) -> str:
    subject = f"{finding.subject.id} ({minor_text(finding.subject.minor)})"
    dest = finding.destination
    owner = ", ".join(([dest.org] if dest.org else []) + destination_marks(finding))
    where = f"{dest.host} ({owner})" if owner else dest.host
    channel = f"{finding.channel.protocol} {finding.channel.location}, {'encrypted' if finding.channel.encrypted else 'clear text'}"
    if finding.channel.operator_injected:
        channel += ", injected by the operator"
    times = "once" if finding.count == 1 else f"{finding.count} times"
    if finding.identifier is None:
        what = f"{subject} contacted {where} {times} ({channel})"
    else:
        ref = finding.identifier
        encoding = "" if ref.encoding == "plain" else f", {ref.encoding}"
        key = f" as '{ref.key}'" if ref.key else ""
        what = f"{subject} sent its {ref.type}{encoding}{key} to {where} {times} ({channel})"
    return f"{finding.title}: {what}."


def _frames_text(frames: list[int]) -> str:
    if not frames:
        return "capture"
    return ("frame " if len(frames) == 1 else "frames ") + ", ".join(str(frame) for frame in frames)


class SarifReport(ReportFormat):
    name = "sarif"
    extensions = (".sarif", ".sarif.json")
    description = "SARIF 2.1.0, for GitHub code scanning"

    def render(self, result: ScanResult) -> str:
        return json.dumps(self.document(result), indent=2, ensure_ascii=False, allow_nan=False) + "\n"

    def document(self, result: ScanResult) -> dict[str, Any]:
        rules = rules_in_order(result)
        rule_index = {rule.id: index for index, rule in enumerate(rules)}
        artifact_index = {capture.path: index for index, capture in enumerate(result.captures)}
        hashes = capture_hashes(result)

        artifacts = []
        for capture in result.captures:
            artifact: dict[str, Any] = {
                "location": {"uri": capture_uri(capture.path)},
                "length": capture.bytes,
                "roles": ["analysisTarget"],
                "properties": {"packets": capture.packets, "format": capture.format},
            }
            if capture.sha256:
                artifact["hashes"] = {"sha-256": capture.sha256}
            if capture.format in CAPTURE_MIME:
                artifact["mimeType"] = CAPTURE_MIME[capture.format]
            artifacts.append(artifact)

        notifications = []
        for capture in result.captures:
            for warning in capture.warnings:
                notifications.append(
                    {
                        "level": "warning",
                        "message": {"text": f"{capture.path}: {warning}"},
                        "locations": [
                            {"physicalLocation": {"artifactLocation": self._artifact(capture.path, artifact_index)}}
                        ],
                    }
                )
        for warning in result.warnings:
            notifications.append({"level": "warning", "message": {"text": warning}})

        results = [self._result(f, rule_index, artifact_index, hashes) for f in ordered_findings(result.findings)]
        invocation: dict[str, Any] = {"executionSuccessful": True}
        if notifications:
            invocation["toolExecutionNotifications"] = notifications

        run: dict[str, Any] = {
            "tool": {
                "driver": {
                    "name": "privscan",
                    "version": result.tool_version,
                    "semanticVersion": result.tool_version,
                    "rules": [rule_descriptor(rule) for rule in rules],
                }
            },
            "invocations": [invocation],
            "artifacts": artifacts,
            "results": results,
            "properties": {
                "engine": result.engine,
                "hmacKeyId": result.hmac_key_id,
                "showValues": result.show_values,
                "signatures": [
                    {"path": s.path, "sha256": s.sha256} for s in sorted(result.signatures, key=lambda s: s.path)
                ],
            },
        }
        return {"$schema": SARIF_SCHEMA_URI, "version": "2.1.0", "runs": [run]}

    @staticmethod
    def _artifact(path: str, artifact_index: dict[str, int]) -> dict[str, Any]:
        location: dict[str, Any] = {"uri": capture_uri(path)}
        if path in artifact_index:
            location["index"] = artifact_index[path]
        return location

    def _result(
        self, finding: Finding, rule_index: dict[str, int], artifact_index: dict[str, int], hashes: dict[str, str]
    ) -> dict[str, Any]:
        dest = finding.destination
        frames_by_capture: dict[str, list[int]] = {}
        for evidence in finding.evidence:
            frames_by_capture.setdefault(evidence.capture, []).append(evidence.frame)
        first_capture = finding.evidence[0].capture if finding.evidence else ""
        frames = frames_by_capture.get(first_capture, [])
        location: dict[str, Any] = {
            "id": 0,
            "physicalLocation": {"artifactLocation": self._artifact(first_capture, artifact_index)},
            "logicalLocations": [
                {
                    "name": dest.host,
                    "fullyQualifiedName": f"{dest.org or dest.domain or dest.host}/{dest.host}",
                    "kind": "resource",
                }
            ],
            "message": {"text": _frames_text(frames)},
            "properties": {"frames": frames},
        }
        related = [
            {
                "id": index + 1,
                "physicalLocation": {"artifactLocation": self._artifact(evidence.capture, artifact_index)},
                "message": {
                    "text": f"frame {evidence.frame} at {iso_utc(evidence.ts)}: "
                    f"{evidence.flow.proto} {evidence.flow.src}:{evidence.flow.sport} -> "
                    f"{evidence.flow.dst}:{evidence.flow.dport}"
                },
                "properties": {"frame": evidence.frame, "ts": round(evidence.ts, 6)},
            }
            for index, evidence in enumerate(finding.evidence)
        ]
        ref = finding.identifier
        properties: dict[str, Any] = {
            "severity": finding.severity,
            "subject": finding.subject.id,
            "minor": finding.subject.minor,
            "identifier": ref.to_record() if ref else None,
            "destination": dest.to_record(),
            "channel": finding.channel.to_record(),
            "count": finding.count,
            "firstSeen": iso_utc(finding.first_seen),
            "lastSeen": iso_utc(finding.last_seen),
            "regulations": list(finding.regulations),
            "rules": [m.rule for m in finding.rules],
            "captureSha256": hashes.get(first_capture, ""),
        }
        sarif_result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": LEVELS.get(finding.severity, "warning"),
            "message": {"text": result_message(finding)},
            "locations": [location],
            "partialFingerprints": {"privscanFindingId/v1": finding.id},
            "properties": properties,
        }
        if finding.rule in rule_index:
            sarif_result["ruleIndex"] = rule_index[finding.rule]
        if related:
            sarif_result["relatedLocations"] = related
        if finding.allowlisted is not None:
            sarif_result["suppressions"] = [{"kind": "external", "justification": finding.allowlisted}]
        return sarif_result
