"""The project's own captures (captures/): deterministic, readable, and their ground truth is right.

The ground truth is checked independently of the generator: TCP streams are rebuilt here from the
pcap (scapy for Ethernet/IP/TCP, a few lines of struct for GTP-U), HTTP requests are split, de-chunked
and gunzipped here, and tshark is asked which frame is which. A leak's frame_number and
request_offset must point at the bytes the truth says, in a segment of the truth's flow.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import hashlib
import json
import re
import struct
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from scapy.layers.inet import IP, TCP, UDP
from scapy.layers.l2 import Ether
from scapy.utils import RawPcapReader, rdpcap

from helpers.tshark import tshark_fields

REPO = Path(__file__).resolve().parent.parent
CAPTURES = REPO / "captures"
SCRIPT = CAPTURES / "make_captures.py"

PACKETS = {"demo.pcap": 384, "demo_gtp.pcap": 218, "labelled_encodings.pcap": 3377, "labelled_gtp.pcap": 367}
MAX_BYTES = {"demo.pcap": 300_000, "demo_gtp.pcap": 2_000_000, "labelled_encodings.pcap": 2_000_000,
             "labelled_gtp.pcap": 2_000_000}
TRUTHS = ("demo", "demo_gtp", "labelled_encodings", "labelled_gtp")
GTP_CAPTURES = ("demo_gtp", "labelled_gtp")
TRUTH_KEYS = ["variant", "seed", "pcap", "linktype", "packets", "file_bytes", "flows", "capture_start_utc",
              "conventions", "devices", "leaks", "decoys", "destinations", "counts"]


def load_truth(name: str) -> dict:
    return json.loads((CAPTURES / f"{name}.truth.json").read_text(encoding="utf-8"))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def run_generator(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=300)


# ---------------------------------------------------------------------------------------------
# determinism
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("captures-a")
    done = run_generator("--out", str(out))
    assert done.returncode == 0, done.stderr
    return out


def test_generator_is_deterministic(generated: Path, tmp_path: Path) -> None:
    done = run_generator("--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    first = {p.name: sha256(p) for p in generated.iterdir()}
    second = {p.name: sha256(p) for p in tmp_path.iterdir()}
    assert first == second


def test_committed_files_are_what_the_generator_writes(generated: Path) -> None:
    for p in sorted(generated.iterdir()):
        committed = CAPTURES / p.name
        assert committed.is_file(), f"{p.name} is generated but not in captures/"
        assert sha256(committed) == sha256(p), f"{p.name} differs: run python captures/make_captures.py"


def test_check_flag_accepts_the_committed_files() -> None:
    done = run_generator("--check")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ok:")


def test_sha256sums_match_the_committed_files() -> None:
    listed = {}
    for line in (CAPTURES / "SHA256SUMS").read_text(encoding="ascii").splitlines():
        digest, name = line.split("  ", 1)
        listed[name] = digest
    outputs = {p.name for p in CAPTURES.iterdir() if p.suffix in (".pcap", ".json", ".yaml")} | {"COVERAGE.md"}
    assert set(listed) == outputs
    for name, digest in listed.items():
        assert sha256(CAPTURES / name) == digest, name


# ---------------------------------------------------------------------------------------------
# files open and are small
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(PACKETS))
def test_scapy_reads_the_expected_packet_count(name: str) -> None:
    packets = rdpcap(str(CAPTURES / name))
    assert len(packets) == PACKETS[name]
    assert load_truth(name.removesuffix(".pcap"))["packets"] == PACKETS[name]


@pytest.mark.parametrize("name", sorted(PACKETS))
def test_captures_are_small(name: str) -> None:
    size = (CAPTURES / name).stat().st_size
    assert size < MAX_BYTES[name]
    assert load_truth(name.removesuffix(".pcap"))["file_bytes"] == size


@pytest.mark.tshark
@pytest.mark.parametrize("name", sorted(PACKETS))
def test_tshark_reads_every_capture_without_errors(tshark: str, name: str) -> None:
    rows = tshark_fields(tshark, CAPTURES / name, None, ["frame.number"])
    assert len(rows) == PACKETS[name]
    bad = tshark_fields(tshark, CAPTURES / name, "_ws.malformed || _ws.expert.severity >= 0x00800000",
                        ["frame.number", "_ws.expert.message"])
    assert bad == [], f"tshark finds errors in {name}: {bad[:5]}"


# ---------------------------------------------------------------------------------------------
# ground truth against the wire
# ---------------------------------------------------------------------------------------------
def user_packet(frame: bytes) -> IP | None:
    """The user-plane IPv4 packet of a frame: the inner one of a GTP-U G-PDU, else the outer one."""
    ip = Ether(frame).getlayer(IP)
    if ip is None:
        return None
    udp = ip.getlayer(UDP)
    if udp is None or 2152 not in (udp.sport, udp.dport):
        return ip
    gtp = bytes(udp.payload)
    flags, msg_type, length = gtp[0], gtp[1], struct.unpack("!H", gtp[2:4])[0]
    if msg_type != 0xFF:
        return None
    offset = 8
    if flags & 0x07:  # sequence number, N-PDU number, next extension header type
        offset, next_type = 12, gtp[11]
        while next_type:
            ext_len = gtp[offset] * 4
            next_type = gtp[offset + ext_len - 1]
            offset += ext_len
    return IP(gtp[offset:8 + length])


@dataclass
class Stream:
    """The client-to-server bytes of one TCP flow, and which frame first carried each byte."""

    isn: int | None = None
    pieces: list[tuple[int, int, bytes]] = field(default_factory=list)  # (frame, seq, payload)
    data: bytearray = field(default_factory=bytearray)
    owner: list[int] = field(default_factory=list)
    data_frames: set[int] = field(default_factory=set)

    def assemble(self) -> None:
        assert self.isn is not None, "no SYN"
        size = max((((seq - self.isn - 1) & 0xFFFFFFFF) + len(p) for _, seq, p in self.pieces), default=0)
        self.data = bytearray(size)
        self.owner = [0] * size
        for frame, seq, payload in sorted(self.pieces):
            start = (seq - self.isn - 1) & 0xFFFFFFFF
            for i, b in enumerate(payload):
                if self.owner[start + i] == 0:
                    self.owner[start + i] = frame
                    self.data[start + i] = b
        assert 0 not in self.owner, "a gap in the client stream"


def client_streams(pcap: Path) -> dict[tuple[str, int, str, int], Stream]:
    streams: dict[tuple[str, int, str, int], Stream] = defaultdict(Stream)
    for number, (frame, _meta) in enumerate(RawPcapReader(str(pcap)), start=1):
        ip = user_packet(frame)
        if ip is None or TCP not in ip:
            continue
        tcp = ip[TCP]
        key = (ip.src, tcp.sport, ip.dst, tcp.dport)
        if tcp.flags.S and not tcp.flags.A:
            streams[key].isn = tcp.seq
        payload = bytes(tcp.payload)
        if payload and key in streams:
            streams[key].pieces.append((number, tcp.seq, payload))
            streams[key].data_frames.add(number)
    for s in streams.values():
        if s.isn is not None:
            s.assemble()
    return streams


@dataclass
class HttpRequest:
    start: int                   # stream offset of its first byte
    raw: bytes                   # as on the wire
    head_end: int                # offset of the blank line's end (body start) in raw
    body: bytes                  # de-chunked, gunzipped
    body_map: list[int] | None   # body offset -> raw offset (None: gzip, all map to body_raw_start)
    body_raw_start: int          # raw offset of the first body byte (after a chunk-size line)
    content_type: str


def split_requests(stream: bytes) -> list[HttpRequest]:
    requests, pos = [], 0
    while pos < len(stream):
        end = stream.index(b"\r\n\r\n", pos) + 4
        head = stream[pos:end].decode("latin-1")
        headers = {}
        for line in head.split("\r\n")[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body_raw_start = end - pos
        if headers.get("transfer-encoding") == "chunked":
            body, body_map, p = bytearray(), [], end
            first = True
            while True:
                line_end = stream.index(b"\r\n", p)
                n = int(stream[p:line_end], 16)
                p = line_end + 2
                if first:
                    body_raw_start, first = p - pos, False
                body_map.extend(range(p - pos, p - pos + n))
                body += stream[p:p + n]
                p += n + 2
                if n == 0:
                    break
            stop = p
            body_bytes = bytes(body)
        else:
            n = int(headers.get("content-length", "0"))
            stop = end + n
            body_bytes = stream[end:stop]
            body_map = list(range(end - pos, end - pos + n))
        if headers.get("content-encoding") == "gzip":
            body_bytes, body_map = gzip.decompress(body_bytes), None
        requests.append(HttpRequest(pos, stream[pos:stop], end - pos, body_bytes, body_map, body_raw_start,
                                    headers.get("content-type", "")))
        pos = stop
    return requests


# base64 (standard or URL-safe), possibly percent-encoded in a query or form
B64_TOKEN = re.compile(rb"(?:[A-Za-z0-9+/_-]|%2[BbFf]){24,}(?:=|%3[Dd]){0,2}")


def occurrences(req: HttpRequest, value: str, in_base64_json: bool) -> list[tuple[int, str]]:
    """Raw offsets where `value` starts once transport is undone, with the region it is in."""
    needle = value.encode()
    found = []
    head = req.raw[:req.head_end]
    if not in_base64_json:
        for m in re.finditer(re.escape(needle), head):
            found.append((m.start(), "head"))
        for m in re.finditer(re.escape(needle), req.body):
            found.append((req.body_map[m.start()] if req.body_map is not None else req.body_raw_start, "body"))
        return found
    # base64-wrapped JSON: decode every long token in the head and the decoded body
    for part, base, is_body in ((head, 0, False), (req.body, 0, True)):
        for m in B64_TOKEN.finditer(part):
            try:
                decoded = base64.b64decode(unquote(m.group().decode()), validate=True)
                doc = json.loads(decoded)
            except (binascii.Error, ValueError):
                continue
            if needle in json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode() or needle in decoded:
                if not is_body:
                    found.append((base + m.start(), "head"))
                else:
                    found.append((req.body_map[m.start()] if req.body_map is not None else req.body_raw_start, "body"))
    return found


def region_of(req: HttpRequest, offset: int) -> tuple[str, str]:
    """('request_line' | header name in lower case | 'body', the line) for a raw offset."""
    if offset >= req.head_end:
        return "body", ""
    line_start = req.raw.rfind(b"\r\n", 0, offset) + 2 if req.raw.rfind(b"\r\n", 0, offset) >= 0 else 0
    line = req.raw[line_start:req.raw.index(b"\r\n", offset)].decode("latin-1")
    if line_start == 0:
        return "request_line", line
    return line.split(":", 1)[0].lower(), line


@pytest.fixture(scope="module")
def streams() -> dict[str, dict[tuple[str, int, str, int], Stream]]:
    return {name: client_streams(CAPTURES / f"{name}.pcap") for name in TRUTHS}


def flow_key(flow: dict) -> tuple[str, int, str, int]:
    return (flow["src"], flow["sport"], flow["dst"], flow["dport"])


@pytest.mark.parametrize("name", TRUTHS)
def test_truth_has_the_shared_format(name: str, labelled_dir: Path) -> None:
    shared = json.loads((labelled_dir / "leaks_public.truth.json").read_text(encoding="utf-8"))
    mine = load_truth(name)
    assert list(mine) == list(shared)
    assert list(mine["conventions"]) == list(shared["conventions"])
    for part in ("devices", "leaks", "decoys"):
        keys = set(shared[part][0])
        assert all(set(x) == keys for x in mine[part]), part
    assert set(mine["counts"]) == set(shared["counts"])
    assert all(set(v) == {"org", "is_tracker"} for v in mine["destinations"].values())
    assert {x["destination_host"] for x in mine["leaks"]} <= set(mine["destinations"])


@pytest.mark.parametrize("name", TRUTHS)
def test_truth_counts_and_ids_are_consistent(name: str) -> None:
    truth = load_truth(name)
    leaks, devices = truth["leaks"], {d["device_id"]: d for d in truth["devices"]}
    assert [x["leak_id"] for x in leaks] == list(range(len(leaks)))
    assert truth["counts"] == {"leaks": len(leaks), "decoys": len(truth["decoys"]),
                               "leaks_to_trackers": sum(x["is_tracker"] for x in leaks),
                               "leaks_from_minors": sum(x["device_is_minor"] for x in leaks)}
    for x in leaks:
        assert x["frame_number"] == x["packet_index_of_first_byte"] + 1
        assert x["device_is_minor"] == devices[x["device"]]["is_minor"]
        assert x["encoding"] == f"{x['location']}:{x['transform']}"
        assert x["destination_org"] == truth["destinations"][x["destination_host"]]["org"]
    for d in truth["decoys"]:
        assert d["frame_number"] == d["packet_index"] + 1


@pytest.mark.tshark
@pytest.mark.parametrize("name", TRUTHS)
def test_truth_frames_are_tcp_segments_of_the_truth_flow(tshark: str, name: str) -> None:
    rows = tshark_fields(tshark, CAPTURES / f"{name}.pcap", None,
                         ["frame.number", "ip.src", "tcp.srcport", "ip.dst", "tcp.dstport", "tcp.len"])
    by_frame = {int(r[0]): r for r in rows}
    truth = load_truth(name)
    for item in [*truth["leaks"], *truth["decoys"]]:
        _, src, sport, dst, dport, tcp_len = by_frame[item["frame_number"]]
        flow = item["flow"]
        # for GTP-U the inner (user) addresses come last
        assert (src.split(",")[-1], int(sport), dst.split(",")[-1], int(dport)) == flow_key(flow), item
        assert int(tcp_len) > 0, item


@pytest.mark.parametrize("name", TRUTHS)
def test_truth_leaks_are_in_the_requests_where_the_truth_says(name: str, streams: dict) -> None:
    truth = load_truth(name)
    requests = {}
    for x in truth["leaks"]:
        key = flow_key(x["flow"])
        stream = streams[name][key]
        if key not in requests:
            requests[key] = split_requests(bytes(stream.data))
        hits = []
        for req in requests[key]:
            for offset, part in occurrences(req, x["encoded_value"], x["location"] == "base64_json"):
                if offset == x["request_offset"]:
                    hits.append((req, part))
        assert hits, f"leak {x['leak_id']} ({x['encoding']}, {x['transport']}): {x['encoded_value']!r} not at offset {x['request_offset']}"
        frames = {stream.owner[req.start + x["request_offset"]] for req, _ in hits}
        assert x["frame_number"] in frames, f"leak {x['leak_id']}: frame {x['frame_number']} is not {frames}"
        req, part = hits[0]
        where, line = region_of(req, x["request_offset"])
        loc = x["location"]
        if loc in ("json", "form"):
            assert where == "body" and loc in req.content_type.replace("x-www-form-urlencoded", "form"), x
        elif loc == "query":
            assert where == "request_line" and "?" in line, x
        elif loc == "cookie":
            assert where == "cookie", x
        elif loc == "user_agent":
            assert where == "user-agent", x
        elif loc in ("header", "header_enrichment"):
            assert where == x["param_name"].lower(), x
        raw = req.raw[x["request_offset"]:]
        if x["transport"] in ("gzip", "gzip_chunked"):
            assert raw.startswith(b"\x1f\x8b"), x
        elif loc != "base64_json":
            assert raw[:1] == x["encoded_value"][:1].encode(), x
            if x["transport"] != "chunked":
                assert raw.startswith(x["encoded_value"].encode()), x


@pytest.mark.parametrize("name", TRUTHS)
def test_truth_decoys_are_in_the_requests(name: str, streams: dict) -> None:
    for d in load_truth(name)["decoys"]:
        stream = streams[name][flow_key(d["flow"])]
        frames = set()
        for req in split_requests(bytes(stream.data)):
            for offset, _ in occurrences(req, d["value"], False):
                frames.add(stream.owner[req.start + offset])
        assert d["frame_number"] in frames, d


def transformed(transform: str, id_type: str, value: str) -> str:
    """Independent re-implementation of the truth conventions' transforms."""
    if transform.startswith("decimal_"):
        return f"{float(value.split(',')[0]):.{int(transform.split('+')[0][8:])}f}"
    source = {"email": value.lower(), "gaid": value.lower(), "wifi_mac": value.lower(), "idfa": value.upper(),
              "msisdn": re.sub(r"\D", "", value), "imei": value}.get(id_type, value)
    if transform in ("md5", "sha1", "sha256"):
        return hashlib.new(transform, source.encode()).hexdigest()
    return {"plain": value, "upper": value.upper(), "nodash": re.sub("[-:]", "", value),
            "upper_nodash": re.sub("[-:]", "", value).upper(), "base64": base64.b64encode(value.encode()).decode(),
            "e164_noplus": value.lstrip("+"), "url2": value.replace("%", "%25").replace("@", "%2540")
            .replace("+", "%252B").replace(":", "%253A")}[transform]


