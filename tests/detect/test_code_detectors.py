"""Code detectors are declared by their modules (detect/code.py) and built by the Detector from
that registry; each names an identifier type of the registry in knowledge/identifiers.py."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.detect import code
from scanner.detect.code import CODE_DETECTORS, DetectorContext, build_code_detectors, code_detector, detector_of
from scanner.detect.engine import Detector
from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.identifiers import IDENTIFIER_TYPES


def test_the_code_detectors_are_declared_for_known_types() -> None:
    assert {"geo", "cookie_id", "device_name"} <= set(CODE_DETECTORS)
    assert set(CODE_DETECTORS) <= set(IDENTIFIER_TYPES)


def test_a_declared_detector_is_built_with_the_detector(id_signatures: IdentifierSignatures, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[DetectorContext] = []

    def factory(context: DetectorContext) -> str:
        built.append(context)
        return "serial detector"

    monkeypatch.setitem(CODE_DETECTORS, "serial", factory)
    Detector(id_signatures)
    assert len(built) == 1 and built[0].signatures is id_signatures and built[0].inventory is None
    assert build_code_detectors(built[0])["serial"] == "serial detector"


def test_two_detectors_for_one_type_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(code, "CODE_DETECTORS", dict(CODE_DETECTORS))
    with pytest.raises(ValueError, match="two code detectors for 'geo'"):
        code_detector("geo")(lambda context: None)


def test_detector_of_checks_the_kind() -> None:
    detectors: dict[str, Any] = {"geo": "not a geo detector"}
    with pytest.raises(TypeError, match="not a int"):
        detector_of(detectors, "geo", int)
