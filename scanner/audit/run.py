"""One scheduled audit, end to end: ``privscan audit CONFIG.yaml``.

    (record a live capture) -> scan -> store the run in the history and compare it
    with the baseline and the series' previous run (one transaction) -> write the
    outputs named in the config -> summary "new / still open / resolved since last run"

Why this order: the history is opened before anything is captured or scanned,
so a wrong database path fails in a second, not after a ten-minute capture;
reports are written after the run is stored, so the summary can name the run,
and each report is written atomically (temporary file + rename) so a CI job or
a web server never picks up half a report.

Exit status (the audit's contract): 1 when a finding that is neither in the
baseline nor allow-listed is at or above ``fail_on``; 0 otherwise; 2 for a bad
config or unreadable input (``ConfigError``/``InputError``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scanner.audit.baseline import Baseline, load_baseline, write_atomically
from scanner.audit.capture import CaptureRun, record
from scanner.audit.config import SUMMARY_OUTPUT, AuditConfig
from scanner.audit.history import History, RunComparison, StoredFinding, utc_now
from scanner.errors import InputError
from scanner.model import Finding
from scanner.results import ScanResult
from scanner.settings import Settings


@dataclass(frozen=True, slots=True)
class AuditOutcome:
    config: AuditConfig
    result: ScanResult
    comparison: RunComparison
    fail_on: str
    capture: CaptureRun | None = None
    warnings: tuple[str, ...] = ()

    @property
    def exit_status(self) -> int:
        return self.comparison.exit_status


def run_audit(
    config: AuditConfig,
    *,
    fail_on: str | None = None,
    progress: Callable[[str, int], None] | None = None,
    on_capture_started: Callable[[str, Path], None] | None = None,
    settings: Settings | None = None,
) -> AuditOutcome:
    """Run one audit as configured; the outputs are written, the run is in the history."""
    from scanner.ingest import expand_inputs
    from scanner.pipeline import run_scan

    settings = settings or Settings()
    threshold = fail_on or config.fail_on
    started = utc_now()
    warnings: list[str] = []
    baseline, baseline_file = _baseline(config, warnings)
    with History(config.history, pause_in_transaction=settings.history_pause_s) as history:
        capture_run: CaptureRun | None = None
        inputs: tuple[str, ...] = config.captures
        if config.capture is not None:
            live = config.capture
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            output = live.output_path(stamp)
            output.parent.mkdir(parents=True, exist_ok=True)

            def started_callback(backend: str) -> None:
                if on_capture_started is not None:
                    on_capture_started(backend, output)

            capture_run = record(live.interface, live.duration, output, live.filter, live.backend, started_callback)
            inputs = (str(output),)
        sources = expand_inputs(inputs)
        if not sources:
            raise InputError(f"{config.path}: no capture to scan in {', '.join(inputs)}")
        result = run_scan(sources, config.scan_settings(settings), progress)
        if baseline is not None and baseline.hmac_key_id and baseline.hmac_key_id != result.hmac_key_id:
            warnings.append(
                f"{config.baseline}: made with HMAC key {baseline.hmac_key_id}, this scan used {result.hmac_key_id}: "
                "its fingerprints cannot match (set hmac_key_file in the config to the key the baseline was made with)"
            )
        comparison = history.record_run(
            result,
            series=config.name,
            kind="audit",
            started=started,
            fail_on=threshold,
            baseline_ids=baseline.ids() if baseline is not None else (),
            baseline_file=baseline_file,
            compare_with="previous",
        )
    if comparison.previous_key_id:
        warnings.append(
            f"run {comparison.previous_run} used HMAC key {comparison.previous_key_id}, this one {result.hmac_key_id}: "
            "fingerprints differ between them, so everything looks new (keep hmac_key_file fixed)"
        )
    outcome = AuditOutcome(config, result, comparison, threshold, capture_run, tuple(warnings))
    write_outputs(outcome, stable=settings.stable_report)
    return outcome


def _baseline(config: AuditConfig, warnings: list[str]) -> tuple[Baseline | None, tuple[str, str] | None]:
    if config.baseline is None:
        return None, None
    if not config.baseline.exists():
        warnings.append(f"{config.baseline}: no baseline yet (privscan baseline create --config {config.path} makes one)")
        return None, None
    data = config.baseline.read_bytes()
    return load_baseline(config.baseline), (str(config.baseline), hashlib.sha256(data).hexdigest())


def write_outputs(outcome: AuditOutcome, *, stable: bool = False) -> None:
    from scanner.report.formats import RenderOptions, get_format, write_report

    for name, path in outcome.config.outputs:
        if name == SUMMARY_OUTPUT:
            write_atomically(path, (json.dumps(outcome.comparison.to_summary(), indent=2) + "\n").encode("utf-8"))
            continue
        fmt = get_format(name)(RenderOptions(stable=stable))
        fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            write_report(outcome.result, fmt, temporary)
            os.chmod(temporary, 0o644)  # mkstemp's 0600 would hide the report from a web server
            os.replace(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except OSError:
                pass
            raise


# --------------------------------------------------------------------------- the summary


def summary_json(outcome: AuditOutcome) -> str:
    """``{"run", "new", "open", "resolved", "baselined", "not_seen"}`` on one line (``--format json``)."""
    return json.dumps(outcome.comparison.to_summary(), separators=(", ", ": "))


def summary_text(outcome: AuditOutcome) -> str:
    """The short human summary: what is new, still open and resolved since the series' last run."""
    c = outcome.comparison
    result = outcome.result
    since = f"run {c.previous_run}" if c.previous_run is not None else "(first run)"
    captures = len(result.captures)
    lines = [
        f"privscan audit: run {c.run_id} of {outcome.config.name!r}: {captures} capture{'s' if captures != 1 else ''}, "
        f"{len(result.findings)} finding{'s' if len(result.findings) != 1 else ''}"
        + (f", compared with run {c.previous_run}" if c.previous_run is not None else ", the series' first run"),
    ]
    lines.append(f"new since {since}: {len(c.new)}")
    lines += [f"  {_finding_line(f)}" for f in c.new]
    failing_ids = {f.id for f in c.failing}
    failing_open = [f for f in c.open if f.id in failing_ids]
    lines.append(f"still open: {len(c.open)}" + (f" ({len(failing_open)} at or above {outcome.fail_on})" if failing_open else ""))
    lines += [f"  {_finding_line(f)}" for f in failing_open]
    lines.append(f"resolved since {since}: {len(c.resolved)}")
    lines += [f"  {_stored_line(f)}" for f in c.resolved]
    if c.not_seen:
        # The subject sent nothing tonight: its leaks may go on, so they are not resolved.
        lines.append(f"not seen (their subject is absent from these captures, so not resolved): {len(c.not_seen)}")
        lines += [f"  {_stored_line(f)}" for f in c.not_seen]
    lines.append(f"baselined: {len(c.baselined)}, allow-listed: {len(c.allowlisted)}")
    if c.failing:
        lines.append(
            f"VIOLATIONS: {len(c.failing)} finding{'s' if len(c.failing) != 1 else ''} at or above {outcome.fail_on} "
            "neither baselined nor allow-listed"
        )
    else:
        bar = "no threshold" if outcome.fail_on == "none" else f"nothing at or above {outcome.fail_on} outside the baseline and allow-list"
        lines.append(f"passed: {bar}")
    return "\n".join(lines)


def _finding_line(finding: Finding) -> str:
    kind = finding.identifier.type if finding.identifier else "contact"
    return f"{finding.severity:<8} {finding.rule:<6} {finding.subject.id} {kind} -> {finding.destination.host}  [{finding.id}]"


def _stored_line(finding: StoredFinding) -> str:
    kind = finding.id_type or "contact"
    return f"{finding.severity:<8} {finding.rule:<6} {finding.subject} {kind} -> {finding.host}  [{finding.fingerprint}]"


__all__ = ["AuditOutcome", "run_audit", "summary_json", "summary_text", "write_outputs"]
