"""The audit history: every scheduled run and every finding's life, in one SQLite file (stdlib sqlite3).

Why SQLite: an unattended lab audit needs a store that is one file beside the
config, survives a kill or a power cut without a server to run, and that an
engineer can open with any SQLite client.

Tables (schema version 3)::

    schema_version (version PK, description, applied)        -- one row per migration applied
    runs           (id PK, series, kind, started, finished, status, exit_status, fail_on,
                    tool_version, engine, hmac_key_id, stats JSON, baseline, baseline_sha256)
    run_inputs     (run_id, position, path, sha256, bytes, packets)          -- what was scanned
    run_signatures (run_id, path, sha256)                                    -- with which signature files
    findings       (fingerprint PK, rule, severity, title, subject, minor, id_type, host, org,
                    first_run, last_run, first_seen, last_seen, status, resolved_run)
    run_findings   (run_id, fingerprint, state, severity, rule, count)       -- what each run saw
    scanned_files  (path, size, sha256, mtime_ns, run_id)                    -- what `watch` has scanned
    run_not_seen   (run_id, fingerprint)       -- open findings of subjects absent from a run's captures

A finding's ``status`` is its state after the latest run that concerned it:
``open`` (seen, neither baselined nor allow-listed), ``baselined``,
``allowlisted``, or ``resolved`` (seen by the series' previous run, not by
this one, although this run saw its subject).  A run's ``run_findings.state``
is ``new`` / ``open`` / ``baselined`` / ``allowlisted`` for what it saw,
``resolved`` for what it no longer saw.  "New" means: not seen by the
previous run of the same series (audits), or never seen before in the series
(``watch``, whose rotating files are slices of time, so absence from one file
resolves nothing).

A finding whose *subject* is absent from a run's captures (the device was
off, or not in tonight's capture) is not resolved: nothing says the leak
stopped.  The run lists it in ``run_not_seen`` and the finding keeps its
status; the next run compares with it as if the previous run had seen it, so
when the device is back its findings are still open, not new.  A subject is
present when it sent anything the scan attributed (``ScanResult.subjects``)
or, for an inventory device, when one of its addresses sent a request
(``ScanResult.present_subjects``).

A run's ``status`` is ``passed`` or, when findings reached ``fail_on``,
stored as ``failed`` (schema 1's word, kept by its CHECK constraint) and
shown as ``violations``: the run did its job, it found violations
(``RunRow.status``).

Writes are transactional: a run is written in ONE ``BEGIN IMMEDIATE`` ...
``COMMIT`` at its end, the comparison with the previous run read inside that
same transaction, so a run killed half-way (or two audits racing) leaves the
history as it was.  The database is in WAL mode (readers never block the
writer; a crash leaves at most an uncommitted tail that the next open ignores)
with ``synchronous=FULL`` (a committed run survives a power cut).

Schema changes are versioned: ``MIGRATIONS`` (history_schema.py) is a list applied in order, each
in its own transaction together with its ``schema_version`` row, so an older
history file is upgraded in place the first time a newer privscan opens it,
and a file from a newer privscan is refused rather than misread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.audit.history_schema import current_version, migrate, utc_now
from scanner.errors import ConfigError
from scanner.model import SEVERITY_RANK, Finding
from scanner.results import ScanResult

# Test-only hook: seconds to sleep inside the run's transaction, just before COMMIT, after a
# line on stderr that says so.  It lets a test SIGKILL an audit at the one moment that matters.
TEST_PAUSE_MARKER = "privscan: test: paused inside the history transaction"

FINDING_STATUSES = ("open", "resolved", "baselined", "allowlisted")
# How a run's stored status is shown: a run that found violations did not fail.
RUN_STATUS_SHOWN = {"passed": "passed", "failed": "violations"}
RUN_STATES = ("new", "open", "baselined", "allowlisted", "resolved")






# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class ScannedFile:
    """A file ``watch`` scanned, as it was when scanned."""

    path: str
    size: int
    sha256: str
    mtime_ns: int | None = None


@dataclass(frozen=True, slots=True)
class StoredFinding:
    """A finding as the history keeps it (no evidence: that is in the reports)."""

    fingerprint: str
    rule: str
    severity: str
    title: str
    subject: str
    minor: bool | None
    id_type: str | None
    host: str
    org: str | None
    status: str
    first_run: int
    last_run: int
    first_seen: str
    last_seen: str

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.fingerprint,
            "rule": self.rule,
            "severity": self.severity,
            "title": self.title,
            "subject": self.subject,
            "minor": self.minor,
            "type": self.id_type,
            "host": self.host,
            "org": self.org,
            "status": self.status,
            "first_run": self.first_run,
            "last_run": self.last_run,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


@dataclass(frozen=True, slots=True)
class RunComparison:
    """What one run saw, compared with the series' previous run (or everything before it)."""

    run_id: int
    previous_run: int | None
    new: tuple[Finding, ...]
    open: tuple[Finding, ...]
    baselined: tuple[Finding, ...]
    allowlisted: tuple[Finding, ...]
    resolved: tuple[StoredFinding, ...]
    failing: tuple[Finding, ...]  # new or open, at or above fail_on
    exit_status: int
    previous_key_id: str | None = None  # the previous run's HMAC key id, when it differs from this one's
    not_seen: tuple[StoredFinding, ...] = ()  # earlier findings of subjects absent from this run's captures

    def to_summary(self) -> dict[str, Any]:
        """``{"run", "new", "open", "resolved", "baselined"}``: the contract of ``privscan audit --format json``."""
        return {
            "run": self.run_id,
            "new": [f.id for f in self.new],
            "open": [f.id for f in self.open],
            "resolved": [f.fingerprint for f in self.resolved],
            "baselined": [f.id for f in self.baselined],
            "not_seen": [f.fingerprint for f in self.not_seen],
        }


