"""Run-time settings that are not scan options: one frozen object, built once by the command line
(docs/cli.md, "Environment") and passed down to the engines, the report formats and the audit
history, which never read the environment themselves.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

STRICT_ENV = "PRIVSCAN_STRICT"
TSHARK_ENV = "PRIVSCAN_TSHARK"
STABLE_ENV = "PRIVSCAN_STABLE_REPORT"
TEST_PAUSE_ENV = "PRIVSCAN_TEST_PAUSE_IN_TRANSACTION"

_TRUE = ("1", "true", "yes", "on")


@dataclass(frozen=True, slots=True)
class Settings:
    # A decoder or tshark-builder bug raises instead of being counted as an anomaly (the tests run so).
    strict: bool = False
    # The tshark binary (default: found on PATH by pyshark).
    tshark_path: str | None = None
    # Reports without run-dependent values (stats.elapsed_s), for byte-for-byte comparisons.
    stable_report: bool = False
    # Tests only: seconds the audit history sleeps inside its write transaction (the kill test).
    history_pause_s: float | None = None
    # Captures are sha256-hashed as they are read (reports name the digest); `privscan events`,
    # which prints none, turns it off (not from the environment).
    capture_digest: bool = True

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """The settings the environment asks for; the command line calls this once per run."""
        env = os.environ if environ is None else environ
        pause: float | None = None
        try:
            pause = float(env[TEST_PAUSE_ENV]) if env.get(TEST_PAUSE_ENV) else None
        except ValueError:
            pause = None  # as before: a value that is not a number is ignored
        return cls(
            strict=env.get(STRICT_ENV) == "1",
            tshark_path=env.get(TSHARK_ENV) or None,
            stable_report=env.get(STABLE_ENV, "").strip().lower() in _TRUE,
            history_pause_s=pause,
        )
