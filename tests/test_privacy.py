"""Keyed HMACs, pseudonyms and redacted previews (scanner/privacy.py): what the reports carry
instead of identifier values."""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.privacy import KEY_ENV, Pseudonymizer, load_key, preview


@pytest.mark.parametrize(
    ("id_type", "value", "shown", "hidden"),
    [
        ("email", "emma.hartmann17@example.org", "e***@example.org", "emma.hartmann17"),
        ("mac", "3c:22:fb:11:22:33", "3c:22:fb:**:**:**", "11:22:33"),
        ("geo", "48.1851,11.5448", "48.2,11.5 (~10 km)", "48.185"),
        ("gaid", "38400000-8cf0-11bd-b23e-10b96e40000d", "3840****-****-****-****-********000d", "8cf0-11bd"),
        ("idfa", "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD", "5942****-****-****-****-********8CBD", "3EC0"),
        ("imei", "356938035643809", "3569*********09", "038035643"),
        ("msisdn", "491713920030", "4917******30", "139200"),
        ("android_id", "974283758cea2e11", "9742**********11", "83758cea"),
        ("uidh", "short", "*****", "short"),
        ("device_name", "Emma’s iPad", "E**********", "Emma"),  # the child's first name is the personal part
        ("device_name", "Lucas-iPhone", "L***********", "Lucas"),
    ],
)
def test_preview(id_type: str, value: str, shown: str, hidden: str) -> None:
    assert preview(id_type, value) == shown
    assert hidden not in preview(id_type, value)


def test_hmac_is_keyed_typed_and_stable() -> None:
    one, two = Pseudonymizer(b"key-one-0123456789"), Pseudonymizer(b"key-two-0123456789")
    value = "356938035643809"
    assert one.hmac("imei", value) == one.hmac("imei", value) == Pseudonymizer(b"key-one-0123456789").hmac("imei", value)
    assert one.hmac("imei", value) != two.hmac("imei", value), "another key, another HMAC"
    assert one.hmac("imei", value) != one.hmac("imsi", value), "the type is part of what is hashed"
    assert one.hmac("imei", value) != hashlib.sha256(value.encode()).hexdigest(), "never a plain hash"
    assert len(one.hmac("imei", value)) == 64
    assert one.key_id != two.key_id and len(one.key_id) == 16 and one.key_id not in one.hmac("imei", value)


def test_pseudonym_hides_the_number() -> None:
    names = Pseudonymizer(b"key-one-0123456789")
    name = names.pseudonym("sub", "imsi:262017201373089")
    assert name.startswith("sub-") and len(name) == 16 and "26201" not in name
    assert name == names.pseudonym("sub", "imsi:262017201373089")
    assert name != names.pseudonym("sub", "imsi:262072246121161")


def test_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, "from-the-environment")
    assert load_key() == b"from-the-environment"


def test_key_file_created_once_private(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    first = load_key()
    path = tmp_path / "privscan" / "hmac.key"
    assert len(first) == 32 and path.read_bytes() == first
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_key() == first, "the same key next week: comparable reports"


def test_key_file_errors(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(ConfigError, match="no such HMAC key file"):
        load_key(tmp_path / "absent.key")
    short = tmp_path / "short.key"
    short.write_bytes(b"0123")
    with pytest.raises(ConfigError, match="at least 16 bytes"):
        load_key(short)
    good = tmp_path / "good.key"
    good.write_bytes(b"k" * 32)
    assert load_key(good) == b"k" * 32
