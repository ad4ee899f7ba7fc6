"""One TLS connection decrypted with the lab's keys: the client's records in, plaintext events out.

The ClientHello (read by protocols/tls.py) gives the client random, which finds the secrets
in the key log; the server's ServerHello (its direction's TlsDecoder hands it over through the
capture's DecryptionContext) gives the version, the cipher suite, the server random (TLS 1.2's
key block), encrypt-then-MAC and, in TLS 1.2, the negotiated ALPN (TLS 1.3 sends it encrypted, in
EncryptedExtensions: there the first plaintext bytes tell HTTP/2's preface from a request line).  Only the client's direction is
decrypted: identifiers leave the device in requests, and a server direction costs what it
cost before (skipped after its ServerHello).

TLS 1.2 (RFC 5246 s6.3, s7.1): the key block is PRF(master secret, "key expansion",
server_random + client_random); records after the client's ChangeCipherSpec are protected,
the first (Finished) with sequence number 0.  A resumed session (session id or ticket,
RFC 5077) is read the same way: the key log has the master secret under the new connection's
client random.  Extended master secret (RFC 7627) changes only how the master secret was made,
which the key log already holds.

TLS 1.3 (RFC 8446 s7): 0-RTT records under CLIENT_EARLY_TRAFFIC_SECRET, the client's handshake
flight under CLIENT_HANDSHAKE_TRAFFIC_SECRET, application data under CLIENT_TRAFFIC_SECRET_0 and
the secrets a KeyUpdate (s4.6.3) derives from it ("traffic upd").  Each key takes over when the
decrypted handshake says so (EndOfEarlyData, Finished, KeyUpdate), and, because a rejected
0-RTT flight or a message we did not see would otherwise stop the reading, a record that fails
under the current key is tried under the next ones.  A HelloRetryRequest (s4.1.4, a ServerHello
with a fixed random) is skipped: the real ServerHello follows it.

Application data goes to the HTTP/1.x decoder, or the HTTP/2 decoder when ALPN chose h2 (the
HTTP/1 decoder hands a WebSocket upgrade on to websocket.py); each event they make is marked
with what it was decrypted from.  Failures (wrong key, damaged record, a suite we cannot
decrypt) are counted, never raised.
"""

from __future__ import annotations

import dataclasses
import hashlib
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from scanner.decode.keylog import (
    CLIENT_EARLY_TRAFFIC_SECRET,
    CLIENT_HANDSHAKE_TRAFFIC_SECRET,
    CLIENT_RANDOM,
    CLIENT_TRAFFIC_SECRET_0,
)
from scanner.decode.protocols.base import STREAM_DECODERS, Anomalies, StreamContext, StreamDecoder
from scanner.decode.protocols.http import METHODS
from scanner.decode.protocols.http2 import PREFACE
from scanner.decode.tlsdecrypt.context import DecryptionContext
from scanner.decode.tlsdecrypt.kdf import HASH_LENGTH, hkdf_expand_label, tls10_prf, tls12_prf
from scanner.decode.tlsdecrypt.records import RecordDecryptor
from scanner.decode.tlsdecrypt.suites import SUITES, VERSION_NAMES, Suite
from scanner.model import Event

CHANGE_CIPHER_SPEC, ALERT, HANDSHAKE, APPLICATION_DATA = 20, 21, 22, 23
# Handshake message types (RFC 8446 s4).
SERVER_HELLO, END_OF_EARLY_DATA, FINISHED, KEY_UPDATE = 2, 5, 20, 24
EXT_ALPN, EXT_ENCRYPT_THEN_MAC, EXT_SUPPORTED_VERSIONS = 0x0010, 0x0016, 0x002B
# RFC 8446 s4.1.3: a HelloRetryRequest is a ServerHello with this random, SHA-256("HelloRetryRequest").
HELLO_RETRY_RANDOM = hashlib.sha256(b"HelloRetryRequest").digest()

