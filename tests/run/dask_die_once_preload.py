"""A Dask worker preload for tests/run/test_dask.py: this worker dies in the middle of a task.

Loaded with ``dask worker --preload tests/run/dask_die_once_preload.py``.  It makes the shard
tasks send small chunks, and the process exits (as a killed or crashed machine would: no
clean-up, no goodbye to the scheduler) right after sending its second chunk.  The worker that takes the task over cuts its
chunks at the usual size: the parent must take each event once all the same.  The marker
file named by PRIVSCAN_TEST_DIE_MARKER records that it happened, for the test to check.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from scanner.run import dask_cluster, sharded

sharded.BATCH = 2  # many chunks per shard, so that there is a "middle" to die in
# Dask may import a preload twice (from its path and from its copy in the worker's directory):
# wrap the original function once, never the wrapper.
_put_chunk = getattr(dask_cluster.put_chunk, "original", dask_cluster.put_chunk)


def _dying_put_chunk(queue: Any, stream: tuple[int, int], start: int, batch: list[Any]) -> None:
    _put_chunk(queue, stream, start, batch)
    if start > 0:  # the second chunk is out: die with the task half done
        Path(os.environ["PRIVSCAN_TEST_DIE_MARKER"]).write_text(f"died in {stream} after event {start + len(batch)}\n")
        os._exit(17)


_dying_put_chunk.original = _put_chunk  # type: ignore[attr-defined]
dask_cluster.put_chunk = _dying_put_chunk
