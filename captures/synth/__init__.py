"""Building blocks for privscan's synthetic captures (see ../make_captures.py and ../README.md).

Everything here is deterministic: randomness comes only from `random.Random` objects seeded with
fixed strings, times are offsets from a fixed capture start, and nothing iterates over a set. The
same code therefore always writes byte-identical files (given the same scapy and zlib).

- wire.py: the packet timeline, the pcap writer, link layers and a TCP connection model that knows
  which frame carries which stream byte (ground truth needs that).
- tls.py: TLS 1.3 ClientHello bytes and QUIC v1 Initial packets with real packet protection.
- gtp.py: GTPv2-C (3GPP TS 29.274) messages and GTP-U (TS 29.281) encapsulation.
- http.py: HTTP/1.1 requests whose value offsets are tracked through gzip and chunked bodies.
- requests.py: SDK-like requests assembled from leaks, decoys and ordinary parameters.
- people.py: synthetic devices and subscribers with valid-looking identifiers, and the transforms
  (hashes, case, base64, URL encoding) that apps apply to them.
- net.py: destinations (hosts, organisations, addresses) and the traffic every scene shares:
  DNS lookups, HTTPS and QUIC sessions, NTP, ICMP.
- truth.py: records leaks and decoys while a scene runs and writes truth JSON and inventories.
- demo.py, demo_gtp.py, labelled.py: the scenes.
"""
