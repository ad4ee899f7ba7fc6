"""Many machines: decoding on a Dask distributed cluster (``--scheduler ADDRESS`` or ``local:N``).

Every (capture, shard) pair is a Dask task, all submitted at once: with at
least as many captures as worker threads (an operator's hourly files) each
capture is one task, read once; fewer captures are split into flow shards.  A task reads the capture from
storage every worker can see, decodes its flow shard (run/sharded.py's
``keyed_batches``, the same code as ``--jobs``) and streams its keyed events
back through a ``distributed.Queue`` in numbered, compressed chunks; its result
is the shard's statistics and how many chunks it sent.  This process merges the
shards of each capture in serial order and runs detection, attribution, the
graph and the reports, so the report is byte for byte that of a local run.

A worker that dies mid-task: Dask runs the task again elsewhere.  Decoding is
deterministic, so the new attempt sends the same events again, in the same
order; every chunk says where in its shard's stream it starts, this process
takes each event once and drops the repeats (even when the new attempt cuts its
chunks elsewhere), and the merged stream is complete and the same.  A capture a worker cannot read is one error
naming the worker and the path.

Memory here stays bounded whatever the shards' skew: chunks that arrive ahead of
the merge wait in a per-shard spool that moves to a temporary file past
``SPOOL_MEMORY`` bytes.
"""

from __future__ import annotations

import logging
import os
import pickle
import socket
import tempfile
import time
import uuid
import zlib
from collections import deque
from collections.abc import Iterator, Sequence
from typing import IO, Any

from scanner.decode.keylog import KeyLog
from scanner.engines.base import EngineStats, ProgressCallback
from scanner.errors import InputError, PrivscanError
from scanner.ingest import CaptureSource
from scanner.model import Event
from scanner.run.sharded import KeyedEvent, keyed_batches, merge_shards

LOCAL_PREFIX = "local:"
CONNECT_TIMEOUT_S = 20
SPOOL_MEMORY = 32 * 1024 * 1024  # compressed bytes per shard held in memory before spilling to disk
# A task reported finished whose last chunks have not arrived after this long: something is wrong.
STRAGGLER_TIMEOUT_S = 60.0
POLL_MIN_S, POLL_MAX_S = 0.005, 0.2  # waits between looks at an empty queue, doubling while it stays empty


def decode_shard_task(
    source: CaptureSource,
    capture: int,
    shard: int,
    shards: int,
    queue_name: str,
    strict: bool = False,
    keylog: KeyLog | None = None,
) -> tuple[int, EngineStats]:
    """Runs on a worker: decode one shard of a capture, send its chunks, return (events, stats)."""
    from distributed import Queue, get_worker

    worker = get_worker()
    queue = Queue(queue_name)
    sent = 0  # events sent so far: where the next chunk starts in this shard's stream
    try:
        batches = keyed_batches(source, shard, shards, strict=strict, keylog=keylog)
        while True:
            try:
                batch = next(batches)
            except StopIteration as end:
                return sent, end.value
            put_chunk(queue, (capture, shard), sent, batch)
            sent += len(batch)
    except PrivscanError as exc:
        # The worker's name is what an operator needs to find the machine that cannot read it.
        raise InputError(f"worker {worker.address}: {exc}") from None


def put_chunk(queue: Any, stream: tuple[int, int], start: int, batch: list[KeyedEvent]) -> None:
    """A chunk of the keyed events of ``stream`` (capture index, shard), with where it starts in
    that stream (a module function, so that a test can wrap it)."""
    compressed = zlib.compress(pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL), 1)
    queue.put((stream[0], stream[1], start, len(batch), compressed))


