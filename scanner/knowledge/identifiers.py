"""The identifier types: one record per type, read by every stage.

What the code knows about a type (docs/architecture.md, "Identifier types"): how an inventory
value of it is normalised, how its value is shown redacted, which extra written forms apps send
it in (for the known-value search), whether a network identity names a device by it, how an
operator's enrichment header carries it. Its patterns, key names and class stay data, in
``signatures/identifiers/<type>.yaml``; the loader there checks every file names a type listed
here and every type has a file.

This module sits below detect/, attribute/, policy/ and report/ so that each reads the same
record instead of switching on the type's name.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from scanner.knowledge.validators import (
    advertising_id,
    android_id,
    calling_codes,
    country_code_of,
    email,
    iccid,
    imei,
    imeisv,
    imsi,
    mac,
    mac_bare,
    mac_is_randomised,
    msisdn_loose,
    opaque_token,
)
from scanner.model import Flag

# (form, encoding, case_sensitive), as the known-value search indexes them.
Form = tuple[str, str, bool]


@dataclass(frozen=True, slots=True)
class KnownForms:
    """How a type's inventory value is written on the wire, besides the generic encodings.

    ``extra`` are type-specific forms; ``plain`` replaces the raw and normalised text as the
    strings that get URL/hex/base64 encoded; ``hash_inputs`` the strings that get hashed.
    None keeps the default (raw and normalised)."""

    extra: tuple[Form, ...] = ()
    plain: tuple[str, ...] | None = None
    hash_inputs: tuple[str, ...] | None = None


def _default_normalise(raw: str) -> str | None:
    return raw or None


def default_preview(value: str) -> str:
    """Shows the length and a few characters at each end: enough to tell two values apart."""
    if len(value) <= 6:
        return "*" * len(value)
    keep = 4 if len(value) >= 12 else 2
    return value[:keep] + "*" * (len(value) - keep - 2) + value[-2:]


@dataclass(frozen=True, slots=True)
class IdentifierType:
    name: str
    # An inventory value (stripped) -> the normalised form detection also produces, or None: invalid.
    normalise: Callable[[str], str | None] = _default_normalise
    preview: Callable[[str], str] = default_preview
    # (raw, normalised) -> its extra written forms; None: only the generic encodings.
    known_forms: Callable[[str, str], KnownForms] | None = None
    # A device is found by this identifier in a network identity (subscriber/equipment/hardware ids).
    names_device: bool = False
    # The value an operator injects in an enrichment header, validated and normalised.
    operator_value: Callable[[str], str | None] = opaque_token
    # Inventory entries are places ({lat, lon}), not values.
    is_place: bool = False
    # A known match of an e-mail form may not touch these extra characters (its local part's).
    email_like: bool = False
    # Counts only when it reaches a tracker: a tracker's cookie sent back to its own site is not a leak.
    only_to_trackers: bool = False
    # What the normalised value itself says (a locally administered MAC is randomised): policy facts.
    flags: Callable[[str], frozenset[Flag]] = lambda _value: _NO_FLAGS


_NO_FLAGS: frozenset[Flag] = frozenset()
_RANDOMISED: frozenset[Flag] = frozenset({Flag.RANDOMISED_MAC})


def _mac_flags(value: str) -> frozenset[Flag]:
    return _RANDOMISED if mac_is_randomised(value) else _NO_FLAGS


# ---------------------------------------------------------------- previews


def _email_preview(value: str) -> str:
    if "@" not in value:
        return default_preview(value)
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _mac_preview(value: str) -> str:
    if len(value) != 17:
        return default_preview(value)
    return value[:8] + ":**:**:**"  # the vendor prefix (OUI) is public knowledge


def _geo_preview(value: str) -> str:
    if "," not in value:
        return default_preview(value)
    try:
        lat, lon = (float(x) for x in value.split(",", 1))
    except ValueError:
        return "*,*"
    return f"{lat:.1f},{lon:.1f} (~10 km)"


def _device_name_preview(value: str) -> str:
    # "Emma’s iPad": the person's first name is what must not show, and it comes first
    return value[:1] + "*" * (len(value) - 1)


def _advertising_preview(value: str) -> str:
    return value[:4] + "****-****-****-****-********" + value[-4:]


# ---------------------------------------------------------------- normalisers


def _imei(raw: str) -> str | None:
    return imei(raw) or imeisv(raw)


def _imsi(raw: str) -> str | None:
    return imsi(raw) or (raw if raw.isdigit() and 6 <= len(raw) <= 15 else None)


def _msisdn(raw: str) -> str | None:
    return msisdn_loose(raw) or msisdn_loose("+" + raw.lstrip("+"))


def _iccid(raw: str) -> str | None:
    return iccid(raw) or (raw if raw.isdigit() else None)


def _mac(raw: str) -> str | None:
    return mac(raw) or mac_bare(raw)


def _gaid(raw: str) -> str | None:
    value = advertising_id(raw)
    return value.lower() if value is not None else None


def _apple_id(raw: str) -> str | None:
    value = advertising_id(raw)
    return value.upper() if value is not None else None  # Apple's IDs in upper case, as iOS writes them


def _android_id(raw: str) -> str | None:
    return android_id(raw) or raw.lower()


# ---------------------------------------------------------------- written forms


def _msisdn_forms(raw: str, digits: str) -> KnownForms:
    extra: list[Form] = [(digits, "e164_noplus", False), ("00" + digits, "international", False)]
    code = country_code_of(digits)
    if code and code in calling_codes() and code != "1":
        extra.append(("0" + digits[len(code) :], "national", False))
    elif code == "1":
        extra.append((digits[1:], "national", False))
    return KnownForms(tuple(extra), plain=("+" + digits,), hash_inputs=(digits, "+" + digits))


def _advertising_forms(raw: str, normal: str) -> KnownForms:
    nodash = normal.replace("-", "")
    return KnownForms(
        ((nodash, "nodash", False),),
        hash_inputs=(normal.lower(), normal.upper(), nodash.lower(), nodash.upper()),
    )


def _mac_forms(raw: str, normal: str) -> KnownForms:
    nodash = normal.replace(":", "")
    return KnownForms(
        (
            (normal.replace(":", "-"), "dash", False),
            (nodash, "nodash", False),
            (f"{nodash[0:4]}.{nodash[4:8]}.{nodash[8:12]}", "dotted", False),
        ),
        hash_inputs=(normal, normal.upper(), nodash, nodash.upper()),
    )


def _email_forms(raw: str, normal: str) -> KnownForms:
    return KnownForms(hash_inputs=(normal, raw.strip()))


def _imei_forms(raw: str, normal: str) -> KnownForms:
    return KnownForms(((normal[:14], "imei14", False),))  # without its check digit, as some SDKs send it


def _device_name_forms(raw: str, normal: str) -> KnownForms:
    text = raw.strip()
    ascii_name = text.replace("’", "'")
    hostname = "".join(c if c.isalnum() else "-" for c in ascii_name.replace("'", "")).strip("-")
    while "--" in hostname:
        hostname = hostname.replace("--", "-")
    # "Emma’s iPad" is announced as the DHCP/mDNS host name Emmas-iPad
    return KnownForms(((hostname, "hostname", False),), plain=(text, ascii_name))


_TYPES = (
    IdentifierType("imei", _imei, known_forms=_imei_forms, names_device=True, operator_value=_imei),
    IdentifierType("imsi", _imsi, names_device=True, operator_value=imsi),
    IdentifierType("msisdn", _msisdn, known_forms=_msisdn_forms, names_device=True, operator_value=msisdn_loose),
    IdentifierType("iccid", _iccid, names_device=True),
    IdentifierType("mac", _mac, _mac_preview, known_forms=_mac_forms, names_device=True, flags=_mac_flags),
    IdentifierType("serial"),
    IdentifierType("android_id", _android_id),
    IdentifierType("gaid", _gaid, _advertising_preview, known_forms=_advertising_forms),
    IdentifierType("idfa", _apple_id, _advertising_preview, known_forms=_advertising_forms),
    IdentifierType("idfv", _apple_id, _advertising_preview, known_forms=_advertising_forms),
    IdentifierType("email", email, _email_preview, known_forms=_email_forms, email_like=True),
    IdentifierType("geo", preview=_geo_preview, is_place=True),
    IdentifierType("device_name", preview=_device_name_preview, known_forms=_device_name_forms),
    IdentifierType("cookie_id", only_to_trackers=True),
    IdentifierType("uidh"),
)

REGISTRY: dict[str, IdentifierType] = {t.name: t for t in _TYPES}
IDENTIFIER_TYPES: tuple[str, ...] = tuple(REGISTRY)

_FALLBACK = IdentifierType("")


def identifier_type(name: str) -> IdentifierType:
    """The record of a type; an unknown name (an attribute of a network identity such as
    ``user_name``) gets the defaults."""
    return REGISTRY.get(name, _FALLBACK)


def normalise_identifier(id_type: str, raw: str) -> str | None:
    """The normalised form of an inventory value (what detection normalises to)."""
    return identifier_type(id_type).normalise(raw.strip())


def preview(id_type: str, value: str) -> str:
    """A redacted form of a value that shows its kind but not the value."""
    return identifier_type(id_type).preview(value)

