"""Shared test fixtures: where ../shared is, and whether tshark is here."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("PRIVSCAN_SHARED", REPO.parent / "shared"))
REAL_CAPTURES = SHARED / "captures" / "real"
LABELLED = SHARED / "captures" / "labelled"
TLS_CAPTURES = SHARED / "captures" / "tls"
PROJECT_CAPTURES = REPO / "captures"

# Assertions inside tests/helpers explain their failures as the tests' own do.
pytest.register_assert_rewrite("helpers")

# Reports, findings ids and HMACs must not depend on a key file in the tester's home.
os.environ.setdefault("PRIVSCAN_HMAC_KEY", "privscan-test-suite-key")


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    if not SHARED.is_dir():
        pytest.skip(f"../shared is absent ({SHARED}): the public captures live there")
    return SHARED


@pytest.fixture(scope="session")
def real_captures(shared_dir: Path) -> Path:
    if not REAL_CAPTURES.is_dir():
        pytest.skip(f"{REAL_CAPTURES} is absent")
    return REAL_CAPTURES


@pytest.fixture(scope="session")
def labelled_dir(shared_dir: Path) -> Path:
    if not LABELLED.is_dir():
        pytest.skip(f"{LABELLED} is absent")
    return LABELLED


@pytest.fixture(scope="session")
def tls_dir(shared_dir: Path) -> Path:
    """The labelled capture of real TLS/QUIC traffic with its key log (../shared/captures/tls)."""
    if not (TLS_CAPTURES / "tls_public.pcapng").is_file():
        pytest.skip(f"{TLS_CAPTURES} is absent")
    return TLS_CAPTURES


@pytest.fixture(scope="session")
def tshark() -> str:
    path = shutil.which("tshark")
    if path is None:
        pytest.skip("tshark is not installed (make test installs it: apt-get install tshark)")
    return path
