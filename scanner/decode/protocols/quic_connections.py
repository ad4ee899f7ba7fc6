"""QUIC per-connection state: CRYPTO reassembly of client Initials, STREAM reassembly, decrypted sessions.

Follows RFC 9000 (s19.6 CRYPTO frames: the ClientHello may come split into
fragments, out of order, overlapping, over several Initial packets; s2.2
stream data in order, with retransmissions and overlaps) and RFC 9001 / RFC
9369 for the keys each session holds (``quic_protection``); compatible version
negotiation is RFC 9368.  Every buffer here is bounded; the decoder
(``quic.py``) keeps the tables of these objects and evicts the oldest.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from scanner.decode.keylog import CLIENT_EARLY_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0, SERVER_TRAFFIC_SECRET_0
from scanner.decode.protocols.base import Anomalies, PacketContext
from scanner.decode.protocols.http3 import Http3Connection
from scanner.decode.protocols.quic_protection import InitialKeys, QuicVersion, TrafficKeys, decrypted_label
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.model import FlowTuple, Tunnel

# Both directions' 5-tuples of a connection, (tunnel, src, sport, dst, dport): how the decoder finds it.
PathKey = tuple[Tunnel | None, str, int, str, int]


class InitialConnection:
    """One client connection's Initial keys and the part of its ClientHello seen so far."""

    __slots__ = ("client_cid", "done", "keys", "largest_pn", "pending", "pending_bytes", "prefix", "version")

    def __init__(self, version: QuicVersion, keys: InitialKeys) -> None:
        self.version = version
        self.keys = keys
        self.largest_pn = -1
        self.prefix = bytearray()  # CRYPTO stream bytes 0..len(prefix), contiguous
        self.pending: dict[int, bytes] = {}  # fragments beyond the prefix, by offset
        self.pending_bytes = 0
        self.done = False
        self.client_cid = b""  # the client's own connection id (SCID): what the server's packets carry

    @property
    def buffered(self) -> int:
        return len(self.prefix) + self.pending_bytes

    def add(self, offset: int, data: bytes) -> None:
        """Place one CRYPTO fragment; duplicates and overlaps keep the bytes first seen."""
        have = len(self.prefix)
        end = offset + len(data)
        if end <= have:
            return
        if offset > have:
            old = self.pending.get(offset)
            if old is None or len(old) < len(data):
                self.pending[offset] = data
                self.pending_bytes += len(data) - (len(old) if old is not None else 0)
            return
        self.prefix += data[have - offset :]
        if self.pending:
            # Sorted, one pass joins every fragment the new bytes reached.
            for off in sorted(self.pending):
                if off > len(self.prefix):
                    break
                piece = self.pending.pop(off)
                self.pending_bytes -= len(piece)
                if off + len(piece) > len(self.prefix):
                    self.prefix += piece[len(self.prefix) - off :]

    def release(self) -> None:
        self.prefix = bytearray()
        self.pending = {}
        self.pending_bytes = 0


class StreamBuffer:
    """One QUIC stream's bytes put back in order (RFC 9000 s2.2): frames may come out of order,
    repeat or overlap (retransmissions); bytes beyond a gap wait, bounded."""

    __slots__ = ("fin_offset", "next_offset", "pending", "pending_bytes")

    MAX_PENDING_BYTES = 256 * 1024

    def __init__(self) -> None:
        self.next_offset = 0
        self.pending: dict[int, bytes] = {}
        self.pending_bytes = 0
        self.fin_offset: int | None = None

    def add(self, offset: int, data: bytes, fin: bool) -> tuple[bytes, bool] | None:
        """The bytes that became contiguous and whether the stream is now whole; None when the
        gap before them holds more than MAX_PENDING_BYTES (the stream cannot be read)."""
        if fin:
            self.fin_offset = offset + len(data)
        end = offset + len(data)
        if end > self.next_offset:
            if offset > self.next_offset:
                old = self.pending.get(offset)
                if old is None or len(old) < len(data):
                    self.pending[offset] = data
                    self.pending_bytes += len(data) - (len(old) if old is not None else 0)
                    if self.pending_bytes > self.MAX_PENDING_BYTES:
                        return None
                return b"", False
            parts = [data[self.next_offset - offset :]]
            self.next_offset = end
            while self.pending:
                ready = [off for off in self.pending if off <= self.next_offset]
                if not ready:
                    break
                for off in sorted(ready):
                    piece = self.pending.pop(off)
                    self.pending_bytes -= len(piece)
                    if off + len(piece) > self.next_offset:
                        parts.append(piece[self.next_offset - off :])
                        self.next_offset = off + len(piece)
            new = b"".join(parts)
        else:
            new = b""
        return new, self.fin_offset is not None and self.next_offset >= self.fin_offset


