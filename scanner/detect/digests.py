"""Hashed identifiers recognised by what they hash: the md5/sha1/sha256 of an identifier the same
subject sent in clear elsewhere in the capture.

SDKs hash hardware and advertising IDs and send them under names that do not say whose they are
(``aid``, ``X-Device-Id``, Mintegral's ``aidm``): a 32-hex value under a generic key is nothing by
itself.  But once the subject's Android ID or GAID has been seen in clear, its digests are known:
the digest is that identifier, hashed (encoding ``md5``/``sha1``/``sha256``), and it links the two
receivers as the clear value would.  The digest may come first: it then waits (bounded) until the
clear value arrives.

Only types that a person cannot change or that follow a device are learned (hardware, subscriber,
advertising and contact IDs); forms hashed: the value as normalised, upper and lower case, and
without separators.  Memory: at most ``max_subjects`` subjects (least recent evicted, counted),
``MAX_IDENTIFIERS`` learned identifiers and ``MAX_PENDING`` waiting digests each,
``MAX_TOTAL_PENDING`` waiting digests in all.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")

LEARNED_TYPES = frozenset({"imei", "imsi", "msisdn", "iccid", "mac", "serial", "android_id", "gaid", "idfa", "idfv",
                           "email", "device_id"})
ALGORITHMS = {32: "md5", 40: "sha1", 64: "sha256"}
MAX_IDENTIFIERS = 64
MAX_PENDING = 64
MAX_SUBJECTS = 50_000
MAX_TOTAL_PENDING = 50_000
_HEX_DIGEST = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")


def is_digest(value: str) -> bool:
    return len(value) in ALGORITHMS and bool(_HEX_DIGEST.match(value.lower()))


def digests_of(value: str) -> dict[str, str]:
    """hex digest -> algorithm, for the forms of a value SDKs hash."""
    forms = {value, value.lower(), value.upper(), value.replace("-", "").replace(":", ""),
             value.replace("-", "").replace(":", "").upper()}
    out: dict[str, str] = {}
    for form in forms:
        data = form.encode("utf-8")
        out[hashlib.md5(data, usedforsecurity=False).hexdigest()] = "md5"
        out[hashlib.sha1(data, usedforsecurity=False).hexdigest()] = "sha1"
        out[hashlib.sha256(data).hexdigest()] = "sha256"
    return out


@dataclass(frozen=True, slots=True)
class DigestMatch:
    id_type: str
    value: str  # the identifier in clear (normalised)
    algorithm: str


@dataclass(slots=True)
class _Subject(Generic[T]):
    known: dict[str, DigestMatch] = field(default_factory=dict)  # digest -> what it hashes
    identifiers: set[tuple[str, str]] = field(default_factory=set)
    pending: dict[str, list[T]] = field(default_factory=dict)  # digest -> sightings waiting for it
    pending_count: int = 0


class LearnedDigests(Generic[T]):
    def __init__(self, max_subjects: int = MAX_SUBJECTS) -> None:
        self.max_subjects = max_subjects
        self.evicted = 0
        self.pending = 0
        self._subjects: OrderedDict[str, _Subject[T]] = OrderedDict()

    def _subject(self, subject: str) -> _Subject[T]:
        record = self._subjects.get(subject)
        if record is None:
            if len(self._subjects) >= self.max_subjects:
                _, old = self._subjects.popitem(last=False)
                self.pending -= old.pending_count
                self.evicted += 1
            record = self._subjects[subject] = _Subject()
        else:
            self._subjects.move_to_end(subject)
        return record

    def learn(self, subject: str, id_type: str, value: str) -> list[tuple[DigestMatch, T]]:
        """Learn an identifier seen in clear; returns the waiting digests it explains."""
        if id_type not in LEARNED_TYPES:
            return []
        record = self._subject(subject)
        if (id_type, value) in record.identifiers or len(record.identifiers) >= MAX_IDENTIFIERS:
            return []
        record.identifiers.add((id_type, value))
        out: list[tuple[DigestMatch, T]] = []
        for digest, algorithm in digests_of(value).items():
            match = DigestMatch(id_type, value, algorithm)
            record.known.setdefault(digest, match)
            waiting = record.pending.pop(digest, None)
            if waiting:
                record.pending_count -= len(waiting)
                self.pending -= len(waiting)
                out.extend((match, item) for item in waiting)
        return out

    def match(self, subject: str, digest: str, payload: T) -> DigestMatch | None:
        """What a digest hashes, if the subject sent it in clear; else the sighting waits."""
        digest = digest.lower()
        record = self._subject(subject)
        found = record.known.get(digest)
        if found is None and record.pending_count < MAX_PENDING and self.pending < MAX_TOTAL_PENDING:
            record.pending.setdefault(digest, []).append(payload)
            record.pending_count += 1
            self.pending += 1
        return found
