"""Multicast DNS / DNS-SD (RFC 6762, 6763) from tshark's ``mdns`` layer; which names name a
device is the native rule (scanner/decode/protocols/mdns.py ``device_names``)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols.dns import RR_PTR, RR_SRV, RR_TXT
from scanner.decode.protocols.mdns import device_names as mdns_device_names
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, values
from scanner.engines.tshark.protocols.dns import dns_records
from scanner.model import Event, MdnsMessage


class MdnsBuilder(LayerBuilder):
    """mDNS messages that name a device."""

    layer = "mdns"
    display_filter = "mdns"
    protocols = ("mdns",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        dns_names = [str(q) for q in values(layer, "dns_dns_qry_name")]
        texts: list[str] = []
        for record in dns_records(layer, txt_strings=True):
            dns_names.append(record.name)
            if record.rtype in (RR_PTR, RR_SRV) and record.value:
                dns_names.append(record.value)
            elif record.rtype == RR_TXT:
                texts.extend(record.strings)
        found = mdns_device_names(dns_names, texts)
        if found is None:
            return ()
        name, names = found
        return (MdnsMessage(**ctx.header(), name=name, names=names),)
