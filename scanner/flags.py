"""Flags: what detection learnt about an observed value beyond its type, as data.

Policy rules test a flag as the fact ``identifier.<value>`` (docs/architecture.md, "Policy
rules"); reports render its note from ``FLAG_NOTES``, so rewording a note cannot change which
rules fire.  Kept apart from scanner/model.py, which re-exports them with the other types.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable


class Flag(enum.Enum):
    """What detection learnt about one observed value beyond its type: data that policy rules test
    (as ``identifier.<value>``, docs/architecture.md "Policy rules"); the report's note is rendered
    from it (FLAG_NOTES), so rewording a note cannot change which rules fire."""

    RANDOMISED_MAC = "randomised"  # a locally administered (private, per-network) MAC
    PERSONAL_NAME = "personal_name"  # a device name that contains a person's first name
    OPERATOR_INJECTED = "operator_injected"  # an enrichment header the network added


# The human text of a flag in reports; a flag without one shows no note (the channel says it).
FLAG_NOTES: dict[Flag, str] = {
    Flag.RANDOMISED_MAC: "randomised MAC",
    Flag.PERSONAL_NAME: "contains a personal name",
}


def flag_note(flags: Iterable[Flag]) -> str | None:
    """The note shown for a set of flags ("randomised MAC"), None when none has text."""
    return "; ".join(sorted(FLAG_NOTES[flag] for flag in set(flags) if flag in FLAG_NOTES)) or None


__all__ = ["FLAG_NOTES", "Flag", "flag_note"]
