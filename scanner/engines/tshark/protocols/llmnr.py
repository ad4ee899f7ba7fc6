"""LLMNR (RFC 4795) from tshark's ``llmnr`` layer; the names are the native rule's
(scanner/decode/protocols/llmnr.py ``host_names``)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols.llmnr import host_names as llmnr_host_names
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, values
from scanner.engines.tshark.protocols.dns import dns_records
from scanner.model import Event, LlmnrMessage


class LlmnrBuilder(LayerBuilder):
    """LLMNR questions and answers."""

    layer = "llmnr"
    display_filter = "llmnr"
    protocols = ("llmnr",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        names = llmnr_host_names((str(q) for q in values(layer, "dns_dns_qry_name")), dns_records(layer))
        if not names:
            return ()
        return (LlmnrMessage(**ctx.header(), name=names[0], names=names),)