@pytest.mark.parametrize("name", TRUTHS)
def test_truth_encoded_values_follow_the_conventions(name: str) -> None:
    truth = load_truth(name)
    devices = {d["device_id"]: d for d in truth["devices"]}
    for x in truth["leaks"]:
        ids = devices[x["device"]]["identifiers"]
        if x["identifier_type"] == "location":
            assert x["value"] == f"{ids['home_lat']:.6f},{ids['home_lon']:.6f}"
        elif x["identifier_type"] != "cookie_id":
            assert ids[x["identifier_type"]] == x["value"], x
        expected = transformed(x["transform"], x["identifier_type"], x["value"])
        if x["location"] in ("query", "form", "cookie") and x["transform"] != "url2":
            assert unquote(x["encoded_value"]) == expected, x
        else:
            assert x["encoded_value"] == expected, x
        if x["transform"] in ("md5", "sha1", "sha256"):
            assert x["hash_input"] is not None


def test_labelled_encodings_covers_every_convention(labelled_dir: Path) -> None:
    shared = json.loads((labelled_dir / "leaks_public.truth.json").read_text(encoding="utf-8"))["conventions"]
    truth = load_truth("labelled_encodings")
    locations = set(shared["location"].split("|"))
    transports = {t.split(" ")[0] for t in shared["transport"].split("|")}
    transforms = set(shared["transform"].split(";")[0].split("|")) - {"decimal_N[+json_array]"}
    transforms |= {"decimal_5", "decimal_6", "decimal_5+json_array", "decimal_6+json_array"}
    leaks = truth["leaks"]
    assert {x["location"] for x in leaks} == locations
    assert {x["transport"] for x in leaks} == transports
    assert {x["transform"] for x in leaks} == transforms
    assert {"imei", "imsi", "msisdn", "wifi_mac", "email", "gaid", "idfa", "android_id", "location",
            "uidh"} <= {x["identifier_type"] for x in leaks}
    # every transport meets several transforms, every transform several locations
    for transport in transports:
        assert len({x["transform"] for x in leaks if x["transport"] == transport}) >= 3, transport
    for transform in transforms:
        assert len({x["location"] for x in leaks if x["transform"] == transform}) >= 2, transform
    decoys = {(d["kind"], d["location"]) for d in truth["decoys"]}
    for kind in ("random_uuid", "luhn_fail_15digit", "coarse_latlon", "timestamp_s", "timestamp_ms"):
        for loc in ("query", "json", "form"):
            assert (kind, loc) in decoys
    assert any(d["in_compressed_body"] for d in truth["decoys"])
    assert sum(d["is_minor"] for d in truth["devices"]) >= 3