# A TLSCiphertext fragment is at most 2^14 + 2048 bytes (RFC 5246 s6.2.3), 2^14 + 256 in 1.3.
MAX_RECORD = (1 << 14) + 2048
# Client records held while the ServerHello has not been read (0-RTT, reordering).
MAX_PENDING_BYTES = 256 * 1024
# Client records held after the ServerHello while the secrets have not come (a capture with
# DSBs, whose recorder may write them late): a connection that never gets any costs this much.
MAX_PENDING_WITHOUT_SECRETS = 64 * 1024
# Consecutive records that fail before the direction is given up (its keys are wrong).
MAX_FAILURES = 4
# The TLS 1.3 stages of the client's keys, in the order they take over.
EARLY, HANDSHAKE_KEYS, APPLICATION = 0, 1, 2
# What the first application bytes of HTTP look like: a request line, or the HTTP/2 preface.
_HTTP_STARTS = (*(method + b" " for method in METHODS), PREFACE)


@dataclass(frozen=True, slots=True)
class ServerHello:
    version: int  # the negotiated version (supported_versions for 1.3)
    random: bytes
    suite: int
    encrypt_then_mac: bool
    alpn: str | None
    retry: bool  # a HelloRetryRequest


def parse_server_hello(body: bytes) -> ServerHello | None:
    """A ServerHello handshake body (RFC 8446 s4.1.3, RFC 5246 s7.4.1.3); None when malformed."""
    try:
        version = (body[0] << 8) | body[1]
        random = body[2:34]
        offset = 35 + body[34]
        suite = (body[offset] << 8) | body[offset + 1]
        offset += 3  # suite, compression method
        etm = False
        alpn: str | None = None
        if offset + 2 <= len(body):
            end = min(len(body), offset + 2 + ((body[offset] << 8) | body[offset + 1]))
            offset += 2
            while offset + 4 <= end:
                ext_type, ext_len = struct.unpack_from("!HH", body, offset)
                data = body[offset + 4 : offset + 4 + ext_len]
                offset += 4 + ext_len
                if ext_type == EXT_SUPPORTED_VERSIONS and len(data) == 2:
                    version = (data[0] << 8) | data[1]
                elif ext_type == EXT_ENCRYPT_THEN_MAC:
                    etm = True
                elif ext_type == EXT_ALPN and len(data) >= 3:
                    alpn = data[3 : 3 + data[2]].decode("ascii", "replace")
    except (IndexError, struct.error):
        return None
    if len(random) != 32:
        return None
    return ServerHello(version, random, suite, etm, alpn, random == HELLO_RETRY_RANDOM)


def handshake_messages(data: bytes) -> list[tuple[int, bytes]]:
    """The (type, body) of each whole handshake message in ``data``."""
    out = []
    offset = 0
    while len(data) - offset >= 4:
        length = (data[offset + 1] << 16) | (data[offset + 2] << 8) | data[offset + 3]
        if len(data) - offset - 4 < length:
            break
        out.append((data[offset], data[offset + 4 : offset + 4 + length]))
        offset += 4 + length
    return out