class _Spool:
    """A first-in first-out store of one shard's compressed chunks: memory, then a temp file."""

    def __init__(self) -> None:
        self._memory: deque[tuple[int, bytes]] = deque()
        self._memory_bytes = 0
        self._file: IO[bytes] | None = None
        self._write_at = 0
        self._read_at = 0
        self._in_file = 0

    def __len__(self) -> int:
        return len(self._memory) + self._in_file

    def push(self, skip: int, chunk: bytes) -> None:
        """A compressed chunk whose first ``skip`` events were taken already from another attempt."""
        if self._in_file or self._memory_bytes + len(chunk) > SPOOL_MEMORY:
            if self._file is None:
                self._file = tempfile.TemporaryFile(prefix="privscan-spool-")
            self._file.seek(self._write_at)
            self._file.write(skip.to_bytes(8, "big") + len(chunk).to_bytes(8, "big") + chunk)
            self._write_at = self._file.tell()
            self._in_file += 1
        else:
            self._memory.append((skip, chunk))
            self._memory_bytes += len(chunk)

    def pop(self) -> list[KeyedEvent]:
        if self._memory:
            skip, chunk = self._memory.popleft()
            self._memory_bytes -= len(chunk)
        else:
            assert self._file is not None
            self._file.seek(self._read_at)
            skip = int.from_bytes(self._file.read(8), "big")
            size = int.from_bytes(self._file.read(8), "big")
            chunk = self._file.read(size)
            self._read_at = self._file.tell()
            self._in_file -= 1
        batch: list[KeyedEvent] = pickle.loads(zlib.decompress(chunk))
        return batch[skip:] if skip else batch

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


class _CaptureOnCluster:
    """The shards of one capture on the cluster: what has arrived of each, and how it ends."""

    def __init__(self, source: CaptureSource, shards: int) -> None:
        self.source = source
        self.shards = shards
        self.spools = [_Spool() for _ in range(shards)]
        self.taken = [0] * shards  # events of each shard's stream taken so far
        self.totals: list[int | None] = [None] * shards  # events in each shard, once its task finished
        self.stats: list[EngineStats | None] = [None] * shards
        self.futures: list[Any] = []

    def accept(self, shard: int, start: int, count: int, chunk: bytes) -> None:
        taken = self.taken[shard]
        # Events before ``taken`` came already (from this or an earlier attempt): drop them.
        # A chunk that starts beyond (a lost attempt that ran ahead) waits for its re-run.
        if start <= taken < start + count:
            self.spools[shard].push(taken - start, chunk)
            self.taken[shard] = start + count

    def done(self, shard: int) -> bool:
        total = self.totals[shard]
        return total is not None and self.taken[shard] >= total

    def merged_stats(self) -> EngineStats:
        merged = EngineStats()
        for stats in self.stats:
            if stats is not None:
                merged.merge(stats)
        return merged

    def close(self) -> None:
        for spool in self.spools:
            spool.close()
        for future in self.futures:
            future.cancel()


