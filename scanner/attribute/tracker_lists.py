"""Tracker lists the user already has, read at run time: ``--trackers FORMAT:FILE`` (DESIGN.md).

The built-in database (``signatures/trackers/``) names the companies we have
written up by hand; real traffic reaches many more.  These readers turn the
common public list formats into the same ``TrackerMatch`` entries, each keeping
the list it came from (``Organisation.source`` is ``FORMAT:FILE``), the company
and the category where the list has them:

``hosts``
    A hosts file (``0.0.0.0 ads.example.com`` / ``127.0.0.1 a b c``) or a plain
    list of names, one a line; ``#`` starts a comment.  Each name counts for
    itself and the names under it (a tracker's sub-domains are the tracker's).
    ``localhost`` and the like are ignored.  No company or category: the
    organisation is the registrable domain.
``abp``
    Adblock Plus / uBlock filter lists: only the rules that name a whole host,
    ``||ads.example.com^`` with no path.  Options that keep the rule about the
    host (``$third-party``, resource types, ``$important``, ``$all``) are
    accepted; rules limited to some sites (``$domain=``), that rewrite instead
    of block (``$redirect``, ``$removeparam``, ``$csp``) or disable another rule
    (``$badfilter``) are not host rules and are skipped.  An exception
    ``@@||cdn.example.com^`` takes that name (and the names under it) out of
    this list.  Cosmetic (``##``) and path rules are skipped.  ``! Title:`` names
    the list.
``disconnect``
    Disconnect's ``services.json``: ``{"categories": {"Advertising": [{"Company":
    {"https://company.example/": ["domain", ...]}}]}}``.  Category ``Content``
    (embedded content, blocked only in strict modes) is kept as a non-tracker.
``ddg``
    DuckDuckGo's tracker blocklist (``tds.json``: ``{"trackers": {domain: {owner,
    categories, default}}, "entities": {...}}``) or one Tracker Radar domain file
    (``{"domain", "owner", "categories"}``).  A tracker whose only categories
    are not tracking ones (CDN, consent, payment, ...) and whose default is
    ``ignore`` is kept as a non-tracker.
``exodus``
    Exodus Privacy's tracker list (``{"trackers": {id: {name, network_signature,
    website, categories}}}``).  ``network_signature`` is a regular expression;
    the host names it spells out (``app-measurement\\.com|\\.adjust\\.com``) are
    taken, patterns with wildcards are skipped.

Categories are mapped onto the database's vocabulary (``trackers.CATEGORIES``);
the list's own words are kept in the entry's note.  An entry of a tracker list
with no category is a tracker with no category.

Precedence: the built-in database first (its entries are reviewed facts), then
the lists in the order given; a name already known keeps its first owner.  A
more specific name in a list still wins over a shorter built-in domain by the
usual longest-suffix rule (``ads.portal.example`` from a list beats the
built-in ``portal.example``).

Safety: files are read as UTF-8 text (hosts and abp line by line, bounded by
``MAX_LIST_BYTES``), JSON with the standard library (no object hooks, nothing
executed); every fault is a ``ConfigError`` naming the file and the line
(exit 2).  The non-commercial lists (Disconnect, Tracker Radar, Ghostery's
TrackerDB) are never shipped with privscan: they are read when the user
supplies them.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.attribute.trackers import TRACKER_CATEGORIES, Organisation, TrackerMatch
from scanner.errors import ConfigError, InputError
from scanner.knowledge.psl import registrable_domain

FORMATS = ("hosts", "abp", "disconnect", "ddg", "exodus")
MAX_LIST_BYTES = 256 * 1024 * 1024  # the largest public lists are tens of MB

# A DNS name as lists write it: lower-cased before this check; '_' allowed as in trackers._NAME_RE.
_NAME_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$")
_HOSTS_IGNORED = frozenset({"localhost", "localhost.localdomain", "local", "broadcasthost", "ip6-localhost",
                            "ip6-loopback", "ip6-localnet", "ip6-mcastprefix", "ip6-allnodes", "ip6-allrouters",
                            "ip6-allhosts", "0.0.0.0"})

# Options that leave an ABP rule about the whole host.
_ABP_HOST_OPTIONS = frozenset({
    "third-party", "3p", "~third-party", "first-party", "1p", "important", "all", "script", "image", "stylesheet",
    "css", "object", "xmlhttprequest", "xhr", "subdocument", "frame", "ping", "beacon", "media", "font", "websocket",
    "other", "document", "doc", "popup", "webrtc", "match-case", "~script", "~image", "~stylesheet", "~xmlhttprequest",
    "~subdocument", "~ping", "~media", "~font", "~websocket", "~other", "~document", "network",
})

_DISCONNECT_CATEGORIES = {
    "advertising": "advertising",
    "analytics": "analytics",
    "social": "social",
    "fingerprintinginvasive": "advertising",
    "fingerprintinggeneral": "analytics",
    "cryptomining": None,
    "email": "customer_engagement",
    "emailaggressive": "customer_engagement",
    "content": "cdn",
}

_DDG_CATEGORIES = {
    "advertising": "advertising",
    "ad motivated tracking": "advertising",
    "action pixels": "advertising",
    "ad fraud": "advertising",
    "analytics": "analytics",
    "audience measurement": "analytics",
    "third-party analytics marketing": "analytics",
    "tag manager": "analytics",
    "session replay": "session_replay",
    "social - comment": "social",
    "social - share": "social",
    "social network": "social",
    "federated login": "social",
    "cdn": "cdn",
    "consent management platform": "consent",
}

_EXODUS_CATEGORIES = {
    "advertisement": "advertising",
    "analytics": "analytics",
    "profiling": "advertising",
    "identification": "analytics",
    "location": "analytics",
    "crash reporting": "crash_reporting",
}


@dataclass(slots=True)
class TrackerList:
    """The entries of one list file, and what was left out of it."""

    format: str
    path: Path
    entries: list[TrackerMatch] = field(default_factory=list)
    skipped: int = 0  # rules or patterns that do not name a host (paths, site-limited, wildcards)
    excepted: set[str] = field(default_factory=set)  # abp exceptions: names this list does not claim
    sha256: str = ""


def parse_spec(spec: str) -> tuple[str, Path]:
    """``FORMAT:FILE`` -> (format, path); ConfigError naming the formats otherwise."""
    fmt, sep, rest = spec.partition(":")
    fmt = fmt.strip().lower()
    if not sep or fmt not in FORMATS or not rest.strip():
        raise InputError(f"--trackers {spec!r}: give FORMAT:FILE, FORMAT one of {', '.join(FORMATS)}")
    return fmt, Path(rest.strip())


def load_tracker_list(fmt: str, path: str | Path) -> TrackerList:
    """Read one list; ConfigError(file, line, message) on anything it cannot read."""
    path = Path(path)
    if fmt not in FORMATS:
        raise ConfigError(path, None, f"unknown tracker list format {fmt!r} (known: {', '.join(FORMATS)})")
    data = _read(path)
    result = TrackerList(fmt, path, sha256=hashlib.sha256(data).hexdigest())
    source = f"{fmt}:{path}"
    if fmt in ("hosts", "abp"):
        text = _text(path, data)
        (_hosts if fmt == "hosts" else _abp)(path, text, source, result)
    else:
        document = _json(path, data)
        {"disconnect": _disconnect, "ddg": _ddg, "exodus": _exodus}[fmt](path, document, source, result)
    if result.excepted:
        result.entries = [e for e in result.entries if not _under_any(e.matched, result.excepted)]
    if not result.entries:
        raise ConfigError(path, None, f"no host names found: is this a {fmt} list? (formats: {', '.join(FORMATS)})")
    return result


def load_tracker_lists(specs: Iterable[str]) -> list[TrackerList]:
    return [load_tracker_list(*parse_spec(spec)) for spec in specs]


# ---------------------------------------------------------------------- reading


def _read(path: Path) -> bytes:
    try:
        size = path.stat().st_size
        if size > MAX_LIST_BYTES:
            raise ConfigError(path, None, f"tracker list too large ({size} bytes; at most {MAX_LIST_BYTES})")
        return path.read_bytes()
    except OSError as exc:
        raise ConfigError(path, None, f"cannot read tracker list: {exc.strerror or exc}") from None


def _text(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(path, line, "not UTF-8 text: is this a tracker list?") from None


def _json(path: Path, data: bytes) -> Any:
    text = _text(path, data)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(path, exc.lineno, f"invalid JSON: {exc.msg}") from None
    except RecursionError:
        raise ConfigError(path, None, "invalid JSON: nested too deeply") from None


def _name(raw: str) -> str | None:
    name = raw.strip().strip(".").lower()
    if name.startswith("*."):
        name = name[2:]
    try:
        name = name.encode("idna").decode("ascii") if not name.isascii() else name
    except UnicodeError:
        return None
    return name if _NAME_RE.match(name) else None


def _under_any(name: str, names: set[str]) -> bool:
    while True:
        if name in names:
            return True
        dot = name.find(".")
        if dot < 0:
            return False
        name = name[dot + 1 :]


def _organisation(name: str, parent: str | None, website: str | None, source: str) -> Organisation:
    return Organisation(name=name, parent=parent or name, country="", website=website or "", sources=(),
                        licence="supplied by the user", source=source)


def _entry(name: str, organisation: Organisation, categories: Iterable[str | None], tracker: bool | None,
           note: str | None, line: int | None) -> TrackerMatch:
    kept: list[str] = []
    for category in categories:
        if category and category not in kept:
            kept.append(category)
    is_tracker = tracker if tracker is not None else (not kept or not TRACKER_CATEGORIES.isdisjoint(kept))
    return TrackerMatch(organisation=organisation, categories=tuple(kept), tracker=is_tracker, matched=name,
                        kind="domain", note=note, line=line or 0,
                        list_name=organisation.source)


class _Owners:
    """One Organisation per owner name per list (the registrable domain when the list names none)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._known: dict[str, Organisation] = {}

    def get(self, name: str, parent: str | None = None, website: str | None = None) -> Organisation:
        found = self._known.get(name)
        if found is None:
            found = self._known[name] = _organisation(name, parent, website, self.source)
        return found

    def for_domain(self, host: str) -> Organisation:
        return self.get(registrable_domain(host) or host)


