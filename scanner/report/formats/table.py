"""``--format table`` (the default): the scan as an engineer reads it in a terminal, with rich.

Layout, top to bottom:

1. a header: tool and engine, captures, packets, flows, decode errors,
   subjects (how many minors, how many of unknown age), findings per severity,
   and the allow-listed ones counted apart (they do not fail a run);
2. one table per subject, minors first (then unknown age, then adults), the
   subject with the worst finding first; rows worst first, with the columns
   severity, rule, identifier type (+ encoding, and the key it travelled
   under), destination host (organisation, tracker / third-party marks),
   channel (protocol and where, encrypted or clear text), count, first seen;
3. identifiers that reach two or more organisations (linkability), and the
   unknown destinations that received identifiers (no tracker list names them);
4. the allow-listed findings with their reasons;
5. "What to do": the remediation of each rule that has findings, once per
   rule, worst rule first: the action list, not repeated on every row;
6. capture and scan warnings.

Everything that comes from traffic (hosts, keys, names) goes through
``printable`` and into rich ``Text`` with markup off: a key like
``[bold]`` or an ANSI escape in a Host header cannot restyle or rewrite the
terminal.

Colours only on a terminal: ``render`` (files, pipes, golden tests) writes
plain text at ``RenderOptions.width`` (100 by default); ``write`` to a
terminal uses its width and colours unless ``NO_COLOR`` is set or
``RenderOptions(color=False)``.
"""

from __future__ import annotations

import io
from typing import IO, Any

from rich import box
from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from scanner.model import Finding, ScanResult, Subject
from scanner.report.formats.base import ReportFormat
from scanner.report.formats.common import (
    active_findings,
    allowlisted_findings,
    app_groups,
    destination_marks,
    identifier_text,
    minor_rank,
    minor_text,
    printable,
    rules_by_id,
    severity_counts,
    severity_rank,
    short_time,
    stats_record,
    subject_groups,
    worst_severity,
)

DEFAULT_WIDTH = 100
# Shorter names where the channel column (15 wide) would fold a location in the middle of a word.
_LOCATION_LABELS = {"user_agent": "user-agent"}

SEVERITY_STYLE = {
    "critical": "bold white on red",
    "high": "bold red",
    "medium": "yellow",
    "low": "cyan",
    "info": "dim",
}


def _severity_text(severity: str) -> Text:
    return Text(severity.upper(), style=SEVERITY_STYLE.get(severity, ""))


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _plural(count: int, word: str, plural: str | None = None) -> str:
    return f"{count:,} {word if count == 1 else (plural or word + 's')}"


def _table(title: Text, *, show_header: bool = True, expand: bool = True) -> Table:
    return Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        show_header=show_header,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        expand=expand,
        header_style="bold",
    )


