"""DHCPv4 (RFC 2131/2132) from tshark's ``dhcp`` layer; message names, the client-MAC rule and
the leased address are the native decoder's (scanner/decode/protocols/dhcp.py)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import dhcp as native_dhcp
from scanner.engines.tshark.builder import FrameContext, LayerBuilder, nonzero_address
from scanner.engines.tshark.ek import Layer, first_int, raw, text
from scanner.model import DhcpMessage, Event


class DhcpBuilder(LayerBuilder):
    """DHCPv4 messages."""

    layer = "dhcp"
    display_filter = "dhcp"
    protocols = ("dhcp",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        op = first_int(layer, "dhcp_dhcp_type")
        message = native_dhcp.message_name(first_int(layer, "dhcp_dhcp_option_dhcp"), op)
        mac = native_dhcp.client_mac(
            first_int(layer, "dhcp_dhcp_hw_type"), first_int(layer, "dhcp_dhcp_hw_len"), text(layer, "dhcp_dhcp_hw_mac_addr")
        )
        fqdn = text(layer, "dhcp_dhcp_fqdn_name")
        client_fqdn = (fqdn.rstrip("\x00.") or None) if fqdn else None
        hostname_raw = raw(layer, "dhcp_dhcp_option_hostname")
        hostname = (
            hostname_raw.decode("utf-8", "replace").rstrip("\x00")
            if hostname_raw is not None
            else (text(layer, "dhcp_dhcp_option_hostname") or "")
        )
        vendor_raw = raw(layer, "dhcp_dhcp_option_vendor_class_id")
        vendor = vendor_raw.decode("utf-8", "replace") if vendor_raw else text(layer, "dhcp_dhcp_option_vendor_class_id")
        return (
            DhcpMessage(
                **ctx.header(),
                message=message,
                mac=mac,
                hostname=native_dhcp.host_name(hostname, client_fqdn),
                ip=native_dhcp.leased_address(
                    message,
                    nonzero_address(text(layer, "dhcp_dhcp_ip_your")),
                    nonzero_address(text(layer, "dhcp_dhcp_option_requested_ip_address")),
                    nonzero_address(text(layer, "dhcp_dhcp_ip_client")),
                ),
                vendor_class=vendor or None,
                client_fqdn=client_fqdn,
                lease_time=first_int(layer, "dhcp_dhcp_option_ip_address_lease_time"),
                version=4,
            ),
        )
