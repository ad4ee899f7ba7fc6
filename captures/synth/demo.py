"""demo.pcap: a family's Wi-Fi on an evening, seen at the home router's LAN port (a mirror port).

Five devices: three children's (Emma's iPad, age 9; Noah's Galaxy Tab A8, age 11; Mia's Pixel 6a,
a minor) and two adults' (Anna's iPhone, Jonas's Galaxy A54). They get addresses by DHCP (with
host names), Emma's iPad announces its name over mDNS, every host is looked up in DNS, and the
apps talk to trackers and first parties over plain HTTP and HTTPS (QUIC for YouTube). NTP and a
ping run in the background. See ../README.md for the list of what leaks where.

The LAN's Internet uplink is an LTE router of the operator, whose proxy adds an X-MSISDN header to
plain HTTP; the mirror port sees it on the one request that goes through that proxy.
"""

from __future__ import annotations

import random
from pathlib import Path

from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.dns import DNS, DNSRR, DNSRRSRV

from .net import DESTINATIONS, Exchange, Scene, udp_raw
from .people import Device, make_device
from .requests import Draft, place
from .truth import Leak, Recorder, inventory_yaml
from .wire import Capture, EtherLink, Host, ether, mac_bytes

START_UTC = 1717264800  # 2024-06-01 18:00:00 UTC
SEED = 101
ROUTER_IP, ROUTER_MAC = "192.168.178.1", "3c:a6:2f:8e:41:07"  # an AVM FRITZ!Box
BROADCAST_MAC, MDNS_MAC = "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:fb"


def _devices(rng: random.Random) -> list[Device]:
    specs = [  # id, name, minor, age, platform, model index, ip, DHCP host name
        ("emma-ipad", "Emma", True, 9, "ios", 0, "192.168.178.23", "Emmas-iPad"),
        ("noah-tab", "Noah", True, 11, "android", 0, "192.168.178.31", "Noahs-Tab-A8"),
        ("mia-pixel", "Mia", True, None, "android", 2, "192.168.178.42", "Pixel-6a"),
        ("anna-iphone", "Anna", False, None, "ios", 1, "192.168.178.50", "Annas-iPhone"),
        ("jonas-galaxy", "Jonas", False, None, "android", 1, "192.168.178.57", "Galaxy-A54"),
    ]
    devices = []
    for i, (dev_id, name, minor, age, platform, model, ip, dhcp_name) in enumerate(specs):
        d = make_device(rng, dev_id, name, minor, platform, msisdn_index=40 + i, model_index=model, age=age, city=1)
        d.ip = ip
        d.other_names = [dhcp_name]
        devices.append(d)
    devices[1].device_name = "Noah\u2019s Tab A8"
    devices[2].device_name = "Mia\u2019s Pixel 6a"
    devices[4].device_name = "Galaxy A54 von Jonas"
    devices[0].extra["cookie_id"] = [f"fb.1.{START_UTC - 86400 * 12}417.{rng.randrange(10**9, 10**10)}"]
    devices[3].extra["cookie_id"] = [f"GA1.1.{rng.randrange(10**9, 10**10)}.{START_UTC - 86400 * 40}"]
    return devices


