"""Ground truth: what a scene sent, where on the wire it is, and the files that say so.

A scene asks the `Recorder` for a `Leak` (an identifier of a device, transformed and placed
somewhere in a request) or a `Decoy` (a value that looks like an identifier but is not one), writes
the leak's `wire` text into a request under the leak's `key`, and after sending the request hands
the rendered request and its TCP segments back. The recorder then knows, for every value, the
stream byte where it starts, and after `Capture.finish` the frame that carries that byte.

The truth JSON has the layout of ../shared/captures/labelled/*.truth.json: the same top-level keys,
the same keys per device, leak and decoy, and the same `conventions`.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .http import Rendered, cookie_value, url_value
from .people import (
    Device,
    apply_transform,
    identifier_value,
    luhn_failing_15,
    transform_detail,
    truth_identifiers,
    uuid4,
)
from .wire import Capture, Segment

CONVENTIONS = {
    "packet_index_of_first_byte": "0-based index of the packet (in file order) that carries the first byte of the encoded identifier in the TCP payload; frame_number = index+1 (tshark). For gzip bodies / base64-wrapped JSON the index is that of the first byte of the compressed body / base64 blob (offset_refers_to says which).",
    "flow": "client-side 5-tuple (UE -> server)",
    "location": "query|json|form|cookie|header|user_agent|base64_json|header_enrichment",
    "transform": "plain|url2|upper|nodash|upper_nodash|md5|sha1|sha256|base64|e164_noplus|decimal_N[+json_array]; hashes are of hash_input (lower-case email, lower-case GAID/MAC, upper-case IDFA, digits)",
    "transport": "plain|gzip|chunked|gzip_chunked|split (request cut across TCP segments, cut inside the value)|out_of_order (as split, two adjacent segments swapped on the wire)",
    "chunked": "with chunked transport a chunk-size line may fall inside the encoded value; encoded_value is the de-chunked text and packet_index_of_first_byte is where its first character is on the wire",
    "location_leak": "identifier_type=location: value is home lat,lon (6 decimals); the leak may use 5 or 6 decimals",
    "decoys": "values that must NOT be reported as device identifiers",
}

@dataclass
class Leak:
    key: str
    device: Device
    id_type: str          # truth names: imei imsi msisdn wifi_mac email gaid idfa android_id location uidh cookie_id
    value: str
    transform: str
    hash_input: str | None
    location: str
    param_name: str
    json_path: str | None
    encoded_value: str    # the text in the request once its transport is undone
    wire: str             # what the scene writes into its container (== encoded_value, except in base64_json)


@dataclass
class Decoy:
    key: str
    device: Device
    kind: str
    value: str
    param_name: str
    location: str


@dataclass
class _Placed:
    item: Leak | Decoy
    host: str
    flow: dict[str, object]
    request_offset: int
    transport: str
    uids: list[int]


@dataclass
class Recorder:
    rng: random.Random
    start_utc: int
    destinations: dict[str, tuple[str, bool]]
    placed: list[_Placed] = field(default_factory=list)
    counter: int = 0

    def _key(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def leak(self, device: Device, id_type: str, transform: str, location: str, param_name: str,
             json_path: str | None = None) -> Leak:
        value = identifier_value(device, id_type)
        text, source = apply_transform(transform, id_type, value)
        if location in ("query", "form") and transform != "url2":
            wire = url_value(text)
        elif location == "cookie" and transform != "url2":
            wire = cookie_value(text)
        else:
            wire = text
        return Leak(self._key("leak"), device, id_type, value, transform, source, location, param_name,
                    json_path, wire, wire)

    def decoy(self, device: Device, kind: str, param_name: str, location: str, t: float) -> Decoy:
        r = self.rng
        if kind == "random_uuid":
            value = uuid4(r)
        elif kind == "luhn_fail_15digit":
            value = luhn_failing_15(r)
        elif kind == "coarse_latlon":
            value = f"{device.lat:.{r.choice((1, 2))}f}"  # a region, not a place
        elif kind == "timestamp_s":
            value = str(self.start_utc + int(t) - r.randrange(0, 5))
        elif kind == "timestamp_ms":
            value = str((self.start_utc + int(t)) * 1000 + r.randrange(1000))
        else:
            raise ValueError(kind)
        return Decoy(self._key("decoy"), device, kind, value, param_name, location)

    def request(self, host: str, flow: dict[str, object], rendered: Rendered, base: int,
                segments: list[Segment], leaks: list[Leak], decoys: list[Decoy]) -> None:
        """Note where the leaks and decoys of one sent request are (`base`: its first stream byte)."""
        items: list[Leak | Decoy] = [*leaks, *decoys]
        for item in items:
            offset = rendered.offsets[item.key]
            coding = rendered.body_coding.get(item.key, "plain")
            if coding != "plain":
                transport = coding
            else:
                a, b = rendered.spans[item.key]
                touched = [s for s in segments if not s.retransmission and s.start < base + b and s.end > base + a]
                if len(touched) > 1:
                    transport = "out_of_order" if any(s.swapped for s in touched) else "split"
                else:
                    transport = "plain"
            stream_byte = base + offset
            uids = [s.uid for s in segments if s.start <= stream_byte < s.end]
            if not uids:
                raise AssertionError(f"{item.key} at stream byte {stream_byte} is in no segment")
            self.placed.append(_Placed(item, host, dict(flow), offset, transport, uids))

    # -- output -----------------------------------------------------------------------------------
    def write_capture(self, cap: Capture, out: Path, stem: str, variant: str, seed: int,
                      devices: list[Device]) -> dict[str, object]:
        """Finish the capture and write `<stem>.pcap` and its ground truth `<stem>.truth.json`; return the truth."""
        cap.finish()
        size = cap.write(out / f"{stem}.pcap")
        truth = self.truth(cap, variant, seed, f"{stem}.pcap", size, devices)
        write_json(out / f"{stem}.truth.json", truth)
        return truth

    def truth(self, cap: Capture, variant: str, seed: int, pcap_name: str, file_bytes: int,
              devices: list[Device]) -> dict[str, object]:
        leaks: list[dict[str, object]] = []
        decoys: list[dict[str, object]] = []
        used_hosts: dict[str, None] = {}
        for p in sorted(self.placed, key=lambda p: (min(cap.frame_number(u) for u in p.uids), p.request_offset)):
            frame = min(cap.frame_number(u) for u in p.uids)
            used_hosts.setdefault(p.host, None)
            item = p.item
            if isinstance(item, Leak):
                org, tracker = self.destinations[p.host]
                compressed = p.transport in ("gzip", "gzip_chunked")
                refers = ("first byte of the compressed body" if compressed else
                          "first byte of the base64 blob" if item.location == "base64_json" else
                          "first byte of the encoded value")
                leaks.append({
                    "device": item.device.id, "identifier_type": item.id_type, "value": item.value,
                    "encoded_value": item.encoded_value, "encoding": f"{item.location}:{item.transform}",
                    "location": item.location, "transform": item.transform,
                    "transform_detail": transform_detail(item.transform), "hash_input": item.hash_input,
                    "transport": p.transport, "param_name": item.param_name, "json_path": item.json_path,
                    "destination_host": p.host, "destination_org": org, "is_tracker": tracker,
                    "request_offset": p.request_offset, "offset_refers_to": refers, "flow": p.flow,
                    "device_is_minor": item.device.minor, "packet_index_of_first_byte": frame - 1,
                    "frame_number": frame, "leak_id": len(leaks)})
            else:
                decoys.append({
                    "kind": item.kind, "value": item.value, "param_name": item.param_name, "location": item.location,
                    "destination_host": p.host, "flow": p.flow, "device": item.device.id, "transport": p.transport,
                    "in_compressed_body": p.transport in ("gzip", "gzip_chunked"), "packet_index": frame - 1,
                    "frame_number": frame})
        return {
            "variant": variant, "seed": seed, "pcap": pcap_name, "linktype": "ether",
            "packets": len(cap.packets), "file_bytes": file_bytes, "flows": len(cap.flows),
            "capture_start_utc": cap.start_utc, "conventions": CONVENTIONS,
            "devices": [truth_device(d) for d in devices],
            "leaks": leaks, "decoys": decoys,
            "destinations": {h: {"org": self.destinations[h][0], "is_tracker": self.destinations[h][1]}
                             for h in sorted(used_hosts)},
            "counts": {"leaks": len(leaks), "decoys": len(decoys),
                       "leaks_to_trackers": sum(1 for x in leaks if x["is_tracker"]),
                       "leaks_from_minors": sum(1 for x in leaks if x["device_is_minor"])},
        }


def truth_device(d: Device) -> dict[str, object]:
    return {"device_id": d.id, "is_minor": d.minor, "platform": d.platform, "model": d.model,
            "device_name": d.device_name, "ue_ip": d.ip, "imeisv": d.imeisv,
            "operator_header_enrichment": d.uidh is not None, "identifiers": truth_identifiers(d)}


def write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


def coverage(truth: dict[str, object]) -> Counter[tuple[str, str, str]]:
    leaks = truth["leaks"]
    assert isinstance(leaks, list)
    return Counter((x["transform"], x["location"], x["transport"]) for x in leaks)


# ---------------------------------------------------------------------------------------------
# inventories (privscan's inventory format, docs/inventory.md)
# ---------------------------------------------------------------------------------------------
def _q(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)  # a JSON string is a YAML double-quoted scalar


def _flow_list(values: list[str]) -> str:
    return "[" + ", ".join(_q(v) for v in values) + "]"


def inventory_yaml(devices: list[Device], comment: str, ips: bool = True, macs: bool = True,
                   only: tuple[str, ...] | None = None) -> str:
    """Devices in privscan's inventory format; `only` limits the identifier types written."""
    lines = [f"# {line}" if line else "#" for line in comment.splitlines()]
    lines.append("devices:")
    for d in devices:
        lines.append(f"  - id: {_q(d.id)}")
        if d.age is not None:
            lines.append(f"    age: {d.age}")
        else:
            lines.append(f"    minor: {'true' if d.minor else 'false'}")
        if ips and d.ip:
            lines.append(f"    ips: {_flow_list([d.ip])}")
        if macs:
            lines.append(f"    macs: {_flow_list([d.mac])}")
        ids: dict[str, list[str]] = {"imei": [d.imei], "imsi": [d.imsi], "msisdn": [d.msisdn], "mac": [d.mac],
                                     "email": [d.email]}
        if d.gaid:
            ids["gaid"] = [d.gaid]
            ids["android_id"] = [d.android_id or ""]
        if d.idfa:
            ids["idfa"] = [d.idfa]
        if d.uidh:
            ids["uidh"] = [d.uidh]
        ids.update(d.extra)
        lines.append("    identifiers:")
        for k, v in ids.items():
            if only is None or k in only:
                lines.append(f"      {k}: {_flow_list(v)}")
        if only is None or "geo" in only:
            lines.append(f"      geo: [{{lat: {d.lat:.6f}, lon: {d.lon:.6f}}}]")
        if only is None or "device_name" in only:
            lines.append(f"      device_name: {_flow_list([d.device_name, *d.other_names])}")
    return "\n".join(lines) + "\n"
