"""TLS and QUIC secrets from NSS key log files (the ``SSLKEYLOGFILE`` format).

The format is NSS's, also written by OpenSSL (``SSL_CTX_set_keylog_callback``), BoringSSL,
GnuTLS, rustls, Go's crypto/tls, curl, Firefox, Chrome, aioquic, friTap and PCAPdroid, and
embedded by Wireshark and PCAPdroid in pcapng Decryption Secrets Blocks (type 0x544c534b,
draft-ietf-opsawg-pcapng §4.7): one ``LABEL <client random, 64 hex digits> <secret, hex>`` per
line, ``#`` starts a comment.  See
https://firefox-source-docs.mozilla.org/security/nss/legacy/key_log_format/ and
draft-ietf-tls-keylogfile (labels):

- ``CLIENT_RANDOM``: the 48-byte TLS 1.0-1.2 master secret (RFC 5246 §8.1);
- ``CLIENT_HANDSHAKE_TRAFFIC_SECRET`` / ``SERVER_HANDSHAKE_TRAFFIC_SECRET``,
  ``CLIENT_TRAFFIC_SECRET_0`` / ``SERVER_TRAFFIC_SECRET_0``, ``CLIENT_EARLY_TRAFFIC_SECRET``,
  ``EXPORTER_SECRET``: TLS 1.3 (RFC 8446 §7.1) and QUIC (RFC 9001 §5.1) secrets.

Keys are matched to connections by the ClientHello's 32-byte random.  Other labels (``RSA``,
``EARLY_EXPORTER_SECRET``, ``ECH_SECRET``, later ``*_TRAFFIC_SECRET_N``) are ignored: they are
either not needed (later traffic secrets are derived from ``_0``, RFC 8446 §7.2) or not keyed by
the client random.

Key material is a secret: nothing here ever puts a secret, or the text of a line that may hold
one, into a warning, an error, a ``repr`` or a log line.  Warnings name the source and the
1-based line number only.
"""

from __future__ import annotations

import binascii
from collections.abc import Iterable, Iterator, Mapping
from types import MappingProxyType

from scanner.errors import InputError

CLIENT_RANDOM = "CLIENT_RANDOM"
CLIENT_HANDSHAKE_TRAFFIC_SECRET = "CLIENT_HANDSHAKE_TRAFFIC_SECRET"
SERVER_HANDSHAKE_TRAFFIC_SECRET = "SERVER_HANDSHAKE_TRAFFIC_SECRET"
CLIENT_TRAFFIC_SECRET_0 = "CLIENT_TRAFFIC_SECRET_0"
SERVER_TRAFFIC_SECRET_0 = "SERVER_TRAFFIC_SECRET_0"
CLIENT_EARLY_TRAFFIC_SECRET = "CLIENT_EARLY_TRAFFIC_SECRET"
EXPORTER_SECRET = "EXPORTER_SECRET"

# Label -> allowed secret lengths in bytes.  The master secret is always 48 bytes (RFC 5246
# §8.1); TLS 1.3 secrets are the suite hash's length: 32 (SHA-256) or 48 (SHA-384).
LABELS: Mapping[str, frozenset[int]] = MappingProxyType(
    {
        CLIENT_RANDOM: frozenset({48}),
        CLIENT_HANDSHAKE_TRAFFIC_SECRET: frozenset({32, 48}),
        SERVER_HANDSHAKE_TRAFFIC_SECRET: frozenset({32, 48}),
        CLIENT_TRAFFIC_SECRET_0: frozenset({32, 48}),
        SERVER_TRAFFIC_SECRET_0: frozenset({32, 48}),
        CLIENT_EARLY_TRAFFIC_SECRET: frozenset({32, 48}),
        EXPORTER_SECRET: frozenset({32, 48}),
    }
)

CLIENT_RANDOM_LENGTH = 32
# Warnings about malformed lines kept per source: a file of garbage must not flood the report.
MAX_WARNINGS_PER_SOURCE = 10

_EMPTY: Mapping[str, bytes] = MappingProxyType({})


