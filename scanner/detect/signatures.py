"""Identifier signatures: the data in ``signatures/identifiers/`` that says what each
identifier type looks like and which key names announce it.

One YAML file per identifier type (``type:``), plus three shared files:
``negative_keys.yaml`` (keys under which a shape alone never makes an
identifier), ``operator_headers.yaml`` (header enrichment by type) and the
tables in ``tables/``.  Files are parsed safely and checked by hand; an error
names the file and line.  Every file carries ``examples`` (match and
no_match), which the test suite runs through the detector.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.datafiles import LineDict, LineList, line_of, load_yaml
from scanner.detect.keys import key_forms
from scanner.errors import SignatureError
from scanner.knowledge.identifiers import IDENTIFIER_TYPES
from scanner.knowledge.validators import VALIDATORS, Validator
from scanner.results import SignatureFile

# What an identifier is, for the policy: hardware and subscriber ids cannot be reset by the user.
CLASSES = ("hardware", "subscriber", "device", "advertising", "contact", "location", "device_name", "cookie", "operator")
VALUE_KINDS = ("digits", "phone", "uuid", "hex", "mac", "email", "text")

_TOP_KEYS = {
    "type", "title", "class", "persistent", "contact", "keys", "key_suffixes", "shapes", "examples",
    # code-backed types keep their own data here
    "lat_keys", "lon_keys", "pair_keys", "min_decimals", "cookies", "prefixes", "parameters",
}
_SHAPE_KEYS = {"kinds", "validator", "keys", "needs_key", "confidence", "case", "hashed"}
_EXAMPLE_KEYS = {"key", "value", "location", "normalised", "host"}
_SHARED_FILES = {"negative_keys.yaml", "operator_headers.yaml"}


@dataclass(frozen=True, slots=True)
class Shape:
    kinds: frozenset[str]
    validator_name: str
    validator: Validator
    keys: frozenset[str] | None  # None: the signature's keys
    needs_key: bool
    confidence: float
    case: str | None  # "lower" / "upper": the letters' case tells this type from a look-alike
    hashed: bool


@dataclass(frozen=True, slots=True)
class Example:
    key: str | None
    value: str
    location: str
    normalised: str | None
    match: bool
    line: int | None
    host: str | None = None  # the request's host, for IDs that count only towards their vendor


@dataclass(frozen=True, slots=True)
class IdentifierSignature:
    type: str
    title: str
    id_class: str
    persistent: bool
    contact: bool
    keys: frozenset[str]
    key_suffixes: frozenset[str]
    shapes: tuple[Shape, ...]
    examples: tuple[Example, ...]
    source: str
    data: dict[str, Any] = field(default_factory=dict)  # the code-backed types' own lists


@dataclass(frozen=True, slots=True)
class IdentifierSignatures:
    by_type: dict[str, IdentifierSignature]
    negative_keys: frozenset[str]
    operator_headers: dict[str, str]  # lower-case header name -> identifier type
    files: tuple[SignatureFile, ...]

    def signature(self, id_type: str) -> IdentifierSignature:
        return self.by_type[id_type]


def _normal_keys(values: Iterable[Any]) -> frozenset[str]:
    out: set[str] = set()
    for value in values:
        forms = key_forms(str(value))
        if forms:
            out.add(forms[0])
    return frozenset(out)


def load_identifier_signatures(root: str | Path) -> IdentifierSignatures:
    directory = Path(root) / "identifiers"
    if not directory.is_dir():
        raise SignatureError(directory, None, "no identifiers/ directory in the signatures")
    by_type: dict[str, IdentifierSignature] = {}
    files: list[SignatureFile] = []
    negative: frozenset[str] = frozenset()
    operator_headers: dict[str, str] = {}
    for path in sorted(directory.glob("*.yaml")):
        data = path.read_bytes()
        files.append(SignatureFile(str(path), hashlib.sha256(data).hexdigest()))
        document = load_yaml(path, SignatureError, data.decode("utf-8", "replace"))
        if not isinstance(document, LineDict):
            raise SignatureError(path, None, "expected a mapping at the top of the file")
        if path.name == "negative_keys.yaml":
            negative = _normal_keys(_list(document, "keys", path))
        elif path.name == "operator_headers.yaml":
            headers = document.get("headers")
            if not isinstance(headers, LineDict):
                raise SignatureError(path, line_of(document), "'headers' must map identifier types to header names")
            for id_type in headers:
                if id_type not in IDENTIFIER_TYPES:
                    raise SignatureError(path, line_of(headers, id_type), f"unknown identifier type {id_type!r}")
                for name in _list(headers, id_type, path):
                    operator_headers[str(name).lower()] = id_type
        else:
            signature = _parse_signature(path, document)
            if signature.type in by_type:
                raise SignatureError(path, line_of(document, "type"), f"type {signature.type!r} is also declared in {by_type[signature.type].source}")
            by_type[signature.type] = signature
    missing = [t for t in IDENTIFIER_TYPES if t not in by_type]
    if missing:
        raise SignatureError(directory, None, f"no signature for identifier types: {', '.join(missing)}")
    return IdentifierSignatures(by_type, negative, operator_headers, tuple(files))


def _list(container: LineDict, key: str, path: Path) -> LineList:
    value = container.get(key)
    if not isinstance(value, LineList):
        raise SignatureError(path, line_of(container, key), f"{key!r} must be a list")
    return value


def _parse_signature(path: Path, doc: LineDict) -> IdentifierSignature:
    unknown = set(doc) - _TOP_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise SignatureError(path, line_of(doc, key), f"unknown key {key!r}")
    id_type = doc.get("type")
    if id_type not in IDENTIFIER_TYPES:
        raise SignatureError(path, line_of(doc, "type"), f"'type' must be one of {', '.join(IDENTIFIER_TYPES)}")
    id_class = doc.get("class")
    if id_class not in CLASSES:
        raise SignatureError(path, line_of(doc, "class"), f"'class' must be one of {', '.join(CLASSES)}")
    title = doc.get("title")
    if not isinstance(title, str) or not title:
        raise SignatureError(path, line_of(doc, "title"), "'title' is required")
    keys = _normal_keys(_list(doc, "keys", path)) if "keys" in doc else frozenset()
    suffixes = _normal_keys(doc.get("key_suffixes") or [])
    shapes = tuple(_parse_shape(path, s, i, doc) for i, s in enumerate(doc.get("shapes") or []))
    examples = _parse_examples(path, doc)
    data = {k: doc[k] for k in ("lat_keys", "lon_keys", "pair_keys", "min_decimals", "cookies", "prefixes", "parameters") if k in doc}
    for key in ("lat_keys", "lon_keys", "pair_keys"):
        if key in data:
            data[key] = _normal_keys(_list(doc, key, path))
    for key in ("cookies", "prefixes", "parameters"):
        if key in data:
            for entry in _list(doc, key, path):
                if not isinstance(entry, LineDict):
                    raise SignatureError(path, line_of(doc, key), f"each entry of {key!r} must be a mapping")
                for expression in ("strip", "match"):
                    if expression in entry:
                        try:
                            re.compile(str(entry[expression]))
                        except re.error as exc:
                            raise SignatureError(path, line_of(entry, expression), f"bad regular expression: {exc}") from None
                if entry.get("type", "cookie_id") not in ("cookie_id", "user_id", "device_id"):
                    raise SignatureError(path, line_of(entry, "type"), "a tracker ID's 'type' is cookie_id, user_id or device_id")
    return IdentifierSignature(
        type=id_type,
        title=title,
        id_class=id_class,
        persistent=bool(doc.get("persistent", True)),
        contact=bool(doc.get("contact", False)),
        keys=keys,
        key_suffixes=suffixes,
        shapes=shapes,
        examples=examples,
        source=str(path),
        data=data,
    )


def _parse_shape(path: Path, shape: Any, index: int, doc: LineDict) -> Shape:
    where = line_of(doc.get("shapes"), index)
    if not isinstance(shape, LineDict):
        raise SignatureError(path, where, "each shape must be a mapping")
    unknown = set(shape) - _SHAPE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise SignatureError(path, line_of(shape, key), f"unknown shape key {key!r}")
    kinds = shape.get("kinds")
    if not isinstance(kinds, list) or not kinds or any(k not in VALUE_KINDS for k in kinds):
        raise SignatureError(path, line_of(shape, "kinds"), f"'kinds' must list some of {', '.join(VALUE_KINDS)}")
    name = shape.get("validator")
    if name not in VALIDATORS:
        raise SignatureError(path, line_of(shape, "validator"), f"unknown validator {name!r} (known: {', '.join(sorted(VALIDATORS))})")
    confidence = shape.get("confidence", 0.8)
    if not isinstance(confidence, (int, float)) or not 0 < confidence <= 1:
        raise SignatureError(path, line_of(shape, "confidence"), "'confidence' must be in (0, 1]")
    case = shape.get("case")
    if case not in (None, "lower", "upper"):
        raise SignatureError(path, line_of(shape, "case"), "'case' must be lower or upper")
    return Shape(
        kinds=frozenset(kinds),
        validator_name=name,
        validator=VALIDATORS[name],
        keys=_normal_keys(shape["keys"]) if "keys" in shape else None,
        needs_key=bool(shape.get("needs_key", False)),
        confidence=float(confidence),
        case=case,
        hashed=bool(shape.get("hashed", False)),
    )


def _parse_examples(path: Path, doc: LineDict) -> tuple[Example, ...]:
    examples = doc.get("examples")
    if not isinstance(examples, LineDict) or not examples.get("match") or not examples.get("no_match"):
        raise SignatureError(path, line_of(doc, "examples"), "'examples' must give 'match' and 'no_match' lists")
    out: list[Example] = []
    for kind in ("match", "no_match"):
        items = _list(examples, kind, path)
        for i, item in enumerate(items):
            if not isinstance(item, LineDict) or "value" not in item:
                raise SignatureError(path, line_of(items, i), "an example needs at least a 'value'")
            unknown = set(item) - _EXAMPLE_KEYS
            if unknown:
                raise SignatureError(path, line_of(items, i), f"unknown example key {sorted(unknown)[0]!r}")
            out.append(
                Example(
                    key=None if item.get("key") is None else str(item["key"]),
                    value=str(item["value"]),
                    location=str(item.get("location", "query")),
                    normalised=None if item.get("normalised") is None else str(item["normalised"]),
                    match=kind == "match",
                    line=line_of(items, i),
                    host=None if item.get("host") is None else str(item["host"]),
                )
            )
    return tuple(out)
