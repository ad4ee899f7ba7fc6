"""Subscriber bindings learned from the control plane, over time: GTPv2-C and GTPv1-C sessions
(requests matched to responses by sequence number and peers, F-TEIDs), RADIUS accounting,
Diameter credit control, DHCP leases.  Addresses are reassigned: who held one is a question
about a moment."""

from __future__ import annotations

from typing import Any

import pytest

from scanner.attribute.bindings import MAX_INTERVALS_PER_ADDRESS, AddressTable, BindingLearner, Identity
from scanner.model import DhcpMessage, DiameterMessage, FlowTuple, GtpcMessage, RadiusMessage

MME, SGW = "172.16.1.10", "172.16.1.20"
SGSN, GGSN = "172.16.2.10", "172.16.2.20"
T0 = 1_717_311_600.0
UE = "10.45.12.34"
LEON = "262017201373089"
SABINE = "262072246121161"


def gtp(message: str, ts: float, *, seq: int, src: str = MME, dst: str = SGW, version: int = 2, **fields: Any) -> GtpcMessage:
    return GtpcMessage(
        ts=ts, capture="s11.pcap", frame=1, flow=FlowTuple("udp", src, 2123, dst, 2123), message=message, version=version,
        seq=seq, response=message.endswith("_response"), **fields,
    )


def create_session(learner: BindingLearner, ts: float, imsi: str, *, seq: int, ue_ip: str = UE, mme_teid: int = 0x1000,
                   sgw_teid: int = 0x2000, user_teids: tuple[int, ...] = (0x3000,), cause: int = 16,
                   msisdn: str | None = "491713920030", mei: str | None = "8676970520770926") -> None:
    learner.learn(gtp("create_session_request", ts, seq=seq, imsi=imsi, msisdn=msisdn, mei=mei, teid=0, sender_teid=mme_teid))
    learner.learn(gtp("create_session_response", ts + 0.03, seq=seq, src=SGW, dst=MME, ue_ip=ue_ip, teid=mme_teid,
                      sender_teid=sgw_teid, cause=cause, user_teids=user_teids))


def delete_session(learner: BindingLearner, ts: float, *, seq: int, sgw_teid: int = 0x2000) -> None:
    learner.learn(gtp("delete_session_request", ts, seq=seq, teid=sgw_teid))
    learner.learn(gtp("delete_session_response", ts + 0.02, seq=seq, src=SGW, dst=MME, teid=0x1000, cause=16))


def imsi_at(learner: BindingLearner, address: str, ts: float) -> str | None:
    identity = learner.lookup(address, ts)
    return identity.imsi if identity else None


def imsi_in_tunnel(learner: BindingLearner, teid: int, ts: float) -> str | None:
    identity = learner.lookup_tunnel(teid, ts)
    return identity.imsi if identity else None


# ---------------------------------------------------------------------- GTPv2-C


def test_create_session_binds_address_and_teids_from_the_response() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=28613, user_teids=(3302812841, 246465207))
    assert imsi_at(learner, UE, T0 + 0.01) is None, "bound from the response, not the request"
    assert imsi_at(learner, UE, T0 + 0.03) == LEON
    assert imsi_at(learner, UE, T0 + 3600) == LEON
    identity = learner.lookup(UE, T0 + 1)
    assert identity == Identity(source="gtp", imsi=LEON, msisdn="491713920030", mei="867697052077091")
    assert identity is not None and identity.key == ("imsi", LEON)
    assert imsi_in_tunnel(learner, 3302812841, T0 + 1) == LEON
    assert imsi_in_tunnel(learner, 246465207, T0 + 1) == LEON
    assert learner.bindings_learned == 1


def test_response_must_match_the_request_sequence_and_peers() -> None:
    learner = BindingLearner()
    learner.learn(gtp("create_session_request", T0, seq=7, imsi=LEON, teid=0, sender_teid=0x1000))
    learner.learn(gtp("create_session_response", T0 + 0.1, seq=8, src=SGW, dst=MME, ue_ip=UE, teid=0x1000, sender_teid=0x2000, cause=16))
    assert imsi_at(learner, UE, T0 + 1) is None, "another sequence number: another transaction"
    learner.learn(gtp("create_session_response", T0 + 0.1, seq=7, src="172.16.1.99", dst=MME, ue_ip=UE, teid=0x1000, cause=16))
    assert imsi_at(learner, UE, T0 + 1) is None, "another peer answered"
    learner.learn(gtp("create_session_response", T0 + 0.2, seq=7, src=SGW, dst=MME, ue_ip=UE, teid=0x1000, sender_teid=0x2000, cause=16))
    assert imsi_at(learner, UE, T0 + 1) == LEON
    learner.learn(gtp("create_session_response", T0 + 0.3, seq=7, src=SGW, dst=MME, ue_ip="10.45.99.99", teid=0x1000, cause=16))
    assert imsi_at(learner, "10.45.99.99", T0 + 1) is None, "a request is answered once"


