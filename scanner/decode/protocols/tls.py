"""TLS ClientHello (RFC 8446 s4.1.2, RFC 5246 s7.4.1.2) with SNI (RFC 6066), ALPN (RFC 7301),
and the JA4 (FoxIO technical_details/JA4.md) and JA3 fingerprints.

Only the client's first flight is read: once the ClientHello is parsed the
direction is marked done and the rest of the (encrypted) connection is skipped
without buffering, unless the capture's key log has the connection's secrets
(matched by the ClientHello's random): then the client's records go to a
decrypting session (tlsdecrypt/session.py) and the server's ServerHello is read
for it.  ``parse_client_hello`` is shared with QUIC (quic.py), whose
CRYPTO frames carry the same handshake message.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from scanner.decode.protocols.base import Anomalies, StreamContext, StreamDecoder
from scanner.decode.tlsdecrypt.suites import VERSION_NAMES
from scanner.model import Event, TlsClientHello

if TYPE_CHECKING:
    # Imported where used: tlsdecrypt.session reads the HTTP decoders of this package, so a
    # module-level import would make a cycle for whoever imports the session first.
    from scanner.decode.tlsdecrypt.session import TlsSession

CHANGE_CIPHER_SPEC = 0x14
HANDSHAKE = 0x16
CLIENT_HELLO = 1
SERVER_HELLO = 2
EXT_SNI = 0x0000
EXT_GROUPS = 0x000A
EXT_EC_POINT_FORMATS = 0x000B
EXT_SIG_ALGS = 0x000D
EXT_ALPN = 0x0010
EXT_SUPPORTED_VERSIONS = 0x002B

# A ClientHello bigger than this is not one (post-quantum key shares make
# real ones ~1.8 kB; allow plenty).
MAX_CLIENT_HELLO = 64 * 1024

_JA4_VERSIONS = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3", 0x0002: "s2",
                 0xFEFF: "d1", 0xFEFD: "d2", 0xFEFC: "d3"}
_U16 = struct.Struct("!H")


def is_grease(value: int) -> bool:
    """GREASE values (RFC 8701) are 0x?a?a with both bytes equal."""
    return (value & 0x0F0F) == 0x0A0A and (value >> 8) == (value & 0xFF)


@dataclass(frozen=True, slots=True)
class ClientHello:
    legacy_version: int
    ciphers: tuple[int, ...]
    extensions: tuple[int, ...]  # in wire order
    sni: str | None
    alpn: tuple[str, ...]
    supported_versions: tuple[int, ...]
    signature_algorithms: tuple[int, ...]
    groups: tuple[int, ...]
    ec_point_formats: tuple[int, ...]
    alpn_raw_first: bytes = b""

    @property
    def version(self) -> int:
        offered = [v for v in self.supported_versions if not is_grease(v)]
        return max(offered) if offered else self.legacy_version

    def version_name(self) -> str:
        return VERSION_NAMES.get(self.version, f"0x{self.version:04x}")

    def ja4(self, transport: str = "t") -> str:
        """JA4 = a_b_c (FoxIO JA4.md): transport+version+sni+counts+alpn, ciphers hash, extensions hash."""
        ciphers = [c for c in self.ciphers if not is_grease(c)]
        extensions = [e for e in self.extensions if not is_grease(e)]
        version = _JA4_VERSIONS.get(self.version, "00")
        sni = "d" if self.sni else "i"
        a = f"{transport}{version}{sni}{min(len(ciphers), 99):02d}{min(len(extensions), 99):02d}{self._ja4_alpn()}"
        b = _sha12(",".join(f"{c:04x}" for c in sorted(ciphers))) if ciphers else "000000000000"
        ext_for_hash = sorted(e for e in extensions if e not in (EXT_SNI, EXT_ALPN))
        if ext_for_hash:
            text = ",".join(f"{e:04x}" for e in ext_for_hash)
            sigs = [s for s in self.signature_algorithms if not is_grease(s)]
            if sigs:
                text += "_" + ",".join(f"{s:04x}" for s in sigs)
            c = _sha12(text)
        else:
            c = "000000000000"
        return f"{a}_{b}_{c}"

    def _ja4_alpn(self) -> str:
        raw = self.alpn_raw_first
        if not raw:
            return "00"
        first, last = raw[0], raw[-1]
        if _is_alnum(first) and _is_alnum(last):
            return chr(first) + chr(last)
        # Not ASCII alphanumeric at either end: the first and last characters of its hex form.
        return f"{first:02x}"[0] + f"{last:02x}"[1]

    def ja3(self) -> str:
        fields = [
            str(self.legacy_version),
            "-".join(str(c) for c in self.ciphers if not is_grease(c)),
            "-".join(str(e) for e in self.extensions if not is_grease(e)),
            "-".join(str(g) for g in self.groups if not is_grease(g)),
            "-".join(str(p) for p in self.ec_point_formats),
        ]
        return hashlib.md5(",".join(fields).encode(), usedforsecurity=False).hexdigest()


def _is_alnum(byte: int) -> bool:
    return 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _sha12(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class TlsFormatError(Exception):
    """Raised inside the parser only; callers count it as an anomaly."""


def parse_client_hello(body: bytes) -> ClientHello:
    """Parse a ClientHello handshake body (after the 4-byte handshake header)."""
    try:
        return _parse_client_hello(body)
    except (IndexError, struct.error) as exc:
        raise TlsFormatError(str(exc)) from None


def _parse_client_hello(body: bytes) -> ClientHello:
    if len(body) < 38:
        raise TlsFormatError("ClientHello too short")
    legacy_version = _U16.unpack_from(body, 0)[0]
    offset = 2 + 32  # version, random
    session_id_len = body[offset]
    offset += 1 + session_id_len
    (cipher_len,) = _U16.unpack_from(body, offset)
    offset += 2
    if offset + cipher_len > len(body):
        raise TlsFormatError("cipher suites run past the end")
    ciphers = struct.unpack_from(f"!{cipher_len // 2}H", body, offset)
    offset += cipher_len
    compression_len = body[offset]
    offset += 1 + compression_len
    extensions: list[int] = []
    sni: str | None = None
    alpn: list[str] = []
    alpn_raw_first = b""
    supported_versions: tuple[int, ...] = ()
    sig_algs: tuple[int, ...] = ()
    groups: tuple[int, ...] = ()
    point_formats: tuple[int, ...] = ()
    if offset + 2 <= len(body):
        (ext_total,) = _U16.unpack_from(body, offset)
        offset += 2
        end = min(len(body), offset + ext_total)
        while offset + 4 <= end:
            ext_type, ext_len = struct.unpack_from("!HH", body, offset)
            offset += 4
            data = body[offset : offset + ext_len]
            offset += ext_len
            extensions.append(ext_type)
            if ext_type == EXT_SNI and len(data) >= 5:
                # server_name_list: u16 list length, u8 name type (0 = host_name), u16 length, name
                name_len = _U16.unpack_from(data, 3)[0]
                if data[2] == 0:
                    sni = data[5 : 5 + name_len].decode("ascii", "replace")
            elif ext_type == EXT_ALPN and len(data) >= 2:
                i = 2
                while i < len(data):
                    n = data[i]
                    value = data[i + 1 : i + 1 + n]
                    if not alpn_raw_first:
                        alpn_raw_first = value
                    alpn.append(value.decode("ascii", "replace"))
                    i += 1 + n
            elif ext_type == EXT_SUPPORTED_VERSIONS and data:
                n = data[0] // 2
                supported_versions = struct.unpack_from(f"!{n}H", data, 1) if len(data) >= 1 + 2 * n else ()
            elif ext_type == EXT_SIG_ALGS and len(data) >= 2:
                n = _U16.unpack_from(data, 0)[0] // 2
                sig_algs = struct.unpack_from(f"!{n}H", data, 2) if len(data) >= 2 + 2 * n else ()
            elif ext_type == EXT_GROUPS and len(data) >= 2:
                n = _U16.unpack_from(data, 0)[0] // 2
                groups = struct.unpack_from(f"!{n}H", data, 2) if len(data) >= 2 + 2 * n else ()
            elif ext_type == EXT_EC_POINT_FORMATS and data:
                point_formats = tuple(data[1 : 1 + data[0]])
    return ClientHello(
        legacy_version=legacy_version,
        ciphers=tuple(ciphers),
        extensions=tuple(extensions),
        sni=sni or None,
        alpn=tuple(alpn),
        supported_versions=tuple(supported_versions),
        signature_algorithms=tuple(sig_algs),
        groups=tuple(groups),
        ec_point_formats=point_formats,
        alpn_raw_first=alpn_raw_first,
    )


class TlsDecoder(StreamDecoder):
    """Reads TLS records until the ClientHello is complete; then, when the capture's key log has
    the connection's secrets, hands the client's records to a decrypting session (tlsdecrypt/),
    else stops, so that the encrypted bulk is skipped without buffering.  On the server side it
    reads the ServerHello only when a session waits for it."""

    name = "tls"
    sniff_order = 10
    sniff_bytes = 6

    def __init__(self, ctx: StreamContext, anomalies: Anomalies) -> None:
        super().__init__(ctx, anomalies)
        self._records = b""  # raw record bytes not yet consumed
        self._handshake = b""  # handshake payload gathered from records
        self._session: TlsSession | None = None  # the client side of a connection being decrypted
        self._waiting: TlsSession | None = None  # the server side: the session its hello goes to

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        # content type handshake, version 3.x, and (when visible) handshake type
        # ClientHello or ServerHello: the server side is claimed too, so that it
        # gets marked done at once instead of being sniffed again.
        return len(head) >= 3 and head[0] == HANDSHAKE and head[1] == 3 and head[2] <= 4

    def feed(self, data: bytes, ts: float, frame: int) -> Sequence[Event]:
        session = self._session
        if session is not None:
            decrypted = session.feed(data, ts, frame)
            self.done = session.done
            return decrypted
        buf = self._records + data if self._records else data
        offset = 0
        events: list[Event] = []
        while len(buf) - offset >= 5 and not self.done:
            content_type = buf[offset]
            length = (buf[offset + 3] << 8) | buf[offset + 4]
            if content_type != HANDSHAKE:
                if self._waiting is not None and content_type == CHANGE_CIPHER_SPEC:
                    offset += 5 + length  # after a HelloRetryRequest (RFC 8446 D.4)
                    continue
                self.done = True
                return events
            if len(buf) - offset - 5 < length:
                break
            self._handshake += buf[offset + 5 : offset + 5 + length]
            offset += 5 + length
            events += self._handshake_read(buf[offset:], ts, frame)
            if self._session is not None:
                return events  # the records after the ClientHello went to the session
        self._records = buf[offset:]
        if not self.done and len(self._records) + len(self._handshake) > MAX_CLIENT_HELLO:
            self.anomalies.add("tls_client_hello_too_long")
            self.done = True
        return events

    def _handshake_read(self, rest: bytes, ts: float, frame: int) -> list[Event]:
        """Look at the handshake bytes gathered so far; ``rest``: the record bytes after them."""
        hs = self._handshake
        while len(hs) >= 4 and not self.done:
            msg_len = (hs[1] << 16) | (hs[2] << 8) | hs[3]
            if msg_len > MAX_CLIENT_HELLO:
                self.anomalies.add("tls_client_hello_too_long")
                self.done = True
                return []
            if len(hs) < 4 + msg_len:
                return []
            if hs[0] == CLIENT_HELLO:
                self._handshake = b""
                return self._client_hello(hs[4 : 4 + msg_len], rest, ts, frame)
            if hs[0] == SERVER_HELLO:
                body = hs[4 : 4 + msg_len]
                self._handshake = hs = hs[4 + msg_len :]
                events = self._server_hello(body, ts, frame)
                if self._waiting is None:
                    self.done = True
                    self._handshake = b""
                    return events
                continue  # a HelloRetryRequest: the real ServerHello follows
            self.done = True  # a later handshake message: nothing for us
        return []

    def _server_hello(self, body: bytes, ts: float, frame: int) -> list[Event]:
        """Give the ServerHello to the session that waits for it, if any (one dict lookup)."""
        from scanner.decode.tlsdecrypt.session import TlsSession, parse_server_hello

        session = self._waiting
        if session is None:
            decryption = self.ctx.decryption
            if decryption is None or not len(decryption.tls):
                return []
            found = decryption.tls.pop((self.ctx.flow.reversed(), self.ctx.tunnel))
            if not isinstance(found, TlsSession):
                return []
            session = found
        hello = parse_server_hello(body)
        if hello is None:
            self.anomalies.add("tls_server_hello_malformed")
            self._waiting = None
            return []
        self._waiting = session if hello.retry else None
        return session.server_hello(hello, ts, frame)

    def _client_hello(self, body: bytes, rest: bytes, ts: float, frame: int) -> list[Event]:
        self.done = True
        self._records = b""
        try:
            hello = parse_client_hello(body)
        except TlsFormatError:
            self.anomalies.add("tls_client_hello_malformed")
            return []
        events: list[Event] = [self._event(hello, ts, frame)]
        decryption = self.ctx.decryption
        if decryption is None:
            return events
        client_random = body[2:34]
        secrets = decryption.secrets(client_random)
        if not secrets and not decryption.secrets_may_follow:
            decryption.unreadable("tls")  # the report says how many, and how a lab gets keys
            return events
        from scanner.decode.tlsdecrypt.session import TlsSession

        session = TlsSession(self.ctx, self.anomalies, decryption, client_random, secrets)
        decryption.tls.add((self.ctx.flow, self.ctx.tunnel), session)
        self._session = session
        self.done = False
        if rest:
            events += session.feed(rest, ts, frame)
            self.done = session.done
        return events

    def gap(self, ts: float, frame: int) -> None:
        if self._session is not None:
            self._session.gap(ts, frame)  # not done: what was read is reported at finish
            return
        self.done = True

    def finish(self, ts: float, frame: int) -> Sequence[Event]:
        session = self._session
        if session is not None:
            self._session = None
            decryption = self.ctx.decryption
            if decryption is not None:
                decryption.tls.pop((self.ctx.flow, self.ctx.tunnel))  # keys live as long as the connection
            return session.finish(ts, frame)
        # Bytes of a first record not yet whole count too (a hello cut inside its first record).
        if (self._handshake or self._records) and not self.done:
            self.anomalies.add("tls_client_hello_incomplete")
        return ()

    def _event(self, hello: ClientHello, ts: float, frame: int) -> TlsClientHello:
        return TlsClientHello(
            **self.ctx.at(ts, frame).header(),
            sni=hello.sni,
            alpn=hello.alpn,
            ja4=hello.ja4("t"),
            ja3=hello.ja3(),
            version=hello.version_name(),
        )
