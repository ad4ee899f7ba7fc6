"""privscan watch: files appear one by one, a growing file waits until complete, a restart does not rescan.

The Watcher tests drive time by hand (an injected monotonic clock, and file
mtimes set with os.utime), so they wait for nothing; the command test runs a
real ``privscan watch`` process with a half-second settle time.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.history import History
from scanner.audit.watch import Watcher, open_for_writing
from scanner.pipeline import ScanSettings


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def _age(path: Path, seconds: float = 60.0) -> None:
    """Make a file look last written ``seconds`` ago."""
    then = time.time() - seconds
    os.utime(path, (then, then))


def _sees_everyone(paths: Any) -> tuple[set[str], bool]:
    return open_for_writing(paths)[0], True


def _runs(db: Path) -> int:
    with History(db) as history:
        return len(history.runs())


def test_files_one_by_one_growing_file_waits_restart_does_not_rescan(lab: Any, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    db = tmp_path / "history.sqlite"
    settings = ScanSettings(inventory=str(lab.inventory))
    clock = FakeClock()

    with History(db) as history:
        # The real /proc check (it sees this process's own files even when not root), taken as seeing everyone.
        watcher = Watcher(ring, history, settings, settle=5, clock=clock, writer_check=_sees_everyone)
        assert watcher.poll() == []  # empty directory

        # File 1 appears, complete.
        first = lab.capture("ring/lab-0001.pcap", ["gaid_ads"])
        _age(first)
        assert watcher.poll() == []  # seen for the first time: not yet watched for `settle` seconds
        clock.advance(6)
        scans = watcher.poll()
        assert [Path(s.path).name for s in scans] == ["lab-0001.pcap"]
        assert [f.identifier.type for f in scans[0].result.findings if f.identifier] == ["gaid"]
        clock.advance(6)
        assert watcher.poll() == []  # scanned once, never again

        # File 2 is being written by a capture tool (this test holds it open for writing).
        whole = lab.capture("staging.pcap", ["gaid_ads", "imei_ads"]).read_bytes()
        second = ring / "lab-0002.pcap"
        with second.open("wb") as writer:
            writer.write(whole[: len(whole) // 2])
            writer.flush()
            assert watcher.poll() == []  # just written
            clock.advance(6)
            assert watcher.poll() == []  # mtime too recent
            _age(second)
            clock.advance(6)
            assert watcher.poll() == []  # old mtime, unchanged, but open for writing: a quiet link, not a closed file
            writer.write(whole[len(whole) // 2 :])
        _age(second)
        assert watcher.poll() == []  # it changed since the last look: watch it settle again
        clock.advance(6)
        scans = watcher.poll()
        assert [Path(s.path).name for s in scans] == ["lab-0002.pcap"]
        assert scans[0].result.captures[0].packets == 10  # the whole file, not the half seen earlier
        assert [f.identifier.type for f in scans[0].comparison.new if f.identifier] == ["imei"]  # new in the series
    assert _runs(db) == 2

    # Restart: a new process would build a new Watcher on the same database.
    with History(db) as history:
        again = Watcher(ring, history, settings, settle=5, clock=FakeClock())
        assert again.poll(once=True) == []
        # A ring buffer that reuses a name for new content is new content.
        lab.capture("ring/lab-0001.pcap", ["imei_appsflyer"])
        _age(ring / "lab-0001.pcap")
        assert [Path(s.path).name for s in again.poll(once=True)] == ["lab-0001.pcap"]
    assert _runs(db) == 3
    with sqlite3.connect(db) as raw:
        assert raw.execute("SELECT COUNT(*) FROM scanned_files").fetchone()[0] == 3


def test_without_proc_the_newest_file_is_presumed_still_written(lab: Any, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    blind = lambda paths: (set(), False)  # noqa: E731  # as when other users' processes cannot be inspected
    with History(tmp_path / "h.sqlite") as history:
        watcher = Watcher(ring, history, ScanSettings(inventory=str(lab.inventory)), settle=1, writer_check=blind)
        one = lab.capture("ring/a-0001.pcap", ["gaid_ads"])
        _age(one, 120)
        assert watcher.poll(once=True) == []  # the newest: a tcpdump -G may still be writing it
        two = lab.capture("ring/a-0002.pcap", ["imei_ads"])
        _age(two, 60)
        assert [Path(s.path).name for s in watcher.poll(once=True)] == ["a-0001.pcap"]
        assert watcher.poll(once=True) == []


def test_not_yet_a_capture_and_other_files_are_left_alone(lab: Any, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    (ring / "empty.pcap").write_bytes(b"")  # created, header not written yet
    (ring / "notes.txt").write_text("not a capture\n")
    (ring / ".hidden.pcap").write_bytes(lab.capture("x.pcap", ["gaid_ads"]).read_bytes())
    for p in ring.iterdir():
        _age(p)
    with History(tmp_path / "h.sqlite") as history:
        watcher = Watcher(ring, history, ScanSettings(inventory=str(lab.inventory)), settle=1)
        assert watcher.poll(once=True) == []


def test_open_for_writing_sees_this_process(tmp_path: Path) -> None:
    path = tmp_path / "w.pcap"
    path.write_bytes(b"x")
    with path.open("ab"):
        writers, complete = open_for_writing([str(path.resolve())])
        if not complete and not writers:
            pytest.skip("/proc cannot be read here")
        assert str(path.resolve()) in writers
    with path.open("rb"):
        writers, _ = open_for_writing([str(path.resolve())])
        assert writers == set()  # readers are not writers


def test_watch_command_follows_a_directory_and_restarts_without_rescanning(lab: Any, tmp_path: Path) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    db = tmp_path / "watch.sqlite"
    args = ("watch", str(ring), "--history", str(db), "--inventory", str(lab.inventory), "--format", "jsonl")
    process = lab.popen(*args, "--interval", "0.1", "--settle", "0.5")
    lines: list[dict[str, Any]] = []
    got_line = threading.Condition()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            with got_line:
                lines.append(json.loads(line))
                got_line.notify_all()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()

    def wait_for(count: int, timeout: float = 20) -> None:
        with got_line:
            assert got_line.wait_for(lambda: len(lines) >= count, timeout), f"{lines} after {timeout}s"

    try:
        lab.capture("ring/lab-0001.pcap", ["gaid_ads"])
        wait_for(1)
        growing = ring / "lab-0002.pcap"
        whole = lab.capture("staging.pcap", ["gaid_ads", "imei_ads"]).read_bytes()
        with growing.open("wb") as writer:
            writer.write(whole[:100])
            writer.flush()
            time.sleep(1.5)  # three settle periods with the file open for writing
            assert len(lines) == 1
            writer.write(whole[100:])
        # Not root, other users' processes hidden: the newest file waits for a newer one (see watch.py).
        lab.capture("ring/lab-0003.pcap", ["email_signup"])
        sees_everyone = open_for_writing(["/nonexistent/probe"])[1]
        wait_for(3 if sees_everyone else 2)
        names = [Path(line["capture"]).name for line in lines]
        assert names == ["lab-0001.pcap", "lab-0002.pcap", "lab-0003.pcap"][: len(names)]
        assert lines[1]["run"] == 2 and len(lines[1]["new"]) == 1  # the IMEI: new in the series
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, process.stderr.read() if process.stderr else ""
    for stream in (process.stdout, process.stderr):
        if stream is not None:
            stream.close()

    again = lab.subprocess(*args, "--once", "--settle", "0")
    assert again.returncode == 0, again.stderr
    assert again.stdout == ""  # nothing rescanned after the restart
    assert _runs(db) == len(lines)


def test_watch_keeps_its_history_out_of_the_watched_directory_and_writes_reports_per_file(
    lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ring = tmp_path / "ring"
    ring.mkdir()
    state = tmp_path / "state"
    reports = tmp_path / "reports"
    reports.mkdir()
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    lab.capture("ring/lab-0001.pcap", ["gaid_ads"])
    lab.capture("ring/lab-0002.pcap", ["imei_ads"])
    old = time.time() - 60
    for path in ring.iterdir():
        os.utime(path, (old, old))  # settled long ago
    code, _out, err = lab.main("watch", str(ring), "--once", "--settle", "0", "--inventory", str(lab.inventory),
                              "--reports", str(reports), "--report-format", "json", "--report-format", "html")
    assert code == 1, err  # the tablet's leaks reach fail_on: high
    assert sorted(p.name for p in ring.iterdir()) == ["lab-0001.pcap", "lab-0002.pcap"], "nothing written beside the captures"
    history = state / "privscan" / "history.sqlite"
    assert history.is_file(), "the documented per-user default"
    with History(history) as store:
        assert [run.series for run in store.runs()] == [f"watch:{os.path.abspath(ring)}"] * 2
    written = sorted(p.name for p in reports.iterdir())
    assert written == ["lab-0001.pcap.html", "lab-0001.pcap.json", "lab-0002.pcap.html", "lab-0002.pcap.json"]
    report = json.loads((reports / "lab-0002.pcap.json").read_text(encoding="utf-8"))
    assert [Path(c["path"]).name for c in report["captures"]] == ["lab-0002.pcap"], "one report per file"
    assert {(f["identifier"] or {}).get("type") for f in report["findings"]} >= {"imei"}
    code, _, err = lab.main("watch", str(ring), "--once", "--reports", str(ring))
    assert code == 2 and "must not be the watched directory" in err
    code, _, err = lab.main("watch", str(ring), "--once", "--report-format", "html")
    assert code == 2 and "--reports" in err
