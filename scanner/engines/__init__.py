"""The dissection engines, by name: the one place a new engine is registered.

Kept free of the rest of the pipeline so that ``privscan events`` and the
``--jobs`` workers, which only decode, do not import detection, the graph
(networkx) and the policy: 14 MiB and 0.1 s of start-up per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scanner.engines.base import Engine, ProgressCallback

ENGINES = ("native", "tshark")


def make_engine(
    name: str,
    progress: ProgressCallback | None = None,
    jobs: int = 1,
    scheduler: str | None = None,
    *,
    digest: bool = True,
) -> Engine:
    """The engine called ``name``; with ``jobs`` above 1, run in that many processes (whole
    captures, or flow shards of fewer captures); with a ``scheduler`` (an address, or
    ``local:N``), decoded on a Dask cluster.  ``digest=False``: the caller never reads the
    captures' sha256, which the serial native engine then does not compute."""
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    if scheduler:
        from scanner.run.dask_cluster import DaskEngine

        return DaskEngine(name, scheduler, progress)
    if jobs > 1:
        from scanner.run.parallel import ParallelEngine

        return ParallelEngine(name, jobs, progress)
    if name == "tshark":
        from scanner.engines.tshark import TsharkEngine

        return TsharkEngine(progress=progress)
    from scanner.engines.native import NativeEngine

    return NativeEngine(progress=progress, digest=digest)


__all__ = ["ENGINES", "make_engine"]
