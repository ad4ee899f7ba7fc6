"""DHCPv6 (RFC 8415) from tshark's ``dhcpv6`` layer; message names are the native decoder's
(scanner/decode/protocols/dhcpv6.py)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import dhcp as native_dhcp
from scanner.decode.protocols import dhcpv6 as native_dhcpv6
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, integers, text, values
from scanner.model import DhcpMessage, Event


class Dhcpv6Builder(LayerBuilder):
    """DHCPv6 messages (the innermost of a relayed one)."""

    layer = "dhcpv6"
    display_filter = "dhcpv6"
    protocols = ("dhcpv6",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        types = integers(layer, "dhcpv6_dhcpv6_msgtype")
        if not types:
            return ()
        # Relayed messages nest the client's message: the innermost one is the last printed.
        msg_type = types[-1]
        message = native_dhcpv6.message_name(msg_type)
        mac = None
        for key in ("dhcpv6_dhcpv6_duidllt_link_layer_addr", "dhcpv6_dhcpv6_duidll_link_layer_addr"):
            candidate = text(layer, key)
            if candidate and mac is None:
                mac = candidate.lower()
        fqdn = text(layer, "dhcpv6_dhcpv6_client_domain")
        vendor = [str(v) for v in values(layer, "dhcpv6_dhcpv6_vendorclass_data")]
        valid = first_int(layer, "dhcpv6_dhcpv6_iaaddr_valid_lifetime")
        return (
            DhcpMessage(
                **ctx.header(),
                message=message,
                mac=mac,
                hostname=native_dhcp.host_name(None, fqdn),
                ip=text(layer, "dhcpv6_dhcpv6_iaaddr_ip"),
                vendor_class=",".join(vendor) or None,
                client_fqdn=fqdn or None,
                lease_time=valid or None,
                version=6,
            ),
        )
