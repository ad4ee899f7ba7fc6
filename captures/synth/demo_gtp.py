"""demo_gtp.pcap: an operator's S11 and S1-U interfaces, where a UE address changes hands.

Four subscribers attach (GTPv2-C Create Session and Modify Bearer between MME and SGW on UDP 2123)
and browse through GTP-U tunnels between their eNodeB / gNodeB and the SGW (UDP 2152). One of them
is on NR: its G-PDUs carry a PDU Session Container extension header with its QoS flow.

Address reuse, the point of this capture: Leon (a child, age 10) holds 10.45.12.34 and his ad SDK
sends his GAID to googleads.g.doubleclick.net; he detaches (Delete Session); then the SGW gives
10.45.12.34 to Sabine (an adult), whose SDK sends her IDFA to the same host. Only the GTPv2-C
timeline tells the two apart: attribution by address alone gets one of them wrong.

demo_gtp.subscribers.yaml is the operator's child-profile list (IMSI, MSISDN, age) in the
inventory format; demo_gtp.inventory.yaml lists all four subscribers with their device identifiers
and no addresses.
"""

from __future__ import annotations

import random
from pathlib import Path

from .gtp import RAT_EUTRAN, RAT_NR, S11, CoreNodes, GtpLink, Subscription
from .net import DESTINATIONS, Exchange, Scene
from .people import Device, make_device
from .requests import Draft, place
from .truth import Leak, Recorder, inventory_yaml
from .wire import Capture, Host

START_UTC = 1717311600  # 2024-06-02 07:00:00 UTC
SEED = 202
SHARED_UE_IP = "10.45.12.34"


