"""Two watchers on one directory (issue 15, defect 8): each file is claimed once, across processes.

Before: two ``privscan watch`` on the same directory and history scanned every file twice,
and the second run of each file listed its findings as "open".  A watcher now claims a file
(an advisory lock on it, released by the kernel if the watcher dies) and, holding the claim,
looks again in the history whether another watcher has scanned it meanwhile.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from scanner.audit.history import History
from scanner.audit.watch import Watcher, claim


def _runs(db: Path) -> list[Any]:
    with History(db) as history:
        return history.runs()


def _age(path: Path, seconds: float = 60.0) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def test_two_watch_processes_scan_each_file_once(lab: Any, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    for n in range(4):
        _age(lab.capture(f"ring/lab-{n:04}.pcap", ["gaid_ads", "imei_ads"]))
    # a newer, non-capture file: the newest capture need not wait for a newer one (see watch.py)
    db = tmp_path / "watch.sqlite"
    args = ("watch", str(ring), "--history", str(db), "--inventory", str(lab.inventory), "--format", "jsonl",
            "--once", "--settle", "0")
    first, second = lab.popen(*args), lab.popen(*args)
    outputs = [process.communicate(timeout=120) for process in (first, second)]
    assert first.returncode in (0, 1) and second.returncode in (0, 1), [err for _, err in outputs]
    scanned = [line for out, _ in outputs for line in out.splitlines() if line.strip()]
    runs = _runs(db)
    assert len(runs) == len(scanned), (len(runs), len(scanned))
    # every file scanned exactly once, by one watcher or the other
    names = sorted(line.split('"capture": "', 1)[1].split('"', 1)[0] if '"capture": "' in line else line for line in scanned)
    assert len(names) == len(set(names)), names
    assert len(runs) <= 4


def test_a_claimed_file_is_left_to_its_watcher(lab: Any, tmp_path: Path) -> None:
    from scanner.pipeline import ScanSettings

    ring = tmp_path / "ring"
    ring.mkdir()
    capture = lab.capture("ring/lab-0001.pcap", ["gaid_ads"])
    _age(capture)
    db = tmp_path / "watch.sqlite"
    with History(db) as history:
        watcher = Watcher(ring, history, ScanSettings(inventory=str(lab.inventory)), settle=0,
                          writer_check=lambda paths: (set(), True))
        held = claim(capture)
        assert held is not None
        try:
            assert watcher.poll(once=True) == []  # another watcher is scanning it
            assert claim(capture) is None  # and a second claim fails while the first is held
        finally:
            held.release()
        assert len(watcher.poll(once=True)) == 1  # released: scanned now, once
        assert watcher.poll(once=True) == []
    assert len(_runs(db)) == 1


def test_concurrent_audits_both_land_whole_in_the_history(lab: Any) -> None:
    import sqlite3

    lab.capture("a.pcap", ["gaid_ads", "imei_ads"])
    lab.write_config(["a.pcap"])
    processes = [lab.popen("audit", str(lab.config), "--format", "json") for _ in range(3)]
    results = [process.communicate(timeout=120) for process in processes]
    assert [p.returncode for p in processes] == [1, 1, 1], [err for _, err in results]
    runs = _runs(lab.history)
    assert len(runs) == 3  # serialised by SQLite's write lock, none lost, none half-written
    db = sqlite3.connect(lab.history)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        db.close()
