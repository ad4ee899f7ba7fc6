"""privscan's command line (click).  Thin: it parses, calls, prints and exits.

Exit status (docs/cli.md): 0 no finding at or above ``--fail-on``; 1 findings at
or above it; 2 bad usage or unreadable input, with one line on stderr and no
traceback.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from scanner import __version__, options
from scanner.engines import ENGINES
from scanner.errors import PrivscanError
from scanner.settings import Settings


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="privscan")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """privscan: which company receives our young subscribers' identifiers, through which flows, and since when."""
    # The one place the environment is read (docs/cli.md, "Environment"); every command passes
    # these settings down instead.
    ctx.obj = Settings.from_environment()


def runtime() -> Settings:
    """The run's settings, as the group read them (defaults outside a command line run)."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


@cli.command()
@click.argument("captures", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="native", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
@click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True, help="Processes decoding captures in parallel.")
@options.keylog_option()
def events(captures: Sequence[str], fmt: str, engine: str, output: str | None, jobs: int, keylogs: Sequence[str]) -> None:
    """Print one line per application event (DNS, HTTP, TLS, QUIC, DHCP, GTP-C, ...), like a Zeek log."""
    from scanner.decode.keylog import load_keylogs
    from scanner.decode.tlsdecrypt.context import decryption_warnings
    from scanner.ingest import expand_inputs
    from scanner.report.events import write_event_lines
    from scanner.report.output import check_writable, open_output
    from scanner.run import make_runner

    check_writable(output)
    sources = expand_inputs(captures)
    keylog = load_keylogs(keylogs)
    # events name no capture digest: the engine need not sha256 the files
    runner = make_runner(engine, None, jobs, dataclasses.replace(runtime(), capture_digest=False), keylog=keylog)
    with open_output(output) as stream:
        write_event_lines(runner.events(sources), stream, fmt)
    for info in runner.stats.captures:
        for warning in info.warnings:
            click.echo(f"privscan: warning: {info.path}: {warning}", err=True)
    for warning in decryption_warnings(runner.stats.counters, keylog.warnings if keylog is not None else ()):
        click.echo(f"privscan: warning: {warning}", err=True)


SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info", "none")


def _scan_options(func: Any = None, *, blocklist: bool = False) -> Any:
    """The options every command that scans captures shares (scan, blocklist).  A blocklist holds
    host names only: it takes no --show-values or --hmac-key-file, which it would ignore."""
    if func is None:
        return lambda f: _scan_options(f, blocklist=blocklist)
    return options.apply(
        [
            *options.scan_setting_options(engine_default="native", hmac_key=not blocklist),
            *([] if blocklist else [click.option("--show-values", is_flag=True, help="Print identifier values instead of redacted previews.")]),
            click.option("--jobs", type=click.IntRange(min=1), default=1, show_default=True,
                         help="Processes decoding in parallel: whole captures, or flow shards of one (reports are the same as with 1)."),
            click.option("--scheduler", metavar="ADDRESS|local:N",
                         help="Decode on a Dask cluster: a scheduler's address (tcp://host:8786) or local:N for N local workers."),
            click.option("-q", "--quiet", is_flag=True, help="No progress bar."),
        ],
        func,
    )


def _settings(**kwargs: Any) -> Any:
    from scanner.pipeline import ScanSettings

    return ScanSettings(
        inventory=kwargs.get("inventory"),
        subscribers=kwargs.get("subscribers"),
        allowlist=kwargs.get("allowlist"),
        signatures=kwargs.get("signatures"),
        engine=kwargs.get("engine") or "native",
        show_values=bool(kwargs.get("show_values")),
        hmac_key_file=kwargs.get("hmac_key_file"),
        runtime=runtime(),
        scheduler=kwargs.get("scheduler"),
        keylogs=tuple(kwargs.get("keylogs") or ()),
        assume_minor=bool(kwargs.get("assume_minor")),
        trackers=tuple(kwargs.get("tracker_lists") or ()),
    )


def _run(captures: Sequence[str], quiet: bool, jobs: int, **kwargs: Any) -> Any:
    from scanner.ingest import expand_inputs
    from scanner.pipeline import run_scan

    sources = expand_inputs(captures)
    if not sources:
        raise click.UsageError("no capture to scan (an empty directory?)")
    settings = dataclasses.replace(_settings(**kwargs), jobs=jobs)
    from scanner.report.progress import scan_progress

    with scan_progress(sources, enabled=not quiet) as progress:
        return run_scan(sources, settings, progress)


@cli.command()
@click.argument("captures", nargs=-1, required=True)
@_scan_options
@click.option("--format", "formats", multiple=True, cls=options.ReportFormatsOption)
@click.option("-o", "--output", "outputs", multiple=True, help="Output file; its extension picks the format (report.html), or FORMAT:FILE. Repeatable.")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default="high", show_default=True, help="Exit 1 when a finding is at or above this severity (none: never).")
def scan(captures: Sequence[str], formats: Sequence[str], outputs: Sequence[str], fail_on: str, quiet: bool, jobs: int, **kwargs: Any) -> None:
    """Scan captures for identifiers leaving subjects; report findings."""
    from scanner.report.formats import RenderOptions, format_for_path, get_format, write_report
    from scanner.report.output import check_writable

    targets = _targets(formats, outputs, format_for_path, get_format)
    for _, path in targets:
        check_writable(path)
    result = _run(captures, quiet, jobs, **kwargs)
    for name, path in targets:
        write_report(result, get_format(name)(RenderOptions(stable=runtime().stable_report)), path)
    for warning in result.warnings:
        click.echo(f"privscan: warning: {warning}", err=True)
    if fail_on != "none" and result.findings_at_or_above(fail_on):
        sys.exit(1)


@cli.command()
@click.argument("captures", nargs=-1, required=True)
@_scan_options(blocklist=True)
@click.option("--format", "fmt", type=options.RegistryChoice(options.blocklist_format_names), default="hosts", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def blocklist(captures: Sequence[str], fmt: str, output: str | None, quiet: bool, jobs: int, **kwargs: Any) -> None:
    """Network policy for child-profile subscriptions: the third-party trackers that received a
    minor's identifiers, as a hosts file, a dnsmasq configuration or a DNS RPZ zone."""
    from scanner.report.blocklist import render_blocklist, why_empty
    from scanner.report.output import check_writable, open_output

    check_writable(output)
    result = _run(captures, quiet, jobs, **kwargs)
    text = render_blocklist(result, fmt, replaces=output)  # an RPZ zone's serial goes past the file it replaces
    with open_output(output) as stream:
        stream.write(text)
    for warning in result.warnings:
        click.echo(f"privscan: warning: {warning}", err=True)
    reason = why_empty(result)
    if reason is not None:
        click.echo(f"privscan: {reason}", err=True)


