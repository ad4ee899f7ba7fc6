"""``privscan diff OLD.json NEW.json``: what is new, gone and changed between two JSON reports.

Findings are matched by their ``id``, the fingerprint DESIGN.md promises stable
across runs of the same leak (rule, identifier type, value HMAC, organisation,
host: no frame numbers, ports or times), the same ids the audit's baseline
uses.  So:

- **new**: an id in NEW that OLD does not have;
- **gone**: an id in OLD that NEW does not have;
- **changed**: an id in both whose severity, count, evidence span
  (``first_seen`` .. ``last_seen``) or identifier keys differ.

Two reports made with different HMAC keys (``hmac_key_id``) cannot be
compared by id: every identifier finding would look gone and new again; the
diff says so in a note instead of pretending.

Outputs: ``table`` (a terminal), ``json`` (schema ``privscan/diff/v1``, for
tools) and ``markdown`` (for a ticket or a pull-request comment).  Only what
the reports already hold is shown: values stay as the reports redacted them.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from scanner.errors import InputError
from scanner.model import SEVERITY_RANK
from scanner.report.formats.common import printable, short_time

REPORT_SCHEMA = "privscan/report/v1"
DIFF_SCHEMA = "privscan/diff/v1"
DIFF_FORMATS = ("table", "json", "markdown")
# What makes a finding "changed", in the order the diff lists the changes.
COMPARED = ("severity", "count", "first_seen", "last_seen", "keys")


@dataclass(frozen=True, slots=True)
class Report:
    path: str
    tool_version: str
    hmac_key_id: str | None
    captures: tuple[str, ...]
    findings: dict[str, dict[str, Any]]  # id -> the finding's record, as the report wrote it


@dataclass(frozen=True, slots=True)
class Change:
    id: str
    finding: dict[str, Any]  # the new report's record
    changes: tuple[tuple[str, Any, Any], ...]  # (field, old, new)


@dataclass(frozen=True, slots=True)
class ReportDiff:
    old: Report
    new: Report
    added: list[dict[str, Any]] = field(default_factory=list)
    gone: list[dict[str, Any]] = field(default_factory=list)
    changed: list[Change] = field(default_factory=list)

    @property
    def notes(self) -> list[str]:
        if self.old.hmac_key_id and self.new.hmac_key_id and self.old.hmac_key_id != self.new.hmac_key_id:
            return [
                "the two reports were made with different HMAC keys "
                f"({self.old.hmac_key_id} and {self.new.hmac_key_id}): finding ids of identifiers "
                "differ between them, so those findings show as gone and new"
            ]
        return []


def load_report(path: str | os.PathLike[str]) -> Report:
    """A privscan JSON report; ``InputError`` (one line, exit 2) when it cannot be read or is not one."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as handle:
            document = json.load(handle)
    except OSError as exc:
        raise InputError(f"{name}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise InputError(f"{name}: not a JSON report (not UTF-8 text)") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{name}: not a JSON report: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(document, dict) or document.get("schema") != REPORT_SCHEMA:
        found = document.get("schema") if isinstance(document, dict) else type(document).__name__
        raise InputError(f"{name}: not a privscan JSON report (schema {found!r}, expected {REPORT_SCHEMA!r})")
    findings = document.get("findings")
    if not isinstance(findings, list):
        raise InputError(f"{name}: the report has no findings list")
    by_id: dict[str, dict[str, Any]] = {}
    for index, finding in enumerate(findings):
        if not isinstance(finding, dict) or not isinstance(finding.get("id"), str) or not finding["id"]:
            raise InputError(f"{name}: finding {index + 1} has no id")
        by_id[finding["id"]] = finding
    tool = _dict(document.get("tool"))
    captures = document.get("captures")
    if not isinstance(captures, list):
        captures = []
    return Report(
        path=name,
        tool_version=str(tool.get("version", "")),
        hmac_key_id=document.get("hmac_key_id") if isinstance(document.get("hmac_key_id"), str) else None,
        captures=tuple(str(c.get("path", "")) for c in captures if isinstance(c, dict)),
        findings=by_id,
    )


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _keys(finding: dict[str, Any]) -> list[str]:
    identifier = finding.get("identifier")
    if not isinstance(identifier, dict):
        return []
    keys = identifier.get("keys")
    if isinstance(keys, list) and keys:
        return sorted(str(k) for k in keys)
    return [str(identifier["key"])] if identifier.get("key") else []


def _compared(finding: dict[str, Any], name: str) -> Any:
    return _keys(finding) if name == "keys" else finding.get(name)


def _order(finding: dict[str, Any]) -> tuple[int, str, str, str, str]:
    identifier = finding.get("identifier")
    destination = finding.get("destination")
    return (
        -SEVERITY_RANK.get(str(finding.get("severity")), -1),
        str(finding.get("subject", "")),
        str(identifier.get("type", "")) if isinstance(identifier, dict) else "",
        str(destination.get("host", "")) if isinstance(destination, dict) else "",
        str(finding["id"]),
    )


def diff_reports(old: Report, new: Report) -> ReportDiff:
    result = ReportDiff(old, new)
    for finding_id, finding in new.findings.items():
        before = old.findings.get(finding_id)
        if before is None:
            result.added.append(finding)
            continue
        changes = tuple(
            (name, _compared(before, name), _compared(finding, name))
            for name in COMPARED
            if _compared(before, name) != _compared(finding, name)
        )
        if changes:
            result.changed.append(Change(finding_id, finding, changes))
    result.gone.extend(f for i, f in old.findings.items() if i not in new.findings)
    result.added.sort(key=_order)
    result.gone.sort(key=_order)
    result.changed.sort(key=lambda c: _order(c.finding))
    return result


# --------------------------------------------------------------------------- rendering


def _identifier(finding: dict[str, Any], between: str = " ") -> str:
    identifier = finding.get("identifier")
    if not isinstance(identifier, dict):
        return "- (contact)"
    text = str(identifier.get("type", ""))
    if identifier.get("key"):
        text += f"{between}key {identifier['key']}"
    return text


def _destination(finding: dict[str, Any]) -> str:
    destination = _dict(finding.get("destination"))
    host = str(destination.get("host", ""))
    org = destination.get("org")
    return f"{host} ({org})" if org and org != host else host


def _subject(finding: dict[str, Any]) -> str:
    minor = finding.get("minor")
    return f"{finding.get('subject', '')}" + (" (minor)" if minor is True else "")


def _value(name: str, value: Any) -> str:
    if name in ("first_seen", "last_seen") and isinstance(value, int | float):
        return short_time(float(value))
    if isinstance(value, list):
        return ", ".join(str(v) for v in value) or "-"
    return "-" if value is None else str(value)


def _change_text(change: Change) -> str:
    return "; ".join(f"{name} {_value(name, old)} → {_value(name, new)}" for name, old, new in change.changes)


def _summary(result: ReportDiff) -> str:
    return f"{len(result.added)} new, {len(result.gone)} gone, {len(result.changed)} changed"


def render_json(result: ReportDiff) -> str:
    def meta(report: Report) -> dict[str, Any]:
        return {
            "path": report.path,
            "tool_version": report.tool_version,
            "hmac_key_id": report.hmac_key_id,
            "captures": list(report.captures),
            "findings": len(report.findings),
        }

    document = {
        "schema": DIFF_SCHEMA,
        "old_report": meta(result.old),
        "new_report": meta(result.new),
        "summary": {"new": len(result.added), "gone": len(result.gone), "changed": len(result.changed)},
        "notes": result.notes,
        "new": result.added,
        "gone": result.gone,
        "changed": [
            {
                "id": change.id,
                "changes": {name: {"old": old, "new": new} for name, old, new in change.changes},
                "finding": change.finding,
            }
            for change in result.changed
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _md(text: object) -> str:
    """Text for a Markdown table cell: one line, pipes and markup characters escaped."""
    cleaned = printable(text).replace("\n", " ").replace("\\", "\\\\")
    for char in "|*_`[]<>#":
        cleaned = cleaned.replace(char, "\\" + char)
    return cleaned


def render_markdown(result: ReportDiff) -> str:
    lines = [
        f"### privscan diff: {_summary(result)}",
        "",
        f"Old: `{_md(result.old.path)}` ({len(result.old.findings)} findings) · "
        f"new: `{_md(result.new.path)}` ({len(result.new.findings)} findings)",
        "",
    ]
    lines.extend(f"> **Note:** {_md(note)}\n" for note in result.notes)
    def rows(findings: list[dict[str, Any]]) -> list[str]:
        out = ["| Severity | Finding | Subject | Identifier | Destination | Id |", "|---|---|---|---|---|---|"]
        for finding in findings:
            out.append(
                f"| **{_md(str(finding.get('severity', '')).upper())}** | {_md(finding.get('title', finding.get('rule', '')))} "
                f"| {_md(_subject(finding))} | {_md(_identifier(finding))} | {_md(_destination(finding))} "
                f"| `{_md(finding['id'])}` |"
            )
        return out

    for title, findings in (("New", result.added), ("Gone", result.gone)):
        lines.append(f"#### {title} ({len(findings)})")
        lines.append("")
        if not findings:
            lines += ["None.", ""]
            continue
        # INFO rows (contacts, identifiers no rule flags) folded, so a comment leads with what matters.
        serious = [f for f in findings if f.get("severity") != "info"]
        info = [f for f in findings if f.get("severity") == "info"]
        if serious:
            lines += [*rows(serious), ""]
        if info:
            lines += [f"<details><summary>{len(info)} INFO</summary>", "", *rows(info), "", "</details>", ""]

    lines.append(f"#### Changed ({len(result.changed)})")
    lines.append("")
    if not result.changed:
        lines += ["None.", ""]
    else:
        lines.append("| Severity | Finding | Subject | Destination | What changed | Id |")
        lines.append("|---|---|---|---|---|---|")
        for change in result.changed:
            finding = change.finding
            lines.append(
                f"| **{_md(str(finding.get('severity', '')).upper())}** | {_md(finding.get('title', finding.get('rule', '')))} "
                f"| {_md(_subject(finding))} | {_md(_destination(finding))} | {_md(_change_text(change))} "
                f"| `{_md(change.id)}` |"
            )
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def render_table(result: ReportDiff, *, width: int = 100, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(
        file=buffer, width=width, force_terminal=color, color_system="auto" if color else None, no_color=not color,
        markup=False, highlight=False, emoji=False, soft_wrap=False,
    )
    console.print(Text(f"privscan diff: {_summary(result)}", style="bold"))
    console.print(Text(f"old: {printable(result.old.path)} ({len(result.old.findings)} findings)"))
    console.print(Text(f"new: {printable(result.new.path)} ({len(result.new.findings)} findings)"))
    for note in result.notes:
        console.print(Text(f"note: {note}", style="yellow"))
    sections: list[tuple[str, list[tuple[dict[str, Any], str]]]] = [
        ("New", [(f, _identifier(f, "\n")) for f in result.added]),
        ("Gone", [(f, _identifier(f, "\n")) for f in result.gone]),
        ("Changed", [(c.finding, _change_text(c)) for c in result.changed]),
    ]
    for title, rows in sections:
        console.print()
        if not rows:
            console.print(Text(f"{title}: none", style="dim"))
            continue
        table = Table(
            title=Text(f"{title} ({len(rows)})", style="bold"), title_justify="left", box=box.SIMPLE_HEAD,
            show_edge=False, pad_edge=False, padding=(0, 1, 0, 0), header_style="bold", expand=True,
        )
        # Ids, subjects and hosts are tokens: cut with an ellipsis, never folded in two.
        table.add_column("Severity", no_wrap=True, min_width=8)
        table.add_column("Id", no_wrap=True, min_width=16)
        table.add_column("Subject", ratio=2, no_wrap=True, overflow="ellipsis")
        table.add_column("What changed" if title == "Changed" else "Identifier", ratio=3, overflow="fold")
        table.add_column("Destination", ratio=3, no_wrap=True, overflow="ellipsis")
        for finding, detail in rows:
            destination = _dict(finding.get("destination"))
            host, org = str(destination.get("host", "")), destination.get("org")
            table.add_row(
                Text(str(finding.get("severity", "")).upper()),
                Text(printable(finding["id"])),
                Text(printable(finding.get("subject", "")) + ("\nminor" if finding.get("minor") is True else "")),
                Text(printable(detail)),
                Text(printable(host) + (f"\n{printable(org)}" if org and org != host else "")),
            )
        console.print(table)
    return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())


def render_diff(result: ReportDiff, fmt: str, *, width: int = 100, color: bool = False) -> str:
    if fmt == "json":
        return render_json(result)
    if fmt == "markdown":
        return render_markdown(result)
    if fmt == "table":
        return render_table(result, width=width, color=color)
    raise InputError(f"unknown diff format {fmt!r}; choose one of: {', '.join(DIFF_FORMATS)}")