def test_labelled_encodings_has_retransmissions_and_pipelining(streams: dict) -> None:
    stream_map = streams["labelled_encodings"]
    retransmitted = [s for s in stream_map.values() if len({(seq, len(p)) for _, seq, p in s.pieces}) < len(s.pieces)]
    assert len(retransmitted) >= 3
    pipelined = 0
    for s in stream_map.values():
        reqs = split_requests(bytes(s.data)) if s.isn is not None and s.data[:4] in (b"GET ", b"POST") else []
        # pipelined: the second request's first byte went out with (or before) the first request's last
        if len(reqs) > 1 and s.owner[reqs[1].start] <= s.owner[reqs[0].start + len(reqs[0].raw) - 1] + 1:
            pipelined += 1
    assert pipelined >= 3


# ---------------------------------------------------------------------------------------------
# GTP: the control plane decodes, and the truth agrees with it over time
# ---------------------------------------------------------------------------------------------
def gtp_bindings(tshark: str, pcap: Path) -> dict[str, list[tuple[int, int, str]]]:
    """UE address -> [(first frame, last frame, IMSI)] from Create Session and Delete Session."""
    rows = tshark_fields(tshark, pcap, "gtpv2", ["frame.number", "gtpv2.message_type", "gtpv2.seq", "gtpv2.teid",
                                                 "e212.imsi", "gtpv2.pdn_addr_and_prefix.ipv4",
                                                 "gtpv2.f_teid_interface_type", "gtpv2.f_teid_gre_key"])
    imsi_of_seq, sessions, by_teid = {}, {}, {}
    for frame, msg, seq, _teid, imsi, paa, if_types, keys in rows:
        if msg == "32":
            imsi_of_seq[seq] = imsi
        elif msg == "33":
            s11_sgw = dict(zip(if_types.split(","), keys.split(","), strict=True))["11"]
            session = [int(frame), 10**9, imsi_of_seq[seq], paa]
            sessions[s11_sgw] = session
    for frame, msg, _seq, teid, *_ in rows:
        if msg == "36":
            by_teid[int(teid, 16) if teid.startswith("0x") else int(teid)] = int(frame)
    bindings: dict[str, list[tuple[int, int, str]]] = defaultdict(list)
    for key, (start, _, imsi, paa) in sessions.items():
        end = by_teid.get(int(key, 16) if key.startswith("0x") else int(key), 10**9)
        bindings[paa].append((start, end, imsi))
    return bindings


