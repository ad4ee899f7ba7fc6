"""GTPv2-C (3GPP TS 29.274) from tshark's ``gtpv2`` layer: one event per message (piggybacked
messages are separate layers), named in snake_case.  EK flattens grouped IEs; ``gtpv2_ies``
puts the tree back from the IE lengths, and the roles of the F-TEIDs found in it are the
native decoder's rule (scanner/decode/protocols/gtpc.py ``v2_fteid_role``, ``v2_sender_teid``)."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import gtpc as native_gtpc
from scanner.engines.tshark.builder import MESSAGE_RAW, FrameContext, LayerBuilder, nonzero_address, tbcd_digits
from scanner.engines.tshark.ek import Layer, first, first_int, flag, hex_bytes, integers, text
from scanner.model import Event, GtpcMessage


class GtpV2Builder(LayerBuilder):
    """GTPv2-C messages."""

    layer = "gtpv2"
    display_filter = "gtpv2"
    protocols = ("gtpv2",)
    message_bytes = True  # the ULI IE is read from the message bytes

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        msg_type = first_int(layer, "gtpv2_gtpv2_message_type")
        if msg_type is None:
            return ()
        name = native_gtpc.message_name(2, msg_type)
        ies = gtpv2_ies(layer)
        if ies is None:
            self.anomalies.add("tshark_gtpv2_ie_list_misaligned")
            ies = []
        # F-TEIDs and Causes in tree order, matched to their IEs to know where each one is.
        fteids = integers(layer, "gtpv2_gtpv2_f_teid_gre_key")
        causes = integers(layer, "gtpv2_gtpv2_cause")
        sender_teid: int | None = None
        pgw_control_teid: int | None = None
        user_teids: list[int] = []
        cause: int | None = None
        fteid_index = cause_index = 0
        for ie_type, instance, parent, _ in ies:
            if ie_type == native_gtpc.IE_FTEID:
                teid = fteids[fteid_index] if fteid_index < len(fteids) else None
                fteid_index += 1
                if teid is None:
                    continue
                role = native_gtpc.v2_fteid_role(parent, instance)
                if role == native_gtpc.FTEID_USER:
                    if teid not in user_teids:
                        user_teids.append(teid)
                elif role == native_gtpc.FTEID_SENDER:
                    sender_teid = teid
                elif role == native_gtpc.FTEID_PGW_CONTROL and pgw_control_teid is None:
                    pgw_control_teid = teid
            elif ie_type == native_gtpc.IE_CAUSE:
                value = causes[cause_index] if cause_index < len(causes) else None
                cause_index += 1
                if parent == 0 and cause is None:
                    cause = value
        sender_teid = native_gtpc.v2_sender_teid(msg_type, sender_teid, pgw_control_teid)
        rat = first_int(layer, "gtpv2_gtpv2_rat_type")
        ue_ip = nonzero_address(text(layer, "gtpv2_gtpv2_pdn_addr_and_prefix_ipv4")) or nonzero_address(
            text(layer, "gtpv2_gtpv2_ip_address_ipv4") if any(ie[2] == native_gtpc.IE_PDN_CONNECTION for ie in ies) else None
        )
        ue_ipv6 = nonzero_address(text(layer, "gtpv2_gtpv2_pdn_addr_and_prefix_ipv6"))
        return (
            GtpcMessage(
                **ctx.header(),
                message=name,
                version=2,
                imsi=text(layer, "e212_e212_imsi"),
                msisdn=text(layer, "e164_e164_msisdn") or text(layer, "gtpv2_gtpv2_msisdn"),
                mei=tbcd_digits(text(layer, "gtpv2_gtpv2_mei")),
                ue_ip=ue_ip,
                ue_ipv6=ue_ipv6,
                apn=text(layer, "gtpv2_gtpv2_apn"),
                rat=None if rat is None else native_gtpc.rat_name(rat),
                uli=_gtpv2_uli(layer, ies),
                teid=first_int(layer, "gtpv2_gtpv2_teid") if flag(first(layer, "gtpv2_gtpv2_t")) else None,
                seq=first_int(layer, "gtpv2_gtpv2_seq"),
                cause=cause,
                sender_teid=sender_teid,
                response=native_gtpc.is_response(name),
                user_teids=tuple(user_teids),
            ),
        )


def gtpv2_ies(layer: Layer) -> list[tuple[int, int, int, int]] | None:
    """(IE type, instance, parent IE type or 0, length) for each IE of a GTPv2 message, in tree order.

    EK flattens grouped IEs (Bearer Context, PDN Connection): their members follow
    them in the ``gtpv2.ie_type`` list.  A group's length tells how many of the
    following IEs are inside it (each takes 4 header octets plus its length).
    None when the lists do not line up (a damaged message).
    """
    types = integers(layer, "gtpv2_gtpv2_ie_type")
    lengths = integers(layer, "gtpv2_gtpv2_ie_len")
    instances = integers(layer, "gtpv2_gtpv2_instance")
    if not (len(types) == len(lengths) == len(instances)):
        return None
    out: list[tuple[int, int, int, int]] = []
    stack: list[list[int]] = []  # [group type, octets left inside it]
    for ie_type, length, instance in zip(types, lengths, instances, strict=True):
        while stack and stack[-1][1] <= 0:
            stack.pop()
        parent = stack[-1][0] if stack else 0
        for group in stack:
            group[1] -= 4 + length
        out.append((ie_type, instance, parent, length))
        if ie_type in native_gtpc.V2_GROUPED:
            stack.append([ie_type, length])
    return out


def _gtpv2_uli(layer: Layer, ies: list[tuple[int, int, int, int]]) -> str | None:
    """User Location Information, from the IE's bytes: tshark prints its parts (MCC and MNC as
    numbers, without the MNC's digit count) but not the value, which the shared TS 29.274 s8.21
    formatter reads.  The IE is found by walking the top-level IEs with tshark's types and lengths."""
    message = hex_bytes(layer.get(MESSAGE_RAW))
    if not message or not any(ie[0] == native_gtpc.IE_ULI for ie in ies):
        return None
    offset = 12 if message[0] & native_gtpc.V2_FLAG_TEID else 8
    for ie_type, _, parent, length in ies:
        if parent:
            continue  # inside a group: its bytes were stepped over with the group
        if ie_type == native_gtpc.IE_ULI:
            return native_gtpc.decode_v2_uli(message[offset + 4 : offset + 4 + length])
        offset += 4 + length
    return None
