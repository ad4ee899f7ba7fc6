"""The dissection engines, by name: the one place a new engine is registered.

Kept free of the rest of the pipeline so that ``privscan events`` and the
``--jobs`` workers, which only decode, do not import detection, the graph
(networkx) and the policy: 14 MiB and 0.1 s of start-up per process.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scanner.settings import Settings

if TYPE_CHECKING:
    from scanner.decode.keylog import KeyLog
    from scanner.engines.base import Engine, ProgressCallback

ENGINES = ("native", "tshark")


def make_engine(
    name: str, progress: ProgressCallback | None = None, settings: Settings | None = None, keylog: KeyLog | None = None
) -> Engine:
    """The engine called ``name`` (scanner.run.make_runner runs it in several processes).
    ``keylog``: the lab's TLS/QUIC secrets (``--keylog``), for decryption.  Without
    ``settings.capture_digest`` (the caller never reads CaptureInfo.sha256) the native engine
    does not hash the files."""
    settings = settings or Settings()
    if name not in ENGINES:
        raise ValueError(f"unknown engine {name!r}: one of {', '.join(ENGINES)}")
    if name == "tshark":
        from scanner.engines.tshark import TsharkEngine

        return TsharkEngine(progress=progress, tshark_path=settings.tshark_path, strict=settings.strict, keylog=keylog)
    from scanner.engines.native import NativeEngine

    return NativeEngine(progress=progress, strict=settings.strict, keylog=keylog, digest=settings.capture_digest)


__all__ = ["ENGINES", "make_engine"]