@pytest.mark.parametrize(("cause", "bound"), [(16, True), (17, True), (18, True), (64, False), (73, False), (None, True)])
def test_rejected_session_binds_nothing(cause: int | None, bound: bool) -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1, cause=cause)  # type: ignore[arg-type]
    assert (imsi_at(learner, UE, T0 + 1) == LEON) is bound


def test_modify_bearer_adds_the_enodeb_teid() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1)
    learner.learn(gtp("modify_bearer_request", T0 + 0.1, seq=2, teid=0x2000, user_teids=(2633971711,)))
    assert imsi_in_tunnel(learner, 2633971711, T0 + 0.05) is None
    assert imsi_in_tunnel(learner, 2633971711, T0 + 0.2) == LEON
    learner.learn(gtp("modify_bearer_request", T0 + 0.1, seq=3, teid=0x7777, user_teids=(999,)))
    assert imsi_in_tunnel(learner, 999, T0 + 1) is None, "a modify for an unknown session binds nothing"


def test_modify_bearer_with_a_new_address() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1)
    learner.learn(gtp("modify_bearer_request", T0 + 5, seq=2, teid=0x2000, ue_ip="10.45.12.99"))
    assert imsi_at(learner, "10.45.12.99", T0 + 6) == LEON


def test_delete_session_ends_address_and_tunnels() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1, user_teids=(0x3000,))
    learner.learn(gtp("modify_bearer_request", T0 + 0.1, seq=2, teid=0x2000, user_teids=(0x4000,)))
    delete_session(learner, T0 + 60, seq=3)
    assert imsi_at(learner, UE, T0 + 59.9) == LEON
    assert imsi_at(learner, UE, T0 + 60) is None
    assert imsi_in_tunnel(learner, 0x3000, T0 + 61) is None
    assert imsi_in_tunnel(learner, 0x4000, T0 + 61) is None
    assert imsi_in_tunnel(learner, 0x4000, T0 + 30) == LEON


def test_delete_from_the_other_side_names_the_session_by_its_teid() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1, mme_teid=0x1000)
    learner.learn(gtp("delete_session_request", T0 + 10, seq=9, src=SGW, dst=MME, teid=0x1000))
    assert imsi_at(learner, UE, T0 + 11) is None


def test_delete_of_an_unknown_session_changes_nothing() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1)
    delete_session(learner, T0 + 10, seq=2, sgw_teid=0xDEAD)
    assert imsi_at(learner, UE, T0 + 11) == LEON


def test_address_released_and_reassigned_mid_capture() -> None:
    """The demo_gtp story: 10.45.12.34 is Leon's, his session is deleted, then it is Sabine's."""
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1, sgw_teid=0x2000, user_teids=(0x3000,))
    delete_session(learner, T0 + 30, seq=2, sgw_teid=0x2000)
    create_session(learner, T0 + 32, SABINE, seq=3, mme_teid=0x1001, sgw_teid=0x2001, user_teids=(0x3001,), msisdn="4917604069030",
                   mei=None)
    assert imsi_at(learner, UE, T0 + 15) == LEON
    assert imsi_at(learner, UE, T0 + 31) is None, "between the sessions nobody holds it"
    assert imsi_at(learner, UE, T0 + 40) == SABINE
    assert imsi_at(learner, UE, T0 + 15) == LEON, "history is kept: events may be looked up late"


def test_address_reassigned_without_a_delete() -> None:
    learner = BindingLearner()
    create_session(learner, T0, LEON, seq=1)
    create_session(learner, T0 + 100, SABINE, seq=2, mme_teid=0x1001, sgw_teid=0x2001, user_teids=(0x3001,), msisdn="4917604069030")
    assert imsi_at(learner, UE, T0 + 99) == LEON
    assert imsi_at(learner, UE, T0 + 101) == SABINE


# ---------------------------------------------------------------------- GTPv1-C


