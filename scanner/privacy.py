"""How privscan handles the personal data it finds: keyed hashes and redacted previews.

An IMEI or a phone number can be brute-forced from a plain hash (there are
only so many), so values are identified by an HMAC-SHA256 under a key that
stays on the machine: ``PRIVSCAN_HMAC_KEY`` (text), else a key file
(``--hmac-key-file``), else ``$XDG_CONFIG_HOME/privscan/hmac.key`` created on
first use (32 random bytes, mode 0600).  Reports carry the key's id (a hash of
the key), so two reports' HMACs are comparable only when their ids match.
Previews keep just enough of a value to recognise it (an IMEI's first digits,
an e-mail's domain, a MAC's vendor prefix, a location to ~10 km, a device name's first letter).
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

from scanner.errors import ConfigError
from scanner.knowledge.identifiers import identifier_type

KEY_ENV = "PRIVSCAN_HMAC_KEY"


def load_key(key_file: str | Path | None = None) -> bytes:
    env = os.environ.get(KEY_ENV)
    if env:
        return env.encode("utf-8")
    path = Path(key_file) if key_file else default_key_path()
    if path.exists():
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ConfigError(path, None, f"cannot read the HMAC key: {exc.strerror or exc}") from None
        if len(data) < 16:
            raise ConfigError(path, None, "the HMAC key file must hold at least 16 bytes")
        return data
    if key_file:
        raise ConfigError(path, None, "no such HMAC key file")
    path.parent.mkdir(parents=True, exist_ok=True)
    data = secrets.token_bytes(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return data


def default_key_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "privscan" / "hmac.key"


class Pseudonymizer:
    """Keyed hashes and previews of identifier values."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self.key_id = hashlib.sha256(b"privscan-key-id:" + key).hexdigest()[:16]
        self._cache: dict[tuple[str, str], str] = {}

    def hmac(self, id_type: str, value: str) -> str:
        cached = self._cache.get((id_type, value))
        if cached is None:
            cached = hmac.new(self._key, f"{id_type}\x00{value}".encode(), hashlib.sha256).hexdigest()
            if len(self._cache) < 1_000_000:
                self._cache[(id_type, value)] = cached
        return cached

    def pseudonym(self, kind: str, value: str) -> str:
        """A stable, non-reversible name for a subscriber or device (``sub-3fa9c2d81e0b``)."""
        return f"{kind}-{self.hmac(kind, value)[:12]}"


def preview(id_type: str, value: str) -> str:
    """A redacted form of a value that shows its kind but not the value (its type's record says how)."""
    return identifier_type(id_type).preview(value)
