"""IPv4 (RFC 791) and IPv6 (RFC 8200) fragment reassembly, bounded.

Fragments are held by (addresses, identification, protocol) until the
datagram is whole; a datagram that stays incomplete for ``TIMEOUT`` seconds
of capture time, or that would exceed ``MAX_DATAGRAM``, is dropped and
counted.  The reassembler returns the upper-layer payload only: the engine
already has the addresses and protocol from the first header it read.
"""

from __future__ import annotations

from scanner.decode.protocols.base import Anomalies

MAX_DATAGRAM = 65535 + 8
MAX_DATAGRAMS_IN_FLIGHT = 4096
TIMEOUT = 30.0


class _Datagram:
    __slots__ = ("first_ts", "pieces", "received", "total")

    def __init__(self, ts: float) -> None:
        self.first_ts = ts
        self.pieces: dict[int, bytes] = {}
        self.total: int | None = None  # known once the last fragment arrives
        self.received = 0


class FragmentReassembler:
    def __init__(self, anomalies: Anomalies) -> None:
        self.anomalies = anomalies
        self._datagrams: dict[tuple[bytes, int, int], _Datagram] = {}
        self.reassembled = 0

    def add(self, key: tuple[bytes, int, int], offset: int, more: bool, data: bytes, ts: float) -> bytes | None:
        """Add one fragment's payload; return the whole payload once every byte is here."""
        datagrams = self._datagrams
        datagram = datagrams.get(key)
        if datagram is None:
            if len(datagrams) >= MAX_DATAGRAMS_IN_FLIGHT:
                self.expire(ts, force=True)
            datagram = datagrams[key] = _Datagram(ts)
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self.anomalies.add("ip_fragment_too_large")
            del datagrams[key]
            return None
        if not more:
            if datagram.total is not None and datagram.total != end:
                self.anomalies.add("ip_fragment_inconsistent")
            datagram.total = end
        old = datagram.pieces.get(offset)
        if old is None or len(old) < len(data):
            datagram.pieces[offset] = data
            datagram.received += len(data) - (len(old) if old else 0)
        if datagram.total is None or datagram.received < datagram.total:
            return None
        payload = bytearray(datagram.total)
        covered = 0
        for piece_offset in sorted(datagram.pieces):
            piece = datagram.pieces[piece_offset]
            if piece_offset > covered:
                return None  # overlapping pieces made up the count but a hole remains
            payload[piece_offset : piece_offset + len(piece)] = piece
            covered = max(covered, piece_offset + len(piece))
        del datagrams[key]
        self.reassembled += 1
        return bytes(payload[: datagram.total])

    def expire(self, now: float, force: bool = False) -> None:
        """Drop datagrams older than TIMEOUT (or the oldest half when ``force``)."""
        datagrams = self._datagrams
        if force:
            victims = sorted(datagrams, key=lambda k: datagrams[k].first_ts)[: max(1, len(datagrams) // 2)]
        else:
            victims = [k for k, d in datagrams.items() if now - d.first_ts > TIMEOUT]
        for key in victims:
            del datagrams[key]
        if victims:
            self.anomalies.add("ip_fragments_incomplete", len(victims))

    def __len__(self) -> int:
        return len(self._datagrams)
