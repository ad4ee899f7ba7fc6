"""``privscan blocklist``: a scan's findings as DNS policy for child-profile subscriptions.

What is blocked: the third-party trackers that received a minor's identifier,
i.e. the destinations of findings whose subject is known to be a minor
(``minor is True``), that carry an identifier (contacts alone are not enough
to block a service), whose destination is a tracker (``tracker``) and a third
party (``party == "third"``), and that nobody allow-listed.

At which level:

- the registrable domain with every name under it (``adnet.example`` and
  ``*.adnet.example``) when every host of that domain seen in the scan is a
  tracker: a tracker's other hosts are trackers too, and blocking the domain
  catches the next CDN shard;
- only the tracker hosts themselves (and names under them) when the scan saw
  a host of the same registrable domain that is *not* a tracker: blocking
  ``metricsco.example`` would also break ``www.metricsco.example`` that an
  adult used, and for big platforms a whole domain is far too much.

Names that are not DNS names (IP literals, a host with characters DNS does
not carry) are left out and counted in the header: a blocklist line is
configuration, and a name from traffic must not be able to inject any.

Three renderings, each with a header that says what it is and which scan
produced it (privscan version, captures and their sha256):

- ``hosts``: ``0.0.0.0 name`` and ``:: name`` lines for /etc/hosts-style
  blockers (Pi-hole, AdGuard Home, routers).  A hosts file has no wildcards, so
  a blocked domain is listed with every tracker host seen under it.
- ``dnsmasq``: ``server=/domain/`` lines.  In dnsmasq an empty server means
  "answer locally only", which returns NXDOMAIN for the domain and all its
  subdomains, for every query type (dnsmasq(8): ``--address=/example.com/``
  is the same thing).  Not ``address=/domain/0.0.0.0``: since dnsmasq 2.86
  that answers A queries only and forwards AAAA and HTTPS queries upstream, so
  an IPv6-capable device still reaches the tracker; and a null address makes
  clients connect to themselves.  NXDOMAIN also matches the RPZ policy.
- ``rpz``: a DNS Response Policy Zone (BIND, Unbound, Knot Resolver,
  PowerDNS Recursor) with SOA and NS records and ``CNAME .`` (NXDOMAIN) for
  the name and ``*.name``.  Owner names are relative, so the zone can be loaded
  under any name (``response-policy { zone "privscan.rpz"; };``).  The SOA
  serial is date-based, ``YYYYMMDDnn`` (the convention of RFC 1912 s2.2), from
  the day the zone is written (UTC), and bumped past the serial of the zone
  it replaces when that file is there (``next_rpz_serial``): secondaries only
  transfer a zone whose serial increased (RFC 1982 comparison).  Not the
  capture's time: a later audit may scan an older capture, and the serial
  would go backwards.  ``render_rpz(..., serial=N)`` overrides it.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scanner.model import Finding
from scanner.report.formats.common import one_line
from scanner.results import ScanResult

_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")


@dataclass(frozen=True, slots=True)
class BlockEntry:
    """One name to block; ``wildcard``: a registrable domain blocked with every name under it."""

    name: str
    wildcard: bool
    hosts: tuple[str, ...]  # tracker hosts seen under it (for the hosts file, which has no wildcards)
    orgs: tuple[str, ...]
    id_types: tuple[str, ...]
    minor_subjects: int
    findings: tuple[str, ...]

    def comment(self) -> str:
        orgs = ", ".join(self.orgs) or "unknown organisation"
        types = ", ".join(self.id_types)
        subjects = f"{self.minor_subjects} minor" + ("s" if self.minor_subjects != 1 else "")
        return one_line(f"{orgs}: {types} from {subjects}")


@dataclass(frozen=True, slots=True)
class Blocklist:
    entries: tuple[BlockEntry, ...]  # sorted by name
    skipped: tuple[str, ...]  # destinations that are not DNS names
    tool_version: str
    captures: tuple[tuple[str, str], ...]  # (path, sha256)
    data_ts: int  # last packet of the scan, Unix seconds (0 when unknown)

    @property
    def digest(self) -> str:
        """sha256 of what is blocked (names and levels), to compare two blocklists at a glance."""
        text = "\n".join(f"{e.name} {'domain' if e.wildcard else 'host'}" for e in self.entries)
        return hashlib.sha256(text.encode()).hexdigest()


def dns_name(name: str | None) -> str | None:
    """``name`` as a lower-case ASCII DNS name fit for a blocklist, or None (IP literal, bad label, one label)."""
    if not name:
        return None
    candidate = name.strip().rstrip(".").lower()
    try:
        ipaddress.ip_address(candidate.strip("[]"))
        return None
    except ValueError:
        pass
    if not candidate.isascii():
        try:
            candidate = candidate.encode("idna").decode("ascii")
        except UnicodeError:
            return None
    labels = candidate.split(".")
    if len(candidate) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return None
    if not all(_LABEL.match(label) for label in labels):
        return None
    return candidate


def _is_blockable(finding: Finding) -> bool:
    return (
        finding.subject.minor is True
        and finding.identifier is not None
        and finding.destination.tracker
        and finding.destination.party == "third"
        and finding.allowlisted is None
    )


def _seen_hosts_by_domain(result: ScanResult) -> dict[str, dict[str, bool]]:
    """registrable domain -> {host: tracker?} for every host the scan saw (graph and findings)."""
    seen: dict[str, dict[str, bool]] = {}
    graph = result.graph
    if graph is not None:
        for _node, attrs in graph.nodes(data=True):
            if attrs.get("kind") != "host" or not attrs.get("domain"):
                continue
            tracker = attrs.get("tracker") is True or str(attrs.get("tracker")).lower() == "true"
            hosts = seen.setdefault(str(attrs["domain"]).lower(), {})
            host = str(attrs.get("label", "")).lower()
            hosts[host] = hosts.get(host, True) and tracker
    for finding in result.findings:
        dest = finding.destination
        if dest.domain:
            hosts = seen.setdefault(dest.domain.lower(), {})
            hosts[dest.host.lower()] = hosts.get(dest.host.lower(), True) and dest.tracker
    return seen


def blocklist_from(result: ScanResult) -> Blocklist:
    """The trackers to block on child-profile subscriptions, from one scan."""
    seen = _seen_hosts_by_domain(result)
    groups: dict[tuple[str, bool], list[Finding]] = {}
    skipped: set[str] = set()
    for finding in result.findings:
        if not _is_blockable(finding):
            continue
        dest = finding.destination
        host = dns_name(dest.host)
        domain = dns_name(dest.domain)
        if host is None:
            skipped.add(dest.host)
            continue
        whole_domain = domain is not None and all(seen.get(dest.domain.lower() if dest.domain else "", {}).values())
        key = (domain, True) if whole_domain and domain is not None else (host, False)
        groups.setdefault(key, []).append(finding)

    entries = []
    for (name, wildcard), findings in groups.items():
        hosts = {name} if not wildcard else set()
        if wildcard:
            for finding in findings:
                if (host := dns_name(finding.destination.host)) is not None:
                    hosts.add(host)
            for host in seen.get(name, {}):
                if (valid := dns_name(host)) is not None:
                    hosts.add(valid)
        entries.append(
            BlockEntry(
                name=name,
                wildcard=wildcard,
                hosts=tuple(sorted(hosts)),
                orgs=tuple(sorted({f.destination.org for f in findings if f.destination.org})),
                id_types=tuple(sorted({f.identifier.type for f in findings if f.identifier is not None})),
                minor_subjects=len({f.subject.id for f in findings}),
                findings=tuple(sorted(f.id for f in findings)),
            )
        )
    # A host entry under a domain that is blocked whole is redundant.
    blocked_domains = {e.name for e in entries if e.wildcard}
    entries = [e for e in entries if e.wildcard or not any(e.name.endswith("." + d) for d in blocked_domains)]
    last_ts = max((c.last_ts for c in result.captures if c.last_ts is not None), default=0.0)
    return Blocklist(
        entries=tuple(sorted(entries, key=lambda e: e.name)),
        skipped=tuple(sorted(skipped)),
        tool_version=result.tool_version,
        captures=tuple((c.path, c.sha256) for c in result.captures),
        data_ts=int(last_ts),
    )


def _header(blocklist: Blocklist, what: str, comment: str) -> list[str]:
    domains = sum(1 for e in blocklist.entries if e.wildcard)
    hosts = len(blocklist.entries) - domains
    lines = [
        f"privscan blocklist: {what}",
        "Third-party trackers that received a minor's identifier; deploy on child-profile subscriptions.",
        f"{domains} registrable domain{'s' if domains != 1 else ''} (with every name under them), "
        f"{hosts} host{'s' if hosts != 1 else ''} (their domain also serves non-trackers).",
        f"Produced by privscan {blocklist.tool_version} from the scan of:",
        *(f"  {path}  sha256 {sha256 or 'unknown'}" for path, sha256 in blocklist.captures),
        f"Content sha256: {blocklist.digest}",
    ]
    if blocklist.skipped:
        lines.append(f"Left out, not DNS names: {', '.join(blocklist.skipped)}")
    return [f"{comment} {one_line(line)}".rstrip() for line in lines] + [comment]


def render_hosts(blocklist: Blocklist) -> str:
    """A hosts file: ``0.0.0.0`` and ``::`` for every blocked name (no wildcards in hosts files)."""
    lines = _header(blocklist, "hosts file (0.0.0.0 and :: for each name; no wildcards, so every host is listed)", "#")
    for entry in blocklist.entries:
        lines.append(f"# {entry.comment()}")
        names = sorted({entry.name, *entry.hosts})
        lines.extend(f"0.0.0.0 {name}" for name in names)
        lines.extend(f":: {name}" for name in names)
    return "\n".join(lines) + "\n"


def render_dnsmasq(blocklist: Blocklist) -> str:
    """dnsmasq configuration: ``server=/name/`` (NXDOMAIN for the name and every name under it)."""
    lines = _header(blocklist, "dnsmasq configuration (server=/name/ answers NXDOMAIN for name and *.name)", "#")
    for entry in blocklist.entries:
        lines.append(f"# {entry.comment()}")
        lines.append(f"server=/{entry.name}/")
    return "\n".join(lines) + "\n"


_SOA_SERIAL = re.compile(r"^\S+\s+(?:\d+\s+)?(?:IN\s+)?SOA\s+\S+\s+\S+\s+\(?\s*(\d{1,10})\b", re.MULTILINE | re.IGNORECASE)


def rpz_serial_of(text: str) -> int | None:
    """The SOA serial of a zone file's text (the first SOA record), or None."""
    found = _SOA_SERIAL.search(text)
    return int(found.group(1)) if found else None


