"""One capture on every core: ``--jobs N`` decodes a capture as N flow shards in N processes.

Each worker reads the whole capture and decodes only the frames of its shard
(scanner/decode/sharding.py says which and why a flow never spans shards); its
events come back keyed by their place in the serial order, and the parent
merges the N keyed streams (a k-way merge on the keys) into exactly the events
of a serial decode, in the same order.  Everything after decoding (detection,
attribution, graph, policy) runs once, in the parent, as in a serial scan: the
reports of ``--jobs 1`` and ``--jobs N`` are byte for byte the same.

Why every worker reads the whole file: a frame's shard is known only by
looking at it, and reading records is cheap next to decoding them (about a
sixth of the cost per frame, see BENCHMARKS.md), so N readers cost less than
one reader dealing frames out to N decoders through pipes (measured: docs/scaling.md).

Memory stays bounded: a worker sends its events in batches through a bounded
queue and waits when the parent is behind; the parent holds at most one batch
per shard besides the merge's heap.
"""

from __future__ import annotations

import heapq
import multiprocessing
import pickle
import queue as queue_module
from collections.abc import Generator, Iterator, Sequence
from operator import itemgetter
from typing import Any

from scanner.decode.keylog import KeyLog
from scanner.decode.sharding import EventKey
from scanner.engines.base import EngineStats, ProgressCallback
from scanner.errors import PrivscanError
from scanner.ingest import CaptureSource
from scanner.model import Event

BATCH = 512  # keyed events per message: pickling one at a time would cost more than decoding it
QUEUE_BATCHES = 32  # per shard: the most a worker runs ahead of the merge
BATCH_BODY_BYTES = 8 * 1024 * 1024  # an event may carry up to 4 MiB of body: cut batches by size too
PROGRESS_EVERY_BATCHES = 8

KeyedEvent = tuple[EventKey, Event]


def keyed_batches(
    source: CaptureSource,
    shard: int,
    shards: int,
    progress: ProgressCallback | None = None,
    strict: bool = False,
    keylog: KeyLog | None = None,
) -> Generator[list[KeyedEvent], None, EngineStats]:
    """Decode one shard of one capture; yields batches of keyed events, then returns the stats.

    Shared by the local processes below and the Dask tasks (run/dask_cluster.py).  The
    generator's return value (``StopIteration.value``) is the shard's ``EngineStats``.
    """
    from scanner.engines.native import NativeEngine

    engine = NativeEngine(progress, strict=strict, shard=shard, shards=shards, keylog=keylog)
    batch: list[KeyedEvent] = []
    body_bytes = 0
    for item in engine.keyed_events([source]):
        batch.append(item)
        body_bytes += len(getattr(item[1], "body", b""))
        if len(batch) >= BATCH or body_bytes >= BATCH_BODY_BYTES:
            yield batch
            batch, body_bytes = [], 0
    if batch:
        yield batch
    return engine.stats


def _shard_worker(path: str, shard: int, shards: int, strict: bool, out: Any, keylog: KeyLog | None = None) -> None:
    """A worker process: decode one shard, send ("events", pickled batch) ... ("done", stats)."""
    read = [0]

    def note(_path: str, bytes_read: int) -> None:
        read[0] = bytes_read

    try:
        batches = keyed_batches(CaptureSource(path), shard, shards, note, strict, keylog)
        sent = 0
        while True:
            try:
                batch = next(batches)
            except StopIteration as end:
                out.put(("done", end.value))
                return
            # Pickled here, not in the queue's feeder thread, which would fight the decoder
            # for the GIL; the feeder then only writes bytes to the pipe.
            out.put(("events", pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
            sent += 1
            if shard == 0 and sent % PROGRESS_EVERY_BATCHES == 0:
                out.put(("progress", read[0]))
    except PrivscanError as exc:
        out.put(("error", exc))
    except BaseException as exc:  # a bug: report it in the parent, with its type
        out.put(("error", RuntimeError(f"{type(exc).__name__}: {exc}")))


def merge_shards(streams: Sequence[Iterator[KeyedEvent]]) -> Iterator[Event]:
    """The events of a capture's shards in serial order: keys are unique across shards."""
    for _key, event in heapq.merge(*streams, key=itemgetter(0)):
        yield event


class ShardedCapture:
    """Decodes one capture in ``shards`` local processes and yields its events in serial order."""

    def __init__(
        self,
        context: Any,
        source: CaptureSource,
        shards: int,
        progress: ProgressCallback | None,
        strict: bool = False,
        keylog: KeyLog | None = None,
    ) -> None:
        self.context = context
        self.strict = strict
        self.keylog = keylog
        self.source = source
        self.shards = shards
        self.progress = progress
        self.stats = EngineStats()

    def events(self) -> Iterator[Event]:
        queues = [self.context.Queue(maxsize=QUEUE_BATCHES) for _ in range(self.shards)]
        processes = [
            self.context.Process(target=_shard_worker, args=(self.source.path, k, self.shards, self.strict, queues[k], self.keylog), daemon=True)
            for k in range(self.shards)
        ]
        for process in processes:
            process.start()
        shard_stats: list[EngineStats | None] = [None] * self.shards
        try:
            streams = [self._receive(k, queues[k], processes[k], shard_stats) for k in range(self.shards)]
            yield from merge_shards(streams)
            for stats in shard_stats:
                if stats is not None:
                    self.stats.merge(stats)
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join(timeout=5)

    def _receive(self, shard: int, queue: Any, process: Any, shard_stats: list[EngineStats | None]) -> Iterator[KeyedEvent]:
        while True:
            try:
                kind, payload = queue.get(timeout=1.0)
            except queue_module.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"the worker decoding shard {shard} of {self.source.path} ended without a word") from None
                continue
            if kind == "events":
                yield from pickle.loads(payload)
            elif kind == "progress":
                if self.progress is not None:
                    self.progress(self.source.path, payload)
            elif kind == "done":
                shard_stats[shard] = payload
                if shard == 0 and self.progress is not None and payload.captures:
                    self.progress(self.source.path, payload.captures[-1].bytes)
                return
            elif kind == "error":
                raise payload


def process_context() -> Any:
    """fork where there is one: workers inherit the loaded modules instead of importing again."""
    return multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
