"""The dissection engines, by name: the one place a new engine is registered.

Kept free of the rest of the pipeline so that ``privscan events`` and the
``--jobs`` workers, which only decode, do not import detection, the graph
(networkx) and the policy: 14 MiB and 0.1 s of start-up per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.settings import Settings

if TYPE_CHECKING:
    from scanner.engines.base import Engine, ProgressCallback

ENGINES = ("native", "tshark")


def make_engine(name: str, progress: ProgressCallback | None = None, settings: Settings | None = None) -> Engine:
    """The engine called ``name`` (scanner.run.make_runner runs it in several processes)."""
    settings = settings or Settings()
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    if name == "tshark":
        from scanner.engines.tshark import TsharkEngine

        return TsharkEngine(progress=progress, tshark_path=settings.tshark_path, strict=settings.strict)
    from scanner.engines.native import NativeEngine

    return NativeEngine(progress=progress, strict=settings.strict)


__all__ = ["ENGINES", "make_engine"]
