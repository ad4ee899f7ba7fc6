"""The baseline: findings a person reviewed and accepted, by fingerprint, in ``privscan-baseline.yaml``.

Like a code scanner's baseline (detect-secrets), it lets a scheduled audit
fail only on what is new: findings in the baseline are reported as
"baselined" and never fail a run.  It is meant to live in version control, so
it is written to diff cleanly:

- one entry per finding, sorted by subject, identifier type, host and id;
- only what identifies the finding and why it was accepted: ``id`` (the
  fingerprint), ``rule``, ``subject``, ``type``, ``host``, ``who``, ``why``;
- no timestamps, frame numbers, counts or severities (they change from run
  to run and would make every audit rewrite the file);
- the same input always gives the same bytes.

::

    # privscan baseline: ...
    version: 1
    hmac_key_id: "9f86d081884c7d65"
    findings:
      - id: "be26f67c75a3c5bd7394"
        rule: "PS101"
        subject: "kid-tablet-01"
        type: "imei"
        host: "t.appsflyer.com"
        who: "alice"
        why: "vendor SDK; ticket LAB-12 to remove it"

Fingerprints are keyed by the HMAC key (a finding's id hashes the value's
HMAC), so the baseline records the key's id: a baseline made under another
key cannot match and the audit says so.  ``update`` adds the findings that
are new, drops the ones no longer seen, and keeps each kept entry's who/why.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from scanner.datafiles import LineDict, LineList, line_of, load_yaml
from scanner.errors import ConfigError
from scanner.model import Finding

BASELINE_VERSION = 1
DEFAULT_BASELINE = "privscan-baseline.yaml"
DEFAULT_WHY = "accepted when the baseline was taken; review"

_ENTRY_KEYS = ("id", "rule", "subject", "type", "host", "who", "why")
_HEADER = (
    "# privscan baseline: findings reviewed and accepted, by fingerprint (privscan baseline create|update).\n"
    "# An audit reports these as baselined and does not fail on them. Edit who/why freely: update keeps them.\n"
    "# No timestamps or frame numbers: the same findings always give the same file.\n"
)


@dataclass(frozen=True, slots=True)
class BaselineEntry:
    id: str
    rule: str
    subject: str
    type: str | None
    host: str
    who: str
    why: str

    @classmethod
    def of(cls, finding: FindingKey, who: str, why: str) -> BaselineEntry:
        return cls(finding.id, finding.rule, finding.subject, finding.type, finding.host, who, why)

    def sort_key(self) -> tuple[str, str, str, str]:
        return (self.subject, self.type or "", self.host, self.id)


@dataclass(frozen=True, slots=True)
class FindingKey:
    """What a baseline needs of a finding, from a scan or from the history."""

    id: str
    rule: str
    subject: str
    type: str | None
    host: str

    @classmethod
    def of(cls, finding: Finding) -> FindingKey:
        identifier = finding.identifier
        return cls(finding.id, finding.rule, finding.subject.id, identifier.type if identifier else None, finding.destination.host)


@dataclass(frozen=True, slots=True)
class Baseline:
    entries: tuple[BaselineEntry, ...]
    hmac_key_id: str | None = None

    def ids(self) -> frozenset[str]:
        return frozenset(entry.id for entry in self.entries)

    def render(self) -> str:
        """The file's text: stable, sorted, every string quoted (JSON strings are valid YAML)."""
        lines = [_HEADER.rstrip("\n"), f"version: {BASELINE_VERSION}"]
        if self.hmac_key_id:
            lines.append(f"hmac_key_id: {_quote(self.hmac_key_id)}")
        if not self.entries:
            lines.append("findings: []")
            return "\n".join(lines) + "\n"
        lines.append("findings:")
        for entry in sorted(self.entries, key=BaselineEntry.sort_key):
            lines.append(f"  - id: {_quote(entry.id)}")
            lines.append(f"    rule: {_quote(entry.rule)}")
            lines.append(f"    subject: {_quote(entry.subject)}")
            lines.append(f"    type: {'null' if entry.type is None else _quote(entry.type)}")
            lines.append(f"    host: {_quote(entry.host)}")
            lines.append(f"    who: {_quote(entry.who)}")
            lines.append(f"    why: {_quote(entry.why)}")
        return "\n".join(lines) + "\n"


def _quote(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)