def build(out: Path) -> dict[str, object]:
    rng = random.Random(SEED)
    cap = Capture(START_UTC)
    rec = Recorder(rng, START_UTC, DESTINATIONS)
    leon = make_device(rng, "sub-leon", "Leon", True, "android", msisdn_index=60, model_index=4, age=10, city=2)
    sabine = make_device(rng, "sub-sabine", "Sabine", False, "ios", msisdn_index=61, model_index=1, city=2)
    lotta = make_device(rng, "sub-lotta", "Lotta", True, "android", msisdn_index=62, model_index=3, age=12, city=2)
    kemal = make_device(rng, "sub-kemal", "Kemal", False, "android", msisdn_index=63, model_index=1, city=2)
    devices = [leon, sabine, lotta, kemal]
    leon.ip, sabine.ip, lotta.ip, kemal.ip = SHARED_UE_IP, SHARED_UE_IP, "10.45.3.7", "10.45.9.200"

    nodes = CoreNodes(mme=Host("172.16.1.10", ip_id=211), sgw_c=Host("172.16.1.20", ip_id=3301),
                      sgw_u=Host("172.16.3.1"), pgw_c=Host("172.16.2.30"), pgw_u=Host("172.16.2.31"),
                      mme_mac="00:1e:bd:4a:10:0a", sgw_mac="cc:46:d6:4a:10:14")
    s11 = S11(cap, nodes, rng)
    scene = Scene(cap, GtpLink(ran_mac="d8:b1:90:21:0b:01", core_mac="cc:46:d6:4a:30:01", nodes={}), rng, rec,
                  Host("10.10.53.53", ttl=63, ip_id=rng.randrange(65536)))

    def attach(d: Device, t: float, ran: str, nr: bool = False) -> tuple[Host, Subscription, dict[str, int], float]:
        sub = Subscription(d.imsi, d.msisdn, d.imeisv, "internet.telekom", RAT_NR if nr else RAT_EUTRAN,
                           tac=0x2A11, eci=(0x1D4C6 << 8) | rng.randrange(1, 255))
        tunnel, teid, t = s11.create_session(t, sub, d.ip, ran, qfi=9 if nr else None)
        host = Host(d.ip, ttl=64, ip_id=rng.randrange(65536), tunnel=tunnel)
        return host, sub, teid, t + 0.3

    def ad_request(d: Device, h: Host, id_type: str, t: float) -> float:
        draft = Draft("googleads.g.doubleclick.net", d, query=[("format", "320x50_mb"), ("is_lat", "0"),
                                                               ("msid", "com.kinderspiele.puzzle")])
        leak = rec.leak(d, id_type, "plain", "query", "rdid")
        place(draft, leak)
        return scene.http(h, "googleads.g.doubleclick.net", [Exchange(draft.build(), [leak], [], status="200 OK",
                                                                      response_body=b'{"ad_networks":[]}')], t, d.platform)

    def post(h: Host, draft: Draft, leaks: list[Leak], t: float) -> float:
        for x in leaks:
            place(draft, x)
        return scene.http(h, draft.host, [Exchange(draft.build(), leaks, [])], t, draft.device.platform)

    # everyone but Sabine attaches at the start
    h_leon, sub_leon, teid_leon, t = attach(leon, 0.4, "172.16.10.1")
    h_lotta, _, _, _ = attach(lotta, 0.9, "172.16.20.1", nr=True)
    h_kemal, _, _, _ = attach(kemal, 1.3, "172.16.10.17")

    # Leon, holding 10.45.12.34
    scene.https(h_leon, "www.youtube.com", 2.5, "android")
    ad_request(leon, h_leon, "gaid", 6.0)
    post(h_leon, Draft("t.appsflyer.com", leon, query=[("app_id", "com.kinderspiele.puzzle")],
                       json={"eventName": "af_tutorial_completion"}),
         [rec.leak(leon, "android_id", "plain", "json", "android_id", "deviceData.android_id"),
          rec.leak(leon, "imei", "plain", "json", "imei", "deviceData.imei")], 9.0)
    # Lotta, on NR
    scene.quic(h_lotta, "youtubei.googleapis.com", 4.0, "android")
    post(h_lotta, Draft("app.adjust.com", lotta, json={"app_token": "2fm9gkqubvpc", "environment": "production"}),
         [rec.leak(lotta, "imei", "plain", "json", "imei", "imei"),
          rec.leak(lotta, "gaid", "plain", "json", "gps_adid", "gps_adid")], 12.0)
    post(h_lotta, Draft("graph.facebook.com", lotta, form=[("event", "MOBILE_APP_INSTALL"),
                                                          ("advertiser_tracking_enabled", "1")]),
         [rec.leak(lotta, "gaid", "plain", "form", "advertiser_id")], 15.0)
    # Kemal
    scene.https(h_kemal, "i.instagram.com", 5.0, "android")
    post(h_kemal, Draft("api.kinderspiele-welt.de", kemal, path="/v2/eltern/konto", form=[("newsletter", "0")]),
         [rec.leak(kemal, "email", "plain", "form", "email")], 17.0)

    # Leon detaches; his address goes back to the pool and to Sabine
    t = s11.delete_session(30.0, sub_leon, teid_leon)
    h_sabine, _, _, t = attach(sabine, 42.0, "172.16.10.1")
    scene.https(h_sabine, "gateway.icloud.com", t + 1.0, "ios")
    ad_request(sabine, h_sabine, "idfa", t + 4.0)
    post(h_sabine, Draft("graph.facebook.com", sabine, form=[("event", "CUSTOM_APP_EVENTS"),
                                                            ("advertiser_tracking_enabled", "1")]),
         [rec.leak(sabine, "idfa", "plain", "form", "advertiser_id")], t + 7.0)
    scene.quic(h_lotta, "www.youtube.com", t + 9.0, "android")
    post(h_lotta, Draft("ib.adnxs.com", lotta, query=[("member", "9325"), ("size", "320x50")]),
         [rec.leak(lotta, "location", "decimal_6", "query", "lat,lon")], t + 11.0)

    truth = rec.write_capture(cap, out, "demo_gtp", "demo_gtp", SEED, devices)
    (out / "demo_gtp.inventory.yaml").write_text(inventory_yaml(
        devices, "Subscribers of demo_gtp.pcap and their phones (privscan inventory format, docs/inventory.md).\n"
        "No addresses: 10.45.12.34 belongs to sub-leon, then to sub-sabine, as the GTPv2-C sessions say.\n"
        "Synthetic: made by captures/make_captures.py; no real person's data.", ips=False, macs=False), encoding="utf-8")
    children = [d for d in devices if d.minor]
    (out / "demo_gtp.subscribers.yaml").write_text(inventory_yaml(
        children, "The operator's child-profile list for demo_gtp.pcap: subscribers whose line is set up for a child.\n"
        "Inventory format (docs/inventory.md) with only what the operator knows: IMSI, MSISDN and age.\n"
        "Synthetic: made by captures/make_captures.py; no real person's data.",
        ips=False, macs=False, only=("imsi", "msisdn")), encoding="utf-8")
    return truth
