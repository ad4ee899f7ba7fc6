"""The history database's schema: its versioned migrations and how a database is brought up to date.

Split from scanner/audit/history.py (the store itself), which applies them when it opens a database.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from scanner.errors import ConfigError

# Test-only hook: seconds to sleep inside the run's transaction, just before COMMIT, after a
# line on stderr that says so.  It lets a test SIGKILL an audit at the one moment that matters.


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    statements: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "runs, their inputs and signature files; findings by fingerprint; what each run saw",
        (
            """CREATE TABLE runs (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                series TEXT NOT NULL,
                kind TEXT NOT NULL,
                started TEXT NOT NULL,
                finished TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('passed', 'failed')),
                exit_status INTEGER NOT NULL,
                fail_on TEXT NOT NULL,
                tool_version TEXT NOT NULL,
                engine TEXT NOT NULL,
                hmac_key_id TEXT NOT NULL,
                stats TEXT NOT NULL
            )""",
            "CREATE INDEX runs_by_series ON runs (series, id)",
            """CREATE TABLE run_inputs (
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                position INTEGER NOT NULL,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                bytes INTEGER NOT NULL,
                packets INTEGER NOT NULL,
                PRIMARY KEY (run_id, position)
            )""",
            """CREATE TABLE run_signatures (
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                path TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                PRIMARY KEY (run_id, path)
            )""",
            """CREATE TABLE findings (
                fingerprint TEXT PRIMARY KEY,
                rule TEXT NOT NULL,
                severity TEXT NOT NULL,
                title TEXT NOT NULL,
                subject TEXT NOT NULL,
                minor INTEGER,
                id_type TEXT,
                host TEXT NOT NULL,
                org TEXT,
                first_run INTEGER NOT NULL REFERENCES runs (id),
                last_run INTEGER NOT NULL REFERENCES runs (id),
                first_seen TEXT NOT NULL,
                last_seen TEXT NOT NULL,
                status TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'baselined', 'allowlisted')),
                resolved_run INTEGER REFERENCES runs (id)
            )""",
            """CREATE TABLE run_findings (
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                fingerprint TEXT NOT NULL REFERENCES findings (fingerprint),
                state TEXT NOT NULL CHECK (state IN ('new', 'open', 'baselined', 'allowlisted', 'resolved')),
                severity TEXT NOT NULL,
                rule TEXT NOT NULL,
                count INTEGER NOT NULL,
                PRIMARY KEY (run_id, fingerprint)
            )""",
            "CREATE INDEX run_findings_by_fingerprint ON run_findings (fingerprint, run_id)",
        ),
    ),
    Migration(
        2,
        "watch: the files already scanned (path + size + sha256); runs record the baseline they honoured",
        (
            """CREATE TABLE scanned_files (
                path TEXT NOT NULL,
                size INTEGER NOT NULL,
                sha256 TEXT NOT NULL,
                mtime_ns INTEGER,
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                PRIMARY KEY (path, size, sha256)
            )""",
            "ALTER TABLE runs ADD COLUMN baseline TEXT",
            "ALTER TABLE runs ADD COLUMN baseline_sha256 TEXT",
        ),
    ),
    Migration(
        3,
        "runs record the open findings of subjects absent from their captures (not seen, not resolved)",
        (
            """CREATE TABLE run_not_seen (
                run_id INTEGER NOT NULL REFERENCES runs (id) ON DELETE CASCADE,
                fingerprint TEXT NOT NULL REFERENCES findings (fingerprint),
                PRIMARY KEY (run_id, fingerprint)
            )""",
        ),
    ),
)
SCHEMA_VERSION = MIGRATIONS[-1].version


def utc_now() -> str:
    """Now, as the history writes times: ISO 8601 in UTC, to the second (2026-05-01T02:00:00Z)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# --------------------------------------------------------------------------- migrations


def current_version(db: sqlite3.Connection) -> int:
    has_table = db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'").fetchone()
    if not has_table:
        return 0
    row = db.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(db: sqlite3.Connection, path: Path, target: int | None = None) -> int:
    """Bring a history database up to ``target`` (default: the latest schema); return the version it is at.

    Each migration runs in its own transaction with its ``schema_version``
    row, and the version is read again inside it, so two processes opening an
    old file at once apply each migration once.
    """
    target = SCHEMA_VERSION if target is None else target
    version = current_version(db)
    if version > SCHEMA_VERSION:
        raise ConfigError(
            path, None, f"this history has schema version {version}, newer than this privscan knows ({SCHEMA_VERSION}): upgrade privscan"
        )
    if version == 0:
        others = db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' LIMIT 1"
        ).fetchone()
        if others:
            raise ConfigError(path, None, f"not a privscan history database (it has a table {others[0]!r} and no schema_version)")
    for migration in MIGRATIONS:
        if migration.version <= version or migration.version > target:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute(
                "CREATE TABLE IF NOT EXISTS schema_version ("
                " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied TEXT NOT NULL)"
            )
            if current_version(db) >= migration.version:
                db.execute("ROLLBACK")  # another process got there first
                continue
            for statement in migration.statements:
                db.execute(statement)
            db.execute(
                "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)",
                (migration.version, migration.description, utc_now()),
            )
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
    return current_version(db)


__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "Migration", "current_version", "migrate", "utc_now"]
