"""The identifier-type registry (scanner/knowledge/identifiers.py): one record per type, the same
list as the signature files, and what the stages read from it."""

from __future__ import annotations

from scanner.datafiles import default_signatures_root
from scanner.knowledge.identifiers import IDENTIFIER_TYPES, REGISTRY, identifier_type, preview

SHARED_FILES = {"negative_keys.yaml", "operator_headers.yaml"}


def test_every_type_has_a_signature_file_and_every_file_a_type() -> None:
    files = {p.stem for p in (default_signatures_root() / "identifiers").glob("*.yaml") if p.name not in SHARED_FILES}
    assert files == set(IDENTIFIER_TYPES)
    assert all(REGISTRY[name].name == name for name in IDENTIFIER_TYPES)


def test_the_record_says_how_a_value_is_redacted() -> None:
    assert preview("mac", "3c:22:fb:11:22:33") == "3c:22:fb:**:**:**"
    assert preview("email", "emma@example.org") == "e***@example.org"
    assert preview("geo", "48.8584,2.2945") == "48.9,2.3 (~10 km)"
    assert preview("device_name", "Emma’s iPad") == "E**********"
    # A name that is no identifier type (a network identity's user_name) gets the default.
    assert preview("user_name", "alice@realm") == "al*******lm"


def test_the_record_holds_what_stages_used_to_switch_on() -> None:
    assert {t for t in IDENTIFIER_TYPES if identifier_type(t).names_device} == {"imei", "imsi", "msisdn", "iccid", "mac"}
    assert [t for t in IDENTIFIER_TYPES if identifier_type(t).is_place] == ["geo"]
    assert [t for t in IDENTIFIER_TYPES if identifier_type(t).only_to_trackers] == ["cookie_id"]
    assert identifier_type("msisdn").operator_value("+44 7700 900123") == "447700900123"
    assert identifier_type("imei").normalise("35-693803-564380-9") == "356938035643809"
