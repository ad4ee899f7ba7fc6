"""Analytics collectors recognised by their URL path (``signatures/collectors/paths.yaml``).

A site that serves a tracker's collection endpoint under its own host name (CNAME cloaking without
a DNS answer in the capture, or a first-party proxy for server-side tagging) still speaks the
tracker's protocol: Adobe Analytics' ``/b/ss/<report suite>/``, GA's ``/collect?tid=``... A request
to a host no list names, on such a path, goes to that tracker (a third party), under the host's
own name.  The path alone never overrides a tracker list; it only names what the lists do not.
"""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qsl

from scanner.datafiles import load_yaml
from scanner.errors import SignatureError
from scanner.model import Destination
from scanner.results import SignatureFile


@dataclass(frozen=True, slots=True)
class Collector:
    org: str
    category: str
    prefix: str
    query: str | None


@dataclass(frozen=True, slots=True)
class Collectors:
    entries: tuple[Collector, ...]
    files: tuple[SignatureFile, ...] = ()

    @classmethod
    def load(cls, signatures_root: Path) -> Collectors:
        path = signatures_root / "collectors" / "paths.yaml"
        if not path.is_file():
            return cls(())
        doc = load_yaml(path, SignatureError) or {}
        entries = tuple(
            Collector(str(e["org"]), str(e.get("category") or "analytics"), str(e["prefix"]),
                      str(e["query"]) if e.get("query") else None)
            for e in doc.get("collectors") or []
        )
        return cls(entries, (SignatureFile(str(path), hashlib.sha256(path.read_bytes()).hexdigest()),))

    def match(self, uri: str) -> Collector | None:
        path, _, query = uri.partition("?")
        if path.startswith(("http://", "https://")):  # absolute form (proxies)
            path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
        for entry in self.entries:
            prefix = entry.prefix
            under = path.startswith(prefix) if prefix.endswith("/") else path == prefix or path.startswith(prefix + "/")
            if under and (entry.query is None or any(k == entry.query for k, _ in parse_qsl(query, keep_blank_values=True))):
                return entry
        return None

    def describe(self, destination: Destination, uri: str) -> Destination:
        """The destination as the collector's tracker when the list names no tracker there."""
        if destination.tracker:
            return destination
        entry = self.match(uri)
        if entry is None:
            return destination
        return dataclasses.replace(destination, org=entry.org, category=entry.category, tracker=True, party="third")