def test_gtpv1_pdp_context() -> None:
    learner = BindingLearner()
    learner.learn(gtp("create_pdp_context_request", T0, seq=11, src=SGSN, dst=GGSN, version=1, imsi=LEON, msisdn="491713920030",
                      teid=0, sender_teid=0xA1, user_teids=(0xB1,)))
    learner.learn(gtp("create_pdp_context_response", T0 + 0.05, seq=11, src=GGSN, dst=SGSN, version=1, ue_ip="10.60.0.5",
                      teid=0xA1, sender_teid=0xA2, cause=128, user_teids=(0xB2,)))
    assert imsi_at(learner, "10.60.0.5", T0 + 1) == LEON
    assert imsi_in_tunnel(learner, 0xB1, T0 + 1) == LEON and imsi_in_tunnel(learner, 0xB2, T0 + 1) == LEON
    learner.learn(gtp("update_pdp_context_request", T0 + 5, seq=12, src=SGSN, dst=GGSN, version=1, teid=0xA2, user_teids=(0xB3,)))
    assert imsi_in_tunnel(learner, 0xB3, T0 + 6) == LEON
    learner.learn(gtp("delete_pdp_context_request", T0 + 20, seq=13, src=SGSN, dst=GGSN, version=1, teid=0xA2))
    assert imsi_at(learner, "10.60.0.5", T0 + 21) is None
    assert imsi_at(learner, "10.60.0.5", T0 + 19) == LEON


def test_gtpv1_rejected_cause() -> None:
    learner = BindingLearner()
    learner.learn(gtp("create_pdp_context_request", T0, seq=1, src=SGSN, dst=GGSN, version=1, imsi=LEON, teid=0, sender_teid=1))
    learner.learn(gtp("create_pdp_context_response", T0 + 0.1, seq=1, src=GGSN, dst=SGSN, version=1, ue_ip="10.60.0.5",
                      teid=1, cause=199))  # 192-255: rejection
    assert imsi_at(learner, "10.60.0.5", T0 + 1) is None


# ---------------------------------------------------------------------- RADIUS


def radius(status: str, ts: float, *, calling: str | None, framed_ip: str | None = "100.64.0.9", code: str = "Accounting-Request",
           **fields: Any) -> RadiusMessage:
    return RadiusMessage(ts=ts, capture="radius.pcap", frame=1, flow=FlowTuple("udp", "10.0.0.1", 40000, "10.0.0.2", 1813),
                         code=code, acct_status=status, calling_station_id=calling, framed_ip=framed_ip, **fields)


def test_radius_start_interim_stop_with_msisdn() -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling="491713920030", user_name="leon@internet", imsi=LEON, imeisv="8676970520770926"))
    identity = learner.lookup("100.64.0.9", T0 + 1)
    assert identity == Identity(source="radius", imsi=LEON, msisdn="491713920030", mei="867697052077091", user_name="leon@internet")
    learner.learn(radius("Interim-Update", T0 + 300, calling="491713920030", user_name="leon@internet", imsi=LEON,
                         imeisv="8676970520770926"))
    assert learner.addresses.lookup("100.64.0.9", T0 + 400) == identity
    learner.learn(radius("Stop", T0 + 600, calling="491713920030", user_name="leon@internet", imsi=LEON, imeisv="8676970520770926"))
    assert learner.lookup("100.64.0.9", T0 + 599) == identity
    assert learner.lookup("100.64.0.9", T0 + 601) is None


def test_radius_stop_that_carries_fewer_attributes_still_ends_the_session() -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling="491713920030", user_name="leon@internet", imsi=LEON, imeisv="8676970520770926"))
    learner.learn(radius("Stop", T0 + 600, calling="491713920030", user_name="leon@internet"))
    assert learner.lookup("100.64.0.9", T0 + 601) is None


def test_same_holder_compares_the_strongest_name_both_carry() -> None:
    start = Identity(source="radius", imsi=LEON, msisdn="491713920030", user_name="leon@internet")
    assert start.same_holder(Identity(source="radius", msisdn="491713920030"))
    assert start.same_holder(Identity(source="radius", user_name="leon@internet"))
    assert not start.same_holder(Identity(source="radius", imsi=SABINE, msisdn="491713920030")), "another SIM, same number"
    assert not start.same_holder(Identity(source="radius", mac="3c:22:fb:11:22:33"))


def test_radius_interim_with_fewer_attributes_keeps_the_name_it_started_with() -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling="491713920030", imsi=LEON))
    learner.learn(radius("Interim-Update", T0 + 300, calling="491713920030"))
    assert imsi_at(learner, "100.64.0.9", T0 + 400) == LEON


def test_radius_stop_of_someone_else_does_not_end_the_session() -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling="491713920030", imsi=LEON))
    learner.learn(radius("Stop", T0 + 600, calling="4917604069030", imsi=SABINE))
    assert imsi_at(learner, "100.64.0.9", T0 + 601) == LEON