class Session:
    """A connection being decrypted with the key log's secrets: its keys, streams and HTTP/3 layer."""

    __slots__ = (
        "cids",
        "client_cid_len",
        "early",
        "failed",
        "finished",
        "flow",
        "held",
        "http3",
        "one_rtt_seen",
        "paths",
        "secrets",
        "server_cid_len",
        "streams",
        "to_client",
        "to_server",
        "version",
    )

    def __init__(
        self,
        flow: FlowTuple,
        version: QuicVersion,
        client_cid_len: int,
        secrets: Mapping[str, bytes],
        anomalies: Anomalies,
    ) -> None:
        self.flow = flow  # oriented from the client
        self.client_cid_len = client_cid_len
        self.server_cid_len: int | None = None  # learned from the server's long-header packets
        self.secrets = secrets
        self.http3 = Http3Connection(anomalies)
        self.version = version
        self._keys_for(version)
        # 0-RTT is protected under the client's first version whatever the server chooses (RFC 9368 s4).
        early_secret = secrets.get(CLIENT_EARLY_TRAFFIC_SECRET)
        self.early = TrafficKeys(early_secret, version.label_prefix) if early_secret else None
        self.streams: OrderedDict[int, StreamBuffer] = OrderedDict()
        # Streams read to their end: a late retransmission of one must not start it again.
        self.finished: OrderedDict[int, None] = OrderedDict()
        self.paths: tuple[PathKey, PathKey] | None = None
        self.failed = False  # a packet failed to decrypt (wrong key, damaged)
        self.one_rtt_seen = False
        self.held = 0  # bytes held (stream gaps, request bodies) when last measured
        self.cids: list[bytes] = []  # connection ids it is followed by (off port 443)

    def buffered(self) -> int:
        return sum(b.pending_bytes for b in self.streams.values()) + self.http3.buffered()

    def _keys_for(self, version: QuicVersion) -> None:
        prefix = version.label_prefix
        self.to_server = TrafficKeys(self.secrets[CLIENT_TRAFFIC_SECRET_0], prefix)
        server_secret = self.secrets.get(SERVER_TRAFFIC_SECRET_0)
        self.to_client: TrafficKeys | None = TrafficKeys(server_secret, prefix) if server_secret else None
        # What the report says the requests were decrypted from.
        self.http3.decrypted_from = decrypted_label(version.number)

    def server_chose(self, version: QuicVersion) -> None:
        """The server's long-header packets carry another version than the client's first Initial:
        compatible version negotiation (RFC 9368) switched the connection, and the 1-RTT keys
        use the chosen version's labels (v1 "quic", v2 "quicv2")."""
        if version is not self.version and not self.one_rtt_seen:
            self.version = version
            self._keys_for(version)


class Waiting:
    """A connection whose secrets are not in the key log yet, in a capture with DSBs: its datagrams
    (both directions) are held, up to MAX_BYTES, until a later DSB brings the secrets."""

    __slots__ = ("client_cid", "client_random", "datagrams", "decryption", "flow", "size", "tunnel", "version")

    MAX_BYTES = 256 * 1024

    def __init__(self, client_random: bytes, version: QuicVersion, client_cid: bytes, flow: FlowTuple) -> None:
        self.client_random = client_random
        self.version = version
        self.client_cid = client_cid
        self.flow = flow
        self.datagrams: list[tuple[bytes, PacketContext]] = []
        self.size = 0
        self.tunnel: Tunnel | None = None
        self.decryption: DecryptionContext | None = None

    def paths(self, tunnel: Tunnel | None) -> tuple[PathKey, PathKey]:
        self.tunnel = tunnel
        flow = self.flow
        return (tunnel, flow.src, flow.sport, flow.dst, flow.dport), (tunnel, flow.dst, flow.dport, flow.src, flow.sport)
