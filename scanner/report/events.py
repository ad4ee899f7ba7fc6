"""The ``privscan events`` output: one line per event, JSON Lines or an aligned table.

JSON Lines are written with orjson where it gives the same bytes as
``json.dumps(record, ensure_ascii=False, separators=(",", ":"))`` (the format
the lines have always had), which is ten times faster: encoding the lines cost
half as much as decoding the packets.  The two differ only on floats (orjson
writes ``1e-6`` where Python writes ``1e-06``, NaN as null) and on values json
cannot encode at all, so orjson is used for event classes whose only float
field is ``ts`` when ``ts`` lies where both print floats alike; anything else,
or anything orjson refuses (a lone surrogate, an integer beyond 64 bits), goes
through json as before.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterable
from typing import IO, Any

from scanner.model import Event, record_names

try:
    import orjson
except ImportError:  # pragma: no cover - a dependency; json alone gives the same lines
    orjson = None  # type: ignore[assignment]

# Python's repr and orjson print a float alike from 1e-4 up to (not including) 1e16.
_SAME_FLOATS = (1e-4, 1e16)


def write_event_lines(events: Iterable[Event], out: IO[str], fmt: str) -> int:
    count = 0
    if fmt == "jsonl":
        encode = _line_encoder()
        write = out.write
        for event in events:
            write(encode(event))
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


def _line_encoder() -> Callable[[Event], str]:
    """One event -> its JSON line (with the newline)."""
    dumps = json.dumps

    def with_json(record: dict[str, Any]) -> str:
        return dumps(record, ensure_ascii=False, separators=(",", ":")) + "\n"

    if orjson is None:
        return lambda event: with_json(event.to_record())
    fast_dumps = orjson.dumps
    newline = orjson.OPT_APPEND_NEWLINE
    refused = orjson.JSONEncodeError
    low, high = _SAME_FLOATS
    fast_classes: dict[type[Event], bool] = {}

    def encode(event: Event) -> str:
        record = event.to_record()
        cls = type(event)
        fast = fast_classes.get(cls)
        if fast is None:
            fast = fast_classes[cls] = _orjson_safe(cls)
        ts = record["ts"]
        if fast and (low <= ts < high or ts == 0):
            try:
                return fast_dumps(record, option=newline).decode()
            except refused:
                pass
        return with_json(record)

    return encode


def _orjson_safe(cls: type[Event]) -> bool:
    """Whether orjson writes this class's records as json does: no field that may hold a float
    (declared types; mypy holds decoders and tshark builders to them) or an arbitrary value."""
    declared = {f.name: f.type for f in dataclasses.fields(cls)}
    for name, _if_set in record_names(cls):
        text = declared[name] if isinstance(declared[name], str) else repr(declared[name])
        if "float" in text or "Any" in text or "object" in text or "bytes" in text:
            return False
    return True


def _short(value: object) -> str:
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."
