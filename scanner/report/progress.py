"""A progress bar for long scans, on standard error, only when it is a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from scanner.ingest import CaptureSource


@contextmanager
def scan_progress(
    sources: Sequence[CaptureSource], enabled: bool = True
) -> Iterator[Callable[[str, int], None] | None]:
    """Yields a callback (capture path, bytes read of it) or None when no bar is shown."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

    sizes = {s.path: (os.path.getsize(s.path) if not s.is_stdin and os.path.isfile(s.path) else 0) for s in sources}
    total = sum(sizes.values()) or None
    done: dict[str, int] = {}
    with Progress(
        TextColumn("[bold]scanning[/bold] {task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("", total=total)

        def update(path: str, read: int) -> None:
            done[path] = read
            bar.update(task, completed=sum(done.values()), description=os.path.basename(path))

        yield update
