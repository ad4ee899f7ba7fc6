"""GTPv1-C (3GPP TS 29.060) from tshark's ``gtp`` layer; message and RAT names are the native
decoder's (scanner/decode/protocols/gtpc.py).  GTP-U G-PDUs are tunnels (frame.py), not events."""

from __future__ import annotations

from collections.abc import Sequence

from scanner.decode.protocols import gtpc as native_gtpc
from scanner.decode.tunnels import GTPU_GPDU, GTPU_PORT
from scanner.engines.tshark.builder import FrameContext, LayerBuilder, nonzero_address, tbcd_digits
from scanner.engines.tshark.ek import Layer, first, first_int, flag, integers, text
from scanner.model import Event, FlowTuple, GtpcMessage


class GtpV1Builder(LayerBuilder):
    """GTPv1-C messages."""

    layer = "gtp"
    display_filter = "(gtp and gtp.message != 0xff)"
    protocols = ("gtp",)

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        msg_type = first_int(layer, "gtp_gtp_message")
        version = first_int(layer, "gtp_gtp_flags_version")
        if msg_type is None or msg_type == GTPU_GPDU or version != 1:
            return ()  # user data (a tunnel), or GTPv0 / GTP' (out of scope, as native)
        if _user_plane_path(ctx.flow):
            # Echo, Error Indication and End Marker on the GTP-U port manage the user-plane
            # path; they name no subscriber, and the native engine reads GTP-C on 2123 only.
            self.count("tshark_gtpu_path_messages")
            return ()
        if not flag(first(layer, "gtp_gtp_flags_payload")):
            self.anomalies.add("tshark_gtp_prime_skipped")
            return ()
        name = native_gtpc.message_name(1, msg_type)
        user_teids: list[int] = []
        for teid in integers(layer, "gtp_gtp_teid_data") + integers(layer, "gtp_gtp_teid_ii"):
            if teid not in user_teids:
                user_teids.append(teid)
        rat = first_int(layer, "gtp_gtp_ext_rat_type")
        return (
            GtpcMessage(
                **ctx.header(),
                message=name,
                version=1,
                imsi=text(layer, "e212_e212_imsi"),
                msisdn=text(layer, "e164_e164_msisdn"),
                mei=tbcd_digits(text(layer, "gtp_gtp_ext_imeisv")),
                ue_ip=nonzero_address(text(layer, "gtp_gtp_user_ipv4")),
                ue_ipv6=nonzero_address(text(layer, "gtp_gtp_user_ipv6")),
                apn=text(layer, "gtp_gtp_apn"),
                rat=None if rat is None else native_gtpc.rat_name(rat),
                teid=first_int(layer, "gtp_gtp_teid"),
                seq=first_int(layer, "gtp_gtp_seq_number") if flag(first(layer, "gtp_gtp_flags_s")) else None,
                cause=first_int(layer, "gtp_gtp_cause"),
                sender_teid=first_int(layer, "gtp_gtp_teid_cp"),
                response=native_gtpc.is_response(name),
                user_teids=tuple(user_teids),
            ),
        )


def _user_plane_path(flow: FlowTuple) -> bool:
    return GTPU_PORT in (flow.sport, flow.dport) and native_gtpc.GTPC_PORT not in (flow.sport, flow.dport)