@pytest.mark.tshark
@pytest.mark.parametrize("name", GTP_CAPTURES)
def test_gtp_truth_follows_the_sessions_over_time(tshark: str, name: str) -> None:
    """Each leak's device is the subscriber the GTPv2-C timeline gives the flow's address to."""
    bindings = gtp_bindings(tshark, CAPTURES / f"{name}.pcap")
    truth = load_truth(name)
    imsi_of = {d["device_id"]: d["identifiers"]["imsi"] for d in truth["devices"]}
    reused = [ip for ip, spans in bindings.items() if len({s[2] for s in spans}) > 1]
    assert reused, "no address is given to two subscribers"
    holders_seen = defaultdict(set)
    for x in truth["leaks"]:
        ip, frame = x["flow"]["src"], x["frame_number"]
        holders = [imsi for start, end, imsi in bindings[ip] if start < frame < end]
        assert holders == [imsi_of[x["device"]]], (x["leak_id"], holders)
        holders_seen[ip].add(holders[0])
    assert any(len(holders_seen[ip]) > 1 for ip in reused), "no reused address leaks for both holders"
    inventory = yaml.safe_load((CAPTURES / f"{name}.inventory.yaml").read_text(encoding="utf-8"))
    assert all("ips" not in d for d in inventory["devices"])


