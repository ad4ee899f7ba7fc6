"""Child-profile pools: minors known by the network they are on, not by their device.

An operator knows its child-profile subscriptions by address pool, APN or
RADIUS class, rarely by device.  The inventory (and the ``--subscribers``
file) may list such pools (DESIGN.md, "Inventory")::

    networks:
      - cidr: 10.20.0.0/16           # IPv4 or IPv6 (2001:db8:20::/48)
        minor: true                  # or age: 10
        name: child-profile pool
      - apn: kids.operator.example   # the APN of the subscriber's GTP-C session
        age: 11
      - radius: {Class: kids}        # RADIUS attributes, all of which must match
        minor: true
      - radius: {Filter-Id: child-filter, NAS-Identifier: bng-3}

How a pool is matched (``PoolMatcher``):

- ``cidr``: the subject's address (the client address of the flow) is in the
  range.  Pools are tried most specific first (longest prefix), so a /24 of
  adults inside a /16 of children wins for its addresses.
- ``apn``: the APN of the GTP-C session (TS 29.274 s8.6, TS 23.003 s9) that
  bound the address, compared case-insensitively on the network identifier:
  ``kids.operator.example`` also matches the full
  ``kids.operator.example.mnc001.mcc234.gprs`` that carries the operator
  identifier.  On a PGW's Gi/SGi RADIUS the APN is the Called-Station-Id (TS
  29.061 s16.4.7.1), so a RADIUS message's Called-Station-Id is matched too.
- ``radius``: every attribute named (RFC 2865 names, case-insensitive:
  ``Class``, ``Filter-Id``, ``User-Name``, ``Called-Station-Id``,
  ``NAS-Identifier``, ``NAS-Port-Id``, ``Framed-Pool``, ...) has exactly the
  value given, in the RADIUS message that bound the address.  ``Class`` is set
  by the AAA server in the Access-Accept and echoed by the NAS in accounting
  (RFC 2865 s5.25), so it is there in both.  A binary value (not printable
  UTF-8) is named by its hex with ``0x`` (``{Class: "0x00a1ff"}``, any case).

A subject's age comes, in order, from the inventory's device, the subscriber
list, the control-plane pool (APN, RADIUS), the address pool (CIDR), and last
``--assume-minor`` (every subject whose age is still unknown is a minor: a lab
capture of one child's device).  The subject is still the address or the
control-plane subscriber; it gains the pool's age and name
(``subjects[].pool``, ``subjects[].age`` in the JSON report).

A person under ``MINOR_AGE`` (18) is a minor, as in the inventory.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.datafiles import LineDict, LineList, line_of
from scanner.errors import ConfigError

MINOR_AGE = 18

_POOL_KEYS = {"cidr", "apn", "radius", "minor", "age", "name", "notes"}
_MAX_CACHED_ADDRESSES = 65536


@dataclass(frozen=True, slots=True)
class NetworkPool:
    """One child-profile (or adult) pool: how it is recognised, and the age it gives."""

    kind: str  # "cidr" | "apn" | "radius"
    name: str
    minor: bool | None
    age: int | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    apn: str | None = None
    radius: tuple[tuple[str, str], ...] = ()  # (lower-case attribute name, value), all must match


def attribute_name(name: str) -> str:
    """RADIUS attribute names compared without case and with '_' read as '-' (``filter_id``)."""
    return name.strip().lower().replace("_", "-")


def parse_networks(path: Path, items: Any, line: int | None) -> tuple[NetworkPool, ...]:
    """The ``networks:`` list of an inventory or subscriber file; ConfigError with file:line on a fault."""
    if items is None:
        return ()
    if not isinstance(items, list):
        raise ConfigError(path, line, "'networks' must be a list of pools (cidr, apn or radius, with minor or age)")
    pools = []
    for index, item in enumerate(items):
        where = items.line_of(index) if isinstance(items, LineList) else line
        pools.append(_pool(path, item, where))
    return tuple(pools)


def _pool(path: Path, item: Any, line: int | None) -> NetworkPool:
    if not isinstance(item, LineDict):
        raise ConfigError(path, line, "each network pool is a mapping (cidr, apn or radius, with minor or age)")
    unknown = set(item) - _POOL_KEYS
    if unknown:
        key = sorted(map(str, unknown))[0]
        raise ConfigError(path, line_of(item, key), f"unknown network pool key {key!r} (allowed: {', '.join(sorted(_POOL_KEYS))})")
    kinds = [k for k in ("cidr", "apn", "radius") if k in item]
    if len(kinds) != 1:
        raise ConfigError(path, item.line, "a network pool has exactly one of 'cidr', 'apn' or 'radius'")
    kind = kinds[0]
    minor, age = _age(path, item)
    if minor is None:
        raise ConfigError(path, item.line, "a network pool needs 'minor' (true/false) or 'age'")
    where = line_of(item, kind)
    value = item[kind]
    network = None
    apn = None
    radius: tuple[tuple[str, str], ...] = ()
    if kind == "cidr":
        try:
            network = ipaddress.ip_network(str(value).strip(), strict=False)
        except ValueError:
            raise ConfigError(path, where, f"not a CIDR range: {value!r} (e.g. 10.20.0.0/16 or 2001:db8:20::/48)") from None
        default_name = f"cidr {network}"
    elif kind == "apn":
        apn = str(value).strip().lower().rstrip(".")
        if not apn or any(c.isspace() for c in apn):
            raise ConfigError(path, where, f"not an APN: {value!r}")
        default_name = f"apn {apn}"
    else:
        if not isinstance(value, dict) or not value:
            raise ConfigError(path, where, "'radius' maps attribute names to values, e.g. {Class: kids}")
        pairs = []
        for name, text in value.items():
            if not isinstance(name, str) or not name.strip() or isinstance(text, (dict, list)) or text is None:
                raise ConfigError(path, where, f"'radius' maps attribute names to values, not {name!r}: {text!r}")
            pairs.append((attribute_name(name), _scalar_text(text)))
        radius = tuple(sorted(pairs))
        default_name = "radius " + ",".join(f"{name}={text}" for name, text in radius)
    name = str(item["name"]).strip() if item.get("name") is not None else default_name
    return NetworkPool(kind, name or default_name, minor, age, network, apn, radius)


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value).strip()
    # Hex names a binary value (scanner/decode/protocols/radius.py, pool_attribute_text): lower case.
    return text.lower() if text[:2].lower() == "0x" else text


def _age(path: Path, item: LineDict) -> tuple[bool | None, int | None]:
    age = None
    if "age" in item:
        try:
            age = int(item["age"])
        except (TypeError, ValueError):
            raise ConfigError(path, line_of(item, "age"), "'age' must be a whole number") from None
        if not 0 <= age < 130:
            raise ConfigError(path, line_of(item, "age"), f"'age' out of range: {age}")
    if "minor" in item:
        value = item["minor"]
        if isinstance(value, str):
            value = {"true": True, "yes": True, "false": False, "no": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise ConfigError(path, line_of(item, "minor"), "'minor' must be true or false")
        if age is not None and value != (age < MINOR_AGE):
            raise ConfigError(path, line_of(item, "minor"), f"'minor: {str(value).lower()}' contradicts 'age: {age}'")
        return value, age
    return (None if age is None else age < MINOR_AGE), age


class PoolMatcher:
    """Which pool an address, an APN or a set of RADIUS attributes is in (first match, most specific first)."""

    def __init__(self, pools: Iterable[NetworkPool]) -> None:
        pools = tuple(pools)
        # Longest prefix first: a narrower range is the operator's exception to a wider one.
        self.cidrs = sorted((p for p in pools if p.network is not None), key=lambda p: -p.network.prefixlen if p.network else 0)
        self.apns = tuple(p for p in pools if p.apn is not None)
        # More attributes first: the more specific condition wins.
        self.radius = tuple(sorted((p for p in pools if p.radius), key=lambda p: -len(p.radius)))
        self._by_address: dict[str, NetworkPool | None] = {}

    def __bool__(self) -> bool:
        return bool(self.cidrs or self.apns or self.radius)

    def by_address(self, address: str) -> NetworkPool | None:
        if not self.cidrs:
            return None
        cached = self._by_address.get(address, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        found = None
        try:
            ip = ipaddress.ip_address(address.split("/", 1)[0])
        except ValueError:
            ip = None
        if ip is not None:
            for pool in self.cidrs:
                assert pool.network is not None
                if ip.version == pool.network.version and ip in pool.network:
                    found = pool
                    break
        if len(self._by_address) >= _MAX_CACHED_ADDRESSES:
            self._by_address.clear()  # bounded memory; the ranges are few, recomputing is cheap
        self._by_address[address] = found
        return found

    def by_apn(self, apn: str | None) -> NetworkPool | None:
        if not apn or not self.apns:
            return None
        name = apn.strip().lower().rstrip(".")
        for pool in self.apns:
            assert pool.apn is not None
            # The network identifier alone, or followed by the operator identifier (TS 23.003 s9.1).
            if name == pool.apn or (name.startswith(pool.apn + ".mnc") and name.endswith(".gprs")):
                return pool
        return None

    def by_radius(self, attributes: Iterable[tuple[str, str]]) -> NetworkPool | None:
        if not self.radius and not self.apns:
            return None
        have: dict[str, set[str]] = {}
        for name, value in attributes:
            have.setdefault(attribute_name(name), set()).add(value)
        for pool in self.radius:
            if all(value in have.get(name, ()) for name, value in pool.radius):
                return pool
        for called in sorted(have.get("called-station-id", ())):
            found = self.by_apn(called)
            if found is not None:
                return found
        return None