class KeyLog:
    """The secrets of every key log read so far, by ClientHello random, then by label.

    One KeyLog may take several files (``--keylog`` is repeatable) and the Decryption Secrets
    Blocks of a pcapng file, in the order they come: a later line for the same client random
    and label replaces the earlier one (a re-run of the same client writes the same values).
    """

    __slots__ = ("_by_random", "files", "malformed", "warnings")

    def __init__(self) -> None:
        self._by_random: dict[bytes, dict[str, bytes]] = {}
        # The files read, in order: the tshark engine hands the same files to tshark.
        self.files: list[str] = []
        # Malformed lines seen, including those past the warning cap.
        self.malformed = 0
        self.warnings: list[str] = []

    def add_file(self, path: str) -> None:
        """Read an NSS key log file; an unreadable file is the user's to fix (exit 2)."""
        try:
            with open(path, "rb") as handle:
                self._add_lines(handle, path)
        except IsADirectoryError:
            raise InputError(f"key log {path}: is a directory, not a key log file") from None
        except OSError as exc:
            raise InputError(f"cannot read key log {path}: {exc.strerror or type(exc).__name__}") from None
        self.files.append(path)

    def add_text(self, text: bytes, source: str) -> None:
        """Read key log lines from memory (a pcapng Decryption Secrets Block, a test)."""
        self._add_lines(text.splitlines(), source)

    def secrets(self, client_random: bytes) -> Mapping[str, bytes]:
        """Label -> secret for the connection whose ClientHello carried ``client_random``."""
        found = self._by_random.get(client_random)
        return MappingProxyType(found) if found is not None else _EMPTY

    def merge(self, other: KeyLog) -> None:
        """Take every secret of ``other`` (and its warnings): a capture's DSBs over the CLI's."""
        for client_random, secrets in other._by_random.items():
            self._by_random.setdefault(client_random, {}).update(secrets)
        self.malformed += other.malformed
        self.warnings.extend(other.warnings)
        self.files.extend(other.files)

    def copy(self) -> KeyLog:
        copied = KeyLog()
        copied.merge(self)
        return copied

    def __len__(self) -> int:
        return len(self._by_random)

    def __bool__(self) -> bool:
        # An empty key log is still a key log object: ``if keylog:`` means "has keys".
        return bool(self._by_random)

    def __repr__(self) -> str:
        # Never the secrets, not even the client randoms.
        return f"<KeyLog {len(self._by_random)} connections, {self.malformed} malformed lines>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, KeyLog) and self._by_random == other._by_random

    __hash__ = None  # type: ignore[assignment]

    def __getstate__(self) -> tuple[dict[bytes, dict[str, bytes]], list[str], int, list[str]]:
        return (self._by_random, self.files, self.malformed, self.warnings)

    def __setstate__(self, state: tuple[dict[bytes, dict[str, bytes]], list[str], int, list[str]]) -> None:
        self._by_random, self.files, self.malformed, self.warnings = state

    def _add_lines(self, lines: Iterable[bytes], source: str) -> None:
        added = 0
        nonblank = 0
        malformed_here = 0
        for number, entry in _entries(lines):
            nonblank += 1
            if entry is None:
                continue  # a label we do not use
            parsed = _parse(entry)
            if parsed is None:
                malformed_here += 1
                self.malformed += 1
                if malformed_here <= MAX_WARNINGS_PER_SOURCE:
                    # The label is one of LABELS (safe to name); the line itself may hold a secret.
                    self.warnings.append(f"key log {source}:{number}: malformed {entry[0]} line ignored")
                continue
            label, client_random, secret = parsed
            self._by_random.setdefault(client_random, {})[label] = secret
            added += 1
        if malformed_here > MAX_WARNINGS_PER_SOURCE:
            more = malformed_here - MAX_WARNINGS_PER_SOURCE
            self.warnings.append(f"key log {source}: {more} more malformed lines ignored")
        if nonblank and not added and not malformed_here:
            self.warnings.append(f"key log {source}: no TLS or QUIC secret in it (not an NSS key log?)")


def _entries(lines: Iterable[bytes]) -> Iterator[tuple[int, tuple[str, list[bytes]] | None]]:
    """(line number, (label, other fields) or None for an unused label); skips blanks, comments."""
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:].lstrip()  # a UTF-8 byte order mark some Windows editors add
        if not line or line.startswith(b"#"):
            continue
        fields = line.split()
        try:
            label = fields[0].decode("ascii")
        except UnicodeDecodeError:
            yield number, None
            continue
        if label not in LABELS:
            yield number, None
            continue
        yield number, (label, fields[1:])


def _parse(entry: tuple[str, list[bytes]]) -> tuple[str, bytes, bytes] | None:
    label, fields = entry
    if len(fields) != 2:
        return None
    try:
        client_random = binascii.unhexlify(fields[0])
        secret = binascii.unhexlify(fields[1])
    except (binascii.Error, ValueError):
        return None
    if len(client_random) != CLIENT_RANDOM_LENGTH or len(secret) not in LABELS[label]:
        return None
    return label, client_random, secret


def load_keylogs(paths: Iterable[str]) -> KeyLog | None:
    """The key log of ``--keylog`` files (None without any); an unreadable file raises InputError."""
    keylog: KeyLog | None = None
    for path in paths:
        if keylog is None:
            keylog = KeyLog()
        keylog.add_file(path)
    return keylog
