"""The result of a scan, as every report format reads it: what was read (CaptureInfo), the rules,
the graph's analyses and the findings (ScanResult).  Kept apart from scanner/model.py, whose types
flow between the stages; these are what the last stage hands to the formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from scanner.model import SEVERITY_RANK, Finding, Subject


@dataclass(slots=True)
class CaptureInfo:
    """What was read from one capture file (filled in while it streams)."""

    path: str
    sha256: str = ""
    packets: int = 0
    bytes: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    format: str = ""
    linktypes: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_record(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "sha256": self.sha256,
            "packets": self.packets,
            "bytes": self.bytes,
            "first_ts": None if self.first_ts is None else round(self.first_ts, 6),
            "last_ts": None if self.last_ts is None else round(self.last_ts, 6),
            "format": self.format,
            "linktypes": list(self.linktypes),
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class RuleInfo:
    """A policy rule as the reports describe it (SARIF rules, HTML help)."""

    id: str
    title: str
    severity: str
    rationale: str
    remediation: str
    regulations: tuple[str, ...]
    source: str  # the signature file or module that declares it


@dataclass(frozen=True, slots=True)
class LinkableIdentifier:
    """One identifier value that reached two or more organisations."""

    subject: str
    minor: bool | None
    id_type: str
    value_hmac: str
    orgs: tuple[str, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class OrgExposure:
    org: str
    category: str | None
    tracker: bool
    subjects: tuple[str, ...]
    minor_subjects: tuple[str, ...]
    id_types: tuple[str, ...]
    hosts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SubjectExposure:
    subject: str
    minor: bool | None
    orgs: tuple[str, ...]
    id_types: tuple[str, ...]
    hosts: tuple[str, ...]
    worst_severity: str | None


@dataclass(frozen=True, slots=True)
class GraphAnalyses:
    linkable: tuple[LinkableIdentifier, ...] = ()
    organisations: tuple[OrgExposure, ...] = ()
    subjects: tuple[SubjectExposure, ...] = ()


@dataclass(frozen=True, slots=True)
class SignatureFile:
    path: str
    sha256: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    """Everything a report format needs, and nothing about how it was computed."""

    tool_version: str
    engine: str
    captures: tuple[CaptureInfo, ...]
    stats: dict[str, Any]
    subjects: tuple[Subject, ...]
    findings: tuple[Finding, ...]  # most severe first, then by subject, type, host
    graph: Any  # networkx.MultiDiGraph; Any keeps networkx out of the model's import
    analyses: GraphAnalyses
    rules: tuple[RuleInfo, ...]
    signatures: tuple[SignatureFile, ...]
    show_values: bool = False
    hmac_key_id: str = ""
    warnings: tuple[str, ...] = ()
    # Organisations no list names that received identifiers (scanner/attribute/first_party.py).
    unknown_destinations: tuple[Any, ...] = ()
    # Subjects whose traffic the captures hold even without findings (inventory devices whose addresses
    # sent requests): an audit does not call their old findings "not seen" (scanner/audit/history.py).
    present_subjects: tuple[str, ...] = ()

    def findings_at_or_above(self, severity: str) -> list[Finding]:
        bar = SEVERITY_RANK[severity]
        return [f for f in self.findings if f.allowlisted is None and SEVERITY_RANK[f.severity] >= bar]
