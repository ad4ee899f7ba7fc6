"""Key names: the parameter, JSON key, cookie or header name that carries a value.

A key is reduced to lower-case alphanumerics (``X-Device-Id`` -> ``deviceid``,
``user.ids.advertising_id`` -> ``advertisingid`` for the last path element) and
split into words (``advertisingId`` -> advertising, id), so that signature files
can list ``adid`` or ``advertisingid`` once and match every spelling apps use.
"""

from __future__ import annotations

import functools
import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_DIGEST_WORDS = frozenset({"md5", "sha1", "sha256", "hash", "hashed"})


@functools.lru_cache(maxsize=65536)
def key_forms(key: str | None) -> tuple[str, ...]:
    """The forms a key is matched under, most specific first: the whole normalised
    leaf name, its last word, and its last two words joined (and, when the last word names a
    digest, the same without it)."""
    if not key:
        return ()
    leaf = key.rsplit(".", 1)[-1].rsplit("[", 1)[0] or key
    words = [w for w in _NON_ALNUM.split(_CAMEL.sub(" ", leaf).lower()) if w]
    if words and words[0] == "x" and len(words) > 1:  # X-IMEI, X-Device-Id: header convention
        words = words[1:]
    if not words:
        return ()
    forms = ["".join(words)]
    if len(words) > 1:
        forms.append(words[-1])
        forms.append("".join(words[-2:]))
        if words[-1] in _DIGEST_WORDS:
            # imei_md5, mac_sha1, android_id_sha256: the type is named before the digest
            forms.append("".join(words[:-1]))
            forms.append(words[-2])
    return tuple(dict.fromkeys(forms))


def key_matches(key: str | None, names: frozenset[str], suffixes: frozenset[str] = frozenset()) -> bool:
    """Whether a key names one of ``names`` (exactly, or by its last words), or ends with one of
    ``suffixes`` (only long, unambiguous names are listed as suffixes: ``imei`` in ``userimei``)."""
    forms = key_forms(key)
    if not forms:
        return False
    if any(form in names for form in forms):
        return True
    whole = forms[0]
    return any(whole.endswith(suffix) for suffix in suffixes)
