"""The history database: a run killed inside its transaction leaves it as it was; old schemas are upgraded in place.

The kill test: the audit runs in a subprocess with PRIVSCAN_TEST_PAUSE_IN_TRANSACTION
set, so that after writing every row of the run, just before COMMIT, it prints a
marker on stderr and sleeps.  The test reads stderr until the marker, SIGKILLs the
process (no handler, no cleanup can run), and checks the database.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.history import TEST_PAUSE_MARKER, History
from scanner.audit.history_schema import MIGRATIONS, SCHEMA_VERSION, migrate
from scanner.errors import ConfigError
from scanner.settings import TEST_PAUSE_ENV


def _dump(db_path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for a before/after comparison."""
    db = sqlite3.connect(db_path)
    try:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")]
        return {t: sorted(db.execute(f"SELECT * FROM {t}").fetchall(), key=repr) for t in sorted(tables)}
    finally:
        db.close()


def _wait_for_line(stream: Any, marker: str, timeout: float) -> list[str]:
    """Lines read from ``stream`` up to and including the first that contains ``marker`` (or to EOF/timeout)."""
    lines: list[str] = []
    found = threading.Event()

    def read() -> None:
        for line in stream:
            lines.append(line)
            if marker in line:
                found.set()
                return
        found.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    found.wait(timeout)
    return lines


def test_audit_killed_inside_the_final_transaction_leaves_the_history_as_it_was(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads", "imei_appsflyer"])
    lab.capture("b.pcap", ["gaid_ads", "imei_appsflyer", "email_signup", "imei_ads"])
    lab.write_config(["a.pcap"])
    first = lab.subprocess("audit", str(lab.config), "--format", "json")
    assert first.returncode == 1, first.stderr
    before = _dump(lab.history)
    assert len(before["runs"]) == 1
    report_before = (lab.root / "report.json").read_bytes()

    lab.write_config(["b.pcap"])
    process = lab.popen("audit", str(lab.config), "--format", "json", **{TEST_PAUSE_ENV: "60"})
    try:
        lines = _wait_for_line(process.stderr, TEST_PAUSE_MARKER, timeout=30)
        assert any(TEST_PAUSE_MARKER in line for line in lines), "".join(lines)
        # The run's rows are written (uncommitted, in the WAL) at this point: the kill lands inside the transaction.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()
    assert process.returncode == -signal.SIGKILL

    db = sqlite3.connect(lab.history)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert [r[0] for r in db.execute("SELECT id FROM runs")] == [1]
    finally:
        db.close()
    assert _dump(lab.history) == before  # every table, row for row
    assert (lab.root / "report.json").read_bytes() == report_before  # the killed run wrote no report either

    # The next audit is the history's second run and compares with the first, as if the killed one never was.
    after = lab.subprocess("audit", str(lab.config), "--format", "json")
    summary = json.loads(after.stdout)
    assert summary["run"] == 2 and len(summary["new"]) == 2 and len(summary["open"]) == 4


# --------------------------------------------------------------------------- migrations

# Schema version 1 as the first release wrote it (a frozen copy: the migration code may change, old files do not).
SCHEMA_V1 = [
    "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)",
    *MIGRATIONS[0].statements,
    "INSERT INTO schema_version VALUES (1, 'initial', '2026-01-01T00:00:00Z')",
    "INSERT INTO runs (id, series, kind, started, finished, status, exit_status, fail_on, tool_version, engine, hmac_key_id, stats)"
    " VALUES (1, 'nightly', 'audit', '2026-01-01T02:00:00Z', '2026-01-01T02:01:00Z', 'failed', 1, 'high', '0.1.0', 'native', 'k1', '{}')",
    "INSERT INTO run_inputs VALUES (1, 0, '/data/lab/a.pcap', 'aa', 10, 1)",
    "INSERT INTO findings VALUES ('f1', 'PS101', 'critical', 't', 'kid', 1, 'imei', 'h', 'o', 1, 1,"
    " '2026-01-01T02:01:00Z', '2026-01-01T02:01:00Z', 'open', NULL)",
    "INSERT INTO run_findings VALUES (1, 'f1', 'new', 'critical', 'PS101', 3)",
]


def test_an_older_schema_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    for statement in SCHEMA_V1:
        db.execute(statement)
    db.commit()
    db.close()

    with History(path) as history:
        assert history.schema_version() == SCHEMA_VERSION == 3
        run = history.run(1)
        assert run is not None and run.series == "nightly" and run.baseline is None  # the new column, empty
        assert run.inputs[0]["path"] == "/data/lab/a.pcap"
        assert history.finding("f1") is not None
        assert history.scanned_sizes("/nowhere") == set()  # the table migration 2 added
    db = sqlite3.connect(path)
    versions = [r[0] for r in db.execute("SELECT version FROM schema_version ORDER BY version")]
    assert versions == [1, 2, 3]
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    db.close()
    with History(path) as history:  # opening again applies nothing twice
        assert history.schema_version() == 3
        assert history.run(1).status == "violations", "stored 'failed' is shown as violations"  # type: ignore[union-attr]


def test_migrations_apply_in_order_one_version_at_a_time(tmp_path: Path) -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, len(MIGRATIONS) + 1))
    path = tmp_path / "h.sqlite"
    with History(path, migrate_to=1) as history:
        assert history.schema_version() == 1
        assert history.db.execute("SELECT name FROM sqlite_master WHERE name = 'scanned_files'").fetchone() is None
        assert migrate(history.db, path) == SCHEMA_VERSION


def test_a_history_from_a_newer_privscan_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite"
    with History(path):
        pass
    db = sqlite3.connect(path)
    db.execute("INSERT INTO schema_version VALUES (99, 'from the future', '2030-01-01T00:00:00Z')")
    db.commit()
    db.close()
    with pytest.raises(ConfigError, match="newer than this privscan"):
        History(path)


@pytest.mark.parametrize("content", [b"this is not a database, it is a note", None])
def test_a_file_that_is_not_a_history_is_refused(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "x.sqlite"
    if content is None:
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE customers (id INTEGER)")
        db.commit()
        db.close()
    else:
        path.write_bytes(content * 200)
    with pytest.raises(ConfigError, match="not a privscan history"):
        History(path)
