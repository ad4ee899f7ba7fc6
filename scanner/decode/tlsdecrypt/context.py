"""What the decoders of one capture share for decryption (the "decode context").

A ``DecryptionContext`` is made per capture by the packet decoder and reaches every stream and
datagram decoder through its ``StreamContext`` / ``PacketContext`` (``ctx.decryption``).  It
holds:

- the key log: the secrets given on the command line (``--keylog``) plus those of the
  capture's own pcapng Decryption Secrets Blocks, each used for the packets after it, as
  Wireshark does (draft-ietf-opsawg-pcapng s4.7).  The command line's key log is shared and
  never written to; a capture with a DSB gets its own copy on the first block;
- a bounded table of the connections being decrypted (TLS here; QUIC keeps its own
  ``ConnectionTable`` made from the same class), evicting the longest idle one when full;
- the counts the report needs: connections that could not be read for want of keys, and
  those that were decrypted, by protocol.

Key material never leaves this object as text: counts and protocol names only.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable, Mapping, Sequence
from typing import Generic, Protocol, TypeVar

from scanner.decode.keylog import KeyLog


class Anomalies(Protocol):
    """What this module needs of the decoders' anomaly counter (decode/protocols/base.py's
    ``Anomalies``), named structurally: the decoders' contexts refer to this module, and it
    must not refer back to them."""

    def add(self, name: str, n: int = 1) -> None: ...

# pcapng Decryption Secrets Block secrets types (draft-ietf-opsawg-pcapng s4.7).
DSB_TLS_KEY_LOG = 0x544C534B  # "TLSK": NSS key log lines, for TLS and QUIC alike

# Connections with keys waiting for their ServerHello at once, per capture (a few round trips
# each).  Beyond it the longest waiting one is dropped and counted: its server direction will
# not find it, and the connection is counted as not read.
MAX_TLS_CONNECTIONS = 20_000

V = TypeVar("V")


class ConnectionTable(Generic[V]):
    """Live connections by key, the most recently used last; full means the oldest idle goes."""

    __slots__ = ("_items", "anomalies", "evicted", "limit", "name")

    def __init__(self, name: str, limit: int, anomalies: Anomalies) -> None:
        self.name = name
        self.limit = limit
        self.anomalies = anomalies
        self.evicted = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()

    def add(self, key: Hashable, value: V) -> None:
        items = self._items
        items[key] = value
        items.move_to_end(key)
        while len(items) > self.limit:
            items.popitem(last=False)
            self.evicted += 1
            self.anomalies.add(f"{self.name}_table_full")

    def get(self, key: Hashable) -> V | None:
        """The connection, marked as just used."""
        items = self._items
        value = items.get(key)
        if value is not None:
            items.move_to_end(key)
        return value

    def pop(self, key: Hashable) -> V | None:
        return self._items.pop(key, None)

    def __len__(self) -> int:
        return len(self._items)


class DecryptionContext:
    """The key log and decryption state of one capture's decoders."""

    __slots__ = (
        "_own",
        "anomalies",
        "capture",
        "connections_decrypted",
        "connections_failed",
        "connections_unreadable",
        "keylog",
        "tls",
    )

    def __init__(self, keylog: KeyLog | None, anomalies: Anomalies, capture: str = "") -> None:
        self.keylog = keylog if keylog is not None else KeyLog()
        self._own = False  # whether self.keylog is ours to add to (a copy made for this capture)
        self.anomalies = anomalies
        self.capture = capture
        # TLS connections between their ClientHello and their ServerHello, by (client flow,
        # tunnel): where the server direction's decoder finds the session to hand its hello to.
        self.tls: ConnectionTable[object] = ConnectionTable("tls_decrypt", MAX_TLS_CONNECTIONS, anomalies)
        # By protocol ("tls", "quic"): connections seen whose secrets the key log does not have,
        # and connections whose traffic was decrypted.
        self.connections_unreadable: dict[str, int] = {}
        self.connections_decrypted: dict[str, int] = {}
        # Connections with keys whose records did not decrypt (wrong key, damaged records).
        self.connections_failed: dict[str, int] = {}

    def secrets(self, client_random: bytes) -> Mapping[str, bytes]:
        return self.keylog.secrets(client_random)

    def add_secrets_block(self, secrets_type: int, data: bytes, where: str) -> None:
        """A pcapng Decryption Secrets Block: TLS key log lines are added; other kinds ignored."""
        if secrets_type != DSB_TLS_KEY_LOG:
            self.anomalies.add("pcapng_dsb_unsupported_type")
            return
        if not self._own:
            self.keylog = self.keylog.copy()
            self.keylog.warnings.clear()  # the command line's warnings are reported once, by the caller
            self._own = True
        self.keylog.add_text(data, where)

    @property
    def secrets_may_follow(self) -> bool:
        """Whether secrets missing now may still come: the capture has Decryption Secrets Blocks,
        which a recorder (PCAPdroid) may write after the handshake that needs them."""
        return self._own

    def unreadable(self, protocol: str) -> None:
        """Count a connection whose handshake was seen but whose secrets the key log lacks."""
        self.connections_unreadable[protocol] = self.connections_unreadable.get(protocol, 0) + 1

    def decrypted(self, protocol: str) -> None:
        """Count a connection whose traffic could be decrypted."""
        self.connections_decrypted[protocol] = self.connections_decrypted.get(protocol, 0) + 1

    def failed(self, protocol: str) -> None:
        """Count a connection with keys whose records failed to decrypt (once per connection)."""
        self.connections_failed[protocol] = self.connections_failed.get(protocol, 0) + 1

    def counters(self) -> dict[str, int]:
        """The report's counters: ``tls_connections_unreadable``, ``quic_connections_decrypted``, ..."""
        out: dict[str, int] = {}
        for protocol, n in self.connections_unreadable.items():
            out[f"{protocol}_connections_unreadable"] = n
        for protocol, n in self.connections_decrypted.items():
            out[f"{protocol}_connections_decrypted"] = n
        for protocol, n in self.connections_failed.items():
            out[f"{protocol}_connections_failed"] = n
        if self.tls.evicted:
            out["tls_connections_evicted"] = self.tls.evicted
        return out

    def warnings(self) -> list[str]:
        """Warnings of the key log lines read from this capture's DSBs (never the secrets)."""
        return list(self.keylog.warnings) if self._own else []


def decryption_warnings(counters: dict[str, int], keylog_warnings: Sequence[str]) -> list[str]:
    """What the report says about decryption: key log lines that were ignored, connections that
    could not be read (no keys) and connections whose records failed to decrypt."""
    warnings = list(keylog_warnings)
    unreadable = counters.get("tls_connections_unreadable", 0) + counters.get("quic_connections_unreadable", 0)
    if unreadable:
        warnings.append(
            f"{unreadable} TLS/QUIC connections could not be read (no keys for them); "
            "see docs/decryption.md for how a lab gets keys"
        )
    failed = counters.get("tls_connections_failed", 0) + counters.get("quic_connections_failed", 0)
    if failed:
        warnings.append(f"{failed} TLS/QUIC connections had records that failed to decrypt (wrong key or damaged records)")
    evicted = counters.get("tls_connections_evicted", 0)
    if evicted:
        warnings.append(
            f"{evicted} TLS connections were dropped before their ServerHello: more than "
            f"{MAX_TLS_CONNECTIONS} were waiting for one at once"
        )
    return warnings
