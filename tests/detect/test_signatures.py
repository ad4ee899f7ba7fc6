"""Signature self-tests: every example of every ``signatures/identifiers/*.yaml`` runs through the
real detector, and broken signature files fail with the file and the line.

A ``match`` example must give exactly one observation: of the file's type, with the example's
normalised value (the value itself when the file gives none).  A ``no_match`` example must give
no observation of the file's type.  The example's ``location`` says where the value travels
(query, body, header, cookie, header_enrichment, name); the event is a synthetic one that
carries it there, so what is tested is the signature and the detector, not a decoder.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from scanner.datafiles import default_signatures_root
from scanner.detect.engine import Detector
from scanner.detect.signatures import (
    IDENTIFIER_TYPES,
    Example,
    IdentifierSignatures,
    load_identifier_signatures,
)
from scanner.errors import SignatureError
from scanner.knowledge.validators import VALIDATORS

ROOT = default_signatures_root()
IDENTIFIERS = ROOT / "identifiers"
EXAMPLES = [
    (id_type, example)
    for id_type, signature in sorted(load_identifier_signatures(ROOT).by_type.items())
    for example in signature.examples
]


def _example_id(item: tuple[str, Example]) -> str:
    id_type, example = item
    return f"{id_type}:{'match' if example.match else 'no_match'}:line{example.line}"


# ---------------------------------------------------------------------- the shipped files


def test_every_type_has_a_file_with_examples(id_signatures: IdentifierSignatures) -> None:
    assert set(id_signatures.by_type) == set(IDENTIFIER_TYPES)
    for id_type, signature in id_signatures.by_type.items():
        assert Path(signature.source).name == f"{id_type}.yaml", "one file per type, named after it"
        assert any(e.match for e in signature.examples) and any(not e.match for e in signature.examples)
        assert all(e.line is not None for e in signature.examples)
    # the shared files are loaded too, and every file is hashed for the report
    assert "txn" in id_signatures.negative_keys and "ts" in id_signatures.negative_keys
    assert id_signatures.operator_headers["x-msisdn"] == "msisdn"
    assert id_signatures.operator_headers["x-uidh"] == "uidh"
    assert len(id_signatures.files) == len(list(IDENTIFIERS.glob("*.yaml")))
    assert all(len(f.sha256) == 64 for f in id_signatures.files)


def test_there_are_examples_for_every_location_the_detector_knows() -> None:
    locations = {example.location for _, example in EXAMPLES}
    assert {"query", "header", "cookie", "header_enrichment", "name"} <= locations


@pytest.mark.parametrize("item", EXAMPLES, ids=[_example_id(i) for i in EXAMPLES])
def test_example(item: tuple[str, Example], detector: Detector, events: Any) -> None:
    id_type, example = item
    event = events.at(example.location, example.key, example.value)
    found = {(o.id_type, o.value) for o in detector.observe(event).observations}
    if example.match:
        expected = example.normalised if example.normalised is not None else example.value
        assert found == {(id_type, expected)}, f"{example.key}={example.value!r} at {example.location}"
    else:
        assert id_type not in {t for t, _ in found}, f"{example.key}={example.value!r} at {example.location}: {found}"


# ---------------------------------------------------------------------- broken files


def _copy_signatures(tmp_path: Path) -> Path:
    """A writable copy of the shipped identifiers/ (the loader reads the root's identifiers/)."""
    root = tmp_path / "signatures"
    shutil.copytree(IDENTIFIERS, root / "identifiers")
    return root


def _error(root: Path) -> SignatureError:
    with pytest.raises(SignatureError) as caught:
        load_identifier_signatures(root)
    return caught.value


MINIMAL = """\
type: serial
title: Device serial number
class: hardware
keys: [serial]
shapes:
  - kinds: [text]
    validator: serial
    needs_key: true
examples:
  match:
    - {key: serial, value: "R58M12ABCDE"}
  no_match:
    - {key: model, value: "R58M12ABCDE"}
"""


def test_the_minimal_file_used_below_loads(tmp_path: Path) -> None:
    root = _copy_signatures(tmp_path)
    (root / "identifiers" / "serial.yaml").write_text(MINIMAL)
    assert load_identifier_signatures(root).signature("serial").keys == frozenset({"serial"})


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        pytest.param(MINIMAL.replace("keys: [serial]", "keys: [serial\nshapes: ]"), 5, "not valid YAML", id="bad-yaml"),
        pytest.param(MINIMAL.replace("keys: [serial]", "keys: [serial]\ncolour: blue"), 5, "unknown key 'colour'", id="unknown-key"),
        pytest.param(MINIMAL.replace("validator: serial", "validator: rot13"), 7, "unknown validator 'rot13'", id="unknown-validator"),
        pytest.param(MINIMAL.replace("needs_key: true", "needs_key: true\n    colour: red"), 9, "unknown shape key", id="unknown-shape-key"),
        pytest.param(MINIMAL.split("examples:")[0], None, "'examples' must give", id="missing-examples"),
        pytest.param(MINIMAL.replace("  no_match:\n    - {key: model, value: \"R58M12ABCDE\"}\n", ""), None, "'examples' must give",
                     id="no-no_match"),
        pytest.param(MINIMAL.replace("type: serial", "type: shoe_size"), 1, "'type' must be one of", id="unknown-type"),
        pytest.param(MINIMAL.replace("class: hardware", "class: jewellery"), 3, "'class' must be one of", id="unknown-class"),
        pytest.param(MINIMAL.replace("kinds: [text]", "kinds: [words]"), 6, "'kinds' must list", id="unknown-kind"),
        pytest.param(MINIMAL.replace("needs_key: true", "needs_key: true\n    confidence: 2"), 9, "'confidence'", id="bad-confidence"),
        pytest.param(MINIMAL.replace("keys: [serial]", "keys: [serial]\nkeys: [sn]"), 5, "given twice", id="duplicate-yaml-key"),
        pytest.param(MINIMAL.replace('{key: serial, value: "R58M12ABCDE"}', '{key: serial, valu: "R58M12ABCDE"}'), 11,
                     "needs at least a 'value'", id="example-without-value"),
        pytest.param(MINIMAL.replace("keys: [serial]", "keys: [serial]\ncookies:\n  - {name: x, strip: '('}"), 6,
                     "bad regular expression", id="bad-strip-regex"),
        pytest.param(MINIMAL.replace("type: serial", "type: !!python/object:os.system serial"), 1, "not valid YAML",
                     id="python-tag-refused"),
    ],
)
def test_broken_file_names_file_and_line(tmp_path: Path, text: str, line: int | None, words: str) -> None:
    root = _copy_signatures(tmp_path)
    path = root / "identifiers" / "serial.yaml"
    path.write_text(text)
    error = _error(root)
    assert error.file == str(path)
    assert words in error.message
    if line is not None:
        assert error.line == line
        assert str(error).startswith(f"{path}:{line}: ")


