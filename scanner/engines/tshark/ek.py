"""Reading tshark's EK output (``-T ek``): layers, fields, raw bytes.

EK layout (tshark 4.x): ``{"timestamp", "layers": {name: layer}}`` where a
layer is a dict of flattened fields named ``<proto>_<field with . as _>``
(``dns_dns_qry_name``), and a protocol that occurs twice in a frame (a
tunnel's inner IP, two HTTP requests in one segment) is a list of such
dicts.  A field that occurs once is a scalar, more than once a list.
Protocols that a dissector nests inside its own tree (TLS inside QUIC, IPCP
inside GTP) are dicts inside the parent layer.  The helpers below hide the
scalar-or-list difference.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from scanner.decode.protocols.http import header_text

Layer = Mapping[str, Any]


# --------------------------------------------------------------------------- reading EK


def layers_named(layers: Layer, name: str) -> list[Layer]:
    """Every instance of a protocol in a frame, in order, top-level or nested in another layer."""
    found = _as_list(layers.get(name))
    if not found:
        for value in layers.values():
            for parent in _as_list(value):
                if isinstance(parent, Mapping) and name in parent:
                    found.extend(_as_list(parent[name]))
    return [layer for layer in found if isinstance(layer, Mapping)]


def values(layer: Layer, key: str) -> list[Any]:
    """A field's values in tree order (a field that occurs once is a scalar in EK)."""
    value = layer.get(key)
    if value is None:
        return []
    return value if type(value) is list else [value]


def first(layer: Layer, key: str) -> Any:
    value = layer.get(key)
    if isinstance(value, list):
        return value[0] if value else None
    return value


def text(layer: Layer, key: str) -> str | None:
    value = first(layer, key)
    return None if value is None else str(value)


def integer(value: Any) -> int | None:
    """tshark prints integers in decimal or, for hex-displayed fields, as ``0x...``."""
    if type(value) is str:
        # The common case first: this runs for every count, type and port of every record.
        try:
            return int(value)
        except ValueError:
            pass
        try:
            token = value.strip()
            return int(token, 16) if token[:2].lower() == "0x" else int(token)
        except ValueError:
            return None
    if value is None or isinstance(value, bool):
        return None
    return value if isinstance(value, int) else None


def integers(layer: Layer, key: str) -> list[int]:
    out: list[int] = []
    for value in values(layer, key):
        number = integer(value)
        if number is not None:
            out.append(number)
    return out


def first_int(layer: Layer, key: str) -> int | None:
    return integer(first(layer, key))


def flag(value: Any) -> bool:
    """A boolean field: EK writes ``true``/``false``, JSON-style output ``"1"``/``"0"``."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true")


def raw_values(layer: Layer, key: str) -> list[bytes]:
    """The bytes each instance of a field was dissected from (``-x``), in order."""
    out: list[bytes] = []
    for value in values(layer, key + "_raw"):
        data = hex_bytes(value)
        if data is not None:
            out.append(data)
    return out


def raw(layer: Layer, key: str) -> bytes | None:
    found = raw_values(layer, key)
    return found[0] if found else None


def hex_bytes(value: Any) -> bytes | None:
    """Bytes from tshark's hex: ``"0a0b"`` (raw) or ``"0a:0b"`` (an FT_BYTES field's value)."""
    if isinstance(value, list):
        # JSON-style raw: [hex, offset, length, bitmask, type]
        value = value[0] if value else None
    if not isinstance(value, str):
        return None
    try:
        return bytes.fromhex(value.replace(":", ""))
    except ValueError:
        return None


def string_field(layer: Layer, key: str) -> str | None:
    """A string field from its raw bytes when tshark gave them (exact, read as header octets
    are: UTF-8, else latin-1), else as tshark printed it."""
    data = raw(layer, key)
    if data is not None:
        return header_text(data)
    return text(layer, key)


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def iter_ek_lines(data: bytes) -> Iterator[bytes]:
    """The packet lines of EK output (tshark interleaves ``{"index": ...}`` lines for Elasticsearch)."""
    for line in data.splitlines():
        if line and not line.startswith(b'{"index"'):
            yield line
