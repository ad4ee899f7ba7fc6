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

from scanner.model import Finding, Subject
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
from scanner.results import ScanResult

DEFAULT_WIDTH = 100
CONTACTS_LISTED = 3  # INFO contacts of one subject listed row by row; more are summarised in one line
CONTACT_ORGS_NAMED = 6
NARROW = 96  # narrower than this, the per-subject tables leave out the first-seen time
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


def _count(value: Any, word: str) -> str:
    """``1 packet``, ``30,435 packets``; a counter that is not a number is shown as it is."""
    return _plural(value, word) if isinstance(value, int) else f"{value} {word}s"


def fit(text: str, width: int, *, keep_tail: bool = False) -> str:
    """``text`` in ``width`` columns without breaking a token: whole when it fits, else cut with
    ``…``.  ``keep_tail`` cuts from the left at a dot (a host's or a key path's meaningful end:
    ``…safeframe.googlesyndication.com``, ``…ids.android_id``)."""
    if len(text) <= width:
        return text
    if width <= 1:
        return "…"[:width]
    if keep_tail:
        tail = text[-(width - 1) :]
        # Start after a separator (a host's label, a key's path segment or word) when that keeps
        # half the room: "…advertising_id", not "…rtising_id".
        cuts = [at for at in (tail.find(sep) for sep in "._-") if at >= 0 and len(tail) - at - 1 >= width // 2]
        if cuts:
            tail = tail[min(cuts) + 1 :]
        return "…" + tail
    return text[: width - 1] + "…"


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
            # Many INFO contacts (a browser reaching forty ad hosts) would bury the rows that matter:
            # past CONTACTS_LISTED they are summarised in one line per subject, by organisation.
            contacts = [f for f in findings if f.identifier is None and f.severity == "info"]
            if len(contacts) > CONTACTS_LISTED:
                findings = [f for f in findings if not (f.identifier is None and f.severity == "info")]
            else:
                contacts = []
            if findings:
                parts.append(self._subject_table(subject, findings, width))
            else:
                parts.append(self._subject_title(subject, contacts))
            if contacts:
                parts.append(self._contacts_line(contacts, more=bool(findings)))
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
            parts.extend([self._allowlisted(allowed, width), Text("")])
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
            f"{_plural(len(result.captures), 'capture')}  ·  {_count(stats.get('packets', packets), 'packet')}"
            f"  ·  {_count(stats.get('flows', 0), 'flow')}  ·  {_count(stats.get('decode_errors', 0), 'decode error')}"
        )
        minors = sum(1 for s in result.subjects if s.minor is True)
        unknown = sum(1 for s in result.subjects if s.minor is None)
        subjects = Text(f"{_plural(len(result.subjects), 'subject')}: ")
        subjects.append(_plural(minors, "minor"), style="bold magenta" if minors else "")
        adults = len(result.subjects) - minors - unknown
        subjects.append(f", {unknown:,} of unknown age, {_plural(adults, 'adult')}")
        shown = len({f.subject.id for f in active})
        if 0 < shown < len(result.subjects):
            # The tables below are per subject with findings: say how many of the subjects that is.
            subjects.append(f"  ·  {shown:,} with findings below", style="dim")

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

    @staticmethod
    def _subject_title(subject: Subject, findings: list[Finding]) -> Text:
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
        return title

    @staticmethod
    def _contacts_line(contacts: list[Finding], *, more: bool) -> Text:
        """``+ 38 INFO contacts (PS901) with hosts of Google 12, Meta 4, …``: one line for many."""
        by_org: dict[str, int] = {}
        for finding in contacts:
            org = finding.destination.org or finding.destination.domain or finding.destination.host
            by_org[printable(org)] = by_org.get(printable(org), 0) + 1
        ranked = sorted(by_org.items(), key=lambda item: (-item[1], item[0]))
        rules = ", ".join(sorted({f.rule for f in contacts}))
        line = Text("+ ", style="dim")
        line.append(_plural(len(contacts), "more contact" if more else "contact"), style="bold")
        line.append(f" without an identifier (INFO, {rules}), with hosts of ")
        line.append(", ".join(f"{org} {count}" for org, count in ranked[:CONTACT_ORGS_NAMED]))
        if len(ranked) > CONTACT_ORGS_NAMED:
            line.append(f" and {_plural(len(ranked) - CONTACT_ORGS_NAMED, 'more organisation')}")
        line.append(" (every one in the JSON and HTML reports)", style="dim")
        return line

    def _subject_table(self, subject: Subject, findings: list[Finding], width: int) -> Table:
        title = self._subject_title(subject, findings)
        # Widths are planned here, not left to rich: rich folds a cell mid-token when space is short
        # (a host cut in two, "device.android_i" / "d").  Every cell below is fitted to its column
        # instead (fit(): whole tokens, "…" where cut), and the columns never wrap.
        rule_width = max(4, *(len(f.rule) for f in findings))
        count_width = max(5, *(len(f"{f.count:,}") for f in findings))
        # Below NARROW columns the first-seen time goes (the HTML and JSON have it): the host and
        # the key need the room more than a time does in an 80-column terminal.
        with_time = width >= NARROW
        fixed = 8 + rule_width + count_width + (10 if with_time else 0)
        spare = max(0, width - fixed - 2 * (6 if with_time else 5))  # a divider and a padding blank between columns
        channel_width = min(15, max(11, spare // 4))
        # The identifier column takes what its longest cell needs, up to 2/5 of the room (24 at most);
        # the destination gets the rest.
        longest = max(self._identifier_needs(f) for f in findings)
        identifier_width = max(12, min(longest, 24, (spare - channel_width) * 2 // 5))
        destination_width = max(12, spare - identifier_width - channel_width)
        table = _table(title, expand=False)
        table.add_column("Severity", width=8, no_wrap=True)
        table.add_column("Rule", width=rule_width, no_wrap=True)
        table.add_column("Identifier", width=identifier_width, no_wrap=True, overflow="ellipsis")
        table.add_column("Destination", width=destination_width, no_wrap=True, overflow="ellipsis")
        table.add_column("Channel", width=channel_width, no_wrap=True, overflow="ellipsis")
        table.add_column("Count", width=count_width, justify="right", no_wrap=True)
        if with_time:
            table.add_column("First seen", width=10, no_wrap=True)
        for finding in findings:
            date, _, time = short_time(finding.first_seen).partition(" ")
            cells = [
                _severity_text(finding.severity),
                Text(finding.rule),
                self._identifier_cell(finding, identifier_width),
                self._destination_cell(finding, destination_width),
                self._channel_cell(finding, channel_width),
                Text(f"{finding.count:,}"),
            ]
            if with_time:
                cells.append(Text(f"{date}\n{time}"))
            table.add_row(*cells)
        return table

    @staticmethod
    def _identifier_needs(finding: Finding) -> int:
        """The identifier cell's width when nothing is cut."""
        ref = finding.identifier
        if ref is None:
            return len("(contact only)")
        key = len(f"key {printable(ref.key)}") if ref.key else 0
        return max(len(printable(identifier_text(finding))), key)

    @staticmethod
    def _identifier_cell(finding: Finding, width: int) -> Text:
        ref = finding.identifier
        if ref is None:
            return Text("(contact only)" if width >= 14 else "(contact)", style="dim")
        text = Text(fit(printable(identifier_text(finding)), width))
        if ref.key:
            key = printable(ref.key)
            # No room for "key ": the key's last segment whole ("…advertising_id") matters more.
            shown = "key " + key if len(key) + 4 <= width else fit(key, width, keep_tail=True)
            text.append("\n" + shown, style="dim")
        if len(ref.values) > 1:
            # Two identifiers to one host: one finding, but each value is shown with its keys.
            for value in ref.values:
                keys = ", ".join(printable(k) for k in value.keys) or "-"
                text.append("\n" + fit(f"{printable(value.value)} ({keys})", width), style="dim")
        elif len(ref.keys) > 1:
            text.append("\n" + fit("also " + ", ".join(printable(k) for k in ref.keys if k != ref.key), width), style="dim")
        return text

    @staticmethod
    def _destination_cell(finding: Finding, width: int) -> Text:
        dest = finding.destination
        text = Text(fit(printable(dest.host), width, keep_tail=True))
        owner = printable(dest.org) if dest.org else ""
        marks = destination_marks(finding)
        # The owner and its marks on one line: dropped from the end ("third party" first) until it fits.
        while marks and len(owner) + len(", ".join(marks)) + (3 if owner else 0) > width:
            marks = marks[:-1]
        if owner or marks:
            text.append("\n" + fit(owner, width))
            if marks:
                joined = ", ".join(marks)
                text.append(f" ({joined})" if owner else joined, style="bold" if dest.tracker else "dim")
        return text

    @staticmethod
    def _channel_cell(finding: Finding, width: int) -> Text:
        channel = finding.channel
        # An injected header is the operator's doing, not the app's: the table says so where it shows the header.
        location = "enrichment" if channel.operator_injected else _LOCATION_LABELS.get(channel.location, channel.location)
        text = Text(fit(f"{printable(channel.protocol)} {printable(location)}", width) + "\n")
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
    def _allowlisted(findings: list[Finding], width: int) -> Table:
        # Subject, identifier and host in one column of fitted lines (never folded mid-token),
        # the reason, which is prose, wrapping at words beside it.
        rule_width = max(4, *(len(f.rule) for f in findings))
        finding_width = max(16, (width - 8 - rule_width - 2 * 3) * 11 // 20)
        table = _table(Text(f"Allow-listed ({len(findings)}): accepted, not counted", style="bold"))
        table.add_column("Severity", width=8, no_wrap=True)
        table.add_column("Rule", width=rule_width, no_wrap=True)
        table.add_column("Finding", width=finding_width, no_wrap=True, overflow="ellipsis")
        table.add_column("Reason", ratio=1, overflow="fold")
        for finding in findings:
            who = fit(f"{printable(finding.subject.id)} · {printable(identifier_text(finding))}", finding_width)
            host = fit(printable(finding.destination.host), finding_width, keep_tail=True)
            table.add_row(
                _severity_text(finding.severity),
                Text(finding.rule),
                Text(f"{who}\n{host}"),
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
        # The scan's warnings repeat each capture's ("path: warning"): each is listed once.
        seen: dict[str, None] = {}
        for capture in result.captures:
            for warning in capture.warnings:
                seen.setdefault(f"{printable(capture.path)}: {printable(warning)}", None)
        for warning in result.warnings:
            seen.setdefault(printable(warning), None)
        if not seen:
            return None
        grid = Table.grid(padding=(0, 0, 0, 2), pad_edge=True)  # indented; a long line wraps under itself
        grid.add_column(overflow="fold")
        for line in seen:
            grid.add_row(Text(line))
        return Group(Text(f"Warnings ({len(seen)})", style="bold yellow"), grid)