def test_missing_examples_points_at_the_file_even_without_a_line(tmp_path: Path) -> None:
    root = _copy_signatures(tmp_path)
    path = root / "identifiers" / "serial.yaml"
    path.write_text(MINIMAL.split("examples:")[0])
    assert str(_error(root)).startswith(f"{path}")


def test_duplicate_type_names_both_files(tmp_path: Path) -> None:
    root = _copy_signatures(tmp_path)
    copy = root / "identifiers" / "zz_serial_again.yaml"
    copy.write_text(MINIMAL)
    error = _error(root)
    assert error.file == str(copy)
    assert error.line == 1
    assert "serial.yaml" in error.message and "also declared" in error.message


def test_a_missing_type_is_an_error(tmp_path: Path) -> None:
    root = _copy_signatures(tmp_path)
    (root / "identifiers" / "serial.yaml").unlink()
    assert "serial" in _error(root).message


def test_unknown_type_in_operator_headers(tmp_path: Path) -> None:
    root = _copy_signatures(tmp_path)
    path = root / "identifiers" / "operator_headers.yaml"
    path.write_text("headers:\n  msisdn: [x-msisdn]\n  shoe_size: [x-shoe]\n")
    error = _error(root)
    assert (error.file, error.line) == (str(path), 3)


def test_no_identifiers_directory(tmp_path: Path) -> None:
    assert "identifiers" in _error(tmp_path).message


def test_validators_are_only_those_listed() -> None:
    # The data decides which checks apply, never which code runs: every validator a file
    # names is in the table, and the table holds functions only.
    assert all(callable(v) for v in VALIDATORS.values())
    for id_type, example in EXAMPLES:
        assert id_type in IDENTIFIER_TYPES and example.location