@cli.command()
@click.argument("old_report", metavar="OLD.json")
@click.argument("new_report", metavar="NEW.json")
@click.option("--format", "fmt", type=click.Choice(["table", "json", "markdown"]), default="table", show_default=True,
              help="table for a terminal, json for tools, markdown for a ticket or a pull-request comment.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write here instead of stdout.")
def diff(old_report: str, new_report: str, fmt: str, output: str | None) -> None:
    """What is new, gone and changed between two JSON reports (findings matched by their stable id)."""
    import shutil

    from scanner.report.diff import diff_reports, load_report, render_diff
    from scanner.report.output import check_writable, open_output

    check_writable(output)
    result = diff_reports(load_report(old_report), load_report(new_report))
    terminal = output is None and sys.stdout.isatty()
    width = shutil.get_terminal_size((100, 24)).columns if terminal else 100
    text = render_diff(result, fmt, width=width, color=terminal and fmt == "table")
    with open_output(output) as stream:
        stream.write(text)


def _targets(formats: Sequence[str], outputs: Sequence[str], format_for_path: Any, get_format: Any) -> list[tuple[str, str | None]]:
    """Pair --format names with -o files: by FORMAT:FILE, by the file's extension, or one with one."""
    names = [name.strip().lower() for arg in formats for name in arg.split(",") if name.strip()]
    for name in names:
        get_format(name)  # unknown names fail before the scan
    targets: list[tuple[str | None, str]] = []
    for output in outputs:
        prefix, sep, rest = output.partition(":")
        if sep and prefix.lower() in _format_names():
            targets.append((prefix.lower(), rest))
            continue
        cls = format_for_path(output)
        targets.append((cls.name if cls else None, output))
    if len(names) == 1 and len(targets) == 1 and targets[0][0] != names[0]:
        targets = [(names[0], targets[0][1])]
    for maybe_name, path in targets:
        if maybe_name is None:
            raise click.UsageError(f"cannot tell the format of {path}: name it with --format or as FORMAT:{path}")
    paired = {name for name, _ in targets}
    to_stdout = [name for name in names if name not in paired]
    if not names:
        to_stdout = ["table"]  # without --format the terminal gets the table, next to any -o files
    if len(to_stdout) > 1:
        raise click.UsageError(f"only one format can go to standard output; give -o files for {', '.join(to_stdout[1:])}")
    result: list[tuple[str, str | None]] = [(name, path) for name, path in targets if name is not None]
    result += [(name, None) for name in to_stdout]
    return result


def _format_names() -> set[str]:
    from scanner.report.formats import available_formats

    return set(available_formats())


def _register_commands() -> None:
    """Commands that live with their subsystem (scheduled audits: audit, history, baseline, watch, capture)."""
    from scanner.audit.commands import register

    register(cli)


_register_commands()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and turn every user-facing error into one line and exit 2."""
    try:
        status = cli.main(args=list(argv) if argv is not None else None, prog_name="privscan", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("privscan: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        click.echo(f"privscan: error: {exc.format_message()}", err=True)
        sys.exit(2)
    except PrivscanError as exc:
        click.echo(f"privscan: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except BrokenPipeError:
        # `privscan events x.pcap | head`: the reader left; not an error of ours.
        sys.stderr.close()
        sys.exit(0)
    except OSError as exc:
        # What the system refused outside any file we name (standard output on a full disk, say):
        # one line, like every other error the user can fix.
        where = f"{exc.filename}: " if exc.filename else ""
        click.echo(f"privscan: error: {where}{exc.strerror or exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        click.echo("privscan: interrupted", err=True)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)


def json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
