"""Known values: every identifier the inventory lists, searched in every form apps send it.

Each value is expanded into its encoded forms (upper/lower case, without
dashes or colons, URL-encoded once or twice, base64, hex of its text, and
md5/sha1/sha256 of the value and of its normalised form: lower-case e-mail,
digits-only phone, lower-case GAID and MAC, upper-case IDFA), and all forms of
all devices go into two Aho-Corasick automata (pyahocorasick): one matched on
lower-cased text, one case-sensitive for base64.  A field is searched in one
pass whatever the number of devices.  A match must stand on its own (not be
part of a longer run of the same character class), so an IMEI inside a longer
number does not count.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import quote

import ahocorasick

from scanner.knowledge.identifiers import identifier_type, normalise_identifier
from scanner.knowledge.inventory import Inventory

_DIGITS = frozenset("0123456789")
_HEX = frozenset("0123456789abcdef")
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_EMAIL_LOCAL = _ALNUM | frozenset("._%+-")
MIN_PATTERN = 6


@dataclass(frozen=True, slots=True)
class KnownForm:
    owner: str  # device id
    id_type: str
    value: str  # normalised
    encoding: str  # plain | upper | lower | nodash | md5 | sha1 | sha256 | base64 | hex | e164_noplus | ...
    boundary: frozenset[str]  # characters that must not touch the match on either side


@dataclass(frozen=True, slots=True)
class KnownMatch:
    form: KnownForm
    start: int
    end: int
    text: str  # the matched text as it was in the field


def _hashes(text: str) -> Iterator[tuple[str, str]]:
    data = text.encode("utf-8")
    yield hashlib.md5(data, usedforsecurity=False).hexdigest(), "md5"
    yield hashlib.sha1(data, usedforsecurity=False).hexdigest(), "sha1"
    yield hashlib.sha256(data).hexdigest(), "sha256"


def _b64_forms(text: str) -> Iterator[str]:
    raw = text.encode("utf-8")
    standard = base64.b64encode(raw).decode("ascii")
    yield standard
    yield standard.rstrip("=")
    urlsafe = base64.urlsafe_b64encode(raw).decode("ascii")
    if urlsafe != standard:
        yield urlsafe.rstrip("=")


def forms_of(id_type: str, raw: str) -> Iterator[tuple[str, str, bool]]:
    """(form, encoding, case_sensitive) for one inventory value."""
    record = identifier_type(id_type)
    normal = record.normalise(raw.strip())
    if normal is None:
        return
    plain: tuple[str, ...] = (raw.strip(), normal)
    hash_inputs: tuple[str, ...] = (normal, raw.strip())
    if record.known_forms is not None:
        forms = record.known_forms(raw, normal)
        yield from forms.extra
        plain = forms.plain if forms.plain is not None else plain
        hash_inputs = forms.hash_inputs if forms.hash_inputs is not None else hash_inputs
    for value in dict.fromkeys(plain):
        yield value, "plain", False
        yield quote(value, safe=""), "url", False
        yield quote(quote(value, safe=""), safe=""), "url2", False
        yield value.encode("utf-8").hex(), "hex", False
        for b64 in _b64_forms(value):
            yield b64, "base64", True
    for value in dict.fromkeys(hash_inputs):
        for digest, name in _hashes(value):
            yield digest, name, False
        for b64 in _b64_forms(value):
            yield b64, "base64", True


def _boundary(form: str, id_type: str) -> frozenset[str]:
    """What may not touch a match: the character class the form itself is made of."""
    lowered = form.lower()
    if set(lowered) <= _DIGITS:
        return _DIGITS
    if set(lowered) <= _HEX:
        return _HEX
    if identifier_type(id_type).email_like and "@" in form:
        return _EMAIL_LOCAL
    return _ALNUM


class KnownValues:
    """All inventory values of all devices, searchable in one pass per field."""

    def __init__(self, inventory: Inventory) -> None:
        self._folded = ahocorasick.Automaton()
        self._exact = ahocorasick.Automaton()
        self.patterns = 0
        folded: dict[str, list[KnownForm]] = {}
        exact: dict[str, list[KnownForm]] = {}
        for device in inventory.devices:
            for id_type, values in device.identifiers.items():
                for raw in values:
                    normal = normalise_identifier(id_type, raw)
                    if normal is None:
                        continue
                    for form, encoding, case_sensitive in forms_of(id_type, raw):
                        if len(form) < MIN_PATTERN:
                            continue
                        known = KnownForm(device.id, id_type, normal, encoding, _boundary(form, id_type))
                        table = exact if case_sensitive else folded
                        key = form if case_sensitive else form.lower()
                        entries = table.setdefault(key, [])
                        if all((e.owner, e.id_type) != (known.owner, known.id_type) for e in entries):
                            entries.append(known)
        for table, automaton in ((folded, self._folded), (exact, self._exact)):
            for key, entries in table.items():
                automaton.add_word(key, (len(key), tuple(entries)))
                self.patterns += 1
            if table:
                automaton.make_automaton()
        self._has_folded = bool(folded)
        self._has_exact = bool(exact)

    def __bool__(self) -> bool:
        return self._has_folded or self._has_exact

    def find(self, text: str) -> list[KnownMatch]:
        matches: list[KnownMatch] = []
        if self._has_folded:
            lowered = text.lower()
            if len(lowered) == len(text):  # case folding kept offsets (true but for rare scripts)
                self._collect(self._folded, lowered, text, matches)
        if self._has_exact:
            self._collect(self._exact, text, text, matches)
        return matches

    @staticmethod
    def _collect(automaton: ahocorasick.Automaton, haystack: str, original: str, out: list[KnownMatch]) -> None:
        for end, (length, entries) in automaton.iter(haystack):
            start = end - length + 1
            before = haystack[start - 1] if start > 0 else ""
            after = haystack[end + 1] if end + 1 < len(haystack) else ""
            for entry in entries:
                if (before.lower() in entry.boundary and before) or (after.lower() in entry.boundary and after):
                    continue
                out.append(KnownMatch(entry, start, end + 1, original[start : end + 1]))
