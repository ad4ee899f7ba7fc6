"""Encodings shared by the telecom control-plane decoders (GTP-C, Diameter, RADIUS).

Not a protocol: this module declares no decoder.  It holds the 3GPP ways of
writing an identifier that several protocols reuse:

- TBCD strings (3GPP TS 29.002 s17.7.8 ``TBCD-STRING``; TS 23.003 for IMSI,
  MSISDN, IMEI and IMEISV): two digits per octet, low nibble first, ``F`` as
  filler after an odd number of digits.
- PLMN identities (TS 24.008 s10.5.1.3, TS 29.274 s8.21): MCC and MNC packed
  into three octets, MNC digit 3 being ``F`` for a two-digit MNC.
- NAIs that carry an IMSI (TS 23.003 s13.3, s14.3, s19.3.2): EAP-AKA, EAP-AKA'
  and EAP-SIM permanent identities (``0<IMSI>@nai.epc.mnc001.mcc001...``) and
  IMS private identities (``<IMSI>@ims.mnc001.mcc001.3gppnetwork.org``).
- What RADIUS and Diameter share: 3GPP's vendor id, and the Framed-IP-Address
  values that are not an address.
"""

from __future__ import annotations

import re
import socket

# TBCD nibbles above 9 (TS 29.002 s17.7.8): '*', '#', 'a', 'b', 'c'; 0xF is the filler.
_TBCD_SYMBOLS = "0123456789*#abc"
TBCD_FILLER = 0xF
_IMEI_DIGITS_MIN, _IMEI_DIGITS_MAX = 14, 16  # IMEI without / with check digit, IMEISV (TS 23.003 s6.2)

# TS 23.003 s19.3.2 (EPC, "nai.epc" realm) and s14.3 (WLAN, "wlan" realm): "0" EAP-AKA,
# "1" EAP-SIM, "6" EAP-AKA' permanent identities; pseudonyms and re-authentication
# ids (2, 3, 4, 5, 7, 8) carry no IMSI.  s13.3: the IMS private identity derived
# from the IMSI has no prefix digit.  An IMSI is 6 to 15 digits and starts with the
# MCC that the realm names, which tells a prefix digit from the IMSI's first digit.
_NAI_PERMANENT = re.compile(
    r"^[016](\d{6,15})@(?:nai\.epc|wlan)\.mnc(\d{3})\.mcc(\d{3})\.3gppnetwork\.org$", re.ASCII | re.IGNORECASE
)
_IMS_PRIVATE = re.compile(r"^(\d{6,15})@ims\.mnc(\d{3})\.mcc(\d{3})\.3gppnetwork\.org$", re.ASCII | re.IGNORECASE)

VENDOR_3GPP = 10415  # IANA enterprise number: RADIUS Vendor-Specific attributes, Diameter AVPs (TS 29.061, TS 29.230)

# Framed-IP-Address (RFC 2865 s5.8, taken over by Diameter in RFC 7155 s4.4.10.5.1):
# 255.255.255.255 lets the user choose, 255.255.255.254 lets the NAS choose, and
# 0.0.0.0 is none.  Not an address of the user.
FRAMED_IP_PLACEHOLDERS = frozenset({b"\xff\xff\xff\xff", b"\xff\xff\xff\xfe", b"\x00\x00\x00\x00"})


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
    """The IMSI in a 3GPP NAI: an EAP-AKA/AKA'/SIM permanent identity or an IMS private identity."""
    match = _NAI_PERMANENT.match(user_name) or _IMS_PRIVATE.match(user_name)
    if match is None:
        return None
    imsi, mcc = match.group(1), match.group(3)
    return imsi if imsi.startswith(mcc) else None


def ipv4(data: bytes) -> str:
    """Dotted quad of exactly four octets (the caller checks the length)."""
    return socket.inet_ntop(socket.AF_INET, data)


def ipv6(data: bytes) -> str:
    """RFC 5952 text of exactly sixteen octets (the caller checks the length)."""
    return socket.inet_ntop(socket.AF_INET6, data)


def digits_or_tbcd(data: bytes) -> str:
    """An IMEI(SV) that specifications write as UTF-8 digits but some nodes send otherwise.

    RADIUS 3GPP-IMEISV (TS 29.061 s16.4.7) and Diameter User-Equipment-Info-Value
    (RFC 4006 s8.50, TS 29.212) are meant to be ASCII digits.  Two other forms
    are seen in real traffic: TBCD (eight octets for sixteen digits), and one
    digit value per octet (0x04 0x00 0x09 ..., as Magma's PCEF sends it: an
    IMEI(SV) has 14 to 16 digits, so 14 to 16 octets each below 10 cannot be TBCD).
    """
    if data and all(0x30 <= b <= 0x39 for b in data):
        return data.decode("ascii")
    if _IMEI_DIGITS_MIN <= len(data) <= _IMEI_DIGITS_MAX and all(b <= 9 for b in data):
        return "".join(_TBCD_SYMBOLS[b] for b in data)
    return tbcd(data)


def text(data: bytes) -> str:
    """UTF-8 text of an attribute; bad bytes become U+FFFD rather than an error."""
    return data.decode("utf-8", "replace")
