"""Diameter (RFC 6733; Gx TS 29.212, Gy RFC 4006, S6a TS 29.272) from tshark's ``diameter``
layer; command names, Subscription-Id kinds and the IMSI-from-User-Name rule are the native
decoder's (scanner/decode/protocols/diameter.py)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import diameter as native_diameter
from scanner.decode.protocols.telecom import digits_or_tbcd, tbcd
from scanner.engines.tshark.builder import FRAMED_IP_PLACEHOLDER_TEXT, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import (
    Layer,
    first,
    first_int,
    flag,
    hex_bytes,
    integers,
    raw,
    string_field,
    text,
    values,
)
from scanner.model import DiameterMessage, Event


class DiameterBuilder(LayerBuilder):
    """Diameter messages."""

    layer = "diameter"
    display_filter = "diameter"
    protocols = ("diameter",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        code = first_int(layer, "diameter_diameter_cmd_code")
        if code is None:
            return ()
        request = flag(first(layer, "diameter_diameter_flags_request"))
        application_id = first_int(layer, "diameter_diameter_applicationId")
        imsi: str | None = None
        msisdn: str | None = None
        # Subscription-Id groups: Type and Data are printed in matching order (RFC 4006 s8.46).
        kinds = integers(layer, "diameter_diameter_Subscription-Id-Type")
        data = [str(d) for d in values(layer, "diameter_diameter_Subscription-Id-Data")]
        if len(kinds) == len(data):
            for kind, value in zip(kinds, data, strict=True):
                if kind == native_diameter.SUBSCRIPTION_ID_E164 and msisdn is None and value:
                    msisdn = value
                elif kind == native_diameter.SUBSCRIPTION_ID_IMSI and imsi is None and value:
                    imsi = value
        elif kinds or data:
            self.anomalies.add("tshark_diameter_subscription_id_misaligned")
        msisdn_bytes = hex_bytes(first(layer, "diameter_diameter_MSISDN"))
        if msisdn is None and msisdn_bytes:
            msisdn = tbcd(msisdn_bytes) or None
        imsi = imsi or string_field(layer, "diameter_diameter_3GPP-IMSI") or None
        user_name = string_field(layer, "diameter_diameter_User-Name")
        if imsi is None and user_name:
            imsi = native_diameter.imsi_from_user_name(user_name, application_id)
        cc_type = first_int(layer, "diameter_diameter_CC-Request-Type")
        return (
            DiameterMessage(
                **ctx.header(),
                command=native_diameter.command_name(code, request),
                application_id=application_id,
                request=request,
                imsi=imsi,
                msisdn=msisdn,
                framed_ip=_diameter_address(layer),
                imei=_diameter_imei(layer),
                session_id=string_field(layer, "diameter_diameter_Session-Id"),
                cc_request_type=None if cc_type is None else native_diameter.cc_request_type_name(cc_type),
            ),
        )


def _diameter_address(layer: Layer) -> str | None:
    for key in (
        "diameter_diameter_Framed-IP-Address_IPv4",
        "diameter_diameter_PDP-Address_IPv4",
        "diameter_diameter_PDP-Address_IPv6",
    ):
        address = text(layer, key)
        if address and address not in FRAMED_IP_PLACEHOLDER_TEXT and address != "::":
            return address
    return None


def _diameter_imei(layer: Layer) -> str | None:
    imei = text(layer, "diameter_diameter_IMEI")
    if imei:
        return imei
    imeisv = raw(layer, "diameter_diameter_3GPP-IMEISV") or hex_bytes(first(layer, "diameter_diameter_3GPP-IMEISV"))
    if imeisv:
        return digits_or_tbcd(imeisv) or None
    kinds = integers(layer, "diameter_diameter_User-Equipment-Info-Type")
    ue_values = [hex_bytes(v) for v in values(layer, "diameter_diameter_User-Equipment-Info-Value")]
    for kind, value in zip(kinds, ue_values, strict=False):
        if kind == native_diameter.UE_INFO_IMEISV and value:
            return digits_or_tbcd(value) or None
    return None