def _dhcp(cap: Capture, rng: random.Random, d: Device, hostname: str, t: float) -> float:
    """DISCOVER, OFFER, REQUEST, ACK (RFC 2131), with the client's host name (option 12)."""
    anyone, everyone, router = Host("0.0.0.0"), Host("255.255.255.255"), Host(ROUTER_IP, ip_id=rng.randrange(65536))
    xid = rng.getrandbits(32)
    chaddr = mac_bytes(d.mac)
    android = d.platform == "android"
    params = [1, 3, 6, 15, 26, 28, 51, 58, 59, 43, 114] if android else [1, 121, 3, 6, 15, 108, 114, 119, 252]
    ident = [("client_id", b"\x01" + chaddr), ("max_dhcp_size", 1500)]
    vendor = [("vendor_class_id", f"android-dhcp-{d.os_version}")] if android else []
    offer_opts = [("server_id", ROUTER_IP), ("lease_time", 864000), ("renewal_time", 432000),
                  ("rebinding_time", 756000), ("subnet_mask", "255.255.255.0"), ("router", ROUTER_IP),
                  ("name_server", ROUTER_IP), ("domain", "fritz.box"), "end"]
    for kind, src, dst, smac, dmac, bootp_op, opts in (
        ("discover", anyone, everyone, d.mac, BROADCAST_MAC, 1,
         [("message-type", "discover"), *ident, ("hostname", hostname), *vendor, ("param_req_list", params), "end"]),
        ("offer", router, everyone, ROUTER_MAC, BROADCAST_MAC, 2, [("message-type", "offer"), *offer_opts]),
        ("request", anyone, everyone, d.mac, BROADCAST_MAC, 1,
         [("message-type", "request"), *ident, ("requested_addr", d.ip), ("server_id", ROUTER_IP),
          ("hostname", hostname), *vendor, ("param_req_list", params), "end"]),
        ("ack", router, everyone, ROUTER_MAC, BROADCAST_MAC, 2, [("message-type", "ack"), *offer_opts]),
    ):
        bootp = BOOTP(op=bootp_op, xid=xid, chaddr=chaddr, yiaddr=d.ip if bootp_op == 2 else "0.0.0.0",
                      siaddr="0.0.0.0", flags=0) / DHCP(options=opts)
        sport, dport = (68, 67) if bootp_op == 1 else (67, 68)
        packet = udp_raw(src, dst, sport, dport, bytes(bootp))
        cap.add(t, ether(dmac, smac, packet))
        t += rng.uniform(0.002, 0.02) if kind in ("discover", "request") else rng.uniform(0.05, 0.3)
    return t


def _mdns_announce(cap: Capture, d: Device, hostname: str, t: float) -> None:
    """An mDNS announcement (RFC 6762 section 8.3) of the device's own name, as iOS sends on joining."""
    instance = f"{d.device_name}._companion-link._tcp.local".encode()
    records = [
        DNSRR(rrname="_companion-link._tcp.local", type="PTR", ttl=4500, rdata=instance),
        DNSRRSRV(rrname=instance, ttl=120, rclass=0x8001, port=49153, target=f"{hostname}.local"),
        DNSRR(rrname=instance, type="TXT", ttl=4500, rclass=0x8001,
              rdata=[b"rpBA=4C:1D:9A:2B:00:61", b"rpVr=510.71.1", f"rpMd={d.model}".encode()]),
        DNSRR(rrname=f"{hostname}.local", type="A", ttl=120, rclass=0x8001, rdata=d.ip),
    ]
    payload = bytes(DNS(id=0, qr=1, aa=1, qd=None, an=records))
    src = Host(d.ip, ttl=255, ip_id=0)
    for k in range(2):  # announced twice, one second apart
        cap.add(t + k, ether(MDNS_MAC, d.mac, udp_raw(src, Host("224.0.0.251"), 5353, 5353, payload)))


