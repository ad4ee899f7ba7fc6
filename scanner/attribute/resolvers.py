"""Encrypted DNS resolvers: DNS over HTTPS (RFC 8484) and DNS over TLS (RFC 7858, port 853).

A device that reaches one resolves names past the operator's resolver: the DNS blocklists written
for child-profile subscriptions (``privscan blocklist``) no longer apply to it.  The resolvers are
data (``signatures/resolvers/encrypted_dns.yaml``); a connection to port 853 is DNS over TLS (or
over QUIC, RFC 9250) whoever answers.  ``describe`` marks such a destination with the category
``encrypted_dns`` and the resolver's operator, so that contact rules can name it
(``signatures/policies/encrypted_dns.yaml``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path

from scanner.datafiles import load_yaml
from scanner.errors import SignatureError
from scanner.model import Destination
from scanner.results import SignatureFile

CATEGORY = "encrypted_dns"


@dataclass(frozen=True, slots=True)
class EncryptedDns:
    hosts: dict[str, str]  # host or domain -> the resolver's operator
    dot_ports: frozenset[int]
    files: tuple[SignatureFile, ...] = ()

    @classmethod
    def load(cls, signatures_root: Path) -> EncryptedDns:
        path = signatures_root / "resolvers" / "encrypted_dns.yaml"
        if not path.is_file():
            return cls({}, frozenset({853}))
        doc = load_yaml(path, SignatureError)
        hosts: dict[str, str] = {}
        for entry in (doc or {}).get("resolvers") or []:
            operator = str(entry.get("operator") or "")
            for host in entry.get("hosts") or []:
                hosts[str(host).lower().rstrip(".")] = operator
        ports = frozenset(int(p) for p in (doc or {}).get("dot_ports") or [853])
        return cls(hosts, ports, (SignatureFile(str(path), hashlib.sha256(path.read_bytes()).hexdigest()),))

    def operator(self, host: str | None) -> str | None:
        """The operator of a DoH/DoT resolver host (exact, or a parent domain listed), or None."""
        if not host:
            return None
        name = host.lower().rstrip(".")
        while name:
            found = self.hosts.get(name)
            if found is not None:
                return found
            if "." not in name:
                return None
            name = name.split(".", 1)[1]
        return None

    def describe(self, destination: Destination, event_type: str) -> Destination | None:
        """The destination marked as an encrypted-DNS resolver, or None when it is not one."""
        operator = self.operator(destination.host)
        dot = destination.port in self.dot_ports and event_type in ("tls", "quic")
        if operator is None and not dot:
            return None
        return dataclasses.replace(
            destination,
            org=operator or destination.org,
            category=CATEGORY,
            party="third",
        )