# ---------------------------------------------------------------------- hosts and abp


def _lines(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), 1):
        yield number, line.strip()


def _hosts(path: Path, text: str, source: str, result: TrackerList) -> None:
    owners = _Owners(source)
    seen: set[str] = set()
    for number, line in _lines(text):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        tokens = line.split()
        if _is_address(tokens[0]):
            names = tokens[1:]
            if not names:
                raise ConfigError(path, number, f"an address with no host name: {tokens[0]!r}")
        elif len(tokens) != 1:
            raise ConfigError(path, number, f"not a hosts line (ADDRESS NAME... or one NAME): {line[:60]!r}")
        else:
            names = tokens
        for raw in names:
            if raw.lower() in _HOSTS_IGNORED:
                continue
            name = _name(raw)
            if name is None:
                if len(tokens) == 1:
                    raise ConfigError(path, number, f"not a host name: {raw[:60]!r}")
                result.skipped += 1
                continue
            if name not in seen:
                seen.add(name)
                result.entries.append(_entry(name, owners.for_domain(name), (), True, None, number))


@functools.lru_cache(maxsize=64)
def _is_address(token: str) -> bool:
    """Whether a hosts line starts with an address (cached: a list uses one or two, 0.0.0.0 and ::)."""
    try:
        ipaddress.ip_address(token.split("%", 1)[0])
    except ValueError:
        return False
    return True


