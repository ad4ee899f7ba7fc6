"""IPv4 (RFC 791) and IPv6 (RFC 8200) fragment reassembly, bounded.

Fragments are held by (addresses, identification, protocol) until the
datagram is whole; a datagram that stays incomplete for ``TIMEOUT`` seconds
of capture time, or that would exceed ``MAX_DATAGRAM``, is dropped and
counted.  The reassembler returns the upper-layer payload only: the engine
already has the addresses and protocol from the first header it read.

Bounded whatever the traffic (issue 15): a datagram's bytes are written into
one buffer of at most ``MAX_DATAGRAM`` bytes with a map of the 8-byte units
already covered, so thousands of overlapping fragments cost no more than one
datagram (they were all kept: 148 MB for a 93 MB capture).  A fragment that
overlaps bytes already received, other than an exact copy (a retransmission),
is counted (``ip_fragment_overlap``: overlaps are how IDS evasion and teardrop
attacks work) and written over them, the later copy winning; a privacy audit
would rather read a datagram than drop it as Linux does (RFC 5722 asks hosts
to drop overlapping IPv6 fragments, but we are not the host).  At most
``MAX_DATAGRAMS_IN_FLIGHT`` datagrams and ``MAX_FRAGMENT_BYTES`` bytes are held;
past either, the oldest datagram goes first, counted.  Datagrams still
incomplete at the end of a capture are counted too.
"""

from __future__ import annotations

from scanner.decode.protocols.base import Anomalies

MAX_DATAGRAM = 65535 + 8
MAX_DATAGRAMS_IN_FLIGHT = 4096
# Bytes of fragments held in all: 500 whole maximum-size datagrams.
MAX_FRAGMENT_BYTES = 32 * 1024 * 1024
TIMEOUT = 30.0
_UNITS = (MAX_DATAGRAM + 7) // 8  # fragment offsets count 8-byte units (RFC 791)


class _Datagram:
    __slots__ = ("covered", "first_ts", "payload", "starts", "total", "units")

    def __init__(self, ts: float) -> None:
        self.first_ts = ts
        self.payload = bytearray()
        self.covered = bytearray()  # one byte per 8-byte unit: 1 once received
        self.units = 0  # units covered
        self.starts: dict[int, int] = {}  # offset -> length of each fragment, to know an exact copy
        self.total: int | None = None  # known once the last fragment arrives


class FragmentReassembler:
    def __init__(self, anomalies: Anomalies) -> None:
        self.anomalies = anomalies
        self._datagrams: dict[tuple[bytes, int, int], _Datagram] = {}
        self._bytes = 0  # payload bytes held by all datagrams
        self.reassembled = 0

    def add(self, key: tuple[bytes, int, int], offset: int, more: bool, data: bytes, ts: float) -> bytes | None:
        """Add one fragment's payload; return the whole payload once every byte is here."""
        datagrams = self._datagrams
        end = offset + len(data)
        if end > MAX_DATAGRAM:
            self.anomalies.add("ip_fragment_too_large")
            self._drop(key)
            return None
        datagram = datagrams.get(key)
        if datagram is None:
            if len(datagrams) >= MAX_DATAGRAMS_IN_FLIGHT:
                self.expire(ts, force=True)
            datagram = datagrams[key] = _Datagram(ts)
        if not more:
            if datagram.total is not None and datagram.total != end:
                self.anomalies.add("ip_fragment_inconsistent")
            datagram.total = end
        if not data:
            return None
        first_unit, end_unit = offset >> 3, (end + 7) >> 3
        covered = datagram.covered
        if end_unit > len(covered):
            covered.extend(bytes(end_unit - len(covered)))
        already = covered.count(1, first_unit, end_unit)
        if already:
            if datagram.starts.get(offset) == len(data):
                return None  # an exact copy: a retransmitted fragment, nothing new
            # Written over what came before (the later copy wins, as in Windows and BSD
            # stacks); the buffer does not grow, so the overlap costs nothing but a count.
            self.anomalies.add("ip_fragment_overlap")
        payload = datagram.payload
        if end > len(payload):
            grown = end - len(payload)
            payload.extend(bytes(grown))
            self._bytes += grown
        payload[offset:end] = data
        covered[first_unit:end_unit] = b"\x01" * (end_unit - first_unit)
        datagram.units += end_unit - first_unit - already
        datagram.starts[offset] = len(data)
        if self._bytes > MAX_FRAGMENT_BYTES:
            self._evict_bytes(keep=key)
        if datagram.total is None:
            return None
        needed = (datagram.total + 7) >> 3
        # units beyond the end (an inconsistent fragment) must not stand in for a hole before it
        if datagram.units < needed or covered.count(1, 0, needed) < needed:
            return None
        del datagrams[key]
        self._bytes -= len(payload)
        self.reassembled += 1
        return bytes(payload[: datagram.total])

    def _drop(self, key: tuple[bytes, int, int]) -> None:
        datagram = self._datagrams.pop(key, None)
        if datagram is not None:
            self._bytes -= len(datagram.payload)

    def _evict_bytes(self, keep: tuple[bytes, int, int]) -> None:
        """Drop the oldest datagrams (the dict keeps arrival order) until the bytes fit."""
        evicted = 0
        for key in list(self._datagrams):
            if self._bytes <= MAX_FRAGMENT_BYTES:
                break
            if key != keep:
                self._drop(key)
                evicted += 1
        if evicted:
            self.anomalies.add("ip_fragments_evicted", evicted)

    def expire(self, now: float, force: bool = False) -> None:
        """Drop datagrams older than TIMEOUT (or the oldest half when ``force``)."""
        datagrams = self._datagrams
        if force:
            victims = list(datagrams)[: max(1, len(datagrams) // 2)]  # arrival order: oldest first
            for key in victims:
                self._drop(key)
            if victims:
                self.anomalies.add("ip_fragments_evicted", len(victims))
            return
        victims = [k for k, d in datagrams.items() if now - d.first_ts > TIMEOUT]
        for key in victims:
            self._drop(key)
        if victims:
            self.anomalies.add("ip_fragments_incomplete", len(victims))

    def flush(self) -> None:
        """The capture ended: what is still incomplete will never be whole."""
        if self._datagrams:
            self.anomalies.add("ip_fragments_incomplete", len(self._datagrams))
        self._datagrams.clear()
        self._bytes = 0

    def held_bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._datagrams)
