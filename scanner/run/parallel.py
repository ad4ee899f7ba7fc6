"""Parallel decoding: ``--jobs N`` worker processes, events in serial order.

With at least N captures, each capture is decoded whole by one worker (below);
with fewer, each capture is split into N flow shards (run/sharded.py).

Decoding is most of a scan's cost, and captures decode independently (each
has its own decoder: flows never span captures).  So capture i is decoded by
worker ``i % N`` while the parent runs detection, attribution and the policy
on the events in capture order, exactly as a serial scan would see them: the
reports of a serial and a parallel scan are byte for byte the same.

Memory stays bounded: a worker sends events in batches through a bounded
queue and waits when the parent is behind.  A single capture, or standard
input, is decoded in the parent (there is nothing to share out).
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue as queue_module
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from scanner.decode.keylog import KeyLog
from scanner.engines.base import Engine, EngineStats, ProgressCallback
from scanner.errors import PrivscanError
from scanner.ingest import CaptureSource
from scanner.model import Event

# Makes one engine for one capture, given the progress callback.
EngineFactory = Callable[[ProgressCallback | None], Engine]

BATCH = 512  # events per message: pickling one event at a time would cost more than decoding it
QUEUE_BATCHES = 64  # per worker: the most a worker runs ahead of the parent
PROGRESS_EVERY_BATCHES = 8
# Bytes of HTTP bodies per message: an event carries up to 4 MiB of decoded body, so a batch is
# cut by size too, and the queue's bound holds in bytes, not only in events.
BATCH_BODY_BYTES = 8 * 1024 * 1024


def _worker(factory: EngineFactory, assigned: list[tuple[int, str]], out: Any) -> None:
    """Decode the assigned captures in order, sending (kind, capture index, payload) messages."""
    for index, path in assigned:
        read = [0]

        def note(_path: str, bytes_read: int, read: list[int] = read) -> None:
            read[0] = bytes_read

        engine = factory(note)
        batch: list[Event] = []
        body_bytes = 0
        sent = 0
        try:
            for event in engine.events([CaptureSource(path)]):
                batch.append(event)
                body_bytes += len(getattr(event, "body", b""))
                if len(batch) >= BATCH or body_bytes >= BATCH_BODY_BYTES:
                    # Pickled here, not in the queue's feeder thread, which would fight the
                    # decoder for the GIL; the feeder then only writes bytes to the pipe.
                    out.put(("events", index, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
                    batch, body_bytes = [], 0
                    sent += 1
                    if sent % PROGRESS_EVERY_BATCHES == 0:
                        out.put(("progress", index, read[0]))
            if batch:
                out.put(("events", index, pickle.dumps(batch, protocol=pickle.HIGHEST_PROTOCOL)))
            out.put(("done", index, engine.stats))
        except PrivscanError as exc:
            out.put(("error", index, exc))
            return
        except BaseException as exc:  # a bug: report it in the parent, with its type
            out.put(("error", index, RuntimeError(f"{type(exc).__name__}: {exc}")))
            return


class ParallelEngine:
    """An engine (native or tshark) run in ``jobs`` processes, one capture per process at a time."""

    def __init__(
        self, factory: EngineFactory, engine_name: str, jobs: int, progress: ProgressCallback | None = None,
        strict: bool = False, keylog: KeyLog | None = None,
    ) -> None:
        # The factory, not the engine registry: scanner.engines does not depend on this module and
        # this module does not call back into it. Under "spawn" it is pickled: a module-level
        # function or a functools.partial of one.
        self.factory = factory
        self.name = engine_name
        self.jobs = jobs
        self.progress = progress
        self.strict = strict  # for the shard workers, which build their native engines themselves
        self.keylog = keylog  # likewise
        self.stats = EngineStats()

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        stdin = any(source.is_stdin for source in sources)
        if self.name == "native" and not stdin and len(sources) < self.jobs:
            # Fewer captures than processes: split each capture into flow shards instead.
            yield from self._sharded(sources)
            return
        if len(sources) <= 1 or stdin:
            engine = self.factory(self.progress)
            try:
                yield from engine.events(sources)
            finally:
                self.stats.merge(engine.stats)
            return
        yield from self._parallel(sources)

    def _sharded(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        from scanner.run.sharded import ShardedCapture, process_context

        context = process_context()
        for source in sources:
            capture = ShardedCapture(context, source, self.jobs, self.progress, self.strict, self.keylog)
            try:
                yield from capture.events()
            finally:
                self.stats.merge(capture.stats)

    def _parallel(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        # fork: the workers inherit the loaded modules and signatures instead of importing again.
        context: Any = multiprocessing.get_context("fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn")
        workers = min(self.jobs, len(sources))
        queues = [context.Queue(maxsize=QUEUE_BATCHES) for _ in range(workers)]
        assigned: list[list[tuple[int, str]]] = [[] for _ in range(workers)]
        for index, source in enumerate(sources):
            assigned[index % workers].append((index, source.path))
        processes = [
            context.Process(target=_worker, args=(self.factory, assigned[w], queues[w]), daemon=True)
            for w in range(workers)
        ]
        for process in processes:
            process.start()
        try:
            for index, source in enumerate(sources):
                yield from self._receive(index, source, queues[index % workers], processes[index % workers])
        finally:
            for process in processes:
                if process.is_alive():
                    process.terminate()
                process.join(timeout=5)

    def _receive(self, index: int, source: CaptureSource, queue: Any, process: Any) -> Iterator[Event]:
        while True:
            try:
                kind, at, payload = queue.get(timeout=1.0)
            except queue_module.Empty:
                if not process.is_alive():
                    raise RuntimeError(f"the worker decoding {source.path} ended without a word") from None
                continue
            if at != index:
                raise RuntimeError(f"worker messages out of order: got capture {at} while reading {index}")
            if kind == "events":
                yield from pickle.loads(payload)
            elif kind == "progress":
                if self.progress is not None:
                    self.progress(source.path, payload)
            elif kind == "done":
                self.stats.merge(payload)
                if self.progress is not None and payload.captures:
                    self.progress(source.path, payload.captures[-1].bytes)
                return
            elif kind == "error":
                raise payload
