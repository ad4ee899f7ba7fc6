"""Running tshark, and comparing what it shows with a decoder's events, for the tests that check one against the other.

The public captures hold other people's identifiers: sets of values are compared by
digest, so a failing comparison prints sizes and hashes, never the values.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

# Joins a field's values in one cell: a byte that no name or address contains.
_AGGREGATOR = "\x1e"


def tshark_fields(
    tshark: str,
    path: Path,
    display_filter: str | None,
    fields: Sequence[str],
    *,
    occurrence: str = "a",
    aggregator: str = ",",
) -> list[list[str]]:
    """``tshark -T fields``: a row per frame that ``display_filter`` keeps (every frame for None),
    a cell per field ("" where the frame has none).

    ``occurrence`` "a" (tshark's default) keeps every value of a field in the frame, joined by
    ``aggregator``; "f" keeps the first one only.
    """
    args = [tshark, "-n", "-r", str(path), "-T", "fields", "-E", "separator=\t",
            "-E", f"occurrence={occurrence}", "-E", f"aggregator={aggregator}"]
    if display_filter is not None:
        args += ["-Y", display_filter]
    for field in fields:
        args += ["-e", field]
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    # split("\n"), not splitlines(): that also splits on control characters (an aggregator, a
    # value's \x85).  Empty rows stay: a frame without the one field asked for is a row too.
    lines = done.stdout.split("\n")
    if lines[-1] == "":
        lines.pop()
    rows = [line.split("\t") for line in lines]
    return [row + [""] * (len(fields) - len(row)) for row in rows]


def tshark_values(tshark: str, path: Path, display_filter: str | None, fields: Sequence[str]) -> list[list[list[str]]]:
    """Like ``tshark_fields``, with every value of each field in the frame: a list per cell ([] where none)."""
    rows = tshark_fields(tshark, path, display_filter, fields, occurrence="a", aggregator=_AGGREGATOR)
    return [[cell.split(_AGGREGATOR) if cell else [] for cell in row] for row in rows]


def digest(values: Iterable[tuple[Any, ...]]) -> str:
    """A short hash of a set of values, and its size."""
    items = sorted(values, key=repr)
    return hashlib.sha256(repr(items).encode()).hexdigest()[:12] + f" ({len(items)} items)"


def values_by_frame(events: Iterable[Any], keys: Iterable[str]) -> dict[str, set[tuple[Any, ...]]]:
    """For each event attribute in ``keys``, the (frame, value) pairs of the events where it is set."""
    found: dict[str, set[tuple[Any, ...]]] = {key: set() for key in keys}
    for event in events:
        for key in found:
            value = getattr(event, key)
            if value is not None:
                found[key].add((event.frame, value))
    return found


def assert_same_as_tshark(
    got: Mapping[str, set[tuple[Any, ...]]], want: Mapping[str, set[tuple[Any, ...]]], capture: str
) -> None:
    """Each of tshark's sets (``want``) equals the decoder's, compared by digest: pytest
    would print the sets themselves, and with them other people's identifiers."""
    for key in want:
        assert digest(got[key]) == digest(want[key]), f"{capture}: {key} differs from tshark"