class _ScanOnCluster:
    """Every capture's shards submitted at once, so that all workers decode while this process
    merges capture after capture in serial order; one queue brings every chunk back."""

    def __init__(self, client: Any, sources: Sequence[CaptureSource], strict: bool, keylog: KeyLog | None = None) -> None:
        from distributed import Queue

        self.client = client
        threads = max(1, sum(client.nthreads().values()))
        # Enough captures keep every worker busy whole; fewer are split into flow shards. The
        # report does not depend on the split (run/sharded.py), so it may follow the cluster.
        shards = max(1, threads // len(sources))
        self.queue_name = f"privscan-{uuid.uuid4().hex}"
        self.queue = Queue(self.queue_name, client=client)
        self.captures = [_CaptureOnCluster(source, shards) for source in sources]
        for index, capture in enumerate(self.captures):
            source = capture.source
            # Workers start elsewhere: they open the absolute path; the report shows the name given.
            located = CaptureSource(source.path, location=os.path.abspath(source.location or source.path))
            capture.futures = [
                client.submit(
                    decode_shard_task, located, index, k, shards, self.queue_name, strict, keylog,
                    key=f"privscan-decode-{self.queue_name}-{index}-{k}", pure=False,
                )
                for k in range(shards)
            ]
        self._finished_at: float | None = None  # when a task was last seen finished
        self._idle = POLL_MIN_S

    def events(self, index: int) -> Iterator[Event]:
        capture = self.captures[index]
        try:
            yield from merge_shards([self._stream(capture, k) for k in range(capture.shards)])
        finally:
            capture.close()

    def close(self) -> None:
        for capture in self.captures:
            capture.close()

    def _stream(self, capture: _CaptureOnCluster, shard: int) -> Iterator[KeyedEvent]:
        spool = capture.spools[shard]
        while True:
            while not spool:
                if capture.done(shard):
                    return
                self._pump(capture)
            yield from spool.pop()

    def _pump(self, waiting_for: _CaptureOnCluster) -> None:
        """Take what the queue holds; when it is empty, notice finished tasks and wait a little.

        Polled rather than a blocking get with a timeout: distributed logs every such timeout
        on the scheduler as an error."""
        items = self.queue.get(batch=True)
        if not items:
            self._check_tasks(waiting_for)
            time.sleep(self._idle)
            self._idle = min(self._idle * 2, POLL_MAX_S)
            return
        self._idle = POLL_MIN_S
        for index, shard, start, count, chunk in items:
            self.captures[index].accept(shard, start, count, chunk)

    def _check_tasks(self, capture: _CaptureOnCluster) -> None:
        path = capture.source.path
        for shard, future in enumerate(capture.futures):
            if capture.totals[shard] is not None:
                continue
            if future.status == "error":
                error = future.exception()
                if isinstance(error, PrivscanError):
                    raise error
                raise InputError(f"decoding {path} on the cluster failed: {type(error).__name__}: {error}")
            if future.status == "cancelled":
                raise InputError(f"decoding {path} on the cluster was cancelled")
            if future.status == "finished":
                events, stats = future.result()
                capture.totals[shard] = events
                capture.stats[shard] = stats
                self._finished_at = time.monotonic()
        finished = self._finished_at
        if finished is not None and time.monotonic() - finished > STRAGGLER_TIMEOUT_S and any(
            capture.totals[k] is not None and not capture.done(k) for k in range(capture.shards)
        ):
            raise InputError(f"chunks of {path} never arrived from the cluster")


class DaskEngine:
    """An engine whose decoding runs on a Dask cluster; events come back in serial order."""

    def __init__(
        self,
        engine_name: str,
        scheduler: str,
        progress: ProgressCallback | None = None,
        strict: bool = False,
        keylog: KeyLog | None = None,
    ) -> None:
        if engine_name != "native":
            raise InputError("--scheduler runs the native engine only (tshark reads a whole capture in one process)")
        self.name = engine_name
        self.scheduler = scheduler
        self.progress = progress
        self.strict = strict
        # The lab's TLS secrets travel to the workers with each task: a cluster that decrypts
        # holds the key log while it works (docs/decryption.md).
        self.keylog = keylog
        self.stats = EngineStats()

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        if any(source.is_stdin for source in sources):
            raise InputError("standard input cannot be scanned on a cluster: workers read captures from shared storage")
        if not sources:
            return
        client, cluster = connect(self.scheduler)
        scan = None
        try:
            scan = _ScanOnCluster(client, sources, self.strict, self.keylog)
            for index, capture in enumerate(scan.captures):
                yield from scan.events(index)
                self.stats.merge(capture.merged_stats())
                first = capture.stats[0]
                if self.progress is not None and first is not None and first.captures:
                    self.progress(capture.source.path, first.captures[-1].bytes)
        finally:
            if scan is not None:
                scan.close()
            client.close()
            if cluster is not None:
                cluster.close()


def _probe(scheduler: str) -> None:
    """Fail at once on a refused connection: Dask's client would retry it until its timeout."""
    host_port = scheduler.split("://", 1)[-1]
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit():
        return  # not host:port (a scheme Dask knows and we do not): let the client say
    with socket.create_connection((host.strip("[]"), int(port)), timeout=CONNECT_TIMEOUT_S):
        pass


def connect(scheduler: str) -> tuple[Any, Any]:
    """A client of the scheduler at ``scheduler``, or of a new LocalCluster for ``local:N``."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise InputError("--scheduler needs Dask: pip install 'dask[distributed]'") from None
    cluster = None
    try:
        if scheduler.startswith(LOCAL_PREFIX):
            workers = scheduler[len(LOCAL_PREFIX):]
            if not workers.isdigit() or int(workers) < 1:
                raise InputError(f"--scheduler {scheduler!r}: write local:N with N workers, e.g. local:4")
            cluster = LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True,
                dashboard_address=None, silence_logs=logging.ERROR,
            )
            return Client(cluster, timeout=CONNECT_TIMEOUT_S), cluster
        _probe(scheduler)
        return Client(scheduler, timeout=CONNECT_TIMEOUT_S), None
    except PrivscanError:
        raise
    except (OSError, TimeoutError, ValueError) as exc:
        if cluster is not None:
            cluster.close()
        raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
