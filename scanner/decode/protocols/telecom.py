"""Encodings shared by the telecom control-plane decoders (GTP-C, Diameter, RADIUS).

Not a protocol: this module declares no decoder.  It holds the 3GPP ways of
writing an identifier that several protocols reuse:

- TBCD strings (3GPP TS 29.002 s17.7.8 ``TBCD-STRING``; TS 23.003 for IMSI,
  MSISDN, IMEI and IMEISV): two digits per octet, low nibble first, ``F`` as
  filler after an odd number of digits.
- PLMN identities (TS 24.008 s10.5.1.3, TS 29.274 s8.21): MCC and MNC packed
  into three octets, MNC digit 3 being ``F`` for a two-digit MNC.
- NAI permanent identities (TS 23.003 s19.3.2) that carry an IMSI in EAP-AKA,
  EAP-AKA' and EAP-SIM user names (``0<IMSI>@nai.epc.mnc001.mcc001...``).
"""

from __future__ import annotations

import re
import socket

# TBCD nibbles above 9 (TS 29.002 s17.7.8): '*', '#', 'a', 'b', 'c'; 0xF is the filler.
_TBCD_SYMBOLS = "0123456789*#abc"
TBCD_FILLER = 0xF

# TS 23.003 s19.3.2: "0" EAP-AKA, "1" EAP-SIM, "6" EAP-AKA' permanent identities;
# pseudonyms and re-authentication ids (2, 3, 4, 5, 7, 8) carry no IMSI.  An IMSI
# is 6 to 15 digits (MCC 3 + MNC 2..3 + MSIN).
_NAI_PERMANENT = re.compile(r"^[016](\d{6,15})@", re.ASCII)


def tbcd(data: bytes) -> str:
    """Decode a TBCD string; stops at the first filler nibble.

    Nibbles 0xA..0xE decode as ``*#abc``: they are legal in TBCD (dialled
    strings) but not in an identifier, so callers that expect digits check
    ``str.isdigit`` on the result.
    """
    out: list[str] = []
    for octet in data:
        low, high = octet & 0x0F, octet >> 4
        if low == TBCD_FILLER:
            break
        out.append(_TBCD_SYMBOLS[low])
        if high == TBCD_FILLER:
            break
        out.append(_TBCD_SYMBOLS[high])
    return "".join(out)


def plmn(data: bytes) -> str | None:
    """MCC and MNC of a three-octet PLMN identity, as one string ("26201", "310410").

    None when the octets are not digits (a zeroed or garbled field).
    """
    if len(data) < 3:
        return None
    mcc1, mcc2 = data[0] & 0x0F, data[0] >> 4
    mcc3, mnc3 = data[1] & 0x0F, data[1] >> 4
    mnc1, mnc2 = data[2] & 0x0F, data[2] >> 4
    digits = [mcc1, mcc2, mcc3, mnc1, mnc2]
    if mnc3 != TBCD_FILLER:
        digits.append(mnc3)
    if any(d > 9 for d in digits):
        return None
    return "".join(str(d) for d in digits)


def imsi_from_nai(user_name: str) -> str | None:
    """The IMSI in an EAP-AKA/AKA'/SIM permanent-identity NAI, or None."""
    match = _NAI_PERMANENT.match(user_name)
    return match.group(1) if match else None


def ipv4(data: bytes) -> str:
    """Dotted quad of exactly four octets (the caller checks the length)."""
    return socket.inet_ntop(socket.AF_INET, data)


def ipv6(data: bytes) -> str:
    """RFC 5952 text of exactly sixteen octets (the caller checks the length)."""
    return socket.inet_ntop(socket.AF_INET6, data)


def digits_or_tbcd(data: bytes) -> str:
    """An identifier that specifications write as UTF-8 digits but some nodes send as TBCD.

    RADIUS 3GPP-IMEISV (TS 29.061 s16.4.7) and Diameter User-Equipment-Info-Value
    (RFC 4006 s8.50, TS 29.212) are meant to be ASCII digits; binary TBCD shows
    up in the field too, so anything that is not printable digits is read as TBCD.
    """
    if data and all(0x30 <= b <= 0x39 for b in data):
        return data.decode("ascii")
    return tbcd(data)


def text(data: bytes) -> str:
    """UTF-8 text of an attribute; bad bytes become U+FFFD rather than an error."""
    return data.decode("utf-8", "replace")