class TlsSession:
    """The client direction of one connection being decrypted (made at its ClientHello)."""

    __slots__ = (
        "_buffer",
        "_counted",
        "_decryptor",
        "_encrypting",
        "_failures",
        "_inner",
        "_inner_head",
        "_lost",
        "_pending",
        "_pending_bytes",
        "_secrets",
        "_stage",
        "_stage_secret",
        "anomalies",
        "client_random",
        "ctx",
        "decryption",
        "done",
        "server",
        "suite",
        "version_name",
    )

    def __init__(
        self,
        ctx: StreamContext,
        anomalies: Anomalies,
        decryption: DecryptionContext,
        client_random: bytes,
        secrets: Mapping[str, bytes],
    ) -> None:
        self.ctx = ctx
        self.anomalies = anomalies
        self.decryption = decryption
        self.client_random = client_random
        # Copied out of the key log: held while the connection lives, dropped with it.
        self._secrets = dict(secrets)
        self.server: ServerHello | None = None
        self.suite: Suite | None = None
        self.version_name = ""
        self.done = False
        self._buffer = b""
        self._pending: list[tuple[int, bytes, bytes, float, int]] | None = []
        self._pending_bytes = 0
        self._decryptor: RecordDecryptor | None = None
        self._encrypting = False  # TLS 1.2: after the client's ChangeCipherSpec
        self._stage = EARLY
        self._stage_secret = b""
        self._failures = 0
        self._counted = False
        self._inner: StreamDecoder | None = None
        self._inner_head = b""
        self._lost = False

    # ------------------------------------------------------------------ the server's side

    def server_hello(self, hello: ServerHello, ts: float, frame: int) -> list[Event]:
        """The ServerHello: choose the keys, then read the client records held until now."""
        if hello.retry:
            return []  # a HelloRetryRequest: the real ServerHello comes next
        self.server = hello
        suite = SUITES.get(hello.suite)
        self.version_name = VERSION_NAMES.get(hello.version, f"0x{hello.version:04x}")
        if suite is None or suite.tls13 != (hello.version == 0x0304) or (hello.version < 0x0303 and suite.cipher != "cbc"):
            self.anomalies.add("tls_decrypt_unsupported_suite")
            self._give_up(unreadable=True)
            return []
        self.suite = suite
        return self._start()

    def _start(self) -> list[Event]:
        """Choose the keys once both the ServerHello and the secrets are here, then read the
        client records held until now.  In a capture with Decryption Secrets Blocks the secrets
        may come after the ClientHello (a recorder writes them as it learns them): until they
        do, the records stay held, within the same bound."""
        suite = self.suite
        assert suite is not None
        if not self._secrets:
            self._secrets = dict(self.decryption.secrets(self.client_random))
            if not self._secrets:
                return []
        if suite.tls13:
            if not any(k in self._secrets for k in (CLIENT_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0)):
                self._give_up(unreadable=True)  # the key log has no TLS 1.3 secret for it
                return []
            stage = EARLY if CLIENT_EARLY_TRAFFIC_SECRET in self._secrets else HANDSHAKE_KEYS
            if not self._enter_stage(stage):
                self._give_up(unreadable=False)
                return []
        elif CLIENT_RANDOM not in self._secrets:
            self._give_up(unreadable=True)
            return []
        pending, self._pending = self._pending, None
        events: list[Event] = []
        for content_type, header, fragment, at_ts, at_frame in pending or ():
            if self.done:
                break
            events += self._record(content_type, header, fragment, at_ts, at_frame)
        return events

    # ------------------------------------------------------------------ the client's records

    def feed(self, data: bytes, ts: float, frame: int) -> list[Event]:
        if self._lost:
            # Bytes were lost: record boundaries and sequence numbers are gone.  What the inner
            # decoder read before the loss is reported now, and the direction is skipped.
            self.done = True
            return self._finish_inner(ts, frame)
        buf = self._buffer + data if self._buffer else data
        events: list[Event] = []
        offset = 0
        n = len(buf)
        while n - offset >= 5 and not self.done:
            content_type = buf[offset]
            length = (buf[offset + 3] << 8) | buf[offset + 4]
            if not CHANGE_CIPHER_SPEC <= content_type <= APPLICATION_DATA or buf[offset + 1] != 3 or length > MAX_RECORD:
                self.anomalies.add("tls_record_malformed")
                self._give_up(unreadable=False)
                events += self._finish_inner(ts, frame)
                break
            if n - offset - 5 < length:
                break
            header = buf[offset : offset + 5]
            fragment = buf[offset + 5 : offset + 5 + length]
            offset += 5 + length
            events += self._record(content_type, header, fragment, ts, frame)
        self._buffer = buf[offset:] if not self.done else b""
        return events

    def _record(self, content_type: int, header: bytes, fragment: bytes, ts: float, frame: int) -> list[Event]:
        if self._pending is not None:
            # No ServerHello (or no secrets) yet: hold the record (bounded) until the keys can be chosen.
            self._pending_bytes += len(fragment)
            if self._pending_bytes > (MAX_PENDING_BYTES if self.suite is None else MAX_PENDING_WITHOUT_SECRETS):
                if self.suite is None:
                    self.anomalies.add("tls_decrypt_no_server_hello")
                self._give_up(unreadable=True)  # no secret came for it: not read
                return []
            self._pending.append((content_type, header, fragment, ts, frame))
            if self.suite is not None:
                return self._start()  # the ServerHello came; perhaps the secrets have now
            return []
        suite = self.suite
        assert suite is not None
        if suite.tls13:
            if content_type != APPLICATION_DATA:
                return []  # ChangeCipherSpec for middleboxes, a clear alert, the ClientHello after a retry
            return self._record13(header, fragment, ts, frame)
        if not self._encrypting:
            if content_type == CHANGE_CIPHER_SPEC:
                self._encrypting = True
                self._decryptor = self._tls12_decryptor()
            return []  # ClientKeyExchange, Certificate(Verify): in clear, nothing for us
        decryptor = self._decryptor
        assert decryptor is not None
        opened = decryptor.open(content_type, header, fragment)
        if opened is None:
            decryptor.seq += 1  # a damaged record still used its sequence number
            return self._failed()
        self._failures = 0
        self._count_decrypted()
        if opened[0] == APPLICATION_DATA:
            return self._application_data(opened[1], ts, frame)
        return []  # Finished, alerts, renegotiation

    def _record13(self, header: bytes, fragment: bytes, ts: float, frame: int) -> list[Event]:
        decryptor = self._decryptor
        opened = decryptor.open(APPLICATION_DATA, header, fragment) if decryptor is not None else None
        if opened is None:
            # A rejected 0-RTT flight, or a key change we did not see: try the later keys.
            where = (self._stage, self._stage_secret)
            for stage in range(self._stage + 1, APPLICATION + 1):
                if self._enter_stage(stage):
                    assert self._decryptor is not None
                    opened = self._decryptor.open(APPLICATION_DATA, header, fragment)
                    if opened is not None:
                        break
            if opened is None:
                # Stay where we were: the record is lost, its sequence number used.
                self._stage, self._stage_secret = where
                self._decryptor = decryptor
                if decryptor is not None:
                    decryptor.seq += 1
                return self._failed()
        self._failures = 0
        self._count_decrypted()
        inner_type, plain = opened
        if inner_type == APPLICATION_DATA:
            return self._application_data(plain, ts, frame)
        if inner_type == HANDSHAKE:
            for message_type, _body in handshake_messages(plain):
                if message_type == END_OF_EARLY_DATA and self._stage == EARLY:
                    self._enter_stage(HANDSHAKE_KEYS)
                elif message_type == FINISHED and self._stage == HANDSHAKE_KEYS:
                    self._enter_stage(APPLICATION)
                elif message_type == KEY_UPDATE and self._stage == APPLICATION:
                    self._key_update()
        return []

    def _enter_stage(self, stage: int) -> bool:
        """Take the keys of a TLS 1.3 stage; False when the key log lacks its secret."""
        suite = self.suite
        assert suite is not None
        label = (CLIENT_EARLY_TRAFFIC_SECRET, CLIENT_HANDSHAKE_TRAFFIC_SECRET, CLIENT_TRAFFIC_SECRET_0)[stage]
        secret = self._secrets.get(label)
        if secret is None or len(secret) != HASH_LENGTH[suite.prf]:
            return False
        self._stage = stage
        self._stage_secret = secret
        self._decryptor = RecordDecryptor.tls13(suite, secret)
        return True

    def _key_update(self) -> None:
        """RFC 8446 s7.2: application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)."""
        suite = self.suite
        assert suite is not None
        secret = hkdf_expand_label(suite.prf, self._stage_secret, b"traffic upd", b"", HASH_LENGTH[suite.prf])
        self._stage_secret = secret
        self._secrets[CLIENT_TRAFFIC_SECRET_0] = secret  # the trial above must start from the new one
        self._decryptor = RecordDecryptor.tls13(suite, secret)
        self.anomalies.add("tls_key_update")  # counted so a capture's statistics show them

    def _tls12_decryptor(self) -> RecordDecryptor:
        suite = self.suite
        server = self.server
        assert suite is not None and server is not None
        mac, key, iv = suite.mac_length, suite.key_length, suite.iv_length
        seed = server.random + self.client_random
        master = self._secrets[CLIENT_RANDOM]
        size = 2 * (mac + key + iv)
        if server.version >= 0x0303:
            block = tls12_prf(suite.prf, master, b"key expansion", seed, size)
        else:
            block = tls10_prf(master, b"key expansion", seed, size)
        client_mac = block[:mac]
        client_key = block[2 * mac : 2 * mac + key]
        client_iv = block[2 * (mac + key) : 2 * (mac + key) + iv]
        return RecordDecryptor(suite, client_key, client_iv, client_mac, server.version, server.encrypt_then_mac)

    # ------------------------------------------------------------------ plaintext

    def _application_data(self, plain: bytes, ts: float, frame: int) -> list[Event]:
        inner = self._inner
        if inner is None:
            head = self._inner_head + plain
            inner = self._choose_inner(head)
            if inner is None:
                self._inner_head = head
                return []
            self._inner, self._inner_head = inner, b""
            plain = head
        out = inner.feed(plain, ts, frame)
        if inner.done:
            self.done = True  # nothing more to read in this direction: back to the fast lane
        return self._mark(out)

    def _choose_inner(self, head: bytes) -> StreamDecoder | None:
        server = self.server
        alpn = server.alpn if server is not None else None
        http2 = STREAM_DECODERS["http2"]
        http = STREAM_DECODERS["http"]
        if alpn == "h2" or http2.sniff(head):
            return http2(self.ctx, self.anomalies)
        if http.sniff(head):
            return http(self.ctx, self.anomalies)
        if len(head) < http2.sniff_bytes and any(start.startswith(head) for start in _HTTP_STARTS):
            # The start of a request line or of the HTTP/2 preface (TLS 1.0 stacks send the first
            # byte alone, RFC 2246's "1/n-1" split against BEAST): wait for the rest.
            return None
        # Not HTTP (IMAP, MQTT, a proprietary protocol): nothing the decoders read.
        self.anomalies.add("tls_decrypted_not_http")
        self._give_up(unreadable=False)
        return None

    def _mark(self, events: Sequence[Event]) -> list[Event]:
        version = self.version_name
        return [
            dataclasses.replace(cast(Any, event), decrypted=version) if "decrypted" in event.__dataclass_fields__ else event
            for event in events
        ]

    def _finish_inner(self, ts: float, frame: int) -> list[Event]:
        inner = self._inner
        if inner is None:
            return []
        self._inner = None
        return self._mark(inner.finish(ts, frame))

    # ------------------------------------------------------------------ failure and end

    def _failed(self) -> list[Event]:
        self.anomalies.add("tls_record_decrypt_failed")
        self._failures += 1
        if self._failures == 1 and not self._counted:
            self.decryption.failed("tls")
            self._counted = True
        if self._failures >= MAX_FAILURES:
            self._give_up(unreadable=False)
        return []

    def _count_decrypted(self) -> None:
        if not self._counted:
            self._counted = True
            self.decryption.decrypted("tls")

    def _give_up(self, unreadable: bool) -> None:
        if unreadable and not self._counted:
            self.decryption.unreadable("tls")
            self._counted = True
        self.done = True
        self._pending = None
        self._buffer = b""
        self._secrets.clear()
        self._decryptor = None

    def gap(self, ts: float, frame: int) -> None:
        self.anomalies.add("tls_decrypt_lost_bytes")
        if self._inner is not None:
            self._inner.gap(ts, frame)
        self._lost = True
        self._buffer = b""

    def finish(self, ts: float, frame: int) -> list[Event]:
        if self._pending is not None and not self.done:
            if self.suite is None and self._pending:
                self.anomalies.add("tls_decrypt_no_server_hello")
            self._give_up(unreadable=True)
        self._secrets.clear()
        self._decryptor = None
        return self._finish_inner(ts, frame)
