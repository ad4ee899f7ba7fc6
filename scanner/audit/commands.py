"""The click commands of scheduled audits: audit, history, baseline (create|update), watch, capture.

``register(cli)`` adds them to privscan's command group (scanner/cli.py calls
it), so the audit commands live beside the code they drive and cli.py stays
thin.  Conventions are cli.py's: a user's mistake raises ``InputError`` or
``ConfigError`` (one line on stderr, exit 2, via ``scanner.cli.main``);
findings that fail a run exit 1.
"""

from __future__ import annotations

import dataclasses
import getpass
import json
import os
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import click

from scanner import options
from scanner.errors import InputError
from scanner.settings import Settings

SEVERITY_CHOICES = ("critical", "high", "medium", "low", "info", "none")


def register(group: click.Group) -> None:
    """Add the audit commands to ``group`` (privscan's ``cli``).  Calling it twice is harmless."""
    for command in (audit, history, baseline, watch, capture):
        group.add_command(command)


def _settings_options(func: Any) -> Any:
    """Scan settings for commands that scan outside an audit config (baseline, watch); they override the config's."""
    config = click.option("--config", "config_path", type=click.Path(dir_okay=False),
                          help="An audit config to take the settings, history and baseline from.")
    return options.apply([config, *options.scan_setting_options(engine_default=None)], func)


def _load_config(config_path: str | None) -> Any:
    if not config_path:
        return None
    from scanner.audit.config import load_config

    return load_config(config_path)


def _runtime() -> Settings:
    """The settings the privscan group read from the environment (defaults when run otherwise)."""
    obj = click.get_current_context().find_root().obj
    return obj if isinstance(obj, Settings) else Settings()


def _settings(config: Any, options: dict[str, Any]) -> Any:
    from scanner.pipeline import ScanSettings

    base = config.scan_settings() if config is not None else ScanSettings()
    return ScanSettings(
        inventory=options.get("inventory") or base.inventory,
        subscribers=options.get("subscribers") or base.subscribers,
        allowlist=options.get("allowlist") or base.allowlist,
        signatures=options.get("signatures") or base.signatures,
        engine=options.get("engine") or base.engine,
        show_values=False,
        hmac_key_file=options.get("hmac_key_file") or base.hmac_key_file,
        runtime=_runtime(),
        keylogs=tuple(options.get("keylogs") or ()) or base.keylogs,
    )


# --------------------------------------------------------------------------- audit


@click.command()
@click.argument("config", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help='json: {"run", "new", "open", "resolved", "baselined"} (finding ids) on one line.')
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None, help="Override the config's fail_on.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Override the config's jobs (processes decoding in parallel).")
@click.option("--scheduler", metavar="ADDRESS|local:N", default=None,
              help="Override the config's scheduler: decode on a Dask cluster (tcp://host:8786, or local:N).")
def audit(config: str, fmt: str, fail_on: str | None, jobs: int | None, scheduler: str | None) -> None:
    """Run the scheduled audit CONFIG describes: scan, store the run, compare, write the reports.

    Exit 1 when a finding that is neither baselined nor allow-listed reaches fail_on.
    """
    from scanner.audit.capture import format_duration
    from scanner.audit.config import load_config
    from scanner.audit.run import run_audit, summary_json, summary_text

    cfg = load_config(config)
    if jobs is not None or scheduler is not None:
        cfg = dataclasses.replace(cfg, jobs=jobs or cfg.jobs, scheduler=scheduler or cfg.scheduler)

    def capture_started(backend: str, path: Path) -> None:
        live = cfg.capture
        assert live is not None  # called only by a live capture
        click.echo(
            f"privscan: capturing on {live.interface} for {format_duration(live.duration)} into {path} ({backend})", err=True
        )

    outcome = run_audit(cfg, fail_on=fail_on, on_capture_started=capture_started, settings=_runtime())
    for warning in (*outcome.result.warnings, *outcome.warnings):
        click.echo(f"privscan: warning: {warning}", err=True)
    click.echo(summary_json(outcome) if fmt == "json" else summary_text(outcome))
    if outcome.exit_status:
        sys.exit(outcome.exit_status)


# --------------------------------------------------------------------------- history


