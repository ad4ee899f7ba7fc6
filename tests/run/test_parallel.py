"""--jobs N: captures decoded in N processes, reports byte for byte the serial ones (STYLE.md)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.ingest import CaptureSource, expand_inputs, open_capture
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import RenderOptions, get_format

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "captures"


def split_capture(source: Path, directory: Path, parts: int) -> list[Path]:
    """Cut a capture into rotating files, as tcpdump -C would (flows run across the cuts)."""
    with open_capture(CaptureSource(str(source))) as capture:
        frames = list(capture.frames)
    size = -(-len(frames) // parts)
    paths = []
    for part in range(parts):
        path = directory / f"rotating{part:02d}.pcap"
        with path.open("wb") as out:
            out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, frames[0][1]))
            for ts, _linktype, data, wirelen in frames[part * size : (part + 1) * size]:
                seconds = int(ts)
                out.write(struct.pack("<IIII", seconds, round((ts - seconds) * 1e6), len(data), wirelen))
                out.write(data)
        paths.append(path)
    return paths


def json_report(paths: list[str], jobs: int, **settings: str) -> str:
    result = run_scan(expand_inputs(paths), ScanSettings(jobs=jobs, **settings))
    rendered = get_format("json")(RenderOptions(stable=True)).render(result)
    assert isinstance(rendered, str)
    return rendered


def test_serial_and_parallel_reports_are_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "parallel-test-key-0123")
    rotating = [str(p) for p in split_capture(CAPTURES / "labelled_encodings.pcap", tmp_path, 3)]
    inputs = [*rotating, str(CAPTURES / "demo.pcap"), str(CAPTURES / "demo_gtp.pcap")]
    inventory = str(CAPTURES / "labelled_encodings.inventory.yaml")
    serial = json_report(inputs, 1, inventory=inventory)
    assert '"findings": []' not in serial
    for jobs in (2, 3, 8):
        assert json_report(inputs, jobs, inventory=inventory) == serial, f"--jobs {jobs} differs from --jobs 1"


def test_events_in_serial_order(tmp_path: Path) -> None:
    paths = [str(p) for p in split_capture(CAPTURES / "labelled_gtp.pcap", tmp_path, 4)]
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "parallel-test-key-0123"}

    def events(*extra: str) -> bytes:
        return subprocess.run(
            [sys.executable, "-m", "scanner", "events", *paths, *extra], capture_output=True, check=True, env=env
        ).stdout

    serial = events()
    assert serial and events("--jobs", "2") == serial


def test_a_bad_capture_in_a_worker_is_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "notes.pcap"
    bad.write_bytes(b"\xd4\xc3\xb2\xa1" + b"\x00" * 3)  # a pcap magic, then nothing: a header cut short
    result = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", str(CAPTURES / "demo.pcap"), str(bad), "--jobs", "2", "-q"],
        capture_output=True,
        env={**os.environ, "PRIVSCAN_HMAC_KEY": "parallel-test-key-0123"},
    )
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privscan: error: ") and "notes.pcap" in lines[0]