class TableReport(ReportFormat):
    name = "table"
    extensions = (".txt",)
    description = "for a terminal (rich): grouped by subject, minors first, worst first"

    # --------------------------------------------------------------------- output

    def render(self, result: ScanResult) -> str:
        """Plain text (colours only with ``RenderOptions(color=True)``), no trailing blanks on lines."""
        color = bool(self.options.color)
        return self._render(result, terminal=color, color=color, width=self.options.width or DEFAULT_WIDTH)

    def write(self, result: ScanResult, stream: IO[Any]) -> None:
        isatty = getattr(stream, "isatty", None)
        terminal = bool(isatty and isatty())
        if not terminal:
            stream.write(self.render(result))
            return
        color = True if self.options.color is None else self.options.color
        console = self._console(stream, terminal=True, color=color, width=self.options.width)
        console.print(self.renderable(result, console.width))

    def _render(self, result: ScanResult, *, terminal: bool, color: bool, width: int) -> str:
        buffer = io.StringIO()
        console = self._console(buffer, terminal=terminal, color=color, width=width)
        console.print(self.renderable(result, console.width))
        # rich pads every line to the full width; files and diffs are better without the blanks.
        return "".join(line.rstrip() + "\n" for line in buffer.getvalue().splitlines())

    @staticmethod
    def _console(file: IO[str], *, terminal: bool, color: bool, width: int | None) -> Console:
        return Console(
            file=file,
            width=width,
            force_terminal=terminal,
            color_system="auto" if color else None,
            no_color=not color,
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=False,
            legacy_windows=False,
        )

    # --------------------------------------------------------------------- content

    def renderable(self, result: ScanResult, width: int) -> RenderableType:
        active = active_findings(result)
        parts: list[RenderableType] = [self._header(result, active), Text("")]
        if not active:
            parts.append(Text("No findings.", style="bold green"))
        for subject, findings in subject_groups(result, active):
            parts.append(self._subject_table(subject, findings, width))
            parts.append(Text(""))
        apps = self._apps(active)
        if apps is not None:
            parts.extend([apps, Text("")])
        linkable = self._linkable(result)
        if linkable is not None:
            parts.extend([linkable, Text("")])
        unknown = self._unknown(result)
        if unknown is not None:
            parts.extend([unknown, Text("")])
        allowed = allowlisted_findings(result)
        if allowed:
            parts.extend([self._allowlisted(allowed), Text("")])
        todo = self._remediation(result, active)
        if todo is not None:
            parts.extend([todo, Text("")])
        warnings = self._warnings(result)
        if warnings is not None:
            parts.append(warnings)
        return Group(*parts)

    def _header(self, result: ScanResult, active: list[Finding]) -> RenderableType:
        stats = stats_record(result, stable=self.options.is_stable)
        title = Text(f"privscan {result.tool_version}", style="bold")
        title.append(f"  ·  {result.engine} engine", style="dim")
        if stats.get("elapsed_s") is not None:
            title.append(f"  ·  {stats['elapsed_s']:.1f} s", style="dim")

        packets = sum(c.packets for c in result.captures)
        scanned = Text(
            f"{_plural(len(result.captures), 'capture')}  ·  {_number(stats.get('packets', packets))} packets"
            f"  ·  {_number(stats.get('flows', 0))} flows  ·  {_number(stats.get('decode_errors', 0))} decode errors"
        )
        minors = sum(1 for s in result.subjects if s.minor is True)
        unknown = sum(1 for s in result.subjects if s.minor is None)
        subjects = Text(f"{_plural(len(result.subjects), 'subject')}: ")
        subjects.append(f"{minors:,} {'minor' if minors == 1 else 'minors'}", style="bold magenta" if minors else "")
        adults = len(result.subjects) - minors - unknown
        subjects.append(f", {unknown:,} of unknown age, {adults:,} {'adult' if adults == 1 else 'adults'}")

        findings = Text(f"{_plural(len(active), 'finding')}: ")
        counts = severity_counts(active)
        for index, (severity, count) in enumerate(counts.items()):
            if index:
                findings.append("  ")
            findings.append(f"{count} {severity}", style=SEVERITY_STYLE[severity] if count else "dim")
        allowed = len(result.findings) - len(active)
        if allowed:
            findings.append(f"   (+ {allowed} allow-listed, not counted)", style="dim")
        return Group(title, scanned, subjects, findings)

    def _subject_table(self, subject: Subject, findings: list[Finding], width: int) -> Table:
        title = Text(printable(subject.id), style="bold magenta" if subject.minor else "bold")
        pool = f"  ·  pool {printable(subject.pool)}" if subject.pool is not None else ""
        title.append(
            f"  {minor_text(subject.minor)}  ·  {subject.source}{pool}",
            style="dim" if minor_rank(subject.minor) else "magenta",
        )
        worst = worst_severity(findings)
        if worst:
            title.append("  ·  worst: ", style="dim")
            title.append(worst, style=SEVERITY_STYLE.get(worst, ""))
        # rich shrinks or drops columns on its own when space is short, the destination first;
        # widths are planned here instead so that the host keeps the most room at any width.
        rule_width = max(4, *(len(f.rule) for f in findings))
        count_width = max(5, *(len(f"{f.count:,}") for f in findings))
        fixed = 8 + rule_width + count_width + 10
        spare = max(0, width - fixed - 2 * 6)  # two blanks between columns
        identifier_width = min(16, max(8, spare * 27 // 100))
        channel_width = min(15, max(8, spare // 4))
        destination_width = max(10, spare - identifier_width - channel_width)
        table = _table(title, expand=False)
        table.add_column("Severity", width=8, no_wrap=True)
        table.add_column("Rule", width=rule_width, overflow="fold")
        table.add_column("Identifier", width=identifier_width, overflow="fold")
        table.add_column("Destination", width=destination_width, overflow="fold")
        table.add_column("Channel", width=channel_width, overflow="fold")
        table.add_column("Count", width=count_width, justify="right", overflow="fold")
        table.add_column("First seen", width=10, overflow="fold")
        for finding in findings:
            date, _, time = short_time(finding.first_seen).partition(" ")
            table.add_row(
                _severity_text(finding.severity),
                Text(finding.rule),
                self._identifier_cell(finding),
                self._destination_cell(finding),
                self._channel_cell(finding),
                Text(f"{finding.count:,}"),
                Text(f"{date}\n{time}"),
            )
        return table

    @staticmethod
    def _identifier_cell(finding: Finding) -> Text:
        text = Text(printable(identifier_text(finding)))
        ref = finding.identifier
        if ref is None:
            text = Text("(contact only)", style="dim")
        elif len(ref.values) > 1:
            # Two identifiers to one host: one finding, but each value is shown with its keys.
            for value in ref.values:
                keys = ", ".join(printable(k) for k in value.keys) or "-"
                text.append(f"\n{printable(value.value)} ({keys})", style="dim")
        elif len(ref.keys) > 1:
            text.append(f"\nkeys {', '.join(printable(k) for k in ref.keys)}", style="dim")
        elif ref.key:
            text.append(f"\nkey {printable(ref.key)}", style="dim")
        return text

    @staticmethod
    def _destination_cell(finding: Finding) -> Text:
        dest = finding.destination
        text = Text(printable(dest.host))
        owner = printable(dest.org) if dest.org else ""
        marks = ", ".join(destination_marks(finding))
        if owner or marks:
            text.append("\n" + owner)
            if marks:
                text.append(f" ({marks})" if owner else marks, style="bold" if dest.tracker else "dim")
        return text

    @staticmethod
    def _channel_cell(finding: Finding) -> Text:
        channel = finding.channel
        # An injected header is the operator's doing, not the app's: the table says so where it shows the header.
        location = "enrichment" if channel.operator_injected else _LOCATION_LABELS.get(channel.location, channel.location)
        text = Text(f"{printable(channel.protocol)} {printable(location)}\n")
        if channel.encrypted:
            text.append("encrypted", style="green")
        else:
            text.append("clear text", style="bold red")
        return text

    @staticmethod
    def _apps(active: list[Finding]) -> RenderableType | None:
        """Findings by the app that sent them, where the traffic named it."""
        groups = app_groups(active)
        if not groups:
            return None
        lines = [Text("By app (where the traffic names it)", style="bold")]
        for group in groups:
            app = group.app
            line = Text(f"  {printable(group.subject.id)} ({minor_text(group.subject.minor)}): ")
            line.append(printable(app.label), style="bold")
            if app.id and app.name:
                line.append(f" [{printable(app.id)}]")
            if app.version:
                line.append(f" {printable(app.version)}", style="dim")
            line.append(f"  {_plural(len(group.findings), 'finding')}: {', '.join(group.id_types) or 'contacts'} -> "
                        f"{', '.join(printable(h) for h in group.hosts)}")
            lines.append(line)
        return Group(*lines)

    @staticmethod
    def _linkable(result: ScanResult) -> RenderableType | None:
        if not result.analyses.linkable:
            return None
        lines = [Text("Identifiers that reach two or more organisations (they can join their profiles)", style="bold")]
        for item in sorted(result.analyses.linkable, key=lambda i: (minor_rank(i.minor), i.subject, i.id_type)):
            line = Text(f"  {printable(item.subject)} ({minor_text(item.minor)}): {printable(item.id_type)} -> ")
            line.append(", ".join(printable(org) for org in item.orgs), style="bold")
            lines.append(line)
        return Group(*lines)

    @staticmethod
    def _unknown(result: ScanResult) -> RenderableType | None:
        """Destinations no tracker list names that received identifiers: for a person to classify."""
        if not result.unknown_destinations:
            return None
        lines = [Text("Unknown destinations that received identifiers (no tracker list names them)", style="bold")]
        for item in result.unknown_destinations:
            line = Text(f"  {printable(item.domain)} ({item.party} party; {_plural(item.subjects, 'subject')}")
            line.append(f", {item.minor_subjects} minor" if item.minor_subjects else "")
            line.append(f"): {', '.join(printable(t) for t in item.identifier_types)}")
            lines.append(line)
        return Group(*lines)

    @staticmethod
    def _allowlisted(findings: list[Finding]) -> Table:
        table = _table(Text(f"Allow-listed ({len(findings)}): accepted, not counted", style="bold"))
        table.add_column("Severity", no_wrap=True, min_width=8)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Subject", ratio=2, overflow="fold")
        table.add_column("Identifier", ratio=2, overflow="fold")
        table.add_column("Destination", ratio=4, overflow="fold")
        table.add_column("Reason", ratio=4, overflow="fold")
        for finding in findings:
            table.add_row(
                _severity_text(finding.severity),
                Text(finding.rule),
                Text(printable(finding.subject.id)),
                Text(printable(identifier_text(finding))),
                Text(printable(finding.destination.host)),
                Text(printable(finding.allowlisted or "")),
            )
        return table

    @staticmethod
    def _remediation(result: ScanResult, active: list[Finding]) -> RenderableType | None:
        if not active:
            return None
        rules = rules_by_id(result)
        counts: dict[str, int] = {}
        for finding in active:
            counts[finding.rule] = counts.get(finding.rule, 0) + 1
        ordered = sorted(counts, key=lambda rule_id: (-severity_rank(rules[rule_id].severity), rule_id))
        table = _table(Text("What to do, rule by rule, worst first", style="bold"), show_header=False)
        table.add_column("Severity", no_wrap=True, min_width=8)
        table.add_column("Rule", no_wrap=True)
        table.add_column("Action", ratio=1, overflow="fold")
        for rule_id in ordered:
            rule = rules[rule_id]
            action = Text(printable(rule.title), style="bold")
            action.append(f"  ({_plural(counts[rule_id], 'finding')})\n", style="dim")
            action.append(printable(rule.remediation or "-"))
            if rule.regulations:
                action.append("\n" + "; ".join(printable(r) for r in rule.regulations), style="dim")
            table.add_row(_severity_text(rule.severity), Text(rule.id), action)
        return table

    @staticmethod
    def _warnings(result: ScanResult) -> RenderableType | None:
        lines: list[Text] = []
        for capture in result.captures:
            for warning in capture.warnings:
                lines.append(Text(f"  {printable(capture.path)}: {printable(warning)}"))
        for warning in result.warnings:
            lines.append(Text(f"  {printable(warning)}"))
        if not lines:
            return None
        return Group(Text(f"Warnings ({len(lines)})", style="bold yellow"), *lines)
