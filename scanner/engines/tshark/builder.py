"""How a protocol plugs into the tshark engine: one ``LayerBuilder`` subclass per protocol.

A builder turns the layer tshark printed for its protocol (one EK layer dict) into
the same event type, with the same conventions, as the native decoder of that
protocol (scanner/decode/protocols/), so that nothing after the engine can tell
which one ran.  Declaring the subclass registers it (``BUILDERS``), with what it
needs from tshark:

- ``layer``: the EK layer it reads (``"dns"``, ``"gtpv2"``);
- ``display_filter``: the display-filter fragment that lets its packets through
  (scanner/engines/tshark/options.py ORs the fragments together);
- ``protocols``: the ``-J`` protocol names whose fields it reads;
- ``message_bytes``: whether it needs the message's own bytes (``-x``) next to the layer.

The rules that turn wire values into an event (names of message types, the DHCP
client-MAC rule, the GTPv2 F-TEID roles, TBCD, JA3/JA4, which mDNS/SSDP names name a
device) are imported from the native decoder modules, never restated here.  Oddities
are counted in ``Anomalies`` under ``tshark_*`` names, never raised.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.telecom import FRAMED_IP_PLACEHOLDERS, ipv4
from scanner.engines.tshark.ek import Layer
from scanner.model import Event, PacketContext

BUILDERS: dict[str, type[LayerBuilder]] = {}

# The key a frame's builder finds the message's own bytes under (``message_bytes``).
MESSAGE_RAW = "_privscan_message_raw"
# TLS/QUIC connections whose ClientHello was reported: bounded like the native decoder's tables.
MAX_CONNECTIONS = 100_000
# Framed-IP-Address values that are not an address, as tshark prints them.
FRAMED_IP_PLACEHOLDER_TEXT = frozenset(ipv4(raw) for raw in FRAMED_IP_PLACEHOLDERS)


@dataclass(frozen=True, slots=True)
class FrameContext(PacketContext):
    """Where the application layers of one frame were seen (``flow``: the innermost transport,
    as the packet travelled)."""

    # The frame where a PDU reassembled from several TCP segments started (tcp.segment),
    # when it is not this one: HttpRequest.first_frame.
    first_frame: int | None = None
    # What the frame's application data was decrypted from with the key log ("TLSv1.3"), set by
    # the TLS builder's ``annotate`` when tshark decrypted it: the events' ``decrypted``.
    decrypted: str | None = None


class LayerBuilder:
    """Builds one protocol's events from its tshark layer (one instance per scan)."""

    layer: ClassVar[str] = ""
    display_filter: ClassVar[str] = ""
    protocols: ClassVar[tuple[str, ...]] = ()
    message_bytes: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.layer:
            BUILDERS[cls.layer] = cls

    def __init__(self, anomalies: Anomalies, counters: dict[str, int]) -> None:
        self.anomalies = anomalies
        self.counters = counters
        # Every builder of the scan by layer name, for the few facts one protocol learns for
        # another (the WebSocket builder asks the HTTP one where a connection was upgraded to).
        self.peers: dict[str, LayerBuilder] = {}

    def count(self, name: str, n: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + n

    def annotate(self, ctx: FrameContext, layers: Layer) -> FrameContext:
        """Called for every frame with this builder's layer before any builder builds: a layer
        may say something about the frame's other layers (TLS: they were decrypted)."""
        return ctx

    def build(self, ctx: FrameContext, layer: Layer) -> Sequence[Event]:
        raise NotImplementedError


def nonzero_address(value: str | None) -> str | None:
    """An address tshark printed; None for 0.0.0.0 / :: (in a request: "allocate one for me")."""
    if not value or value in ("0.0.0.0", "::"):
        return None
    return value


def tbcd_digits(value: str | None) -> str | None:
    """TBCD identifiers as tshark prints them: digits, possibly with a trailing filler."""
    if not value:
        return None
    return value.rstrip("fF") or None


def first_time(seen: OrderedDict[tuple[Any, ...], None], key: tuple[Any, ...]) -> bool:
    """Remember ``key`` (bounded, oldest forgotten first); False when it was already there."""
    if key in seen:
        return False
    seen[key] = None
    if len(seen) > MAX_CONNECTIONS:
        seen.popitem(last=False)
    return True
