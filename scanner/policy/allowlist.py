"""The user's allow-list: accepted findings, with the reason the report shows.

    allow:
      - org: Duolingo                 # selectors: rule, org, host, domain, subject, finding (all given must match)
        kind: first_party             # first_party | processor | accepted_risk
        reason: "the child's own language course; DPA 2024-03"
      - rule: PS102
        host: api.mixpanel.com
        kind: processor
        reason: contracted analytics processor

An entry that names a ``rule`` lifts that rule from the findings it selects
(the finding keeps its other rules); an entry without one accepts the whole
finding.  Accepted findings stay in the report, marked, and never fail a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from scanner.datafiles import LineDict, LineList, line_of, load_yaml
from scanner.errors import ConfigError

KINDS = ("first_party", "processor", "accepted_risk")
_SELECTORS = ("rule", "org", "host", "domain", "subject", "finding")


@dataclass(frozen=True, slots=True)
class AllowEntry:
    rule: str | None
    org: str | None
    host: str | None
    domain: str | None
    subject: str | None
    finding: str | None
    kind: str
    reason: str

    def selects(self, finding_id: str, subject: str, org: str | None, host: str, domain: str | None) -> bool:
        return (
            (self.finding is None or self.finding == finding_id)
            and (self.subject is None or self.subject == subject)
            and (self.org is None or (org is not None and self.org.lower() == org.lower()))
            and (self.host is None or self.host.lower() == host.lower())
            and (self.domain is None or (domain is not None and self.domain.lower() == domain.lower()))
        )

    def describe(self) -> str:
        return f"{self.kind}: {self.reason}"


def load_allowlist(path: str | Path) -> tuple[AllowEntry, ...]:
    path = Path(path)
    document = load_yaml(path)
    if not isinstance(document, LineDict) or not isinstance(document.get("allow"), LineList):
        raise ConfigError(path, line_of(document), "an allow-list is a mapping with an 'allow' list")
    entries = []
    for index, item in enumerate(document["allow"]):
        where = document["allow"].line_of(index)
        if not isinstance(item, LineDict):
            raise ConfigError(path, where, "each entry must be a mapping")
        unknown = set(item) - {*_SELECTORS, "kind", "reason"}
        if unknown:
            raise ConfigError(path, line_of(item, sorted(unknown)[0]), f"unknown key {sorted(unknown)[0]!r}")
        if not any(item.get(s) for s in _SELECTORS):
            raise ConfigError(path, where, f"an entry needs at least one of {', '.join(_SELECTORS)}")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise ConfigError(path, where, "an entry needs a 'reason' (the report shows it)")
        kind = item.get("kind", "accepted_risk")
        if kind not in KINDS:
            raise ConfigError(path, line_of(item, "kind"), f"'kind' must be one of {', '.join(KINDS)}")
        entries.append(
            AllowEntry(
                **{s: (str(item[s]) if item.get(s) is not None else None) for s in _SELECTORS},
                kind=kind,
                reason=reason.strip(),
            )
        )
    return tuple(entries)
