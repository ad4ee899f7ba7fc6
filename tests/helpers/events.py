"""What a decoder under test emitted."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from scanner.model import Event

E = TypeVar("E", bound=Event)


def events_of_type(events: Iterable[Event], cls: type[E]) -> list[E]:
    """The events, all of them ``cls``: another kind among them fails the test (the message
    names the kinds, not the values, which may be other people's)."""
    found = list(events)
    others = [type(e).__name__ for e in found if not isinstance(e, cls)]
    assert not others, f"not {cls.__name__}: {others}"
    return [e for e in found if isinstance(e, cls)]