_ABP_RULE = re.compile(r"^(@@)?\|\|([^/^$|*]+)\^?(?:\|)?(?:\$(.*))?$")


def _abp(path: Path, text: str, source: str, result: TrackerList) -> None:
    owners = _Owners(source)
    seen: set[str] = set()
    title = None
    for number, line in _lines(text):
        if not line or line.startswith("["):
            continue
        if line.startswith("!"):
            if title is None and line[1:].strip().lower().startswith("title:"):
                title = line.split(":", 1)[1].strip()
            continue
        if "##" in line or "#@#" in line or "#?#" in line or "#$#" in line:
            continue  # element hiding: not about hosts
        match = _ABP_RULE.match(line)
        if match is None:
            result.skipped += 1  # a path, a pattern or a plain substring rule: not a whole host
            continue
        exception, raw, options = match.groups()
        if options is not None and not _host_options(options):
            result.skipped += 1
            continue
        name = _name(raw)
        if name is None:
            if raw.replace(".", "").replace("-", "").isalnum():
                raise ConfigError(path, number, f"not a host name in {line[:60]!r}")
            result.skipped += 1
            continue
        if exception:
            result.excepted.add(name)
        elif name not in seen:
            seen.add(name)
            note = f"from {title}" if title else None
            result.entries.append(_entry(name, owners.for_domain(name), (), True, note, number))


def _host_options(options: str) -> bool:
    for option in options.split(","):
        option = option.strip().lower()
        if option and option not in _ABP_HOST_OPTIONS:
            return False
    return True


# ---------------------------------------------------------------------- JSON lists


