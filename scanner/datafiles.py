"""Safe loading of the YAML and CSV files users and signature authors write.

YAML is read with PyYAML's safe loader (no tags, no object construction, no
code), into dicts and lists that remember the line they started on, so that a
validation error can say ``file:line: message`` (``SignatureError`` for files
under ``signatures/``, ``ConfigError`` for inventories, allow-lists, audit
configurations).  A key given twice in one mapping is an error, not a silent
overwrite: in an inventory that would drop a device's identifiers.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, SequenceNode

from scanner.errors import ConfigError, PrivscanError

_PACKAGE = Path(__file__).resolve().parent


def default_signatures_root() -> Path:
    """The bundled signatures: the copy a wheel installs as ``scanner/_signatures`` (setup.py), else
    the checkout's top-level ``signatures/`` (a source tree or an editable install)."""
    packaged = _PACKAGE / "_signatures"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "signatures"


_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class LineDict(dict[Any, Any]):
    """A mapping from a data file, with the 1-based line of itself and of each key."""

    line: int | None = None
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line) if hasattr(self, "key_lines") else self.line


class LineList(list[Any]):
    """A sequence from a data file, with the 1-based line it starts on and its items' lines."""

    line: int | None = None
    item_lines: list[int]

    def line_of(self, index: int) -> int | None:
        lines = getattr(self, "item_lines", [])
        return lines[index] if index < len(lines) else self.line


class _LineLoader(_BaseLoader):  # type: ignore[valid-type, misc]
    """SafeLoader that builds LineDict/LineList and rejects duplicate keys."""


def _construct_mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise _DuplicateKey(key_node.start_mark.line + 1, f"key {key!r} given twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _DuplicateKey(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_yaml(
    path: str | Path, error: type[PrivscanError] = ConfigError, text: str | None = None
) -> Any:
    """Parse a YAML file safely; errors become ``error(path, line, message)``."""
    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise error(path, None, "no such file") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise error(path, None, f"cannot read: {exc}") from None
    try:
        return yaml.load(text, Loader=_LineLoader)
    except _DuplicateKey as exc:
        raise error(path, exc.line, exc.message) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise error(path, line, f"not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise error(path, None, f"not valid YAML: {exc}") from None


def load_csv(path: str | Path, error: type[PrivscanError] = ConfigError) -> list[LineDict]:
    """Rows of a CSV file with a header line, as LineDicts (blank cells dropped)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8-sig", newline="")
    except OSError as exc:
        raise error(path, None, f"cannot read: {exc.strerror or exc}") from None
    rows: list[LineDict] = []
    with handle:
        try:
            reader = csv.DictReader(handle)
            columns = [name.strip() for name in reader.fieldnames or ()]
            twice = sorted({name for name in columns if name and columns.count(name) > 1})
            if twice:
                # DictReader would keep the last column of a name: a device's values silently lost
                raise error(path, 1, f"column {twice[0]!r} given twice")
            for row in reader:
                if None in row:
                    # more cells than columns: an unquoted "lat,lon" or a stray comma shifts the rest
                    raise error(path, reader.line_num, f"{len(columns) + len(row[None])} cells for {len(columns)} columns "
                                                       "(quote cells that hold a comma)")
                item = LineDict({k.strip(): v.strip() for k, v in row.items() if k and v is not None and v.strip()})
                item.line = reader.line_num
                rows.append(item)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise error(path, None, f"not valid CSV: {exc}") from None
    return rows


def line_of(container: Any, key: Any = None) -> int | None:
    """The line of a container loaded by load_yaml (or of one of its keys/items)."""
    if isinstance(container, LineDict):
        return container.line if key is None else container.line_of(key)
    if isinstance(container, LineList):
        return container.line if key is None else container.line_of(key)
    return None
