"""Small value types a finding refers to, kept apart from scanner/model.py (which re-exports them
with the other types, as it does the flags): the app that sent a request (attribute/apps.py;
DESIGN.md's ``app: {name, id}``) and each distinct value of a finding's identifier with the keys
that carried it (``identifier.values``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class AppRef:
    """The app a request came from, as far as the traffic says (attribute/apps.py): its name from
    the User-Agent, its package or bundle ID from the request, the version next to either."""

    name: str | None
    id: str | None
    version: str | None = None

    def to_record(self) -> dict[str, Any]:
        record: dict[str, Any] = {"name": self.name, "id": self.id}
        if self.version:
            record["version"] = self.version
        return record

    @property
    def label(self) -> str:
        """How reports name it: the name, else the package ID."""
        return self.name or self.id or "?"


@dataclass(frozen=True, slots=True)
class IdentifierValue:
    """One of a finding's distinct values: its preview (or itself with --show-values), its HMAC
    and the keys it travelled under."""

    value: str
    value_hmac: str
    keys: tuple[str, ...] = ()

    def to_record(self) -> dict[str, Any]:
        return {"value": self.value, "value_hmac": self.value_hmac, "keys": list(self.keys)}


__all__ = ["AppRef", "IdentifierValue"]
