"""Identifier detection by shape and key name, driven by ``signatures/identifiers/``.

A value is first classified by its characters (digits, phone, UUID, hex, MAC,
e-mail, text), so only the shapes declared for that kind are tried: a field
costs a few string tests, not one regular expression per identifier type.
Then, per shape: the validator must accept the value (Luhn, MCC table,
country code, not the opted-out all-zero UUID...), the key must announce the
type when the shape says it needs one, and a shape-only match under a
negative key (a timestamp, a trace id) is dropped.  A key that names the type
beats a shape alone; of several candidates the most confident wins: one value
is one identifier.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.detect.keys import key_forms, key_matches
from scanner.detect.signatures import IdentifierSignature, IdentifierSignatures, Shape
from scanner.knowledge.validators import is_timestamp

_UUID = re.compile(r"^\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?$")
_HEX = re.compile(r"^[0-9a-fA-F]+$")
_MAC = re.compile(r"^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$|^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")
_PHONE = re.compile(r"^(?:\+|00|0)[\d\s().\-/]{7,20}$")
_EMAIL_IN_TEXT = re.compile(r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}(?![A-Za-z0-9-])")
_PHONE_IN_TEXT = re.compile(r"(?<![\w+])\+\d{1,3}[\s-]?\d[\d\s-]{6,16}\d(?!\d)")

MIN_VALUE = 6
MAX_VALUE = 256


def value_kinds(value: str) -> tuple[str, ...]:
    """What a value looks like, cheapest tests first."""
    if value.isdigit():
        return ("digits", "hex") if len(value) in (16, 32, 40, 64) else ("digits",)
    first = value[0]
    if first == "+" and value[1:].isdigit():
        return ("phone",)
    if "@" in value:
        return ("email",) if " " not in value else ("text",)
    n = len(value)
    if n in (36, 38) and _UUID.match(value):
        return ("uuid",)
    if _HEX.match(value):
        return ("hex",)
    if n in (14, 17) and _MAC.match(value):
        return ("mac",)
    if first in "+0" and _PHONE.match(value):
        return ("phone",)
    return ("text",)


@dataclass(frozen=True, slots=True)
class Candidate:
    id_type: str
    value: str  # normalised
    confidence: float
    key_matched: bool
    hashed: bool = False


class PatternDetector:
    def __init__(self, signatures: IdentifierSignatures) -> None:
        self.negative_keys = signatures.negative_keys
        self._by_kind: dict[str, list[tuple[IdentifierSignature, Shape]]] = {}
        for signature in signatures.by_type.values():
            for shape in signature.shapes:
                for kind in shape.kinds:
                    self._by_kind.setdefault(kind, []).append((signature, shape))

    def best(self, key: str | None, value: str) -> Candidate | None:
        """The identifier this (key, value) is, if any."""
        value = value.strip()
        if not MIN_VALUE <= len(value) <= MAX_VALUE:
            return None
        forms = key_forms(key)
        # Without a telling key, a value under a negative key or that is a timestamp is nothing.
        unkeyed_allowed = not (forms and forms[0] in self.negative_keys) and not is_timestamp(value)
        best: Candidate | None = None
        for kind in value_kinds(value):
            for signature, shape in self._by_kind.get(kind, ()):
                keyed = bool(forms) and key_matches(
                    key, shape.keys if shape.keys is not None else signature.keys, signature.key_suffixes
                )
                if not keyed and (shape.needs_key or not unkeyed_allowed):
                    continue
                if shape.case is not None and not _case_ok(value, shape.case):
                    continue
                normalised = shape.validator(value)
                if normalised is None:
                    continue
                candidate = Candidate(signature.type, normalised, shape.confidence, keyed, shape.hashed)
                if best is None or (candidate.key_matched, candidate.confidence) > (best.key_matched, best.confidence):
                    best = candidate
        return best

    def in_text(self, text: str) -> list[Candidate]:
        """Identifiers written inside free text (e-mail addresses, +<country> phone numbers)."""
        found: list[Candidate] = []
        if "@" in text:
            for match in _EMAIL_IN_TEXT.finditer(text):
                candidate = self.best("email", match.group())
                if candidate is not None:
                    found.append(Candidate("email", candidate.value, 0.9, False))
        if "+" in text:
            for match in _PHONE_IN_TEXT.finditer(text):
                candidate = self.best(None, re.sub(r"[\s-]", "", match.group()))
                if candidate is not None and candidate.id_type == "msisdn":
                    found.append(candidate)
        return found


def _case_ok(value: str, case: str) -> bool:
    """Whether the letters of a value are all of one case (digits-only passes both)."""
    if case == "lower":
        return not any("A" <= c <= "Z" for c in value)
    return not any("a" <= c <= "z" for c in value)
