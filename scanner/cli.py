"""privscan's command line (click).  Thin: it parses, calls, prints and exits.

Exit status (DESIGN.md): 0 no finding at or above ``--fail-on``; 1 findings at
or above it; 2 bad usage or unreadable input, with one line on stderr and no
traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from typing import Any

import click

from scanner import __version__
from scanner.errors import PrivscanError

ENGINES = ("native", "tshark")


def _engine(name: str, progress: Any = None) -> Any:
    if name == "tshark":
        from scanner.engines.tshark import TsharkEngine

        return TsharkEngine(progress=progress)
    from scanner.engines.native import NativeEngine

    return NativeEngine(progress=progress)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="privscan")
def cli() -> None:
    """privscan: which company receives our young subscribers' identifiers, through which flows, and since when."""


@cli.command()
@click.argument("captures", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(["jsonl", "table"]), default="jsonl", show_default=True)
@click.option("--engine", type=click.Choice(ENGINES), default="native", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Write here instead of stdout.")
def events(captures: Sequence[str], fmt: str, engine: str, output: str | None) -> None:
    """Print one line per application event (DNS, HTTP, TLS, QUIC, DHCP, GTP-C, ...), like a Zeek log."""
    from scanner.ingest import expand_inputs
    from scanner.report.events import write_event_lines

    sources = expand_inputs(captures)
    runner = _engine(engine)
    stream = open(output, "w", encoding="utf-8") if output else sys.stdout
    try:
        write_event_lines(runner.events(sources), stream, fmt)
    finally:
        if output:
            stream.close()
    for info in runner.stats.captures:
        for warning in info.warnings:
            click.echo(f"privscan: warning: {info.path}: {warning}", err=True)


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
    except KeyboardInterrupt:
        click.echo("privscan: interrupted", err=True)
        sys.exit(130)
    sys.exit(status if isinstance(status, int) else 0)


def json_line(record: dict[str, Any]) -> str:
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))