def create(findings: Iterable[FindingKey], who: str, why: str, hmac_key_id: str | None) -> Baseline:
    """A baseline that accepts every finding given."""
    unique = {f.id: f for f in findings}
    return Baseline(tuple(BaselineEntry.of(f, who, why) for f in unique.values()), hmac_key_id)


@dataclass(frozen=True, slots=True)
class BaselineUpdate:
    baseline: Baseline
    added: tuple[BaselineEntry, ...]
    dropped: tuple[BaselineEntry, ...]
    kept: tuple[BaselineEntry, ...]


def update(old: Baseline, findings: Iterable[FindingKey], who: str, why: str, hmac_key_id: str | None) -> BaselineUpdate:
    """Accept what is new, drop what is gone, keep the rest with its who/why (rule/subject/host refreshed)."""
    current = {f.id: f for f in findings}
    previous = {entry.id: entry for entry in old.entries}
    kept = tuple(
        replace(previous[fid], rule=f.rule, subject=f.subject, type=f.type, host=f.host)
        for fid, f in current.items()
        if fid in previous
    )
    added = tuple(BaselineEntry.of(f, who, why) for fid, f in current.items() if fid not in previous)
    dropped = tuple(entry for fid, entry in previous.items() if fid not in current)
    return BaselineUpdate(Baseline((*kept, *added), hmac_key_id or old.hmac_key_id), added, dropped, kept)


def write_baseline(baseline: Baseline, path: str | os.PathLike[str]) -> None:
    """Write atomically (temporary file + rename): a reader never sees half a baseline."""
    write_atomically(Path(path), baseline.render().encode("utf-8"))


def write_atomically(path: Path, data: bytes) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        raise


def load_baseline(path: str | os.PathLike[str]) -> Baseline:
    """Read a baseline; ``ConfigError`` with file:line when it is not one."""
    path = Path(path)
    document = load_yaml(path)
    if not isinstance(document, LineDict):
        raise ConfigError(path, line_of(document), "a baseline is a mapping with 'version' and 'findings'")
    unknown = sorted(set(document) - {"version", "hmac_key_id", "findings"}, key=str)
    if unknown:
        raise ConfigError(path, line_of(document, unknown[0]), f"unknown key {unknown[0]!r}")
    version = document.get("version")
    if version != BASELINE_VERSION:
        raise ConfigError(path, line_of(document, "version"), f"unsupported baseline version {version!r} (this privscan reads {BASELINE_VERSION})")
    key_id = document.get("hmac_key_id")
    if key_id is not None and not isinstance(key_id, str):
        raise ConfigError(path, line_of(document, "hmac_key_id"), "'hmac_key_id' must be a string")
    items = document.get("findings")
    if items is None:
        items = LineList()
    if not isinstance(items, list):
        raise ConfigError(path, line_of(document, "findings"), "'findings' must be a list")
    entries: list[BaselineEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(items):
        where = items.line_of(index) if isinstance(items, LineList) else None
        if not isinstance(item, LineDict):
            raise ConfigError(path, where, "each baseline entry must be a mapping with an 'id'")
        bad = sorted(set(item) - set(_ENTRY_KEYS), key=str)
        if bad:
            raise ConfigError(path, line_of(item, bad[0]), f"unknown key {bad[0]!r} in a baseline entry")
        fid = item.get("id")
        if not isinstance(fid, str) or not fid.strip():
            raise ConfigError(path, where, "a baseline entry needs the finding's 'id' (its fingerprint)")
        fid = fid.strip()
        if fid in seen:
            raise ConfigError(path, line_of(item, "id"), f"finding {fid} is in the baseline twice")
        seen.add(fid)
        values: dict[str, str | None] = {}
        for key in ("rule", "subject", "type", "host", "who", "why"):
            value = item.get(key)
            if value is not None and not isinstance(value, (str, int, float)):
                raise ConfigError(path, line_of(item, key), f"{key!r} must be text")
            values[key] = None if value is None else str(value)
        entries.append(
            BaselineEntry(
                id=fid,
                rule=values["rule"] or "",
                subject=values["subject"] or "",
                type=values["type"],
                host=values["host"] or "",
                who=values["who"] or "",
                why=values["why"] or "",
            )
        )
    return Baseline(tuple(entries), key_id)


__all__ = [
    "DEFAULT_BASELINE",
    "DEFAULT_WHY",
    "Baseline",
    "BaselineEntry",
    "BaselineUpdate",
    "FindingKey",
    "create",
    "load_baseline",
    "update",
    "write_atomically",
    "write_baseline",
]
