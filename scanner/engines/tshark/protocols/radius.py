"""RADIUS (RFC 2865/2866, 3GPP TS 29.061 VSAs) from tshark's ``radius`` layer; code names,
the IMSI-from-NAI rule and the Framed-IPv6-Prefix are the native decoder's."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import radius as native_radius
from scanner.decode.protocols.telecom import digits_or_tbcd
from scanner.engines.tshark.builder import FRAMED_IP_PLACEHOLDER_TEXT, FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first, first_int, hex_bytes, raw, string_field, text
from scanner.model import Event, RadiusMessage


class RadiusBuilder(LayerBuilder):
    """RADIUS messages."""

    layer = "radius"
    display_filter = "radius"
    protocols = ("radius",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        code = first_int(layer, "radius_radius_code")
        if code is None:
            return ()
        status = first_int(layer, "radius_radius_Acct_Status_Type")
        framed_ip = text(layer, "radius_radius_Framed-IP-Address") or text(layer, "radius_radius_Framed_IP_Address")
        if framed_ip in FRAMED_IP_PLACEHOLDER_TEXT:
            framed_ip = None
        prefix_value = hex_bytes(first(layer, "radius_radius_Framed_IPv6_Prefix"))
        user_name = string_field(layer, "radius_radius_User_Name")
        imsi = native_radius.subscriber_imsi(string_field(layer, "radius_radius_3GPP_IMSI") or None, user_name)
        imeisv_raw = raw(layer, "radius_radius_3GPP_IMEISV")
        return (
            RadiusMessage(
                **ctx.header(),
                code=native_radius.code_name(code),
                acct_status=None if status is None else native_radius.acct_status_name(status),
                user_name=user_name,
                calling_station_id=string_field(layer, "radius_radius_Calling_Station_Id"),
                called_station_id=string_field(layer, "radius_radius_Called_Station_Id"),
                framed_ip=framed_ip,
                framed_ipv6_prefix=native_radius.framed_ipv6_prefix(prefix_value) if prefix_value else None,
                imsi=imsi,
                imeisv=(digits_or_tbcd(imeisv_raw) or None) if imeisv_raw else None,
                session_id=string_field(layer, "radius_radius_Acct_Session_Id"),
            ),
        )