def next_rpz_serial(previous: int | None = None, today: _dt.date | None = None) -> int:
    """``YYYYMMDD00`` of ``today`` (UTC), or one more than ``previous`` when that is already as large
    (a second run on one day, or a serial of another scheme that is larger)."""
    day = today if today is not None else _dt.datetime.now(_dt.UTC).date()
    serial = int(day.strftime("%Y%m%d")) * 100
    if previous is not None and previous >= serial:
        serial = previous + 1
    return serial % (1 << 32) or 1


def previous_rpz_serial(path: str | Path | None) -> int | None:
    """The serial of the zone at ``path`` when the file is there and readable (else None)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8", errors="replace") as stream:
            return rpz_serial_of(stream.read(1 << 20))  # the SOA is at the top
    except OSError:
        return None


def render_rpz(blocklist: Blocklist, *, serial: int | None = None, ttl: int = 300) -> str:
    """A DNS Response Policy Zone: ``CNAME .`` (NXDOMAIN) for each name and ``*.name``."""
    zone_serial = (serial if serial is not None else next_rpz_serial()) % (1 << 32) or 1
    lines = _header(blocklist, "DNS Response Policy Zone (CNAME . = NXDOMAIN for name and *.name)", ";")
    lines += [
        f"$TTL {ttl}",
        f"@ IN SOA localhost. hostmaster.localhost. {zone_serial} 3600 600 86400 {ttl}",
        "@ IN NS localhost.",
    ]
    for entry in blocklist.entries:
        lines.append(f"; {entry.comment()}")
        lines.append(f"{entry.name} CNAME .")
        lines.append(f"*.{entry.name} CNAME .")
    return "\n".join(lines) + "\n"


BLOCKLIST_FORMATS: dict[str, Callable[[Blocklist], str]] = {
    "hosts": render_hosts,
    "dnsmasq": render_dnsmasq,
    "rpz": render_rpz,
}


def render_blocklist(result: ScanResult, fmt: str, *, replaces: str | Path | None = None) -> str:
    """``privscan blocklist --format hosts|dnsmasq|rpz``: the blocklist of one scan as text.

    ``replaces``: the file the output will overwrite; an RPZ zone's serial is bumped past its serial.
    """
    try:
        render = BLOCKLIST_FORMATS[fmt]
    except KeyError:
        from scanner.errors import InputError

        raise InputError(
            f"unknown blocklist format {fmt!r}; choose one of: {', '.join(sorted(BLOCKLIST_FORMATS))}"
        ) from None
    blocklist = blocklist_from(result)
    if fmt == "rpz":
        return render_rpz(blocklist, serial=next_rpz_serial(previous_rpz_serial(replaces)))
    return render(blocklist)


def why_empty(result: ScanResult) -> str | None:
    """Why a scan's blocklist blocks nothing, for stderr (None when it blocks something)."""
    if blocklist_from(result).entries:
        return None
    if not any(subject.minor is True for subject in result.subjects):
        return ("the blocklist is empty: no subject is known to be a minor, and only trackers that received a "
                "minor's identifier are blocked. Give ages with --inventory or --subscribers (devices, subscribers, "
                "or networks: address ranges, APNs, RADIUS attributes of child-profile pools), or --assume-minor "
                "for a capture of a child's device")
    return "the blocklist is empty: no third-party tracker received a minor's identifier in this scan"