@pytest.mark.parametrize("calling", ["3C-22-FB-11-22-33", "3c:22:fb:11:22:33", "3C22FB112233"])
def test_radius_wifi_calling_station_is_a_mac(calling: str) -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling=calling, user_name="guest"))
    identity = learner.lookup("100.64.0.9", T0 + 1)
    assert identity is not None
    assert (identity.mac, identity.msisdn, identity.key) == ("3c:22:fb:11:22:33", None, ("mac", "3c:22:fb:11:22:33"))


def test_radius_access_accept_binds_access_request_does_not() -> None:
    learner = BindingLearner()
    learner.learn(radius("", T0, calling="491713920030", code="Access-Request"))
    assert learner.lookup("100.64.0.9", T0 + 1) is None
    learner.learn(radius("", T0, calling="491713920030", code="Access-Accept"))
    assert learner.lookup("100.64.0.9", T0 + 1) is not None


def test_radius_without_address_or_identity_binds_nothing() -> None:
    learner = BindingLearner()
    learner.learn(radius("Start", T0, calling="491713920030", framed_ip=None))
    learner.learn(radius("Start", T0, calling=None))
    assert learner.bindings_learned == 0


# ---------------------------------------------------------------------- Diameter


def ccr(kind: str, ts: float, session: str = "pgw.example;1;42", **fields: Any) -> DiameterMessage:
    return DiameterMessage(ts=ts, capture="gx.pcap", frame=1, flow=FlowTuple("sctp", "10.1.0.1", 3868, "10.1.0.2", 3868),
                           command="Credit-Control-Request", application_id=16777238, session_id=session,
                           cc_request_type=kind, **fields)


def test_diameter_ccr_initial_update_termination_by_session_id() -> None:
    learner = BindingLearner()
    learner.learn(ccr("INITIAL", T0, imsi=LEON, msisdn="491713920030", framed_ip="10.70.0.3"))
    assert imsi_at(learner, "10.70.0.3", T0 + 1) == LEON
    learner.learn(ccr("UPDATE", T0 + 100))  # no Subscription-Id, no address: the session says whose
    assert imsi_at(learner, "10.70.0.3", T0 + 101) == LEON
    learner.learn(ccr("TERMINATION", T0 + 200))
    assert imsi_at(learner, "10.70.0.3", T0 + 199) == LEON
    assert imsi_at(learner, "10.70.0.3", T0 + 201) is None


def test_diameter_other_session_termination_does_not_end_this_one() -> None:
    learner = BindingLearner()
    learner.learn(ccr("INITIAL", T0, imsi=LEON, framed_ip="10.70.0.3"))
    learner.learn(ccr("TERMINATION", T0 + 200, session="pgw.example;1;43"))
    assert imsi_at(learner, "10.70.0.3", T0 + 201) == LEON


def test_diameter_answer_binds_nothing() -> None:
    learner = BindingLearner()
    answer = DiameterMessage(ts=T0, capture="gx.pcap", frame=1, flow=FlowTuple("sctp", "10.1.0.2", 3868, "10.1.0.1", 3868),
                             command="Credit-Control-Answer", request=False, imsi=LEON, framed_ip="10.70.0.3")
    learner.learn(answer)
    assert learner.lookup("10.70.0.3", T0 + 1) is None


# ---------------------------------------------------------------------- DHCP


def dhcp(message: str, ts: float, ip: str | None, lease: int | None = None, mac: str = "3c:22:fb:11:22:33") -> DhcpMessage:
    return DhcpMessage(ts=ts, capture="wifi.pcap", frame=1, flow=FlowTuple("udp", "192.168.178.1", 67, "192.168.178.20", 68),
                       message=message, mac=mac, ip=ip, lease_time=lease)


def test_dhcp_ack_binds_until_the_lease_ends() -> None:
    learner = BindingLearner()
    learner.learn(dhcp("ACK", T0, "192.168.178.20", lease=3600))
    identity = learner.lookup("192.168.178.20", T0 + 10)
    assert identity == Identity(source="dhcp", mac="3c:22:fb:11:22:33")
    assert learner.lookup("192.168.178.20", T0 + 3599) == identity
    assert learner.lookup("192.168.178.20", T0 + 3600) is None, "the lease ended"
    assert learner.lookup("192.168.178.20", T0 - 1) is None


def test_dhcp_renewal_extends_and_release_ends() -> None:
    learner = BindingLearner()
    learner.learn(dhcp("ACK", T0, "192.168.178.20", lease=3600))
    learner.learn(dhcp("ACK", T0 + 1800, "192.168.178.20", lease=3600))
    assert learner.lookup("192.168.178.20", T0 + 5000) is not None, "renewed past the first lease's end"
    learner.learn(dhcp("RELEASE", T0 + 5100, "192.168.178.20"))
    assert learner.lookup("192.168.178.20", T0 + 5099) is not None
    assert learner.lookup("192.168.178.20", T0 + 5101) is None


