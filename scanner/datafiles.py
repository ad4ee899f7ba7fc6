"""Safe loading of the YAML and CSV files users and signature authors write.

YAML is read with PyYAML's safe loader (no tags, no object construction, no
code), into dicts and lists that remember the line they started on, so that a
validation error can say ``file:line: message`` (``SignatureError`` for files
under ``signatures/``, ``ConfigError`` for inventories, allow-lists, audit
configurations).  A key given twice in one mapping is an error, not a silent
overwrite: in an inventory that would drop a device's identifiers.

Files are hostile input as much as captures are (issue 15): a key that is a
list or a map (``{[1, 2]: x}``, legal YAML, unhashable in Python) is a located
error, not a traceback; and aliases are expanded only up to ``MAX_ALIAS_NODES``
nodes, so a 500-byte "billion laughs" is refused while it is loaded instead of
growing into gigabytes (PyYAML shares an aliased node's object, but every later
walk of the data, and every message that quotes a value, expands it).  Messages
quote values through ``quote``, a few dozen characters at most.
"""

from __future__ import annotations

import csv
import reprlib
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from scanner.errors import ConfigError, PrivscanError

_PACKAGE = Path(__file__).resolve().parent


def default_signatures_root() -> Path:
    """The bundled signatures: the copy a wheel installs as ``scanner/_signatures`` (setup.py), else
    the checkout's top-level ``signatures/`` (a source tree or an editable install)."""
    packaged = _PACKAGE / "_signatures"
    return packaged if packaged.is_dir() else _PACKAGE.parent / "signatures"


# Nodes that aliases may add to a document when expanded.  Hand-written files share an
# identifier list or a network block a few times; 10^5 is far above that and far below
# the 10^9 strings of a billion-laughs file.
MAX_ALIAS_NODES = 100_000
# How much of a value an error message quotes.
QUOTE_CHARS = 40


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of a value for an error message, cut to ``limit`` characters: a message is one
    short line even when the value is a 100 kB string or a deeply nested structure."""
    if isinstance(value, (list, dict)):
        kind = "a list" if isinstance(value, list) else "a mapping"
        return f"{kind} of {len(value)} item{'s' if len(value) != 1 else ''}"
    text = reprlib.repr(value) if not isinstance(value, str) else repr(value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


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
    """SafeLoader that builds LineDict/LineList, rejects duplicate and unhashable keys, and
    refuses a document whose aliases would expand past ``MAX_ALIAS_NODES`` nodes."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_alias_expansion(node)
        return self.construct_document(node)


def _check_alias_expansion(root: Node) -> None:
    """Count the nodes of the document as its aliases expand it, without expanding it: each
    distinct node's expanded size is computed once (so the walk costs the file's own size)."""
    sizes: dict[int, int] = {}
    on_path: set[int] = set()
    distinct = 0
    # An explicit stack: a deeply nested file must not hit Python's recursion limit.
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        ident = id(node)
        if children_done:
            on_path.discard(ident)
            size = 1
            for child in _children(node):
                size += sizes[id(child)]
            sizes[ident] = size
            if size - distinct > MAX_ALIAS_NODES:
                raise _BadDocument(
                    node.start_mark.line + 1,
                    f"aliases expand this document past {MAX_ALIAS_NODES} nodes (a YAML alias bomb?); write the values out",
                )
            continue
        if ident in sizes:
            continue
        if ident in on_path:
            raise _BadDocument(node.start_mark.line + 1, "an alias refers to a node that contains it (a recursive alias)")
        on_path.add(ident)
        distinct += 1
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def _construct_mapping(loader: _LineLoader, node: MappingNode) -> LineDict:
    result = LineDict()
    result.line = node.start_mark.line + 1
    result.key_lines = {}
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if isinstance(key_node, (MappingNode, SequenceNode)):
            # Legal YAML ("? [1, 2]"), but no file of ours has such a key, and Python cannot hash it.
            kind = "a list" if isinstance(key_node, SequenceNode) else "a mapping"
            raise _BadDocument(key_node.start_mark.line + 1, f"a key must be a plain value, not {kind}")
        if key in result:
            raise _BadDocument(key_node.start_mark.line + 1, f"key {quote(key)} given twice")
        result[key] = loader.construct_object(value_node, deep=True)
        result.key_lines[key] = key_node.start_mark.line + 1
    return result


def _construct_sequence(loader: _LineLoader, node: SequenceNode) -> LineList:
    result = LineList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.item_lines = [child.start_mark.line + 1 for child in node.value]
    return result


def _construct_int(loader: _LineLoader, node: yaml.ScalarNode) -> int:
    try:
        return int(yaml.constructor.SafeConstructor.construct_yaml_int(loader, node))
    except ValueError:
        # Python refuses to convert integers of more than 4300 digits (CVE-2020-10735).
        raise _BadDocument(node.start_mark.line + 1, "a number too long to read; quote it if it is an identifier") from None


_LineLoader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


class _BadDocument(Exception):
    """Something YAML allows and our files must not have, at a 1-based line."""

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
    except _BadDocument as exc:
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
