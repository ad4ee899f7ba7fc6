"""Running an engine over captures: in this process, in ``--jobs`` processes (parallel.py, and
sharded.py for flow shards of one capture), or on a Dask cluster (dask_cluster.py).

Above scanner.engines: it builds engines through their registry, which does not import it back.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

from scanner.engines import ENGINES, make_engine
from scanner.settings import Settings

if TYPE_CHECKING:
    from scanner.decode.keylog import KeyLog
    from scanner.engines.base import Engine, ProgressCallback


def make_runner(
    name: str,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    settings: Settings | None = None,
    scheduler: str | None = None,
    keylog: KeyLog | None = None,
) -> Engine:
    """The engine called ``name``; with ``jobs`` above 1, run in that many processes (whole
    captures, or flow shards of fewer captures); with a ``scheduler`` (an address, or
    ``local:N``), decoded on a Dask cluster.  ``keylog``, loaded once by the caller, is pickled
    to every worker, shard and task (the lab's TLS secrets: docs/decryption.md)."""
    strict = settings.strict if settings is not None else False
    if scheduler:
        from scanner.run.dask_cluster import DaskEngine

        return DaskEngine(name, scheduler, progress, strict, keylog)
    if jobs > 1:
        from scanner.run.parallel import ParallelEngine

        if name not in ENGINES:  # fails here, in the parent, not in every worker
            raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
        return ParallelEngine(
            functools.partial(make_engine, name, settings=settings, keylog=keylog), name, jobs, progress, strict, keylog
        )
    return make_engine(name, progress, settings, keylog)


__all__ = ["make_runner"]