def test_dhcp_lease_to_another_mac_reassigns() -> None:
    learner = BindingLearner()
    learner.learn(dhcp("ACK", T0, "192.168.178.20"))
    learner.learn(dhcp("ACK", T0 + 50, "192.168.178.20", mac="f0:18:98:cf:a7:53"))
    first, second = learner.lookup("192.168.178.20", T0 + 10), learner.lookup("192.168.178.20", T0 + 60)
    assert first is not None and second is not None
    assert (first.mac, second.mac) == ("3c:22:fb:11:22:33", "f0:18:98:cf:a7:53")


def test_dhcp_discover_and_request_bind_nothing() -> None:
    learner = BindingLearner()
    learner.learn(dhcp("DISCOVER", T0, None))
    learner.learn(dhcp("REQUEST", T0, "192.168.178.20"))
    assert learner.lookup("192.168.178.20", T0 + 1) is None


def test_dhcpv6_reply_binds() -> None:
    learner = BindingLearner()
    learner.learn(dhcp("REPLY", T0, "2001:db8::20", lease=7200))
    assert learner.lookup("2001:db8::20", T0 + 1) is not None


# ---------------------------------------------------------------------- the table itself


def test_address_history_is_bounded() -> None:
    table = AddressTable()
    for i in range(MAX_INTERVALS_PER_ADDRESS + 5):
        table.bind("10.0.0.1", T0 + i * 10, Identity(source="gtp", imsi=f"26201000000{i:04d}"))
    last = table.lookup("10.0.0.1", T0 + (MAX_INTERVALS_PER_ADDRESS + 4) * 10 + 1)
    assert last is not None and last.imsi == f"26201000000{MAX_INTERVALS_PER_ADDRESS + 4:04d}"
    assert table.lookup("10.0.0.1", T0 + 1) is None, "the oldest intervals were dropped"
    assert len(table) == 1


# ---------------------------------------------------------------------- IPv6


def test_an_ipv6_pdn_binds_the_prefix_not_one_address() -> None:
    """TS 23.401 5.3.1.2.2: the UE gets a /64 and picks its own interface identifier."""
    learner = BindingLearner()
    learner.learn(gtp("create_session_request", T0, seq=7, imsi=LEON, teid=0, sender_teid=0x1000))
    learner.learn(gtp("create_session_response", T0 + 0.03, seq=7, src=SGW, dst=MME, ue_ipv6="2001:db8:a:b::1",
                      teid=0x1000, sender_teid=0x2000, cause=16))
    assert imsi_at(learner, "2001:db8:a:b:3c22:fbff:fe11:2233", T0 + 1) == LEON, "any address in the /64"
    assert imsi_at(learner, "2001:db8:a:c::1", T0 + 1) is None, "not the next /64"
    delete_session(learner, T0 + 5, seq=8)
    assert imsi_at(learner, "2001:db8:a:b:3c22:fbff:fe11:2233", T0 + 6) is None


def test_radius_framed_ipv6_prefix_binds_the_prefix() -> None:
    learner = BindingLearner()
    start = RadiusMessage(ts=T0, capture="aaa.pcap", frame=1, flow=FlowTuple("udp", "10.1.1.1", 40000, "10.1.1.2", 1813),
                          code="Accounting-Request", acct_status="Start", calling_station_id="491713920030",
                          framed_ipv6_prefix="2001:db8:5:6::/64")
    learner.learn(start)
    identity = learner.lookup("2001:db8:5:6:abcd::9", T0 + 1)
    assert identity is not None and identity.msisdn == "491713920030"


def test_ending_a_session_does_not_scan_every_session() -> None:
    learner = BindingLearner()
    for n in range(2000):
        create_session(learner, T0 + n, f"26201{n:010d}", seq=n, ue_ip=f"10.{n // 256}.{n % 256}.1",
                       mme_teid=0x10000 + n, sgw_teid=0x20000 + n, user_teids=(0x30000 + n,))
    sessions = learner._sessions
    assert len(sessions) == 4000  # each session under both ends' control TEIDs
    delete_session(learner, T0 + 5000, seq=99999, sgw_teid=0x20000 + 7)
    assert len(sessions) == 3998, "the session is forgotten under both of its names"
    assert imsi_at(learner, "10.0.7.1", T0 + 5001) is None
