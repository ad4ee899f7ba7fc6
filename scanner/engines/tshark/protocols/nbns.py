"""NetBIOS Name Service (RFC 1002) from tshark's ``nbns`` layer; the best name is the native
rule's (scanner/decode/protocols/nbns.py ``best_name``)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from scanner.decode.protocols import nbns as native_nbns
from scanner.engines.tshark.builder import FrameContext, LayerBuilder
from scanner.engines.tshark.ek import Layer, first_int, flag, integers, values
from scanner.model import Event, NbnsMessage

# NetBIOS names as Wireshark prints them: "NAME<1d>", RR names with " (Browser)" after.
_NETBIOS_NAME = re.compile(r"^(?P<name>.*)<(?P<suffix>[0-9A-Fa-f]{2})>")
# Protocol machinery, not a host's name: the NBSTAT wildcard and the browser election name
# (Wireshark prints its control characters escaped, so it is matched on its letters).
_NETBIOS_MACHINERY = re.compile(r"^\*$|__MSBROWSE__")


class NbnsBuilder(LayerBuilder):
    """NBNS messages that name a host."""

    layer = "nbns"
    display_filter = "nbns"
    protocols = ("nbns",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        useful = [
            native_nbns.NetbiosName(*entry)
            for entry in nbns_names(layer)
            if entry[0] and not _NETBIOS_MACHINERY.search(entry[0]) and entry[0].isprintable()
        ]
        if not useful:
            return ()
        return (NbnsMessage(**ctx.header(), name=native_nbns.best_name(useful), names=tuple(dict.fromkeys(n.name for n in useful))),)


def nbns_names(layer: Layer) -> list[tuple[str, int, bool | None]]:
    """(name, suffix, group) of every name in a NetBIOS name service message, in order."""
    names = [str(n) for n in values(layer, "nbns_nbns_name")]
    types = integers(layer, "nbns_nbns_type")
    questions = first_int(layer, "nbns_nbns_count_queries") or 0
    data_lengths = iter(integers(layer, "nbns_nbns_data_length"))
    nb_groups = iter([flag(v) for v in values(layer, "nbns_nbns_nb_flags_group")])
    node_names = iter([str(n) for n in values(layer, "nbns_nbns_netbios_name")])
    node_groups = iter([flag(v) for v in values(layer, "nbns_nbns_name_flags_group")])
    counts = iter(integers(layer, "nbns_nbns_number_of_names"))
    out: list[tuple[str, int, bool | None]] = []
    for index, printed in enumerate(names):
        parsed = _netbios_name(printed)
        if parsed is None:
            continue
        name, suffix = parsed
        if index < questions:
            out.append((name, suffix, None))
            continue
        rtype = types[index] if index < len(types) else 0
        length = next(data_lengths, 0)
        if rtype == native_nbns.RR_NB:
            # NB_FLAGS then an address per entry; the first entry's flags say what the name is.
            groups = [next(nb_groups, False) for _ in range(max(length // 6, 0))]
            out.append((name, suffix, groups[0] if groups else None))
        elif rtype == native_nbns.RR_NBSTAT:
            for _ in range(next(counts, 0)):
                node = _netbios_name(next(node_names, ""))
                group = next(node_groups, None)
                if node is not None:
                    out.append((node[0], node[1], group))
        else:
            out.append((name, suffix, None))
    return out


def _netbios_name(printed: str) -> tuple[str, int] | None:
    match = _NETBIOS_NAME.match(printed)
    if match is None:
        return None
    return match.group("name").rstrip(" "), int(match.group("suffix"), 16)
