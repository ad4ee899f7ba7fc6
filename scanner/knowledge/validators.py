"""Validators and normalisers that identifier signatures refer to by name.

A signature file (``signatures/identifiers/*.yaml``) can only name functions
listed in ``VALIDATORS``: the data decides which checks apply, never which code
runs.  A validator takes the candidate text and returns the normalised value
(the form that is hashed and compared) or None when the text is not that
identifier.

Tables (``signatures/identifiers/tables/``): Mobile Country Codes (ITU-T E.212)
and country calling codes (ITU-T E.164).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from scanner.datafiles import default_signatures_root

Validator = Callable[[str], "str | None"]

TABLES = default_signatures_root() / "identifiers" / "tables"


@functools.cache
def _table(name: str) -> dict[str, str]:
    table: dict[str, str] = {}
    for line in (TABLES / name).read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            code, rest = line.split(" ", 1)
            table[code] = rest
    return table


def mobile_country_codes() -> dict[str, str]:
    return _table("mcc.txt")


def calling_codes() -> dict[str, str]:
    return _table("calling_codes.txt")


def luhn_ok(digits: str) -> bool:
    """The Luhn check (ISO/IEC 7812-1) used by IMEI (3GPP TS 23.003 s6.2.1) and ICCID."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def luhn_digit(digits14: str) -> str:
    """The check digit that makes ``digits14 + digit`` pass Luhn."""
    for d in "0123456789":
        if luhn_ok(digits14 + d):
            return d
    raise AssertionError("unreachable")


# Reporting Body Identifiers that allocate TACs (the first two digits of an IMEI,
# GSMA TS.06): a random Luhn-valid number rarely starts with one of these.
IMEI_REPORTING_BODIES = frozenset({"01", "30", "33", "35", "44", "45", "49", "50", "51", "52", "53", "54", "86", "91", "98", "99"})


def imei(text: str) -> str | None:
    """15 digits that pass Luhn: an IMEI.  Normalised: the 15 digits."""
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) == 15 and digits.isdigit() and luhn_ok(digits):
        return digits
    return None


def imei_plausible(text: str) -> str | None:
    """An IMEI whose TAC starts with a reporting body (for values without a telling key)."""
    value = imei(text)
    return value if value is not None and value[:2] in IMEI_REPORTING_BODIES else None


def imeisv(text: str) -> str | None:
    """IMEISV (TS 23.003 s6.2.2): TAC + SNR + 2-digit software version.  Normalised to the IMEI
    (14 digits + Luhn check digit), so an IMEISV and the device's IMEI count as one identifier."""
    digits = text.replace("-", "").replace(" ", "")
    if len(digits) == 16 and digits.isdigit():
        return digits[:14] + luhn_digit(digits[:14])
    return None


def imsi(text: str) -> str | None:
    """An IMSI (TS 23.003 s2.2): 14 or 15 digits starting with a known MCC."""
    digits = text.strip()
    if 14 <= len(digits) <= 15 and digits.isdigit() and digits[:3] in mobile_country_codes():
        return digits
    return None


def iccid(text: str) -> str | None:
    """An ICCID (ITU-T E.118): 18-20 digits, '89' telecom prefix, Luhn-valid."""
    digits = text.strip().rstrip("Ff")
    if 18 <= len(digits) <= 20 and digits.isdigit() and digits.startswith("89") and luhn_ok(digits):
        return digits
    return None


_PHONE_JUNK = re.compile(r"[\s().\-/]")


def msisdn(text: str) -> str | None:
    """A phone number in international form: '+' or '00' then a country calling code.
    Normalised to E.164 digits without '+'."""
    value = _PHONE_JUNK.sub("", text.strip())
    if value.startswith("+"):
        digits = value[1:]
    elif value.startswith("00"):
        digits = value[2:]
    else:
        return None
    if not (8 <= len(digits) <= 15 and digits.isdigit()):
        return None
    return digits if country_code_of(digits) else None


def msisdn_loose(text: str) -> str | None:
    """A phone number under a key that says so: international form, or E.164 digits without '+'
    (the country code must be known), or a national number of 9-12 digits with a trunk '0'."""
    strict = msisdn(text)
    if strict is not None:
        return strict
    value = _PHONE_JUNK.sub("", text.strip())
    if not value.isdigit() or not (8 <= len(value) <= 15):
        return None
    if value.startswith("0"):
        return value if 9 <= len(value) <= 12 else None
    return value if len(value) >= 10 and country_code_of(value) else None


def country_code_of(digits: str) -> str | None:
    codes = calling_codes()
    for n in (1, 2, 3):
        if digits[:n] in codes:
            return digits[:n]
    return None


_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"


