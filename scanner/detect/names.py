"""Personal names in device names ("Emma’s iPad", "Lucas-iPhone", "iPad-von-Mia").

A device name broadcast on a shared network (DHCP, mDNS, NetBIOS, LLMNR, SSDP)
is a device_name observation only when it carries a person's first name (from
``signatures/identifiers/tables/first_names.txt``) or is a name the inventory
lists: "DESKTOP-2AEFM7G" and "android-1c1335ec95a27318" tell nobody anything.
"""

from __future__ import annotations

import re
from pathlib import Path

from scanner.detect.code import DetectorContext, code_detector
from scanner.knowledge.validators import TABLES
from scanner.model import Flag

_PERSONAL_NAME = frozenset({Flag.PERSONAL_NAME})

_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])")
# Words that follow a model name and happen to be first names ("iPhone 15 Pro Max", "Nest Hub Max").
_MODEL_CONTEXT = {"max": {"pro", "plus", "ultra", "hub", "air"}}


def load_first_names(path: Path) -> frozenset[str]:
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            names.add(line)
    return frozenset(names)


class PersonalNames:
    def __init__(self, first_names: frozenset[str]) -> None:
        self.first_names = first_names

    def find(self, device_name: str) -> str | None:
        """The first name in a device name, if it has one."""
        words = [w.lower() for w in _WORDS.findall(_CAMEL.sub(" ", device_name.replace("’", "'")))]
        previous = ""
        for word in words:
            for candidate in (word, word[:-1] if word.endswith("s") and len(word) > 3 else ""):
                if candidate and candidate in self.first_names and previous not in _MODEL_CONTEXT.get(candidate, ()):
                    return candidate
            previous = word
        return None

    def flags(self, device_name: str) -> frozenset[Flag]:
        """A known device name with a first name in it is flagged (PS801 tests the flag)."""
        return _PERSONAL_NAME if self.find(device_name) else frozenset()


@code_detector("device_name")
def _device_name_detector(context: DetectorContext) -> PersonalNames:
    return PersonalNames(load_first_names(TABLES / "first_names.txt"))
