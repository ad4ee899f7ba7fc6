"""``--format csv``: one row per finding, flat columns, for spreadsheets and quick filtering.

Columns (fixed order; new columns are only ever appended)::

    id severity rule title subject minor identifier_type encoding key value
    destination_host domain org category tracker party protocol encrypted
    location count first_seen last_seen first_evidence_capture
    first_evidence_frame regulations allowlisted keys values app_name app_id

- ``minor``: ``true`` / ``false`` / ``unknown``; ``tracker``, ``encrypted``:
  ``true`` / ``false``; empty cells for a contact finding's identifier columns.
- ``first_seen``, ``last_seen``: ISO 8601 UTC with microseconds
  (``2024-05-01T10:00:12.500000Z``).
- ``regulations``: semicolon-joined; ``allowlisted``: the reason, or empty.
- ``keys``: every key that carried the identifier, semicolon-joined; ``values``: when the subject
  sent several values of the type to the host, each as ``value (key, key)``, semicolon-joined.
- ``app_name``, ``app_id``: the app the traffic names (empty when it names none).
- ``value``: the redacted preview unless the scan ran with ``--show-values``.

RFC 4180: comma-separated, CRLF line ends, fields quoted when they need it,
UTF-8 without a byte-order mark.

CSV/formula injection (OWASP): keys, values and host names come from captured
traffic, and a spreadsheet runs a cell that starts with ``=``, ``+``, ``-``,
``@`` (or a tab / carriage return, which some spreadsheets strip before
looking) as a formula: ``=HYPERLINK(...)`` in a query key would become a
live link in the auditor's spreadsheet.  Such text cells get a leading
apostrophe, which spreadsheets show as text and do not display.
"""

from __future__ import annotations

import csv
import io

from scanner.model import Finding
from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import iso_utc, minor_value, ordered_findings
from scanner.results import ScanResult

COLUMNS = (
    "id",
    "severity",
    "rule",
    "title",
    "subject",
    "minor",
    "identifier_type",
    "encoding",
    "key",
    "value",
    "destination_host",
    "domain",
    "org",
    "category",
    "tracker",
    "party",
    "protocol",
    "encrypted",
    "location",
    "operator_injected",
    "count",
    "first_seen",
    "last_seen",
    "first_evidence_capture",
    "first_evidence_frame",
    "regulations",
    "allowlisted",
    "keys",
    "values",
    "app_name",
    "app_id",
)

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def defuse(text: str) -> str:
    """Neutralise a spreadsheet formula: a leading apostrophe on text that starts like one."""
    return "'" + text if text.startswith(_FORMULA_TRIGGERS) else text


def _bool(value: bool) -> str:
    return "true" if value else "false"


def finding_row(finding: Finding) -> list[str]:
    ref = finding.identifier
    dest = finding.destination
    first = finding.evidence[0] if finding.evidence else None
    cells = {
        "id": finding.id,
        "severity": finding.severity,
        "rule": finding.rule,
        "title": finding.title,
        "subject": finding.subject.id,
        "minor": minor_value(finding.subject.minor),
        "identifier_type": ref.type if ref else "",
        "encoding": ref.encoding if ref else "",
        "key": (ref.key or "") if ref else "",
        "value": ref.value if ref else "",
        "destination_host": dest.host,
        "domain": dest.domain or "",
        "org": dest.org or "",
        "category": dest.category or "",
        "tracker": _bool(dest.tracker),
        "party": dest.party,
        "protocol": finding.channel.protocol,
        "encrypted": _bool(finding.channel.encrypted),
        "location": finding.channel.location,
        "operator_injected": _bool(finding.channel.operator_injected),
        "count": str(finding.count),
        "first_seen": iso_utc(finding.first_seen),
        "last_seen": iso_utc(finding.last_seen),
        "first_evidence_capture": first.capture if first else "",
        "first_evidence_frame": str(first.frame) if first else "",
        "regulations": ";".join(finding.regulations),
        "allowlisted": finding.allowlisted or "",
        "keys": ";".join(ref.keys or ((ref.key,) if ref.key else ())) if ref else "",
        "values": ";".join(f"{v.value} ({', '.join(v.keys)})" for v in ref.values) if ref and len(ref.values) > 1 else "",
        "app_name": (finding.app.name or "") if finding.app else "",
        "app_id": (finding.app.id or "") if finding.app else "",
    }
    return [defuse(cells[column]) for column in COLUMNS]


class CsvReport(ReportFormat):
    name = "csv"
    extensions = (".csv",)
    description = "one row per finding, flat columns, for spreadsheets"

    def render(self, result: ScanResult) -> str:
        out = io.StringIO(newline="")
        writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerow(COLUMNS)
        for finding in ordered_findings(result.findings):
            writer.writerow(finding_row(finding))
        return out.getvalue()
