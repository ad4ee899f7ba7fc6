"""Personal names in device names (scanner/detect/names.py) with the shipped name list."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.datafiles import default_signatures_root
from scanner.detect.names import PersonalNames, load_first_names

NAMES = PersonalNames(load_first_names(default_signatures_root() / "identifiers" / "tables" / "first_names.txt"))

CASES = [
    # joined to a device model, without separators or case
    ("GalaxyTabEmma", "emma"), ("emmasipad", "emma"), ("ipadlucia", "lucia"), ("lucasiphone", "lucas"),
    ("iPad-de-Lucia", "lucia"), ("MacBook-von-Jürgen", "jurgen"),
    # names of many languages, diacritics or not
    ("Zoé-iPhone", "zoe"), ("Mehmets-Tablet", "mehmet"), ("Aarav-Laptop", "aarav"), ("iPhone-de-Inés", "ines"),
    ("Chidis-Phone", "chidi"), ("Yuki-no-iPad", "yuki"), ("Wiktoria-Tab", "wiktoria"), ("Nguyen-Thao-Phone", "thao"),
    ("Fatimas-iPhone", "fatima"), ("Sipho-PC", "sipho"), ("Ngozi-Laptop", None),  # a name the list lacks says nothing
    # no name: models, generated host names, rooms, products
    ("DESKTOP-2AEFM7G", None), ("android-1c1335ec95a27318", None), ("Nest-Hub-Max", None), ("iPhone 15 Pro Max", None),
    ("MacBook-Air", None), ("Living-Room-TV", None), ("SM-G960F", None), ("Redmi-Note-8", None), ("galaxytab", None),
    ("raspberrypi", None), ("chromecast", None), ("WORKGROUP", None), ("ESP_12AB34", None),
]


@pytest.mark.parametrize(("device_name", "expected"), CASES, ids=[c[0] for c in CASES])
def test_personal_name(device_name: str, expected: str | None) -> None:
    assert NAMES.find(device_name) == expected


def test_the_list_is_large_and_cites_its_source() -> None:
    path = Path(default_signatures_root()) / "identifiers" / "tables" / "first_names.txt"
    text = path.read_text(encoding="utf-8")
    assert "Source and licence" in text and "CC0" in text
    assert len(load_first_names(path)) > 1500
