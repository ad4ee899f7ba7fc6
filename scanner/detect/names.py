"""Personal names in device names ("Emma’s iPad", "Lucas-iPhone", "iPad-von-Mia", "GalaxyTabEmma",
"emmasipad").

A device name broadcast on a shared network (DHCP, mDNS, NetBIOS, LLMNR, SSDP)
is a device_name observation only when it carries a person's first name (from
``signatures/identifiers/tables/first_names.txt``, names of dozens of languages, with its source
in its header) or is a name the inventory lists: "DESKTOP-2AEFM7G" and
"android-1c1335ec95a27318" tell nobody anything.

Words are split at separators and at lower-to-upper case changes ("GalaxyTabEmma" -> Galaxy Tab
Emma); a word that is no name is also tried without the device-model words it is joined to
("emmasipad" -> emmas -> emma, "ipadlucia" -> lucia), since host names lose their case and their
separators.  Diacritics do not matter ("Zoe" finds "zoé", "Jürgen" finds "jurgen").
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from scanner.detect.code import DetectorContext, code_detector
from scanner.knowledge.validators import TABLES
from scanner.model import Flag

_PERSONAL_NAME = frozenset({Flag.PERSONAL_NAME})

_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Words that follow a model name and happen to be first names ("iPhone 15 Pro Max", "Nest Hub Max").
_MODEL_CONTEXT = {"max": {"pro", "plus", "ultra", "hub", "air"}}
# Device and model words a host name joins a name to, longest first when stripped.
DEVICE_WORDS = tuple(
    sorted(
        {
            "iphone", "ipad", "ipod", "imac", "macbook", "macbookpro", "macbookair", "mac", "watch", "appletv", "homepod",
            "galaxy", "tab", "tablet", "note", "pixel", "nexus", "redmi", "xiaomi", "huawei", "honor", "oneplus", "oppo",
            "vivo", "realme", "motorola", "moto", "nokia", "lenovo", "samsung", "sony", "xperia", "android", "phone",
            "handy", "telefono", "laptop", "notebook", "desktop", "pc", "computer", "chromebook", "surface", "kindle",
            "fire", "echo", "switch", "nintendo", "xbox", "playstation", "ps", "tv", "de", "von", "di", "da", "du",
            "do", "van", "s",
        },
        key=len,
        reverse=True,
    )
)
MIN_NAME = 3


def fold(text: str) -> str:
    """Lower case without diacritics: "Zoé" and "zoe" are one name."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def load_first_names(path: Path) -> frozenset[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            names.add(line.lower())  # PersonalNames folds the diacritics
    return frozenset(names)


class PersonalNames:
    def __init__(self, first_names: frozenset[str]) -> None:
        self.first_names = frozenset(fold(name) for name in first_names)

    def find(self, device_name: str) -> str | None:
        """The first name in a device name, if it has one."""
        words = [fold(w) for w in _WORDS.findall(_CAMEL.sub(" ", device_name.replace("’", "'")))]
        previous = ""
        for word in words:
            name = self._name(word)
            if name and previous not in _MODEL_CONTEXT.get(name, ()):
                return name
            previous = word
        for word in words:
            joined = self._joined(word)
            if joined:
                return joined
        return None

    def _name(self, word: str) -> str | None:
        for candidate in (word, word[:-1] if word.endswith("s") and len(word) > MIN_NAME else ""):
            if candidate and candidate in self.first_names:
                return candidate
        return None

    def _joined(self, word: str) -> str | None:
        """A name joined to device words: strip them from both ends, then look the rest up."""
        rest = word
        changed = True
        while changed and len(rest) > MIN_NAME:
            changed = False
            for device in DEVICE_WORDS:
                if len(rest) - len(device) < MIN_NAME:
                    continue
                if rest.endswith(device):
                    rest, changed = rest[: -len(device)], True
                    break
                if rest.startswith(device):
                    rest, changed = rest[len(device):], True
                    break
            if changed:
                name = self._name(rest)
                if name and len(name) >= MIN_NAME:
                    return name
        return None

    def flags(self, device_name: str) -> frozenset[Flag]:
        """A known device name with a first name in it is flagged (PS801 tests the flag)."""
        return _PERSONAL_NAME if self.find(device_name) else frozenset()


@code_detector("device_name")
def _device_name_detector(context: DetectorContext) -> PersonalNames:
    return PersonalNames(load_first_names(TABLES / "first_names.txt"))
