"""Tracker IDs by vendor format (``cookie_id``/``user_id``): a tracker's own user ID, by cookie or
parameter name, parsed where its format is known.

The names come from ``signatures/identifiers/cookie_id.yaml``.  Generic names (``uuid``, ``i``,
``UID``, ``id``) only count towards the company's own domains (``google.*`` names every
registrable domain whose first label is ``google``: google.com, google.co.il); a ``strip``
expression removes a version prefix and a ``match`` expression takes the ID out of a structured
value (group 1), so that the same ID compares equal wherever it travels: ``_ga=GA1.3.<cid>``,
``cid=<cid>``, ``__utma=<domain hash>.<cid>.<visits>`` and ``utmcc=__utma%3D…`` (the urchin
cookie carried inside another parameter) all give one client ID.  A rule may give ``type:
user_id`` (an account or visitor ID that is no cookie's) and ``anywhere: true`` for a parameter
whose name and format together are specific enough to count towards any host (Adobe's ``vidn``
travels to the site's own CNAME of Adobe's collection servers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.detect.code import DetectorContext, code_detector
from scanner.detect.signatures import IdentifierSignature

MIN_ID_LENGTH = 6


@dataclass(frozen=True, slots=True)
class TrackerId:
    """A tracker's ID found by vendor format: its type and normalised value."""

    id_type: str
    value: str
    at_vendor: bool = False  # the rule names the vendor's own domains, or a format only it sends


@dataclass(frozen=True, slots=True)
class _Rule:
    org: str | None
    domains: frozenset[str]
    wildcard_labels: frozenset[str]  # "google.*": the registrable domain's first label
    strip: re.Pattern[str] | None
    match: re.Pattern[str] | None
    id_type: str
    anywhere: bool


class CookieIdDetector:
    def __init__(self, signature: IdentifierSignature) -> None:
        data = signature.data
        self._cookies: dict[str, list[_Rule]] = {}
        for entry in data.get("cookies", []):
            self._cookies.setdefault(str(entry["name"]), []).append(_rule(entry))
        self._prefixes = [
            (str(entry["prefix"]), str(entry.get("suffix", "")), _rule(entry)) for entry in data.get("prefixes", [])
        ]
        self._parameters: dict[str, list[_Rule]] = {}
        for entry in data.get("parameters", []):
            self._parameters.setdefault(str(entry["key"]).lower(), []).append(_rule(entry))

    def cookie(self, name: str, value: str, domain: str | None) -> TrackerId | None:
        """The tracker ID a cookie carries, if it is a tracker's cookie (normalised)."""
        rules = self._cookies.get(name)
        if rules is None:
            for prefix, suffix, candidate in self._prefixes:
                if name.startswith(prefix) and name.endswith(suffix):
                    rules = [candidate]
                    break
        for rule in rules or ():
            found = _value(rule, value, domain)
            if found is not None:
                return found
        return None

    def parameter(self, key: str | None, value: str, domain: str | None) -> TrackerId | None:
        if not key:
            return None
        for rule in self._parameters.get(key.lower(), ()):
            found = _value(rule, value, domain, need_domain=not rule.anywhere)
            if found is not None:
                return found
        return None


def _domain_matches(rule: _Rule, domain: str | None) -> bool:
    if domain is None:
        return False
    return domain in rule.domains or domain.split(".", 1)[0] in rule.wildcard_labels


def _value(rule: _Rule, value: str, domain: str | None, need_domain: bool = False) -> TrackerId | None:
    if (rule.domains or rule.wildcard_labels or need_domain) and not _domain_matches(rule, domain):
        return None
    if rule.strip is not None:
        value = rule.strip.sub("", value, count=1)
    if rule.match is not None:
        found = rule.match.search(value)
        if found is None:
            return None  # not the vendor's format: a cookie of the same name that is no ID
        value = found.group(1) if found.groups() else found.group(0)
    value = value.strip()
    at_vendor = bool(rule.domains or rule.wildcard_labels or rule.anywhere)
    return TrackerId(rule.id_type, value, at_vendor) if len(value) >= MIN_ID_LENGTH else None


def _rule(entry: dict[str, object]) -> _Rule:
    strip = entry.get("strip")
    match = entry.get("match")
    domains = entry.get("domains") or []
    names = [str(d).lower() for d in domains] if isinstance(domains, list) else []
    return _Rule(
        org=str(entry["org"]) if entry.get("org") else None,
        domains=frozenset(d for d in names if not d.endswith(".*")),
        wildcard_labels=frozenset(d[:-2] for d in names if d.endswith(".*")),
        strip=re.compile(str(strip)) if strip else None,
        match=re.compile(str(match)) if match else None,
        id_type=str(entry.get("type") or "cookie_id"),
        anywhere=bool(entry.get("anywhere", False)),
    )


@code_detector("cookie_id")
def _cookie_id_detector(context: DetectorContext) -> CookieIdDetector:
    return CookieIdDetector(context.signatures.signature("cookie_id"))
