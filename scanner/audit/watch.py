"""``privscan watch DIR``: scan the files a capture tool rotates into a directory, each once, when complete.

    tcpdump -i eth1 -G 3600 -w '/data/lab/lab-%Y%m%d-%H%M.pcap'      # a new file every hour
    dumpcap -i eth1 -b duration:3600 -b files:48 -w /data/lab/lab.pcapng   # a ring buffer
    privscan watch /data/lab --history /var/lib/privscan/audit.sqlite --inventory devices.yaml

Why: a lab that captures around the clock has no "end of the capture" to
start a scan at; the capture tool closes one file and opens the next.  A file
must be scanned once it is complete, never while it is still written (a
half-written pcap reads as truncated and its leaks would be reported from a
part of the file, then again from the whole), and never twice, even when the
watcher is restarted.

When is a file complete?  All of:

1. it starts like a capture (pcap/pcapng, or compressed): an empty file just
   created by the capture tool is not one yet;
2. it has not changed for ``settle`` seconds: its mtime is at least that old,
   and (when following) the watcher itself saw the same size and mtime that
   long ago, which also catches a copy that preserves old mtimes;
3. no process has it open for writing: every ``/proc/PID/fd`` is read (what
   fuser and lsof do) with the open mode from ``/proc/PID/fdinfo``;
4. when (3) could not look at every process (not root, other users' capture
   tools, not Linux), the newest file of the directory is taken to be the one
   still written, and waits until a newer file appears.

Scanned files are remembered in the history database (``scanned_files``: path
+ size + sha256, written in the same transaction as the run), so a restarted
watcher, a new ``Watcher`` object or a cron job with ``--once`` skips them,
and a ring buffer that reuses a name for new content is scanned again.  Each
file is one run in the history, appended to the series ``watch:DIR`` (or the
config's name).  "New" in a watch run means never seen before in the series;
a leak missing from one rotated file is not "resolved" (files are slices of
time, not complete audits).

Several watchers on one directory (two hosts' cron jobs, a ``watch`` left running
while another starts) scan each file once (issue 15): a watcher claims a file
with an exclusive ``flock`` on it before scanning, and, holding the claim, asks
the history again whether the file has been scanned meanwhile; the run and its
``scanned_files`` row are committed before the claim is released.  A file
another watcher holds is left for a later poll.  The kernel drops the lock of a
watcher that dies (kill -9 included), so a crash never leaves a file claimed.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.audit.baseline import Baseline
from scanner.audit.history import History, RunComparison, ScannedFile, utc_now
from scanner.errors import InputError
from scanner.ingest.sources import looks_like_capture
from scanner.results import ScanResult

WriterCheck = Callable[[Iterable[str]], tuple[set[str], bool]]


def open_for_writing(paths: Iterable[str]) -> tuple[set[str], bool]:
    """Which of ``paths`` (real paths) some process has open for writing, and whether every process was seen.

    The second value is False when /proc is missing or some process's fd
    directory could not be read (another user's process when not root): then
    an empty first value proves nothing.
    """
    wanted = set(paths)
    writers: set[str] = set()
    proc = Path("/proc")
    if not wanted:
        return writers, True
    if not (proc / "self" / "fd").is_dir():
        return writers, False
    complete = True
    for entry in os.scandir(proc):
        if not entry.name.isdigit():
            continue
        fd_dir = f"/proc/{entry.name}/fd"
        try:
            fds = os.listdir(fd_dir)
        except PermissionError:
            complete = False
            continue
        except OSError:
            continue  # the process ended while we looked
        for fd in fds:
            try:
                target = os.readlink(f"{fd_dir}/{fd}")
            except OSError:
                continue
            if target not in wanted:
                continue
            if _writable(entry.name, fd):
                writers.add(target)
    return writers, complete


def _writable(pid: str, fd: str) -> bool:
    try:
        with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("flags:"):
                    flags = int(line.split()[1], 8)
                    return bool(flags & (os.O_WRONLY | os.O_RDWR))
    except (OSError, ValueError, IndexError):
        pass
    return True  # cannot tell how it is open: assume the worst, wait


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


class Claim:
    """A watcher's exclusive claim on a file: an advisory lock on an open descriptor of it."""

    __slots__ = ("fd",)

    def __init__(self, fd: int) -> None:
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # closing drops the lock
            self.fd = -1


def claim(path: Path) -> Claim | None:
    """Claim ``path`` for scanning, or None when another watcher holds it (or it is gone).

    flock, not fcntl's record locks: a record lock is per process and would be dropped
    when any other descriptor of the file in this process is closed (the scan opens and
    closes it); flock belongs to this open file description only.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return Claim(fd)


@dataclass(frozen=True, slots=True)
class WatchScan:
    """One file scanned by the watcher, and the run it became."""

    path: str
    result: ScanResult
    comparison: RunComparison


@dataclass(slots=True)
class _Observed:
    signature: tuple[int, int]  # (size, mtime_ns)
    since: float  # monotonic time the watcher first saw this signature


class Watcher:
    """Follows one directory; ``poll`` scans what has become complete since the last poll."""

    def __init__(
        self,
        directory: str | os.PathLike[str],
        history: History,
        settings: Any,  # scanner.pipeline.ScanSettings
        *,
        series: str | None = None,
        settle: float = 10.0,
        pattern: str = "*",
        baseline: Baseline | None = None,
        baseline_file: tuple[str, str] | None = None,
        fail_on: str = "high",
        writer_check: WriterCheck = open_for_writing,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = Path(os.path.abspath(directory))
        if not self.directory.is_dir():
            raise InputError(f"no such directory to watch: {directory}")
        self.history = history
        self.settings = settings
        self.series = series or f"watch:{self.directory}"
        self.settle = settle
        self.pattern = pattern
        self.baseline = baseline
        self.baseline_file = baseline_file
        self.fail_on = fail_on
        self.writer_check = writer_check
        self.clock = clock
        self.wall_clock = wall_clock
        self._observed: dict[str, _Observed] = {}
        self._done: dict[str, tuple[int, int]] = {}  # files settled (scanned or found scanned) at this signature
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ one pass

    def candidates(self) -> list[Path]:
        """The files of the directory the pattern selects (not hidden, not sub-directories), by name."""
        try:
            entries = list(os.scandir(self.directory))
        except OSError as exc:
            raise InputError(f"cannot read the directory {self.directory}: {exc.strerror or exc}") from None
        files = [
            Path(entry.path)
            for entry in entries
            if not entry.name.startswith(".") and fnmatch.fnmatch(entry.name, self.pattern) and entry.is_file(follow_symlinks=False)
        ]
        return sorted(files, key=lambda p: p.name)

    def poll(self, once: bool = False) -> list[WatchScan]:
        """Scan every file that is complete and not scanned yet; return what was scanned, oldest name first.

        ``once``: no earlier observation to compare with (cron, ``--once``), so
        stability is judged by the mtime's age alone.
        """
        now = self.clock()
        now_wall = self.wall_clock()
        stats: dict[str, os.stat_result] = {}
        for path in self.candidates():
            try:
                stats[str(path)] = path.stat()
            except OSError:
                continue  # rotated away or deleted between listing and stat
        for gone in set(self._observed) - set(stats):
            del self._observed[gone]
        for gone in set(self._done) - set(stats):
            del self._done[gone]

        pending: list[str] = []
        captures: list[str] = []
        for key, st in stats.items():
            signature = (st.st_size, st.st_mtime_ns)
            observed = self._observed.get(key)
            if observed is None or observed.signature != signature:
                self._observed[key] = _Observed(signature, now)
            if st.st_size == 0 or not looks_like_capture(Path(key)):
                continue
            captures.append(key)
            if self._done.get(key) == signature:
                continue
            if st.st_size in self.history.scanned_sizes(key) and self._scanned_before(key, st.st_size):
                self._done[key] = signature
                continue
            pending.append(key)
        if not pending:
            return []

        newest = max(captures, key=lambda k: (stats[k].st_mtime_ns, k))
        real = {key: os.path.realpath(key) for key in pending}
        writers, saw_everyone = self.writer_check(real.values())
        scans: list[WatchScan] = []
        for key in sorted(pending, key=lambda k: Path(k).name):
            st = stats[key]
            age = now_wall - st.st_mtime_ns / 1e9
            if age < self.settle:
                continue  # written to less than `settle` seconds ago
            if not once and now - self._observed[key].since < self.settle:
                continue  # we have not watched it stay the same for long enough
            if real[key] in writers:
                continue  # a capture tool still has it open for writing
            if key == newest and not saw_everyone:
                continue  # cannot see the writers: the newest file is presumed still being written
            held = claim(Path(key))
            if held is None:
                continue  # another watcher is scanning it: its run will be in the history
            try:
                # Under the claim, the history is the truth: another watcher may have scanned
                # this file between our look above and the claim.
                if st.st_size in self.history.scanned_sizes(key) and self._scanned_before(key, st.st_size):
                    self._done[key] = (st.st_size, st.st_mtime_ns)
                    continue
                scan = self._scan(Path(key), st)
            finally:
                held.release()
            if scan is not None:
                scans.append(scan)
        return scans

    def _scanned_before(self, key: str, size: int) -> bool:
        try:
            return self.history.was_scanned(key, size, sha256_of(Path(key)))
        except OSError:
            return False

    def _scan(self, path: Path, st: os.stat_result) -> WatchScan | None:
        from scanner.ingest import CaptureSource
        from scanner.pipeline import run_scan

        key = str(path)
        started = utc_now()
        try:
            result = run_scan([CaptureSource(key)], self.settings)
        except InputError as exc:
            # Gone or unreadable since we looked: say so once and go on with the others.
            self.warnings.append(f"{key}: {exc}")
            self._done[key] = (st.st_size, st.st_mtime_ns)
            return None
        info = result.captures[0] if result.captures else None
        size = info.bytes if info is not None else st.st_size
        digest = info.sha256 if info is not None else sha256_of(path)
        comparison = self.history.record_run(
            result,
            series=self.series,
            kind="watch",
            started=started,
            fail_on=self.fail_on,
            baseline_ids=self.baseline.ids() if self.baseline is not None else (),
            baseline_file=self.baseline_file,
            compare_with="ever",
            scanned_files=[ScannedFile(key, size, digest, st.st_mtime_ns)],
        )
        # What was scanned is what the scan read: if the file grew meanwhile, its new signature
        # differs from this one and the next poll takes it again.
        self._done[key] = (size, st.st_mtime_ns) if size == st.st_size else (-1, -1)
        return WatchScan(key, result, comparison)

    # ------------------------------------------------------------------ following

    def run(
        self,
        interval: float = 5.0,
        once: bool = False,
        stop: threading.Event | None = None,
        on_scan: Callable[[WatchScan], None] | None = None,
    ) -> list[WatchScan]:
        """Poll every ``interval`` seconds until ``stop`` is set (or once).  Returns every scan made."""
        done: list[WatchScan] = []
        stop = stop or threading.Event()
        while True:
            for scan in self.poll(once=once):
                done.append(scan)
                if on_scan is not None:
                    on_scan(scan)
            if once or stop.wait(interval):
                return done


__all__ = ["Claim", "WatchScan", "Watcher", "claim", "open_for_writing", "sha256_of"]
