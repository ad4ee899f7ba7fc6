"""The labelled captures: every transform, location and transport of the truth conventions, with decoys.

labelled_encodings: 12 devices on an operator's Gi/SGi link (Ethernet between two routers), every
(location, transform) pair the conventions allow, each with a transport picked in turn from those
that make sense there (a value in a header cannot be gzipped), so every transport occurs with many
transforms. Two subscribers have their operator add header-enrichment headers to every plain HTTP
request. Some connections carry two requests one after the other (keep-alive) or pipelined in one
burst; some retransmit a segment. DNS precedes every connection; HTTPS, QUIC and NTP run alongside.

labelled_gtp: the same kinds of leaks inside GTP-U on S1-U, with GTPv2-C sessions on S11 telling
which subscriber (IMSI) holds which address; one address is released and given to another
subscriber half-way, so attribution has to follow time.
"""

from __future__ import annotations

import base64
import random
from dataclasses import dataclass
from pathlib import Path

from .gtp import RAT_EUTRAN, RAT_NR, S11, CoreNodes, GtpLink, Subscription
from .net import DESTINATIONS, Exchange, Scene
from .people import Device, make_device
from .requests import HEADER_NAMES, JSON_PARENTS, PARAM_NAMES, Draft, filler, place, place_decoy
from .truth import Leak, Recorder, coverage, inventory_yaml
from .wire import Capture, EtherLink, Host

TRANSFORMS = ("plain", "url2", "upper", "nodash", "upper_nodash", "md5", "sha1", "sha256", "base64",
              "e164_noplus", "decimal_5", "decimal_6")
JSON_ARRAYS = ("decimal_5+json_array", "decimal_6+json_array")
LOCATION_TRANSFORMS: dict[str, tuple[str, ...]] = {
    "query": TRANSFORMS,
    "json": TRANSFORMS + JSON_ARRAYS,
    "form": TRANSFORMS,
    "cookie": TRANSFORMS,
    "header": TRANSFORMS,
    "user_agent": tuple(t for t in TRANSFORMS if t not in ("url2", "decimal_5", "decimal_6")),
    "base64_json": TRANSFORMS + JSON_ARRAYS,
}
BODY_LOCATIONS = ("json", "form", "base64_json")
HEADER_TRANSPORTS = ("plain", "split", "out_of_order")
BODY_TRANSPORTS = ("plain", "gzip", "chunked", "gzip_chunked", "split", "out_of_order")
# which identifier types a transform is applied to (in turn)
TRANSFORM_IDS: dict[str, tuple[str, ...]] = {
    "plain": ("gaid", "imsi", "imei", "email", "idfa", "msisdn", "android_id", "wifi_mac"),
    "url2": ("email", "msisdn", "wifi_mac"),
    "upper": ("gaid", "email", "wifi_mac", "android_id"),
    "nodash": ("gaid", "idfa", "wifi_mac"),
    "upper_nodash": ("gaid", "wifi_mac"),
    "md5": ("email", "gaid", "idfa", "wifi_mac", "msisdn", "imei"),
    "sha1": ("gaid", "email", "imei", "idfa", "wifi_mac", "msisdn"),
    "sha256": ("email", "idfa", "msisdn", "gaid", "imei", "wifi_mac"),
    "base64": ("imsi", "email", "imei", "gaid", "idfa", "android_id", "msisdn"),
    "e164_noplus": ("msisdn",),
}
TRACKERS = ("googleads.g.doubleclick.net", "app-measurement.com", "graph.facebook.com", "t.appsflyer.com",
            "app.adjust.com", "api2.branch.io", "api.mixpanel.com", "api.amplitude.com", "ads.tiktok.com",
            "ib.adnxs.com", "sdk.iad-01.braze.com", "api.onesignal.com", "api.segment.io")
