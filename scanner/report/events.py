"""The ``privscan events`` output: one line per event, JSON Lines or an aligned table."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import IO

from scanner.model import Event


def write_event_lines(events: Iterable[Event], out: IO[str], fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        dumps = json.dumps
        for event in events:
            out.write(dumps(event.to_record(), ensure_ascii=False, separators=(",", ":")))
            out.write("\n")
            count += 1
        return count
    out.write(f"{'ts':<17} {'frame':>7} {'type':<8} {'flow':<47} fields\n")
    for event in events:
        flow = event.flow
        where = f"{flow.src}:{flow.sport} > {flow.dst}:{flow.dport}"
        record = event.fields_record()
        names = event.table_fields  # each event type declares its columns (scanner/model.py)
        shown = " ".join(f"{n}={_short(record.get(n))}" for n in names if record.get(n) not in (None, [], ""))
        out.write(f"{event.ts:<17.6f} {event.frame:>7} {event.type:<8} {where:<47} {shown}\n")
        count += 1
    return count


def _short(value: object) -> str:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