def _expect(path: Path, value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        raise ConfigError(path, None, f"{what} must be a JSON {'object' if kind is dict else 'list'}")
    return value


def _disconnect(path: Path, document: Any, source: str, result: TrackerList) -> None:
    categories = _expect(path, _expect(path, document, dict, "a Disconnect services.json").get("categories"), dict,
                         "'categories' of a Disconnect services.json")
    owners = _Owners(source)
    claimed: dict[str, int] = {}
    for category_name, companies in categories.items():
        mapped = _DISCONNECT_CATEGORIES.get(str(category_name).lower().replace(" ", ""))
        tracker = str(category_name).lower() != "content"
        for company_block in _expect(path, companies, list, f"category {category_name!r}"):
            for company, sites in _expect(path, company_block, dict, f"an entry of {category_name!r}").items():
                if not isinstance(sites, dict):
                    continue
                for website, domains in sites.items():
                    if not isinstance(domains, list):
                        continue  # flags such as "performance": "true"
                    organisation = owners.get(str(company), None, website if str(website).startswith("http") else None)
                    for raw in domains:
                        name = _name(str(raw))
                        if name is None:
                            result.skipped += 1
                            continue
                        if name in claimed:
                            continue
                        claimed[name] = len(result.entries)
                        result.entries.append(_entry(name, organisation, (mapped,), tracker, f"Disconnect: {category_name}", None))


def _ddg(path: Path, document: Any, source: str, result: TrackerList) -> None:
    document = _expect(path, document, dict, "a DuckDuckGo tracker list")
    if "trackers" in document:
        trackers = _expect(path, document["trackers"], dict, "'trackers' of a tds.json")
        entities = document.get("entities") if isinstance(document.get("entities"), dict) else {}
    elif "domain" in document and "owner" in document:
        trackers, entities = {document["domain"]: document}, {}
    else:
        raise ConfigError(path, None, "a DuckDuckGo list is a tds.json ({\"trackers\": ...}) or a Tracker Radar domain file")
    owners = _Owners(source)
    for domain, info in trackers.items():
        if not isinstance(info, dict):
            raise ConfigError(path, None, f"tracker {domain!r} must be a JSON object")
        name = _name(str(info.get("domain") or domain))
        if name is None:
            result.skipped += 1
            continue
        found_owner = info.get("owner")
        owner: dict[str, Any] = found_owner if isinstance(found_owner, dict) else {}
        company = owner.get("displayName") or owner.get("name")
        entity = entities.get(owner.get("name")) if isinstance(owner.get("name"), str) else None
        parent = entity.get("displayName") if isinstance(entity, dict) else None
        organisation = owners.get(str(company), parent) if company else owners.for_domain(name)
        raw_categories = [str(c) for c in info.get("categories") or () if isinstance(c, str)]
        mapped = [_DDG_CATEGORIES.get(c.lower()) for c in raw_categories]
        tracking = any(m in TRACKER_CATEGORIES for m in mapped if m)
        blocked = str(info.get("default", "block")).lower() == "block"
        note = f"DuckDuckGo: {', '.join(raw_categories)}" if raw_categories else None
        result.entries.append(_entry(name, organisation, mapped, tracking or blocked, note, None))


def _exodus(path: Path, document: Any, source: str, result: TrackerList) -> None:
    document = _expect(path, document, dict, "an Exodus tracker list")
    trackers = document.get("trackers", document)
    items = trackers.values() if isinstance(trackers, dict) else trackers
    if not isinstance(items, Iterable):
        raise ConfigError(path, None, "'trackers' of an Exodus list must be an object or a list")
    owners = _Owners(source)
    claimed: set[str] = set()
    for info in items:
        if not isinstance(info, dict) or "name" not in info:
            raise ConfigError(path, None, "each Exodus tracker is an object with 'name' and 'network_signature'")
        signature = str(info.get("network_signature") or "")
        if not signature:
            continue
        organisation = owners.get(str(info["name"]), None, info.get("website") if str(info.get("website", "")).startswith("http") else None)
        raw_categories = [str(c) for c in info.get("categories") or () if isinstance(c, str)]
        mapped = [_EXODUS_CATEGORIES.get(c.lower()) for c in raw_categories]
        note = f"Exodus: {', '.join(raw_categories)}" if raw_categories else None
        for name in _regex_hosts(signature):
            if name is None:
                result.skipped += 1
            elif name not in claimed:
                claimed.add(name)
                only_crash = bool(mapped) and all(m == "crash_reporting" for m in mapped)
                result.entries.append(_entry(name, organisation, mapped, not only_crash, note, None))


def _regex_hosts(signature: str) -> Iterator[str | None]:
    """The host names a regular expression spells out literally (``\\.adjust\\.com``); None for a
    pattern that is not one name (wildcards, classes, groups)."""
    for alternative in signature.split("|"):
        text = alternative.strip().lstrip("^").rstrip("$")
        text = text.replace("\\.", ".").replace("\\-", "-")
        if text.startswith(".*"):
            text = text[2:]
        text = text.lstrip(".").rstrip("/")
        if not text:
            continue
        if any(c in text for c in "\\*+?()[]{}^$"):
            yield None
            continue
        yield _name(text)
