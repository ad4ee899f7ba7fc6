"""Identifier detectors that need code, registered by declaration (docs/architecture.md,
"Identifier types").

Most identifier types are found from data alone (``signatures/identifiers/<type>.yaml``:
shapes, validators, key names). A type whose detection needs code (a location is a pair of
fields, a tracker cookie is recognised by its name and its issuer's domain, a device name by the
first name in it) declares a factory here with ``@code_detector("<type>")`` in its own module;
the Detector builds every registered one from the same context, instead of being wired by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.inventory import Inventory
from scanner.model import Flag


@dataclass(frozen=True, slots=True)
class DetectorContext:
    """What a code detector may be built from: the loaded signatures and the inventory."""

    signatures: IdentifierSignatures
    inventory: Inventory | None


@runtime_checkable
class Flagger(Protocol):
    """A code detector that also flags a known (inventory) value of its type."""

    def flags(self, value: str) -> frozenset[Flag]: ...


Factory = Callable[[DetectorContext], Any]
F = TypeVar("F", bound=Factory)
T = TypeVar("T")

# identifier type -> the factory of its code detector; filled by @code_detector at import
CODE_DETECTORS: dict[str, Factory] = {}


def code_detector(id_type: str) -> Callable[[F], F]:
    """Declare ``factory(context)`` as the code detector of ``id_type``."""

    def register(factory: F) -> F:
        if id_type in CODE_DETECTORS:
            raise ValueError(f"two code detectors for {id_type!r}")
        CODE_DETECTORS[id_type] = factory
        return factory

    return register


def build_code_detectors(context: DetectorContext) -> dict[str, Any]:
    return {id_type: factory(context) for id_type, factory in CODE_DETECTORS.items()}


def detector_of(detectors: dict[str, Any], id_type: str, kind: type[T]) -> T:
    """The built detector of ``id_type``, checked to be a ``kind``."""
    detector = detectors[id_type]
    if not isinstance(detector, kind):
        raise TypeError(f"the code detector of {id_type!r} is a {type(detector).__name__}, not a {kind.__name__}")
    return detector