@pytest.mark.tshark
def test_demo_gtp_control_and_user_plane_decode(tshark: str) -> None:
    pcap = CAPTURES / "demo_gtp.pcap"
    inventory = yaml.safe_load((CAPTURES / "demo_gtp.inventory.yaml").read_text(encoding="utf-8"))
    rows = tshark_fields(tshark, pcap, "gtpv2.message_type == 32",
                         ["e212.imsi", "e164.msisdn", "gtpv2.mei", "gtpv2.apn", "gtpv2.rat_type"])
    assert {r[0] for r in rows} == {d["identifiers"]["imsi"][0] for d in inventory["devices"]}
    assert {"+" + r[1] for r in rows} == {d["identifiers"]["msisdn"][0] for d in inventory["devices"]}
    assert all(r[2][:14] == next(d["identifiers"]["imei"][0][:14] for d in inventory["devices"]
                                 if d["identifiers"]["imsi"][0] == r[0]) for r in rows)
    assert {r[3] for r in rows} == {"internet.telekom"}
    assert {r[4] for r in rows} == {"6", "10"}
    paa = [r[0] for r in tshark_fields(tshark, pcap, "gtpv2.message_type == 33", ["gtpv2.pdn_addr_and_prefix.ipv4"])]
    assert paa.count("10.45.12.34") == 2
    assert tshark_fields(tshark, pcap, "gtpv2.message_type == 37", ["gtpv2.cause"])
    qfi = tshark_fields(tshark, pcap, "gtp.ext_hdr.pdu_ses_con.qos_flow_id", ["gtp.ext_hdr.pdu_ses_con.qos_flow_id"])
    assert qfi and {r[0] for r in qfi} == {"9"}
    hosts = {r[0] for r in tshark_fields(tshark, pcap, "http.request", ["http.host"])}
    assert {"googleads.g.doubleclick.net", "app.adjust.com", "graph.facebook.com"} <= hosts
    sni = {r[0] for r in tshark_fields(tshark, pcap, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name"])}
    assert {"www.youtube.com", "youtubei.googleapis.com"} <= sni  # the second over QUIC, decrypted
    children = yaml.safe_load((CAPTURES / "demo_gtp.subscribers.yaml").read_text(encoding="utf-8"))["devices"]
    assert children and all(d["age"] < 18 and set(d["identifiers"]) == {"imsi", "msisdn"} for d in children)


@pytest.mark.tshark
def test_demo_decodes_as_intended(tshark: str) -> None:
    pcap = CAPTURES / "demo.pcap"
    names = {r[0] for r in tshark_fields(tshark, pcap, "dhcp.option.hostname", ["dhcp.option.hostname"])}
    assert "Emmas-iPad" in names and len(names) == 5
    mdns = ",".join(r[0] for r in tshark_fields(tshark, pcap, "mdns", ["dns.resp.name"]))
    assert "Emma\u2019s iPad._companion-link._tcp.local" in mdns
    requests = tshark_fields(tshark, pcap, "http.request", ["http.host", "http.request.uri", "http.request.line"])
    hosts = {r[0] for r in requests}
    assert {"googleads.g.doubleclick.net", "app-measurement.com", "graph.facebook.com", "t.appsflyer.com",
            "app.adjust.com"} <= hosts
    ads = [r[1] for r in requests if r[0] == "googleads.g.doubleclick.net"]
    assert any("tag_for_child_directed_treatment=1" in u and "rdid=" in u for u in ads)
    assert any("tag_for_child_directed_treatment" not in u and "rdid=" in u for u in ads)
    lines = ",".join(r[2] for r in requests)
    assert "X-MSISDN: " in lines and "_ga=GA1." in lines and "_fbp=fb.1." in lines
    # every contacted host was looked up first
    looked_up = {r[0] for r in tshark_fields(tshark, pcap, "dns.flags.response == 1 && !mdns", ["dns.qry.name"])}
    sni = {r[0] for r in tshark_fields(tshark, pcap, "tls.handshake.type == 1", ["tls.handshake.extensions_server_name"])}
    assert hosts | sni <= looked_up
    assert tshark_fields(tshark, pcap, "ntp", ["ntp.flags.mode"]) and tshark_fields(tshark, pcap, "icmp", ["icmp.type"])


# ---------------------------------------------------------------------------------------------
# identifiers are valid in form and synthetic
# ---------------------------------------------------------------------------------------------
OUIS = {"8c:79:f5", "a0:cb:fd", "f0:5b:7b", "3c:28:6d", "f4:f5:e8", "64:b4:73", "28:6c:07", "a4:3d:78",
        "3c:22:fb", "f0:18:98", "a4:83:e7"}  # Samsung, Google, Xiaomi, OPPO, Apple (IEEE registry)
UUID4 = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


def luhn_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


@pytest.mark.parametrize("name", ["demo", "demo_gtp", "labelled_encodings", "labelled_gtp"])
def test_inventory_identifiers_are_valid_and_synthetic(name: str) -> None:
    text = (CAPTURES / f"{name}.inventory.yaml").read_text(encoding="utf-8")
    devices = yaml.safe_load(text)["devices"]
    truth = {d["device_id"]: d for d in load_truth(name)["devices"]}
    assert [d["id"] for d in devices] == list(truth)
    assert any(d.get("minor") or "age" in d for d in devices)
    for d in devices:
        ids = d["identifiers"]
        assert truth[d["id"]]["is_minor"] == (d["age"] < 18 if "age" in d else d["minor"])
        imei = ids["imei"][0]
        assert len(imei) == 15 and luhn_ok(imei) and imei[:2] in ("35", "86")
        assert re.fullmatch(r"2620[17]\d{10}", ids["imsi"][0])
        assert re.fullmatch(r"\+4917139200\d\d|\+49176040690\d\d", ids["msisdn"][0])  # BNetzA drama numbers
        assert ids["mac"][0][:8] in OUIS
        assert re.fullmatch(r"[a-z0-9.]+@example\.(org|net)", ids["email"][0])
        if "gaid" in ids:
            assert re.fullmatch(UUID4, ids["gaid"][0])
            assert re.fullmatch(r"[0-9a-f]{16}", ids["android_id"][0])
        else:
            idfa = ids["idfa"][0]
            assert idfa == idfa.upper() and re.fullmatch(UUID4, idfa.lower())
        t = truth[d["id"]]["identifiers"]
        assert (t["imei"], t["imsi"], t["msisdn"], t["email"]) == (imei, ids["imsi"][0], ids["msisdn"][0], ids["email"][0])
    assert all(re.fullmatch(r"-?\d+\.\d{6}", v) for v in re.findall(r"(?:lat|lon): (-?[\d.]+)", text))
