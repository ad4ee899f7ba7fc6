"""How an application protocol plugs into the native decoder.

A protocol is one module in this package that declares a subclass of
``DatagramDecoder`` (UDP, SCTP DATA chunks) or ``StreamDecoder`` (TCP, one
per direction of a connection).  Declaring the class registers it, like
scapy's ``bind_layers``: the engine finds decoders by port, by SCTP payload
protocol id, or by a cheap sniff of the first bytes for traffic on other ports.

Decoders never raise on bad traffic: they count what they could not read in
``Anomalies`` (Zeek's "weirds") and return what they did read.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

# PacketContext lives with the event types: its header() is what every event starts with.
from scanner.model import Event, FlowTuple, PacketContext, Tunnel

if TYPE_CHECKING:
    from scanner.decode.tlsdecrypt.context import DecryptionContext

DATAGRAM_DECODERS: dict[str, type[DatagramDecoder]] = {}
STREAM_DECODERS: dict[str, type[StreamDecoder]] = {}


class DecoderBug(Exception):
    """A protocol decoder raised.  Decoders count bad traffic and never raise, so this is a bug
    in the decoder, kept apart from a damaged packet so that strict runs (tests) see it."""

    def __init__(self, decoder: str, error: BaseException) -> None:
        super().__init__(f"{decoder} decoder: {type(error).__name__}: {error}")
        self.decoder = decoder
        self.error = error


class Anomalies:
    """Counts of oddities in traffic, by name (``dns_truncated``, ``tcp_gap``, ...)."""

    __slots__ = ("counts",)

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}

    def add(self, name: str, n: int = 1) -> None:
        self.counts[name] = self.counts.get(name, 0) + n


def decryption_of(ctx: PacketContext | StreamContext) -> DecryptionContext | None:
    """The capture's key log and decryption state a context carries, typed (tlsdecrypt/context.py)."""
    return ctx.decryption


class DatagramDecoder:
    """A protocol whose messages each fit in one UDP datagram or SCTP DATA chunk.

    One instance serves a whole capture, so a decoder may keep bounded state
    across packets (QUIC keeps partial ClientHellos by connection id).
    """

    name: ClassVar[str] = ""
    udp_ports: ClassVar[frozenset[int]] = frozenset()
    sctp_ppids: ClassVar[frozenset[int]] = frozenset()
    # SCTP ports, for DATA chunks whose payload protocol id says nothing (PPID 0 is common).
    sctp_ports: ClassVar[frozenset[int]] = frozenset()
    # Tried, in this order, on UDP traffic whose ports no decoder claims.
    sniff_order: ClassVar[int | None] = None

    def __init_subclass__(cls, **kwargs: object) -> None:
        if cls.__dict__.get("name"):
            if cls.name in DATAGRAM_DECODERS and DATAGRAM_DECODERS[cls.name].__module__ != cls.__module__:
                raise TypeError(f"two datagram decoders named {cls.name!r}")
            DATAGRAM_DECODERS[cls.name] = cls

    def __init__(self, anomalies: Anomalies) -> None:
        self.anomalies = anomalies

    @classmethod
    def sniff(cls, payload: bytes) -> bool:
        """Whether a datagram on an unclaimed port looks like this protocol.  Must be cheap."""
        return False

    def follows(self, payload: bytes) -> bool:
        """Whether a datagram on an unclaimed port belongs to a conversation this decoder is
        following (QUIC: a connection being decrypted, recognised by its connection id, since
        its short-header packets cannot be sniffed).  Must be cheap; default: none."""
        return False

    def wants(self, payload: bytes) -> bool:
        """A cheap look before the engine builds the packet's context: False skips the
        datagram.  QUIC uses it to drop short-header (encrypted) packets at once."""
        return True

    def decode(self, payload: bytes, ctx: PacketContext) -> Sequence[Event]:
        raise NotImplementedError

    def finish(self) -> None:
        """The capture ended: let go of state kept across packets (QUIC connections being
        decrypted count the requests they still waited on).  Default: nothing kept."""


@dataclass(frozen=True, slots=True)
class StreamContext:
    """One direction of a TCP connection.  ``flow`` is oriented as the bytes travel."""

    capture: str
    flow: FlowTuple
    tunnel: Tunnel | None = None
    # The capture's key log and decryption state, shared by both directions of every
    # connection (tlsdecrypt/context.py); None in tests that decode without one.
    decryption: DecryptionContext | None = None

    def at(self, ts: float, frame: int) -> PacketContext:
        """The context of a message of this direction that ends in ``frame``."""
        return PacketContext(ts, self.capture, frame, self.flow, self.tunnel, self.decryption)


class StreamDecoder:
    """A protocol read from one direction of a reassembled TCP stream.

    The engine feeds in-order bytes; ``gap`` says bytes were lost (the decoder
    resynchronises or gives up); ``finish`` is called at FIN/RST or when the
    flow expires.  Setting ``done`` tells the engine to stop buffering this
    direction: that is how encrypted bulk data gets skipped after a ClientHello.
    """

    name: ClassVar[str] = ""
    # Ports where this protocol is expected; on them it is chosen without a sniff.
    tcp_ports: ClassVar[frozenset[int]] = frozenset()
    # Tried, in this order, on the first bytes of a direction no port claims.
    sniff_order: ClassVar[int | None] = None
    # How many bytes ``sniff`` wants to see before it can answer.
    sniff_bytes: ClassVar[int] = 8

    def __init_subclass__(cls, **kwargs: object) -> None:
        if cls.__dict__.get("name"):
            if cls.name in STREAM_DECODERS and STREAM_DECODERS[cls.name].__module__ != cls.__module__:
                raise TypeError(f"two stream decoders named {cls.name!r}")
            STREAM_DECODERS[cls.name] = cls

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        self.ctx = ctx
        self.anomalies = anomalies
        self.done = False

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Whether the first bytes of a direction look like this protocol.  Must be cheap."""
        return False

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        raise NotImplementedError

    def gap(self, ts: float, frame: int) -> None:
        """Bytes were lost before the next ``feed``.  Default: give up on this direction."""
        self.done = True

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        return ()