def build(out: Path) -> dict[str, object]:
    rng = random.Random(SEED)
    cap = Capture(START_UTC)
    rec = Recorder(rng, START_UTC, DESTINATIONS)
    devices = _devices(rng)
    emma, noah, mia, anna, jonas = devices
    scene = Scene(cap, EtherLink(ROUTER_MAC), rng, rec, Host(ROUTER_IP, ip_id=rng.randrange(65536)))
    host = {d.id: Host(d.ip, mac=d.mac, ttl=64, ip_id=rng.randrange(65536)) for d in devices}

    t = 0.2
    for d in devices:
        t = _dhcp(cap, rng, d, d.other_names[0], t) + rng.uniform(0.5, 2.0)
    _mdns_announce(cap, emma, emma.other_names[0], 4.2)
    for d in devices:
        scene.ntp(host[d.id], "time.android.com" if d.platform == "android" else "time.apple.com",
                  rng.uniform(6, 9), d.platform)

    def leak(d: Device, id_type: str, location: str, name: str, json_path: str | None = None,
             transform: str = "plain") -> Leak:
        return rec.leak(d, id_type, transform, location, name, json_path)

    def send(d: Device, host_name: str, draft: Draft, leaks: list[Leak], at: float, status: str = "200 OK",
             body: bytes = b"") -> float:
        for x in leaks:
            place(draft, x)
        ex = Exchange(draft.build(), leaks, [], status=status, response_body=body)
        return scene.http(host[d.id], host_name, [ex], at, d.platform)

    # Noah (11): an ad request that carries the GAID and no child-directed flag; Firebase; AppsFlyer.
    t = 12.0
    scene.https(host[noah.id], "www.youtube.com", t, "android")
    dr = Draft("googleads.g.doubleclick.net", noah, query=[
        ("format", "320x50_mb"), ("request_id", "1"), ("app_name", "1.android.com.kinderspiele.puzzle"),
        ("msid", "com.kinderspiele.puzzle"), ("is_lat", "0"), ("idtype", "adid")])
    gaid = leak(noah, "gaid", "query", "rdid")
    send(noah, "googleads.g.doubleclick.net", dr, [gaid], t + 3.1, body=b'{"ad_networks":[]}')
    dr = Draft("app-measurement.com", noah, json={"app_id": "1:602913453317:android:5a8c5e8b0d1f", "events": [
        {"name": "_s", "ts": (START_UTC + 18) * 1000}]})
    send(noah, "app-measurement.com", dr, [leak(noah, "gaid", "json", "resettable_device_id", "device.resettable_device_id"),
                                           leak(noah, "android_id", "json", "android_id", "device.android_id")], t + 5.4, "204 No Content")
    dr = Draft("t.appsflyer.com", noah, query=[("app_id", "com.kinderspiele.puzzle"), ("buildnumber", "6.13.0")],
               json={"eventName": "af_level_achieved", "platformextension": "android_native"})
    send(noah, "t.appsflyer.com", dr, [leak(noah, "gaid", "json", "advertiserId", "advertiserId"),
                                       leak(noah, "android_id", "json", "android_id", "deviceData.android_id"),
                                       leak(noah, "imei", "json", "imei", "deviceData.imei")], t + 7.9)
    scene.quic(host[noah.id], "youtubei.googleapis.com", t + 9.0, "android")

    # Mia (minor): an ad request flagged child-directed that still carries the GAID; Adjust gets the
    # IMEI; Xandr gets her precise location; one request goes through the operator's proxy.
    t = 30.0
    dr = Draft("googleads.g.doubleclick.net", mia, query=[
        ("format", "interstitial_mb"), ("app_name", "1.android.de.lernfuchs.lesen"), ("is_lat", "0"),
        ("tag_for_child_directed_treatment", "1"), ("tfcd", "1"), ("coppa", "1"), ("idtype", "adid")])
    send(mia, "googleads.g.doubleclick.net", dr, [leak(mia, "gaid", "query", "rdid")], t, body=b'{"ad_networks":[]}')
    dr = Draft("app.adjust.com", mia, json={"app_token": "2fm9gkqubvpc", "event_buffering_enabled": False,
                                            "environment": "production", "created_at": "2024-06-01T18:00:31.204Z+0000"})
    send(mia, "app.adjust.com", dr, [leak(mia, "imei", "json", "imei", "imei"),
                                     leak(mia, "gaid", "json", "gps_adid", "gps_adid")], t + 2.2)
    dr = Draft("ib.adnxs.com", mia, query=[("member", "9325"), ("size", "320x50"), ("psa", "0")])
    send(mia, "ib.adnxs.com", dr, [leak(mia, "location", "query", "lat,lon", transform="decimal_6")], t + 4.6)
    dr = Draft("www.kinderspiele-welt.de", mia, path="/spiele/tierquiz")
    send(mia, "www.kinderspiele-welt.de", dr, [leak(mia, "msisdn", "header_enrichment", "X-MSISDN", transform="e164_noplus")],
         t + 7.0, body=b"")
    scene.https(host[mia.id], "i.instagram.com", t + 9.5, "android")

    # Emma (9): Facebook's app events with the IDFA, the Facebook pixel with its _fbp cookie, her
    # e-mail address in a sign-up form to the game's own server.
    t = 50.0
    scene.https(host[emma.id], "gateway.icloud.com", t, "ios")
    dr = Draft("graph.facebook.com", emma, form=[("event", "MOBILE_APP_INSTALL"), ("application_tracking_enabled", "1"),
                                                 ("advertiser_tracking_enabled", "1"), ("format", "json")])
    send(emma, "graph.facebook.com", dr, [leak(emma, "idfa", "form", "advertiser_id")], t + 2.0)
    dr = Draft("www.facebook.com", emma, query=[("id", "812345678901234"), ("ev", "PageView"), ("noscript", "1")])
    dr.user_agent = emma.browser_user_agent()
    send(emma, "www.facebook.com", dr, [leak(emma, "cookie_id", "cookie", "_fbp")], t + 4.1, body=b"")
    dr = Draft("api.kinderspiele-welt.de", emma, path="/v2/konto", form=[("name", "Emma"), ("newsletter", "1")])
    send(emma, "api.kinderspiele-welt.de", dr, [leak(emma, "email", "form", "email")], t + 6.3, "201 Created",
         b'{"account":"created"}')
    scene.https(host[emma.id], "app-measurement.com", t + 8.0, "ios")

    # Anna (adult): Google Analytics with the _ga cookie, Facebook with the IDFA.
    t = 70.0
    dr = Draft("www.google-analytics.com", anna, query=[("v", "2"), ("tid", "G-8XK2M0PQ1Z"), ("en", "page_view"),
                                                       ("dl", "http%3A%2F%2Fwww.kinderspiele-welt.de%2F")])
    dr.user_agent = anna.browser_user_agent()
    send(anna, "www.google-analytics.com", dr, [leak(anna, "cookie_id", "cookie", "_ga")], t, "204 No Content")
    dr = Draft("graph.facebook.com", anna, form=[("event", "CUSTOM_APP_EVENTS"), ("advertiser_tracking_enabled", "1")])
    send(anna, "graph.facebook.com", dr, [leak(anna, "idfa", "form", "advertiser_id")], t + 2.5)
    scene.https(host[anna.id], "www.instagram.com", t + 4.0, "ios")

    # Jonas (adult): an ad request, Amplitude, his e-mail address to a first party.
    t = 85.0
    dr = Draft("googleads.g.doubleclick.net", jonas, query=[("format", "320x50_mb"), ("is_lat", "0"), ("idtype", "adid")])
    send(jonas, "googleads.g.doubleclick.net", dr, [leak(jonas, "gaid", "query", "rdid")], t, body=b'{"ad_networks":[]}')
    dr = Draft("api.amplitude.com", jonas, json={"api_key": "e3a5c9b1f07d4e2a8c6b5d4f3e2a1b0c"})
    send(jonas, "api.amplitude.com", dr, [leak(jonas, "gaid", "json", "adid", "events.adid"),
                                          leak(jonas, "android_id", "json", "device_id", "events.device_id")], t + 2.0)
    dr = Draft("api.duolingo.com", jonas, path="/2017-06-30/login", json={"distinctId": "c0ffee42", "fields": "id"})
    send(jonas, "api.duolingo.com", dr, [leak(jonas, "email", "json", "identifier", "identifier")], t + 4.0)
    scene.quic(host[jonas.id], "www.youtube.com", t + 6.0, "android")
    scene.ping(host[jonas.id], "1.1.1.1", t + 9.0, count=3)

    truth = rec.write_capture(cap, out, "demo", "demo", SEED, devices)
    (out / "demo.inventory.yaml").write_text(inventory_yaml(
        devices, "A family's devices on the Wi-Fi of demo.pcap (privscan inventory format, docs/inventory.md).\n"
        "Synthetic: made by captures/make_captures.py; no real person's data."), encoding="utf-8")
    return truth