FIRST_PARTIES = ("api.kinderspiele-welt.de", "www.kinderspiele-welt.de", "api.duolingo.com", "apis.roblox.com")
DECOY_KINDS = ("random_uuid", "luhn_fail_15digit", "coarse_latlon", "timestamp_s", "timestamp_ms")
DECOY_PARAMS = {
    "random_uuid": ("trace", "session_id", "request_id", "event_id", "nonce"),
    "luhn_fail_15digit": ("txn", "serial", "order_no", "ref"),
    "coarse_latlon": ("region_lat",),
    "timestamp_s": ("ts", "time", "created", "t"),
    "timestamp_ms": ("client_time", "ts", "time", "created"),
}
BACKGROUND_TLS = ("www.google.com", "www.youtube.com", "i.ytimg.com", "play.googleapis.com", "i.instagram.com",
                  "gateway.icloud.com", "app-measurement.com", "graph.facebook.com", "api.kinderspiele-welt.de",
                  "googleads.g.doubleclick.net", "apis.roblox.com")
BACKGROUND_QUIC = ("www.youtube.com", "youtubei.googleapis.com", "www.google.com", "i.instagram.com")


@dataclass(frozen=True)
class Combo:
    location: str
    transform: str
    transport: str


def all_combos(rounds: int = 2) -> list[Combo]:
    """Every (location, transform) pair `rounds` times, with transports in turn, shifted each round,
    so that each transport meets many transforms and each pair travels more than one way."""
    combos = []
    for k in range(rounds):
        for li, (loc, transforms) in enumerate(LOCATION_TRANSFORMS.items()):
            transports = BODY_TRANSPORTS if loc in BODY_LOCATIONS else HEADER_TRANSPORTS
            shift = k * max(1, len(transports) // 2)
            for ti, tf in enumerate(transforms):
                combos.append(Combo(loc, tf, transports[(ti + li + shift) % len(transports)]))
    return combos


class Rotor:
    """Round-robin choices that never repeat a value before all others were used."""

    def __init__(self) -> None:
        self.n: dict[str, int] = {}

    def pick(self, name: str, options: tuple[str, ...] | list[str]) -> str:
        i = self.n.get(name, 0)
        self.n[name] = i + 1
        return options[i % len(options)]


def has_id(device: Device, id_type: str) -> bool:
    if id_type == "location":
        return True
    if id_type == "wifi_mac":
        return True
    if id_type == "uidh":
        return device.uidh is not None
    return bool(getattr(device, id_type, None))


class Planner:
    """Turns combos into requests: chooses device, identifier, destination, names, decoys."""

    def __init__(self, rng: random.Random, rec: Recorder, devices: list[Device], trackers: tuple[str, ...],
                 first_parties: tuple[str, ...]) -> None:
        self.rng, self.rec, self.devices = rng, rec, devices
        self.trackers, self.first_parties = trackers, first_parties
        self.rotor = Rotor()

    def id_type_for(self, transform: str) -> str:
        if transform.startswith("decimal_"):
            return "location"
        return self.rotor.pick("id:" + transform, TRANSFORM_IDS[transform])

    def device_for(self, id_type: str) -> Device:
        able = [d for d in self.devices if has_id(d, id_type)]
        return able[int(self.rotor.pick("dev:" + id_type, [str(i) for i in range(len(able))]))]

    def host_for(self, id_type: str) -> str:
        if id_type in ("email", "msisdn") and self.rotor.pick("fp:" + id_type, ("t", "t", "f")) == "f":
            return self.rotor.pick("first", self.first_parties)
        if self.rotor.pick("fp", ("t", "t", "t", "t", "t", "f")) == "f":
            return self.rotor.pick("first", self.first_parties)
        return self.rotor.pick("tracker", self.trackers)

    def new_leak(self, device: Device, id_type: str, transform: str, location: str) -> Leak:
        if location in ("header",):
            name = self.rotor.pick("hdr:" + id_type, HEADER_NAMES[id_type])
        elif id_type == "location":
            name = {"query": "lat,lon", "form": "lat,lon", "cookie": "geo"}.get(location, "lat,lon")
        else:
            name = self.rotor.pick("p:" + id_type, PARAM_NAMES[id_type])
        json_path = None
        if location in ("json", "base64_json"):
            parent = self.rotor.pick("jp", JSON_PARENTS)
            if id_type == "location":
                json_path = "device.geo" if not transform.endswith("json_array") else "device.loc"
                name = "lat,lon" if not transform.endswith("json_array") else "loc"
            else:
                json_path = f"{parent}.{name}"
        if location == "user_agent":
            name = {"imei": "IMEI", "android_id": "AndroidId", "gaid": "AdId", "idfa": "IDFA"}.get(id_type, name)
        return self.rec.leak(device, id_type, transform, location, name, json_path)

    def exchange(self, combo: Combo | None, device: Device, host: str, t: float) -> Exchange:
        """A request for `combo` (None: an ordinary request with a few plain leaks)."""
        r = self.rng
        draft = Draft(host, device)
        leaks: list[Leak] = []
        primary: Leak | None = None
        if combo is not None and combo.location != "header_enrichment":
            primary = self.new_leak(device, self.id_type_for_device(combo.transform, device), combo.transform, combo.location)
            leaks.append(primary)
            if combo.location == "base64_json":
                draft.blob_in = (self.rotor.pick("blob-body", ("form", "body")) if combo.transport in BODY_TRANSPORTS[1:4]
                                 else self.rotor.pick("blob", ("query", "form", "body")))
                draft.blob_param = {"query": "data", "form": "payload", "body": "data"}[draft.blob_in]
        # the body: what the primary needs, or what this host usually takes
        if primary and primary.location in ("json", "form"):
            draft.body_kind = primary.location
        elif primary and primary.location == "base64_json" and draft.blob_in == "form":
            draft.body_kind = "form"
        elif primary and primary.location == "base64_json" and draft.blob_in == "body":
            draft.body_kind = "blob"
        elif combo is not None and combo.transport in BODY_TRANSPORTS[1:4]:
            draft.body_kind = "json"
        else:
            draft.body_kind = self.rotor.pick("body", ("none", "json", "form", "none", "json"))
        # one or two plain identifiers besides the primary, as real SDK payloads have
        for _ in range(r.choice((0, 1, 1, 2))):
            id_type = r.choice([x for x in ("gaid", "idfa", "android_id", "imei", "wifi_mac", "email", "msisdn", "imsi")
                                if has_id(device, x)])
            places = ["query", "header", "cookie"]
            if draft.body_kind in ("json", "form"):
                places += [draft.body_kind] * 3
            leaks.append(self.new_leak(device, id_type, r.choice(("plain", "plain", "md5", "sha256")), r.choice(places)))
        if device.uidh is not None:
            leaks += self.enrichment(device)
        for leak in leaks:
            place(draft, leak)
        decoys = []
        for _ in range(r.choice((0, 1, 1, 1, 2))):
            kind = self.rotor.pick("decoy", DECOY_KINDS)
            where = self.rotor.pick("decoy-where:" + kind, ("query", "json", "form"))
            if draft.body_kind == "none" and where != "query":
                draft.body_kind = where  # a GET becomes a POST to carry it
            elif draft.body_kind != where:
                where = "query"
            decoy = self.rec.decoy(device, kind, self.rotor.pick("dp:" + kind, DECOY_PARAMS[kind]), where, t)
            place_decoy(draft, decoy)
            decoys.append(decoy)
        filler(draft, r)
        split_key = None
        transport = combo.transport if combo else "plain"
        target = primary or next((x for x in leaks if combo and x.location == "header_enrichment"
                                  and x.transform == combo.transform), None)
        if target is not None and transport in ("split", "out_of_order"):
            split_key = target.key
        if transport in ("gzip", "gzip_chunked"):
            draft.gzip_body = True
        if transport in ("chunked", "gzip_chunked"):
            draft.chunked = True
            draft.chunk_inside = target.key if target is not None else None
        return Exchange(draft.build(), leaks, decoys, split_key=split_key, swap=transport == "out_of_order",
                        retransmit=self.rotor.pick("retx", ("n",) * 8 + ("y",)) == "y",
                        status=r.choice(("200 OK", "204 No Content")),
                        response_body=b'{"status":"ok"}' if r.random() < 0.5 else b"")

    def id_type_for_device(self, transform: str, device: Device) -> str:
        options = ("location",) if transform.startswith("decimal_") else TRANSFORM_IDS[transform]
        able = [x for x in options if has_id(device, x)]
        return self.rotor.pick(f"id:{transform}:{device.platform}", able)

    def enrichment(self, device: Device) -> list[Leak]:
        """The operator's headers on this request: the subscriber's MSISDN and an opaque token."""
        return [self.rec.leak(device, id_type, transform, "header_enrichment", header)
                for id_type, transform, header in device.enrichment]

    def plan(self, combos: list[Combo]) -> list[tuple[Device, str, list[Combo | None], bool]]:
        """Connections: (device, host, the combos of its requests, pipelined?)."""
        conns = []
        for combo in combos:
            if combo.location == "header_enrichment":
                able = [d for d in self.devices if any(tf == combo.transform for _, tf, _ in d.enrichment)]
                device = able[int(self.rotor.pick("he-dev", [str(i) for i in range(len(able))]))]
                host = self.host_for("msisdn")
            else:
                probe = self.id_type_for(combo.transform)
                device = self.device_for(probe)
                host = self.host_for(probe)
            shape = self.rotor.pick("shape", ("1", "1", "1", "2", "1", "1", "3", "1"))
            requests: list[Combo | None] = [combo] + [None] * (int(shape) - 1)
            conns.append((device, host, requests, shape == "3"))
        return conns


def operator_token(rng: random.Random, style: int) -> str:
    """An opaque header-enrichment token: Verizon-UIDH-like base64, or an ACR-like hex string."""
    if style == 0:
        return base64.b64encode(rng.randbytes(42)).decode().rstrip("=")
    return rng.randbytes(24).hex()


def make_devices(rng: random.Random, prefix: str, count: int, minors: dict[int, int | None], enriched: tuple[int, ...],
                 ip_of: dict[int, str]) -> list[Device]:
    names = ("Emma", "Noah", "Mia", "Ben", "Lina", "Paul", "Ida", "Finn", "Clara", "Jonas", "Greta", "Elias",
             "Frieda", "Theo")
    devices = []
    for i in range(count):
        minor = i in minors
        platform = "ios" if i % 5 in (1, 3) else "android"
        d = make_device(rng, f"{prefix}-{i:02d}", names[i % len(names)], minor, platform, msisdn_index=10 + i * 3,
                        age=minors.get(i))
        d.ip = ip_of.get(i, "")
        if i in enriched:
            style = enriched.index(i) % 2
            d.uidh = operator_token(rng, style)
            # two vendors' styles: a Verizon-like pair, and the WAP-era calling-line header with an ACR token
            d.enrichment = ((("msisdn", "e164_noplus", "X-MSISDN"), ("uidh", "plain", "X-UIDH")) if style == 0 else
                            (("msisdn", "plain", "X-UP-CALLING-LINE-ID"), ("uidh", "plain", "X-ACR")))
        devices.append(d)
    return devices


# ---------------------------------------------------------------------------------------------
# the two captures
# ---------------------------------------------------------------------------------------------
START_UTC = 1717236000  # 2024-06-01 10:00:00 UTC
SEED_ENCODINGS, SEED_GTP = 701, 702


def _background(scene: Scene, hosts: list[Host], devices: list[Device], rng: random.Random, horizon: float) -> None:
    for host, d in zip(hosts, devices, strict=True):
        t = rng.uniform(0.5, 20)
        scene.ntp(host, "time.android.com" if d.platform == "android" else "time.apple.com", t, d.platform)
        for _ in range(rng.randint(2, 4)):
            scene.https(host, rng.choice(BACKGROUND_TLS), rng.uniform(5, horizon), d.platform,
                        exchanges=rng.randint(1, 2))
        if d.platform == "android":
            scene.quic(host, rng.choice(BACKGROUND_QUIC), rng.uniform(5, horizon), d.platform)


def _run_plan(scene: Scene, planner: Planner, plan: list[tuple[Device, str, list[Combo | None], bool]],
              hosts_by_id: dict[str, Host], t: float, gap: tuple[float, float],
              active: dict[str, tuple[float, float]] | None = None) -> float:
    for device, host, requests, pipelined in plan:
        if active is not None:
            lo, hi = active[device.id]
            t = max(t, lo)
            if t > hi - 5:
                raise AssertionError(f"{device.id}'s session ends before its traffic")
        exchanges = [planner.exchange(c, device, host, t) for c in requests]
        scene.http(hosts_by_id[device.id], host, exchanges, t, device.platform, pipelined=pipelined)
        t += scene.rng.uniform(*gap)
    return t


def labelled_encodings(out: Path) -> dict[str, object]:
    rng = random.Random(SEED_ENCODINGS)
    cap = Capture(START_UTC)
    rec = Recorder(rng, START_UTC, DESTINATIONS)
    ips = {}
    for i in range(12):
        ips[i] = f"10.{rng.randrange(32, 250)}.{rng.randrange(256)}.{rng.randrange(2, 254)}"
    devices = make_devices(rng, "enc-dev", 12, {0: 9, 2: None, 5: 12, 7: None, 10: 8}, (3, 6), ips)
    link = EtherLink(gateway_mac="4c:96:14:5a:20:01", client_side_mac="84:b8:02:3e:11:0c")  # Juniper / Cisco
    scene = Scene(cap, link, rng, rec, Host(ip="10.10.53.53", ttl=63, ip_id=rng.randrange(65536)))
    hosts = [Host(ip=d.ip, ttl=63, ip_id=rng.randrange(65536)) for d in devices]  # one hop after the PGW
    hosts_by_id = {d.id: h for d, h in zip(devices, hosts, strict=True)}
    planner = Planner(rng, rec, devices, TRACKERS, FIRST_PARTIES)
    # header enrichment is on every request of the two enriched subscribers; these also cut inside it
    combos = [*all_combos(), *(Combo("header_enrichment", tf, tp) for tf in ("e164_noplus", "plain", "plain")
                               for tp in HEADER_TRANSPORTS)]
    rng.shuffle(combos)
    plan = planner.plan(combos)
    end = _run_plan(scene, planner, plan, hosts_by_id, 2.0, (1.0, 5.0))
    _background(scene, hosts, devices, rng, end)
    truth = rec.write_capture(cap, out, "labelled_encodings", "encodings", SEED_ENCODINGS, devices)
    check_coverage(truth)
    (out / "labelled_encodings.inventory.yaml").write_text(inventory_yaml(
        devices, "Test devices of labelled_encodings.pcap (privscan inventory format, docs/inventory.md).\n"
        "Synthetic: made by captures/make_captures.py; no real person's data."), encoding="utf-8")
    return truth


def check_coverage(truth: dict[str, object]) -> None:
    """Fail generation when a transform, location or transport of the conventions is missing."""
    cov = coverage(truth)
    transforms = {c[0] for c in cov}
    locations = {c[1] for c in cov}
    transports = {c[2] for c in cov}
    missing = [t for t in (*TRANSFORMS, *JSON_ARRAYS) if t not in transforms]
    missing += [loc for loc in (*LOCATION_TRANSFORMS, "header_enrichment") if loc not in locations]
    missing += [t for t in BODY_TRANSPORTS if t not in transports]
    decoys = truth["decoys"]
    assert isinstance(decoys, list)
    kinds = {(x["kind"], x["location"]) for x in decoys}
    missing += [f"decoy {k} in {loc}" for k in DECOY_KINDS for loc in ("query", "json", "form") if (k, loc) not in kinds]
    if missing:
        raise AssertionError(f"coverage is missing {missing}")


def labelled_gtp(out: Path) -> dict[str, object]:
    rng = random.Random(SEED_GTP)
    cap = Capture(START_UTC + 3600)
    rec = Recorder(rng, cap.start_utc, DESTINATIONS)
    shared_ip = "10.46.7.21"
    ips = {0: "10.46.3.17", 1: "10.46.12.201", 2: "10.46.0.88", 3: shared_ip, 4: "10.46.9.140", 5: shared_ip}
    devices = make_devices(rng, "gtp-sub", 6, {0: 10, 3: None, 4: 13}, (), ips)
    nodes = CoreNodes(mme=Host("172.16.1.10", ip_id=4100), sgw_c=Host("172.16.1.20", ip_id=9100),
                      sgw_u=Host("172.16.3.1"), pgw_c=Host("172.16.2.30"), pgw_u=Host("172.16.2.31"),
                      mme_mac="00:1e:bd:4a:10:0a", sgw_mac="cc:46:d6:4a:10:14")
    link = GtpLink(ran_mac="d8:b1:90:21:0b:01", core_mac="cc:46:d6:4a:30:01", nodes={})
    s11 = S11(cap, nodes, rng)
    scene = Scene(cap, link, rng, rec, Host(ip="10.10.53.53", ttl=63, ip_id=rng.randrange(65536)))
    hosts_by_id: dict[str, Host] = {}
    active: dict[str, tuple[float, float]] = {}
    enbs = ("172.16.10.1", "172.16.10.17", "172.16.10.33")
    # devices 0-4 attach at the start; device 3 detaches at 150 s and device 5 gets its address at 160 s
    windows = {0: (0.5, 400.0), 1: (0.9, 400.0), 2: (1.3, 400.0), 3: (1.7, 150.0), 4: (2.1, 400.0), 5: (160.0, 400.0)}
    sessions = {}
    for i, d in enumerate(devices):
        sub = Subscription(d.imsi, d.msisdn, d.imeisv, "internet.telekom", RAT_NR if i == 4 else RAT_EUTRAN,
                           tac=0x2A10 + i % 3, eci=(0x1D4C5 << 8) | (i + 1))
        t0, t1 = windows[i]
        host = Host(ip=d.ip, ttl=64, ip_id=rng.randrange(65536))
        tunnel, teid, t_up = s11.create_session(t0, sub, d.ip, enbs[i % 3], qfi=9 if i == 4 else None)
        host.tunnel = tunnel
        hosts_by_id[d.id] = host
        active[d.id] = (t_up + 0.5, t1)
        sessions[d.id] = (sub, teid, t1)
    combos = [Combo("query", "plain", "plain"), Combo("json", "sha256", "gzip"), Combo("form", "url2", "chunked"),
              Combo("cookie", "upper", "split"), Combo("header", "nodash", "out_of_order"),
              Combo("user_agent", "plain", "plain"), Combo("base64_json", "plain", "plain"),
              Combo("json", "decimal_6+json_array", "gzip_chunked"), Combo("query", "md5", "split"),
              Combo("form", "e164_noplus", "plain"), Combo("json", "base64", "chunked"),
              Combo("query", "decimal_5", "plain"), Combo("header", "sha1", "plain"),
              Combo("base64_json", "upper_nodash", "gzip")]
    planner = Planner(rng, rec, devices[:5], TRACKERS[:8], FIRST_PARTIES[:2])
    # the address-reuse pair: the same tracker hears device 3's IDFA, then (same address) device 5's GAID
    tracker = "googleads.g.doubleclick.net"
    for holder, id_type, at in ((devices[3], "idfa", 3.0), (devices[5], "gaid", active[devices[5].id][0])):
        draft = Draft(tracker, holder, query=[("format", "320x50_mb"), ("is_lat", "0")])
        leak = rec.leak(holder, id_type, "plain", "query", "rdid")
        place(draft, leak)
        scene.http(hosts_by_id[holder.id], tracker, [Exchange(draft.build(), [leak], [], status="200 OK")], at,
                   holder.platform)
    t = _run_plan(scene, planner, planner.plan(combos[:7]), hosts_by_id, 8.0, (2.0, 8.0), active)
    subscriber_a, teid_a, t_end_a = sessions[devices[3].id]
    s11.delete_session(t_end_a, subscriber_a, teid_a)
    planner.devices = devices[:3] + devices[4:]
    t = _run_plan(scene, planner, planner.plan(combos[7:]), hosts_by_id, max(t, active[devices[5].id][0] + 5),
                  (2.0, 8.0), active)
    for d in devices:  # the others detach at the end
        if d is not devices[3]:
            sub, teid, _ = sessions[d.id]
            s11.delete_session(t + 5.0 + rng.uniform(0, 3), sub, teid)
    for d in devices:
        lo, hi = active[d.id]
        h = hosts_by_id[d.id]
        scene.https(h, rng.choice(BACKGROUND_TLS), rng.uniform(lo, min(hi, t) - 10), d.platform, exchanges=1)
    truth = rec.write_capture(cap, out, "labelled_gtp", "gtp", SEED_GTP, devices)
    (out / "labelled_gtp.inventory.yaml").write_text(inventory_yaml(
        devices, "Subscribers of labelled_gtp.pcap (privscan inventory format, docs/inventory.md). No addresses:\n"
        "who holds which UE address, and when, comes from the GTPv2-C sessions in the capture.\n"
        "Synthetic: made by captures/make_captures.py; no real person's data.", ips=False, macs=False), encoding="utf-8")
    return truth