@dataclass(frozen=True, slots=True)
class RunRow:
    id: int
    series: str
    kind: str
    started: str
    finished: str
    status: str
    exit_status: int
    fail_on: str
    tool_version: str
    engine: str
    hmac_key_id: str
    stats: dict[str, Any]
    baseline: str | None
    baseline_sha256: str | None
    inputs: tuple[dict[str, Any], ...] = ()
    signatures: tuple[dict[str, str], ...] = ()
    states: dict[str, int] = field(default_factory=dict)

    def to_record(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "series": self.series,
            "kind": self.kind,
            "started": self.started,
            "finished": self.finished,
            "status": self.status,
            "exit_status": self.exit_status,
            "fail_on": self.fail_on,
            "tool_version": self.tool_version,
            "engine": self.engine,
            "hmac_key_id": self.hmac_key_id,
            "baseline": self.baseline,
            "baseline_sha256": self.baseline_sha256,
            "inputs": list(self.inputs),
            "signatures": list(self.signatures),
            "stats": self.stats,
            "findings": dict(self.states),
        }


# --------------------------------------------------------------------------- the store


OPEN_RETRY_SECONDS = 30.0  # how long a new database may stay locked by another opener


class History:
    """One history database.  Open it, record runs, query it; ``close`` (or ``with``) when done."""

    def __init__(self, path: str | os.PathLike[str], *, migrate_to: int | None = None, pause_in_transaction: float | None = None) -> None:
        self.path = Path(path)
        # Tests only (Settings.history_pause_s, PRIVSCAN_TEST_PAUSE_IN_TRANSACTION read by the CLI):
        # sleep inside record_run's transaction so that a test can kill the process there.
        self.pause_in_transaction = pause_in_transaction
        if not self.path.parent.is_dir():
            raise ConfigError(self.path, None, f"no such directory for the history database: {self.path.parent}")
        try:
            # isolation_level=None: no implicit transactions; every one here is an explicit BEGIN ... COMMIT.
            self.db = sqlite3.connect(str(self.path), isolation_level=None, timeout=30.0)
        except sqlite3.Error as exc:
            raise ConfigError(self.path, None, f"cannot open the history database: {exc}") from None
        try:
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA foreign_keys = ON")
            self.db.execute("PRAGMA busy_timeout = 30000")
            self._prepare(migrate_to)
        except sqlite3.DatabaseError as exc:
            self.db.close()
            raise ConfigError(self.path, None, f"not a privscan history database: {exc}") from None
        except BaseException:
            self.db.close()
            raise

    def _prepare(self, migrate_to: int | None) -> None:
        """WAL mode and the schema.  Two processes opening a new database at once (two watchers,
        concurrent audits) can meet SQLite's immediate "database is locked", which its busy
        handler does not wait out for a journal-mode change or a lock upgrade: try again."""
        deadline = time.monotonic() + OPEN_RETRY_SECONDS
        while True:
            try:
                mode = self.db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    raise ConfigError(self.path, None, f"cannot put the history database in WAL mode (got {mode})")
                self.db.execute("PRAGMA synchronous = FULL")
                migrate(self.db, self.path, migrate_to)
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
                time.sleep(0.05)

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` (take the write lock now, so the reads inside see what we then write over)."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    # ------------------------------------------------------------------ writing

    def record_run(
        self,
        result: ScanResult,
        *,
        series: str,
        kind: str,
        started: str,
        fail_on: str,
        baseline_ids: Iterable[str] = (),
        baseline_file: tuple[str, str] | None = None,
        compare_with: str = "previous",
        scanned_files: Sequence[ScannedFile] = (),
    ) -> RunComparison:
        """Store one run and compare it, all in one transaction; return the comparison.

        ``compare_with="previous"`` (audits): new = not in the series' previous
        run, and what that run saw and this one did not is resolved.
        ``compare_with="ever"`` (watch): new = never seen before in the series;
        nothing is resolved.
        """
        if compare_with not in ("previous", "ever"):
            raise ValueError(f"compare_with must be 'previous' or 'ever', not {compare_with!r}")
        baselined_ids = frozenset(baseline_ids)
        # One row per fingerprint: a finding's id names the leak, so a repeat adds nothing to a run.
        findings = tuple({f.id: f for f in result.findings}.values())
        with self.transaction() as db:
            previous = db.execute(
                "SELECT id, hmac_key_id FROM runs WHERE series = ? ORDER BY id DESC LIMIT 1", (series,)
            ).fetchone()
            previous_id: int | None = previous["id"] if previous else None
            if compare_with == "previous":
                # What the previous run saw, and what it kept open for subjects it did not see.
                before = set() if previous_id is None else self._seen_by(previous_id) | self._not_seen_by(previous_id)
            else:
                before = {
                    row[0]
                    for row in db.execute(
                        "SELECT DISTINCT rf.fingerprint FROM run_findings rf JOIN runs r ON r.id = rf.run_id "
                        "WHERE r.series = ? AND rf.state != 'resolved'",
                        (series,),
                    )
                }
            comparison = _compare(findings, before, baselined_ids, fail_on)
            status = "failed" if comparison.failing else "passed"
            exit_status = 1 if comparison.failing else 0
            finished = utc_now()
            cursor = db.execute(
                "INSERT INTO runs (series, kind, started, finished, status, exit_status, fail_on, tool_version, engine,"
                " hmac_key_id, stats, baseline, baseline_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    series, kind, started, finished, status, exit_status, fail_on, result.tool_version, result.engine,
                    result.hmac_key_id, json.dumps(result.stats, sort_keys=True, default=str),
                    baseline_file[0] if baseline_file else None, baseline_file[1] if baseline_file else None,
                ),
            )
            run_id = int(cursor.lastrowid or 0)
            db.executemany(
                "INSERT INTO run_inputs (run_id, position, path, sha256, bytes, packets) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, i, c.path, c.sha256, c.bytes, c.packets) for i, c in enumerate(result.captures)],
            )
            db.executemany(
                "INSERT OR REPLACE INTO run_signatures (run_id, path, sha256) VALUES (?, ?, ?)",
                [(run_id, s.path, s.sha256) for s in result.signatures],
            )
            states = comparison.states
            for finding in findings:
                self._upsert_finding(finding, states[finding.id], run_id, finished)
            db.executemany(
                "INSERT INTO run_findings (run_id, fingerprint, state, severity, rule, count) VALUES (?, ?, ?, ?, ?, ?)",
                [(run_id, f.id, states[f.id], f.severity, f.rule, f.count) for f in findings],
            )
            resolved: list[StoredFinding] = []
            not_seen: list[StoredFinding] = []
            if compare_with == "previous":
                gone = sorted(before - set(states))
                present = {s.id for s in result.subjects} | set(result.present_subjects)
                for fingerprint in gone:
                    absent = self.finding(fingerprint)
                    if absent is not None and absent.subject not in present:
                        not_seen.append(absent)
                        db.execute("INSERT INTO run_not_seen (run_id, fingerprint) VALUES (?, ?)", (run_id, fingerprint))
                        continue
                    db.execute(
                        "UPDATE findings SET status = 'resolved', resolved_run = ? WHERE fingerprint = ?",
                        (run_id, fingerprint),
                    )
                    stored = self.finding(fingerprint)
                    if stored is not None:
                        resolved.append(stored)
                        db.execute(
                            "INSERT INTO run_findings (run_id, fingerprint, state, severity, rule, count)"
                            " VALUES (?, ?, 'resolved', ?, ?, 0)",
                            (run_id, fingerprint, stored.severity, stored.rule),
                        )
            db.executemany(
                "INSERT OR REPLACE INTO scanned_files (path, size, sha256, mtime_ns, run_id) VALUES (?, ?, ?, ?, ?)",
                [(s.path, s.size, s.sha256, s.mtime_ns, run_id) for s in scanned_files],
            )
            _test_pause(self.pause_in_transaction)
        previous_key = previous["hmac_key_id"] if previous else None
        return RunComparison(
            run_id=run_id,
            previous_run=previous_id,
            new=comparison.new,
            open=comparison.open,
            baselined=comparison.baselined,
            allowlisted=comparison.allowlisted,
            resolved=tuple(resolved),
            not_seen=tuple(not_seen),
            failing=comparison.failing,
            exit_status=exit_status,
            previous_key_id=previous_key if previous_key and previous_key != result.hmac_key_id else None,
        )

    def _upsert_finding(self, finding: Finding, state: str, run_id: int, when: str) -> None:
        status = "open" if state in ("new", "open") else state
        identifier = finding.identifier
        minor = None if finding.subject.minor is None else int(finding.subject.minor)
        self.db.execute(
            """INSERT INTO findings (fingerprint, rule, severity, title, subject, minor, id_type, host, org,
                                     first_run, last_run, first_seen, last_seen, status, resolved_run)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
               ON CONFLICT (fingerprint) DO UPDATE SET
                   rule = excluded.rule, severity = excluded.severity, title = excluded.title,
                   subject = excluded.subject, minor = excluded.minor, id_type = excluded.id_type,
                   host = excluded.host, org = excluded.org,
                   last_run = excluded.last_run, last_seen = excluded.last_seen,
                   status = excluded.status, resolved_run = NULL""",
            (
                finding.id, finding.rule, finding.severity, finding.title, finding.subject.id, minor,
                identifier.type if identifier else None, finding.destination.host, finding.destination.org,
                run_id, run_id, when, when, status,
            ),
        )

    # ------------------------------------------------------------------ reading

    def _not_seen_by(self, run_id: int) -> set[str]:
        return {row[0] for row in self.db.execute("SELECT fingerprint FROM run_not_seen WHERE run_id = ?", (run_id,))}

    def _seen_by(self, run_id: int) -> set[str]:
        return {
            row[0]
            for row in self.db.execute(
                "SELECT fingerprint FROM run_findings WHERE run_id = ? AND state != 'resolved'", (run_id,)
            )
        }

    def last_run_id(self, series: str | None = None) -> int | None:
        if series is None:
            row = self.db.execute("SELECT MAX(id) FROM runs").fetchone()
        else:
            row = self.db.execute("SELECT MAX(id) FROM runs WHERE series = ?", (series,)).fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def run(self, run_id: int) -> RunRow | None:
        row = self.db.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        return None if row is None else self._run_row(row, details=True)

    def runs(self, series: str | None = None, limit: int | None = None) -> list[RunRow]:
        """Runs, newest first."""
        sql = "SELECT * FROM runs"
        params: list[Any] = []
        if series is not None:
            sql += " WHERE series = ?"
            params.append(series)
        sql += " ORDER BY id DESC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [self._run_row(row, details=False) for row in self.db.execute(sql, params)]

    def _run_row(self, row: sqlite3.Row, details: bool) -> RunRow:
        run_id = row["id"]
        states = {
            r[0]: r[1]
            for r in self.db.execute(
                "SELECT state, COUNT(*) FROM run_findings WHERE run_id = ? GROUP BY state ORDER BY state", (run_id,)
            )
        }
        not_seen = self.db.execute("SELECT COUNT(*) FROM run_not_seen WHERE run_id = ?", (run_id,)).fetchone()[0]
        if not_seen:
            states["not_seen"] = int(not_seen)
        inputs: tuple[dict[str, Any], ...] = ()
        signatures: tuple[dict[str, str], ...] = ()
        if details:
            inputs = tuple(
                dict(r) for r in self.db.execute(
                    "SELECT path, sha256, bytes, packets FROM run_inputs WHERE run_id = ? ORDER BY position", (run_id,)
                )
            )
            signatures = tuple(
                dict(r) for r in self.db.execute(
                    "SELECT path, sha256 FROM run_signatures WHERE run_id = ? ORDER BY path", (run_id,)
                )
            )
        else:
            inputs = tuple(
                dict(r) for r in self.db.execute(
                    "SELECT path, sha256 FROM run_inputs WHERE run_id = ? ORDER BY position", (run_id,)
                )
            )
        return RunRow(
            id=run_id,
            series=row["series"],
            kind=row["kind"],
            started=row["started"],
            finished=row["finished"],
            status=RUN_STATUS_SHOWN.get(row["status"], row["status"]),
            exit_status=row["exit_status"],
            fail_on=row["fail_on"],
            tool_version=row["tool_version"],
            engine=row["engine"],
            hmac_key_id=row["hmac_key_id"],
            stats=json.loads(row["stats"]),
            baseline=row["baseline"],
            baseline_sha256=row["baseline_sha256"],
            inputs=inputs,
            signatures=signatures,
            states=states,
        )

    def finding(self, fingerprint: str) -> StoredFinding | None:
        row = self.db.execute("SELECT * FROM findings WHERE fingerprint = ?", (fingerprint,)).fetchone()
        return None if row is None else _stored(row)

    def find_fingerprints(self, prefix: str) -> list[str]:
        """Fingerprints that start with ``prefix`` (so a user can type the first few characters)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        return [
            row[0]
            for row in self.db.execute(
                "SELECT fingerprint FROM findings WHERE fingerprint LIKE ? ESCAPE '\\' ORDER BY fingerprint",
                (escaped + "%",),
            )
        ]

    def run_findings(self, run_id: int) -> list[tuple[str, StoredFinding]]:
        """(state in that run, finding) for every finding a run saw or resolved, worst first."""
        rows = self.db.execute(
            "SELECT rf.state AS run_state, rf.severity AS run_severity, rf.rule AS run_rule, f.* FROM run_findings rf"
            " JOIN findings f ON f.fingerprint = rf.fingerprint WHERE rf.run_id = ?",
            (run_id,),
        ).fetchall()
        out = [(row["run_state"], _stored(row)) for row in rows]
        out.sort(key=lambda item: (-SEVERITY_RANK.get(item[1].severity, 0), item[1].subject, item[1].id_type or "", item[1].host, item[1].fingerprint))
        return out

    def timeline(self, fingerprint: str) -> list[dict[str, Any]]:
        """Every run that saw (or resolved) a finding, oldest first."""
        return [
            {
                "run": row["run_id"],
                "series": row["series"],
                "started": row["started"],
                "state": row["state"],
                "severity": row["severity"],
                "rule": row["rule"],
                "count": row["count"],
            }
            for row in self.db.execute(
                "SELECT rf.run_id, r.series, r.started, rf.state, rf.severity, rf.rule, rf.count"
                " FROM run_findings rf JOIN runs r ON r.id = rf.run_id WHERE rf.fingerprint = ? ORDER BY rf.run_id",
                (fingerprint,),
            )
        ]

    def was_scanned(self, path: str, size: int, sha256: str) -> bool:
        row = self.db.execute(
            "SELECT 1 FROM scanned_files WHERE path = ? AND size = ? AND sha256 = ?", (path, size, sha256)
        ).fetchone()
        return row is not None

    def scanned_sizes(self, path: str) -> set[int]:
        """Sizes of the versions of ``path`` already scanned: a cheap test before hashing a file."""
        return {row[0] for row in self.db.execute("SELECT size FROM scanned_files WHERE path = ?", (path,))}

    def schema_version(self) -> int:
        return current_version(self.db)


def _stored(row: sqlite3.Row) -> StoredFinding:
    return StoredFinding(
        fingerprint=row["fingerprint"],
        rule=row["rule"],
        severity=row["severity"],
        title=row["title"],
        subject=row["subject"],
        minor=None if row["minor"] is None else bool(row["minor"]),
        id_type=row["id_type"],
        host=row["host"],
        org=row["org"],
        status=row["status"],
        first_run=row["first_run"],
        last_run=row["last_run"],
        first_seen=row["first_seen"],
        last_seen=row["last_seen"],
    )


# --------------------------------------------------------------------------- comparison


@dataclass(frozen=True, slots=True)
class _Comparison:
    new: tuple[Finding, ...]
    open: tuple[Finding, ...]
    baselined: tuple[Finding, ...]
    allowlisted: tuple[Finding, ...]
    failing: tuple[Finding, ...]
    states: dict[str, str]


def _compare(findings: Sequence[Finding], before: set[str], baselined_ids: frozenset[str], fail_on: str) -> _Comparison:
    """Sort a run's findings into new / open / baselined / allow-listed, and those that fail the run.

    The allow-list wins over the baseline: it is the reviewed, reasoned
    statement (a first party, a processor), the baseline only "known when the
    baseline was taken".  Only findings that are neither can fail a run.
    """
    bar = None if fail_on == "none" else SEVERITY_RANK[fail_on]
    new: list[Finding] = []
    still_open: list[Finding] = []
    baselined: list[Finding] = []
    allowlisted: list[Finding] = []
    failing: list[Finding] = []
    states: dict[str, str] = {}
    for finding in findings:
        if finding.allowlisted is not None:
            state = "allowlisted"
            allowlisted.append(finding)
        elif finding.id in baselined_ids:
            state = "baselined"
            baselined.append(finding)
        elif finding.id in before:
            state = "open"
            still_open.append(finding)
        else:
            state = "new"
            new.append(finding)
        states[finding.id] = state
        if state in ("new", "open") and bar is not None and SEVERITY_RANK[finding.severity] >= bar:
            failing.append(finding)
    return _Comparison(tuple(new), tuple(still_open), tuple(baselined), tuple(allowlisted), tuple(failing), states)


def _test_pause(seconds: float | None) -> None:
    if not seconds:
        return
    print(TEST_PAUSE_MARKER, file=sys.stderr, flush=True)
    time.sleep(seconds)


__all__ = [
    "TEST_PAUSE_MARKER",
    "History",
    "RunComparison",
    "RunRow",
    "ScannedFile",
    "StoredFinding",
    "utc_now",
]