def advertising_id(text: str) -> str | None:
    """A UUID as advertising IDs are (GAID, IDFA, IDFV), dashes optional.  The all-zero
    value is what a device sends when the user opted out: no identifier.  Normalised to
    the canonical dashed form, case kept (the case tells GAID from IDFA)."""
    value = text.strip().strip("{}")
    if not _UUID.match(value):
        return None
    hexdigits = value.replace("-", "")
    if set(hexdigits) == {"0"}:
        return None
    return f"{hexdigits[:8]}-{hexdigits[8:12]}-{hexdigits[12:16]}-{hexdigits[16:20]}-{hexdigits[20:]}"


def vendor_id(text: str) -> str | None:
    """Apple's identifierForVendor: a UUID that iOS writes in upper case (NSUUID.uuidString).
    Normalised to upper case, so the same IDFV sent lower-cased by an SDK is one identifier."""
    value = advertising_id(text)
    return value.upper() if value is not None else None


_HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")


def android_id(text: str) -> str | None:
    """Settings.Secure.ANDROID_ID: 64 bits as 16 hex digits (lower case on the wire)."""
    value = text.strip()
    if _HEX16.match(value) and set(value) != {"0"}:
        return value.lower()
    return None


_MAC_SEPARATED = re.compile(r"^[0-9a-fA-F]{2}([:-])(?:[0-9a-fA-F]{2}\1){4}[0-9a-fA-F]{2}$")
_MAC_DOTTED = re.compile(r"^[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}\.[0-9a-fA-F]{4}$")
_MAC_BARE = re.compile(r"^[0-9a-fA-F]{12}$")


def mac(text: str) -> str | None:
    """An EUI-48 with ':' or '-' separators or Cisco dots.  Broadcast, all-zero and
    multicast addresses are not a device's.  Normalised: lower case with ':'."""
    value = text.strip()
    if _MAC_SEPARATED.match(value) or _MAC_DOTTED.match(value):
        return _mac_normal(value)
    return None


def mac_bare(text: str) -> str | None:
    """Twelve hex digits without separators (only under a key that says MAC)."""
    value = text.strip()
    return _mac_normal(value) if _MAC_BARE.match(value) else None


def _mac_normal(value: str) -> str | None:
    hexdigits = re.sub(r"[^0-9a-fA-F]", "", value).lower()
    first = int(hexdigits[:2], 16)
    if first & 0x01 or set(hexdigits) in ({"0"}, {"f"}):
        return None
    return ":".join(hexdigits[i : i + 2] for i in range(0, 12, 2))


def mac_is_randomised(normalised: str) -> bool:
    """The locally-administered bit (IEEE 802): set by MAC randomisation on phones."""
    return bool(int(normalised[:2], 16) & 0x02)


_EMAIL = re.compile(r"^[A-Za-z0-9._%+'-]{1,64}@(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,24}$")


def email(text: str) -> str | None:
    value = text.strip().strip("<>")
    return value.lower() if _EMAIL.match(value) else None


_HASHES = {32: "md5", 40: "sha1", 64: "sha256"}


def hex_hash(text: str) -> str | None:
    """A hex digest (md5/sha1/sha256 length): a hashed identifier under a key that says whose."""
    value = text.strip()
    if len(value) in _HASHES and all(c in "0123456789abcdefABCDEF" for c in value) and set(value) != {"0"}:
        return value.lower()  # (all zeros: a placeholder, an opted-out ID without dashes; no digest is)
    return None


_SERIAL = re.compile(r"^[A-Za-z0-9]{6,20}$")


def serial(text: str) -> str | None:
    """A hardware serial number: 6-20 letters and digits, with at least one of each
    (an all-digit value under a "serial" key is an order number as often as not)."""
    value = text.strip()
    if _SERIAL.match(value) and any(c.isdigit() for c in value) and any(c.isalpha() for c in value):
        return value
    return None


def opaque_token(text: str) -> str | None:
    """An opaque tracking token (UIDH, ACR): at least 8 visible characters."""
    value = text.strip()
    return value if len(value) >= 8 and " " not in value else None


def plain_text(text: str) -> str | None:
    value = text.strip()
    return value or None


VALIDATORS: dict[str, Validator] = {
    "imei": imei,
    "imei_plausible": imei_plausible,
    "imeisv": imeisv,
    "imsi": imsi,
    "iccid": iccid,
    "msisdn": msisdn,
    "msisdn_loose": msisdn_loose,
    "advertising_id": advertising_id,
    "vendor_id": vendor_id,
    "android_id": android_id,
    "mac": mac,
    "mac_bare": mac_bare,
    "email": email,
    "hex_hash": hex_hash,
    "serial": serial,
    "opaque_token": opaque_token,
    "plain_text": plain_text,
}


def is_timestamp(text: str) -> bool:
    """Unix time in seconds or milliseconds between 2001 and 2100: never an identifier unless
    a key names the identifier's type (the decoys of every labelled capture include them)."""
    if not text.isdigit():
        return False
    if len(text) == 10:
        return 1_000_000_000 <= int(text) <= 4_102_444_800
    if len(text) == 13:
        return 1_000_000_000_000 <= int(text) <= 4_102_444_800_000
    return False
