"""Tracker cookie IDs (``cookie_id``): a tracker's own user ID, by cookie or parameter name.

The names come from ``signatures/identifiers/cookie_id.yaml``.  Generic names
(``uuid``, ``i``, ``UID``) only count towards the company's own domains; a
``strip`` expression removes a version prefix so that the same ID compares
equal wherever it travels (``_ga=GA1.3.<cid>`` and ``cid=<cid>``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scanner.detect.code import DetectorContext, code_detector
from scanner.detect.signatures import IdentifierSignature

MIN_ID_LENGTH = 6


@dataclass(frozen=True, slots=True)
class _Rule:
    org: str | None
    domains: frozenset[str]
    strip: re.Pattern[str] | None


class CookieIdDetector:
    def __init__(self, signature: IdentifierSignature) -> None:
        data = signature.data
        self._cookies: dict[str, _Rule] = {}
        for entry in data.get("cookies", []):
            self._cookies[str(entry["name"])] = _rule(entry)
        self._prefixes = [
            (str(entry["prefix"]), str(entry.get("suffix", "")), _rule(entry)) for entry in data.get("prefixes", [])
        ]
        self._parameters: dict[str, _Rule] = {str(e["key"]).lower(): _rule(e) for e in data.get("parameters", [])}

    def cookie(self, name: str, value: str, domain: str | None) -> str | None:
        """The tracker ID a cookie carries, if it is a tracker's cookie (normalised)."""
        rule = self._cookies.get(name)
        if rule is None:
            for prefix, suffix, candidate in self._prefixes:
                if name.startswith(prefix) and name.endswith(suffix):
                    rule = candidate
                    break
        return self._value(rule, value, domain)

    def parameter(self, key: str | None, value: str, domain: str | None) -> str | None:
        if not key:
            return None
        return self._value(self._parameters.get(key.lower()), value, domain, need_domain=True)

    @staticmethod
    def _value(rule: _Rule | None, value: str, domain: str | None, need_domain: bool = False) -> str | None:
        if rule is None:
            return None
        if (rule.domains or need_domain) and (domain is None or domain not in rule.domains):
            return None
        if rule.strip is not None:
            value = rule.strip.sub("", value, count=1)
        value = value.strip()
        return value if len(value) >= MIN_ID_LENGTH else None


def _rule(entry: dict[str, object]) -> _Rule:
    strip = entry.get("strip")
    domains = entry.get("domains") or []
    return _Rule(
        org=str(entry["org"]) if entry.get("org") else None,
        domains=frozenset(str(d).lower() for d in domains) if isinstance(domains, list) else frozenset(),
        strip=re.compile(str(strip)) if strip else None,
    )


@code_detector("cookie_id")
def _cookie_id_detector(context: DetectorContext) -> CookieIdDetector:
    return CookieIdDetector(context.signatures.signature("cookie_id"))
