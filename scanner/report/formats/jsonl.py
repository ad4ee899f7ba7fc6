"""``--format jsonl``: one finding per line, for SIEMs (Splunk, Elastic, Sentinel) and ``jq``.

Each line is ``Finding.to_record()`` (the same object as in the JSON report's
``findings``) plus what a SIEM needs to file a line without the rest of the
report, in the style of Suricata's eve.json:

- ``schema``: ``privscan/finding/v1``, so an ingest pipeline can route and
  version the lines;
- ``tool``, ``tool_version``, ``engine``, ``hmac_key_id`` (HMACs are only
  comparable under one key);
- ``capture`` and ``capture_sha256``: the capture of the first evidence, the
  file an analyst opens in Wireshark;
- ``first_seen_utc``, ``last_seen_utc``: ISO 8601 times, which SIEMs parse
  without configuration (``first_seen``/``last_seen`` stay epoch seconds).

No graph, no summary: a line is a finding.  Lines are ASCII (non-ASCII is
``\\u`` escaped) because some line splitters also break on U+2028/U+2029,
which JSON allows raw; keys are sorted so a line diff is a value diff.
Findings are worst first, as in every privscan output.
"""

from __future__ import annotations

import json
from typing import Any

from scanner.model import Finding
from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import capture_hashes, iso_utc, ordered_findings
from scanner.results import ScanResult

FINDING_SCHEMA_ID = "privscan/finding/v1"


def finding_line_record(result: ScanResult, finding: Finding, hashes: dict[str, str]) -> dict[str, Any]:
    record = finding.to_record()
    capture = finding.evidence[0].capture if finding.evidence else None
    record.update(
        {
            "schema": FINDING_SCHEMA_ID,
            "tool": "privscan",
            "tool_version": result.tool_version,
            "engine": result.engine,
            "hmac_key_id": result.hmac_key_id,
            "capture": capture,
            "capture_sha256": hashes.get(capture, "") if capture is not None else "",
            "first_seen_utc": iso_utc(finding.first_seen),
            "last_seen_utc": iso_utc(finding.last_seen),
        }
    )
    return record


class JsonLinesReport(ReportFormat):
    name = "jsonl"
    extensions = (".jsonl", ".ndjson")
    description = "one finding per line (privscan/finding/v1), for SIEMs"

    def render(self, result: ScanResult) -> str:
        hashes = capture_hashes(result)
        lines = [
            json.dumps(
                finding_line_record(result, finding, hashes),
                sort_keys=True,
                ensure_ascii=True,
                separators=(",", ":"),
                allow_nan=False,
            )
            for finding in ordered_findings(result.findings)
        ]
        return "".join(line + "\n" for line in lines)
