"""Command-line options shared by privscan's commands (docs/cli.md), declared once.

``scan``/``blocklist`` (scanner/cli.py) and the audit commands that scan outside a config
(``baseline``, ``watch``: scanner/audit/commands.py) take the same scan settings; the choices of
``--engine``, ``--format`` and ``blocklist --format`` come from their registries (the engine list,
the report formats, the blocklist renderers), read when click needs them so that starting
``privscan events`` does not import every report format.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import click

from scanner.engines import ENGINES


class RegistryChoice(click.Choice):
    """A choice among a registry's names, read when first needed."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        super().__init__(())

    @property
    def choices(self) -> tuple[str, ...]:
        return tuple(self._load())

    @choices.setter
    def choices(self, _value: Sequence[str]) -> None:
        pass  # click's __init__ sets it; the registry is the truth


def report_format_names() -> list[str]:
    from scanner.report.formats import available_formats

    return available_formats()


def blocklist_format_names() -> list[str]:
    from scanner.report.blocklist import BLOCKLIST_FORMATS

    return list(BLOCKLIST_FORMATS)


class ReportFormatsOption(click.Option):
    """``--format`` of ``scan``: its help lists the report formats the registry holds."""

    def get_help_record(self, ctx: click.Context) -> tuple[str, str] | None:
        names = [n for n in report_format_names() if n != "table"]
        self.help = f"Report format(s): table (default), {', '.join(names)}. Repeat or comma-separate for several."
        return super().get_help_record(ctx)


def scan_setting_options(*, engine_default: str | None) -> list[Callable[[Any], Any]]:
    """The scan settings every scanning command takes; ``engine_default`` None: the config's, else native."""
    engine_help = None if engine_default else f"{' or '.join(ENGINES)} (default: the config's, else {ENGINES[0]})."
    return [
        click.option("--inventory", type=click.Path(dir_okay=False), help="Devices and their identifiers (YAML or CSV)."),
        click.option("--subscribers", type=click.Path(dir_okay=False), help="Child-profile subscriber list (IMSI/MSISDN with minor or age)."),
        click.option("--allowlist", type=click.Path(dir_okay=False), help="Accepted findings, with reasons."),
        click.option("--signatures", type=click.Path(file_okay=False), help="Signatures root (identifiers/, trackers/, policies/)."),
        click.option("--engine", type=click.Choice(ENGINES), default=engine_default, show_default=engine_default is not None, help=engine_help),
        click.option("--hmac-key-file", type=click.Path(dir_okay=False),
                     help="Key for value HMACs; finding fingerprints depend on it (default: ~/.config/privscan/hmac.key)."),
        keylog_option(),
    ]


KEYLOG_HELP = (
    "NSS key log file (SSLKEYLOGFILE) with the TLS/QUIC secrets of the lab's devices; repeatable. "
    "pcapng Decryption Secrets Blocks are used without it. See docs/decryption.md."
)


def keylog_option() -> Callable[[Any], Any]:
    """``--keylog FILE``, repeatable (docs/decryption.md)."""
    return click.option("--keylog", "keylogs", multiple=True, type=click.Path(dir_okay=False), help=KEYLOG_HELP)


def apply(options: Sequence[Callable[[Any], Any]], func: Any) -> Any:
    for option in reversed(options):
        func = option(func)
    return func