@click.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.option("--finding", "finding_id", help="One finding's timeline (a unique prefix of its id will do).")
@click.option("--run", "run_id", type=int, help="One run: its inputs, signature files and findings.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="How many runs to list.")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
def history(target: str, finding_id: str | None, run_id: int | None, limit: int, fmt: str) -> None:
    """List the runs in a history (TARGET: the database, or an audit config naming it); show a run or a finding."""
    from scanner.audit.history import History

    db_path, series = _history_target(target)
    with History(db_path) as store:
        if finding_id is not None:
            matches = store.find_fingerprints(finding_id.strip())
            if not matches:
                raise InputError(f"no finding {finding_id!r} in {db_path}")
            if len(matches) > 1:
                raise InputError(f"{finding_id!r} is ambiguous: {', '.join(matches[:5])}{' ...' if len(matches) > 5 else ''}")
            stored = store.finding(matches[0])
            assert stored is not None
            timeline = store.timeline(matches[0])
            if fmt == "json":
                click.echo(json.dumps({"finding": stored.to_record(), "timeline": timeline}, indent=2))
                return
            kind = stored.id_type or "contact"
            click.echo(f"finding {stored.fingerprint}: {stored.severity} {stored.rule} {stored.subject} {kind} -> {stored.host}")
            click.echo(f"  {stored.title}")
            click.echo(f"  status {stored.status}; first seen run {stored.first_run} ({stored.first_seen}); last seen run {stored.last_run} ({stored.last_seen})")
            for step in timeline:
                click.echo(f"  run {step['run']:>5}  {step['started']}  {step['state']:<11} {step['severity']:<8} {step['rule']:<6} x{step['count']}")
            return
        if run_id is not None:
            row = store.run(run_id)
            if row is None:
                raise InputError(f"no run {run_id} in {db_path}")
            findings = store.run_findings(run_id)
            if fmt == "json":
                record = row.to_record()
                record["findings"] = [{"state": state, **f.to_record()} for state, f in findings]
                click.echo(json.dumps(record, indent=2))
                return
            click.echo(f"run {row.id} ({row.kind}, {row.series}): {row.status}, exit {row.exit_status}, fail_on {row.fail_on}")
            click.echo(f"  {row.started} -> {row.finished}; privscan {row.tool_version}, {row.engine} engine, HMAC key {row.hmac_key_id}")
            if row.baseline:
                click.echo(f"  baseline {row.baseline} (sha256 {row.baseline_sha256})")
            for item in row.inputs:
                click.echo(f"  input {item['path']}  sha256 {item['sha256']}  {item['packets']} packets")
            click.echo(f"  {len(row.signatures)} signature files")
            for state, f in findings:
                click.echo(f"  {state:<11} {f.severity:<8} {f.rule:<6} {f.subject} {f.id_type or 'contact'} -> {f.host}  [{f.fingerprint}]")
            return
        rows = store.runs(series, limit)
        if fmt == "json":
            click.echo(json.dumps([r.to_record() for r in rows], indent=2))
            return
        if not rows:
            click.echo(f"no runs yet in {db_path}")
            return
        click.echo(f"{'run':>5}  {'started':<20}  {'status':<6}  {'kind':<5}  {'new':>4}  {'open':>4}  {'resolved':>8}  {'baselined':>9}  {'allowed':>7}  inputs")
        for r in rows:
            s = r.states
            inputs = ", ".join(Path(i["path"]).name for i in r.inputs)
            click.echo(
                f"{r.id:>5}  {r.started:<20}  {r.status:<6}  {r.kind:<5}  {s.get('new', 0):>4}  {s.get('open', 0):>4}  "
                f"{s.get('resolved', 0):>8}  {s.get('baselined', 0):>9}  {s.get('allowlisted', 0):>7}  {inputs}"
            )


def _history_target(target: str) -> tuple[Path, str | None]:
    """(database, series) from a history database or an audit config."""
    path = Path(target)
    if path.suffix.lower() in (".yaml", ".yml"):
        from scanner.audit.config import load_config

        config = load_config(path)
        if not config.history.exists():
            raise InputError(f"no history yet at {config.history} (run privscan audit {target} first)")
        return config.history, config.name
    if not path.is_file():
        raise InputError(f"no such history database: {target}")
    return path, None


# --------------------------------------------------------------------------- baseline


@click.group()
def baseline() -> None:
    """Create or update the baseline: reviewed, accepted findings that do not fail an audit."""


def _baseline_options(func: Any) -> Any:
    options: list[Callable[[Any], Any]] = [
        click.argument("captures", nargs=-1),
        _settings_options,
        click.option("--history", "history_path", type=click.Path(dir_okay=False), help="Take the findings of a run in this history (default: the config's)."),
        click.option("--run", "run_id", type=int, help="The run to take (default: the last one)."),
        click.option("-o", "--output", type=click.Path(dir_okay=False), help="The baseline file (default: the config's baseline, else privscan-baseline.yaml)."),
        click.option("--who", default=None, help="Who reviewed and accepted the new entries (default: the user name)."),
        click.option("--why", default=None, help="Why they are accepted (default: a note asking for review)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@baseline.command("create")
@_baseline_options
@click.option("--force", is_flag=True, help="Overwrite an existing baseline file.")
def baseline_create(captures: Sequence[str], history_path: str | None, run_id: int | None, output: str | None,
                    who: str | None, why: str | None, force: bool, config_path: str | None, **options: Any) -> None:
    """Accept every finding (not allow-listed) of a scan of CAPTURES, or of a run in the history."""
    from scanner.audit import baseline as bl

    config = _load_config(config_path)
    target = _baseline_path(output, config)
    if target.exists() and not force:
        raise InputError(f"{target} exists: use 'privscan baseline update', or --force to start again")
    keys, key_id, source = _accepted_findings(captures, history_path, run_id, config, options)
    made = bl.create(keys, who or _user(), why or bl.DEFAULT_WHY, key_id)
    bl.write_baseline(made, target)
    click.echo(f"privscan: baseline {target}: {len(made.entries)} findings accepted from {source}", err=True)


@baseline.command("update")
@_baseline_options
def baseline_update(captures: Sequence[str], history_path: str | None, run_id: int | None, output: str | None,
                    who: str | None, why: str | None, config_path: str | None, **options: Any) -> None:
    """Add the new findings of a scan or run to the baseline, drop the resolved ones, keep the rest's who/why."""
    from scanner.audit import baseline as bl

    config = _load_config(config_path)
    target = _baseline_path(output, config)
    if not target.exists():
        raise InputError(f"no baseline at {target}: make one with 'privscan baseline create'")
    old = bl.load_baseline(target)
    keys, key_id, source = _accepted_findings(captures, history_path, run_id, config, options)
    if old.hmac_key_id and key_id and old.hmac_key_id != key_id:
        raise InputError(
            f"{target} was made with HMAC key {old.hmac_key_id}, {source} with {key_id}: no fingerprint can match "
            "(use the same hmac_key_file, or create a new baseline with --force)"
        )
    changed = bl.update(old, keys, who or _user(), why or bl.DEFAULT_WHY, key_id)
    bl.write_baseline(changed.baseline, target)
    click.echo(
        f"privscan: baseline {target}: {len(changed.added)} added, {len(changed.dropped)} dropped, "
        f"{len(changed.kept)} kept (from {source})",
        err=True,
    )
    for entry in changed.dropped:
        click.echo(f"  dropped {entry.id} {entry.rule} {entry.subject} {entry.type or 'contact'} -> {entry.host}", err=True)


def _baseline_path(output: str | None, config: Any) -> Path:
    from scanner.audit.baseline import DEFAULT_BASELINE

    if output:
        return Path(output)
    if config is not None and config.baseline is not None:
        return Path(config.baseline)
    return Path(DEFAULT_BASELINE)


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def _accepted_findings(
    captures: Sequence[str], history_path: str | None, run_id: int | None, config: Any, options: dict[str, Any]
) -> tuple[list[Any], str | None, str]:
    """The findings a baseline accepts (not allow-listed), the HMAC key id they were made with, and where they came from."""
    from scanner.audit.baseline import FindingKey

    if captures:
        from scanner.ingest import expand_inputs
        from scanner.pipeline import run_scan

        sources = expand_inputs(captures)
        if not sources:
            raise InputError("no capture to scan (an empty directory?)")
        result = run_scan(sources, _settings(config, options))
        keys = [FindingKey.of(f) for f in result.findings if f.allowlisted is None]
        return keys, result.hmac_key_id, f"a scan of {len(sources)} capture{'s' if len(sources) != 1 else ''}"
    from scanner.audit.history import History

    if history_path:
        db = Path(history_path)
        series = None
    elif config is not None:
        db, series = config.history, config.name
    else:
        raise click.UsageError("say where the findings come from: CAPTURES to scan, --history DB or --config CONFIG")
    if not db.exists():
        raise InputError(f"no history at {db}")
    with History(db) as store:
        chosen = run_id if run_id is not None else store.last_run_id(series)
        if chosen is None:
            raise InputError(f"no run in {db} yet")
        row = store.run(chosen)
        if row is None:
            raise InputError(f"no run {chosen} in {db}")
        keys = [
            FindingKey(f.fingerprint, f.rule, f.subject, f.id_type, f.host)
            for state, f in store.run_findings(chosen)
            if state in ("new", "open", "baselined")
        ]
        return keys, row.hmac_key_id, f"run {chosen} of {db}"


# --------------------------------------------------------------------------- watch


@click.command()
@click.argument("directory", type=click.Path(file_okay=False))
@_settings_options
@click.option("--history", "history_path", type=click.Path(dir_okay=False),
              help="History database (default: the config's, else DIR/.privscan-history.sqlite).")
@click.option("--baseline", "baseline_path", type=click.Path(dir_okay=False), help="Baseline to honour (default: the config's).")
@click.option("--fail-on", type=click.Choice(SEVERITY_CHOICES), default=None, help="Threshold recorded per run (default: the config's, else high).")
@click.option("--pattern", default="*", show_default=True, help="Only files whose name matches this glob.")
@click.option("--interval", type=click.FloatRange(min=0.05), default=5.0, show_default=True, help="Seconds between looks at the directory.")
@click.option("--settle", type=click.FloatRange(min=0), default=10.0, show_default=True, help="Seconds a file must stay unchanged before it is complete.")
@click.option("--once", is_flag=True, help="Scan what is complete now and exit (cron, tests). Exit 1 if a run failed.")
@click.option("--format", "fmt", type=click.Choice(["text", "jsonl"]), default="text", show_default=True, help="One line per scanned file.")
def watch(directory: str, config_path: str | None, history_path: str | None, baseline_path: str | None, fail_on: str | None,
          pattern: str, interval: float, settle: float, once: bool, fmt: str, **options: Any) -> None:
    """Follow DIR, where tcpdump -G/-C or a dumpcap ring buffer writes rotating files; scan each complete file once."""
    import hashlib

    from scanner.audit.baseline import load_baseline
    from scanner.audit.history import History
    from scanner.audit.watch import Watcher, WatchScan

    config = _load_config(config_path)
    root = Path(directory)
    if not root.is_dir():
        raise InputError(f"no such directory to watch: {directory}")
    if history_path:
        db = Path(history_path)
    elif config is not None:
        db = config.history
    else:
        db = root / ".privscan-history.sqlite"
    baseline_file = Path(baseline_path) if baseline_path else (config.baseline if config is not None else None)
    loaded = None
    baseline_record = None
    if baseline_file is not None and baseline_file.exists():
        loaded = load_baseline(baseline_file)
        baseline_record = (str(baseline_file), hashlib.sha256(baseline_file.read_bytes()).hexdigest())
    elif baseline_path:
        raise InputError(f"no such baseline: {baseline_path}")
    threshold = fail_on or (config.fail_on if config is not None else "high")
    failed = False

    def report(scan: WatchScan) -> None:
        nonlocal failed
        c = scan.comparison
        failed = failed or bool(c.failing)
        for warning in scan.result.warnings:
            click.echo(f"privscan: warning: {warning}", err=True)
        if fmt == "jsonl":
            record = {"capture": scan.path, **c.to_summary()}
            del record["resolved"]  # a watch run resolves nothing (see watch.py)
            click.echo(json.dumps(record))
        else:
            click.echo(
                f"privscan watch: run {c.run_id}: {Path(scan.path).name}: {len(scan.result.findings)} findings, "
                f"{len(c.new)} new, {len(c.failing)} at or above {threshold} outside the baseline and allow-list"
            )

    with History(db, pause_in_transaction=_runtime().history_pause_s) as store:
        watcher = Watcher(
            root, store, _settings(config, options),
            series=config.name if config is not None else None,
            settle=settle, pattern=pattern, baseline=loaded, baseline_file=baseline_record, fail_on=threshold,
        )
        stop = threading.Event()
        restore: Callable[[], None] = _stop_on_signals(stop) if not once else _nothing
        try:
            watcher.run(interval=interval, once=once, stop=stop, on_scan=report)
        finally:
            restore()
        for warning in watcher.warnings:
            click.echo(f"privscan: warning: {warning}", err=True)
    if once and failed:
        sys.exit(1)


def _nothing() -> None:
    pass


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    """SIGTERM (systemd stop) and SIGINT end the watch between two files, not in the middle of one."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore


# --------------------------------------------------------------------------- capture


@click.command()
@click.option("-i", "--interface", required=True, help="The interface the test devices' traffic crosses.")
@click.option("-d", "--duration", required=True, help="How long: 30s, 10m, 1h, 1h30m.")
@click.option("-f", "--filter", "bpf", default=None, help='Capture filter (BPF), e.g. "not port 22".')
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False), help="The capture file (.pcapng; .pcap for classic pcap).")
@click.option("--backend", type=click.Choice(["auto", "dumpcap", "scapy"]), default="auto", show_default=True,
              help="auto: dumpcap when installed, else scapy.")
def capture(interface: str, duration: str, bpf: str | None, output: str, backend: str) -> None:
    """Record the test devices' traffic for a while into a capture file (dumpcap, or scapy without it)."""
    from scanner.audit.capture import format_duration, parse_duration, record

    try:
        seconds = parse_duration(duration)
    except ValueError as exc:
        raise InputError(f"--duration: {exc}") from None

    def started(name: str) -> None:
        click.echo(f"privscan: capturing on {interface} for {format_duration(seconds)} into {output} ({name})", err=True)

    done = record(interface, seconds, output, bpf, backend, started)
    packets = "some" if done.packets is None else str(done.packets)
    size = os.path.getsize(done.path) if done.path.exists() else 0
    click.echo(f"privscan: captured {packets} packets ({size} bytes) into {done.path}", err=True)


__all__ = ["audit", "baseline", "capture", "history", "register", "watch"]
