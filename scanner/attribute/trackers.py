"""Tracker signatures: which organisation owns a host name, what it does there, and whether it tracks.

The data lives in ``signatures/trackers/``, one YAML file per company (format:
``signatures/trackers/README.md`` and ``schema.json``).  This module loads every
``*.yaml`` file there, validates it by hand against that format (no jsonschema at
run time), and answers ``TrackerDatabase.match(host)`` by longest-suffix matching:

- a ``hosts`` entry matches that exact name only (``www.google.com``);
- a ``domains`` entry matches the name and every name under it (``doubleclick.net``
  matches ``googleads.g.doubleclick.net``);
- an exact ``hosts`` entry wins, then the longest ``domains`` suffix.

Matching is one dict lookup per label boundary of the host (at most ~5 for real
names), never a loop over the ~thousand entries.

A name is a *tracker* when any of its categories is in ``TRACKER_CATEGORIES``:
advertising, analytics, attribution, social, session_replay and
customer_engagement, whose business is measuring, profiling, re-targeting or
re-engaging the user.  ``crash_reporting`` (crash and performance monitoring)
is *not* a tracker category on its own: those vendors act for the app as
processors and their payloads exist to fix the app, not to follow the user.
Identifiers sent to them are still findings (every identifier leaving a
subject is), only not "sent to a tracker".  A vendor that also runs analytics
lists both categories and so is a tracker.

Where the data is found: ``datafiles.default_signatures_root()``, the repository's
``signatures/`` directory in a checkout or an editable install, the copy a wheel
installs as ``scanner/_signatures`` otherwise; ``--signatures DIR`` names another
(it reaches ``TrackerDatabase.load(root)``).

Errors in a file raise ``SignatureError(file, line, message)``: YAML syntax, an
unknown key or category, a missing field, a malformed name, and a name listed
twice, in one file or across files (the error names both places).
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from scanner.datafiles import default_signatures_root
from scanner.errors import SignatureError
from scanner.results import SignatureFile

# The closed vocabulary of categories (README.md explains each one).
CATEGORIES: tuple[str, ...] = (
    "advertising",
    "analytics",
    "attribution",
    "social",
    "crash_reporting",
    "customer_engagement",
    "consent",
    "session_replay",
    "cdn",
    "first_party_service",
)
TRACKER_CATEGORIES: frozenset[str] = frozenset(
    {"advertising", "analytics", "attribution", "social", "session_replay", "customer_engagement"}
)

_TOP_KEYS_REQUIRED = ("organisation", "parent", "country", "website", "domains", "sources", "licence")
_TOP_KEYS_OPTIONAL = ("hosts", "note")
_ENTRY_KEYS_OPTIONAL = ("note",)

# A DNS name as it appears on the wire, lower case, IDNs in punycode: labels of
# letters, digits, '-' and '_' (used by real service names such as _dmarc or
# some CDN hosts), no empty label, at least two labels.
_NAME_RE = re.compile(r"^(?=.{1,253}$)(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?\.)+[a-z0-9-]{2,63}$")
_COUNTRY_RE = re.compile(r"^[A-Z]{2}$")
_URL_RE = re.compile(r"^https?://[^\s/$.?#][^\s]*$")

# libyaml's composer is ~10x faster than the pure-Python one and gives the same marks.
_BaseLoader: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


_TAGS = {ScalarNode: "tag:yaml.org,2002:str", SequenceNode: "tag:yaml.org,2002:seq", MappingNode: "tag:yaml.org,2002:map"}


class _Loader(_BaseLoader):
    """Composes without resolving tags: every value here is read as text anyway (see
    ``_FileParser.string``), and PyYAML's resolver (a Python call per node, regular expressions
    per scalar) was half the load time of a few hundred files.  A plain ``~`` or ``null`` is still
    read as "no value"; an explicit tag (``!!null``, ``!!python/...``) is kept, and refused as not
    a string."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[object]]] = {}

    def resolve(self, kind: type, value: object, implicit: object) -> str:
        return _TAGS[kind]

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        return None  # no path resolvers are registered

    def ascend_resolver(self) -> None:
        return None


_PLAIN_NULLS = frozenset({"", "~", "null", "Null", "NULL"})


@dataclass(frozen=True, slots=True)
class Organisation:
    """A company as one tracker file describes it."""

    name: str
    parent: str
    country: str
    website: str
    sources: tuple[str, ...]
    licence: str
    source: str  # the signature file it came from


@dataclass(frozen=True, slots=True)
class TrackerMatch:
    """What a host name matched: the entry's owner, categories and tracker flag."""

    organisation: Organisation
    categories: tuple[str, ...]  # the first is the primary category
    tracker: bool
    matched: str  # the host or domain suffix of the entry that matched
    kind: str  # "host" (exact name) | "domain" (name and its sub-domains)
    note: str | None
    line: int  # where the entry is in its file
    list_name: str | None = None  # FORMAT:FILE of the user's list it was imported from (tracker_lists.py)

    @property
    def org(self) -> str:
        return self.organisation.name

    @property
    def parent(self) -> str:
        return self.organisation.parent

    @property
    def category(self) -> str | None:
        # Entries imported from a list without categories (a hosts file) have none.
        return self.categories[0] if self.categories else None

    @property
    def source(self) -> str:
        return self.organisation.source


class TrackerDatabase:
    """Every tracker file of a directory, indexed for longest-suffix matching."""

    def __init__(self, entries: Iterable[TrackerMatch], files: Iterable[SignatureFile] = ()) -> None:
        self._hosts: dict[str, TrackerMatch] = {}
        self._domains: dict[str, TrackerMatch] = {}
        organisations: dict[str, Organisation] = {}
        for entry in entries:
            _check_unique(entry, self._hosts, self._domains)
            (self._hosts if entry.kind == "host" else self._domains)[entry.matched] = entry
            organisations.setdefault(entry.organisation.source, entry.organisation)
        self.organisations: tuple[Organisation, ...] = tuple(organisations.values())
        self.files: tuple[SignatureFile, ...] = tuple(files)

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(cls, signatures_root: str | Path | None = None) -> TrackerDatabase:
        """Load ``<signatures_root>/trackers/*.yaml`` (default root: ``default_signatures_root()``)."""
        root = Path(signatures_root) if signatures_root is not None else default_signatures_root()
        return cls.load_directory(root / "trackers")

    @classmethod
    def load_directory(cls, directory: str | Path) -> TrackerDatabase:
        """Load every ``*.yaml`` file of one directory (not recursive), in name order."""
        directory = Path(directory)
        if not directory.is_dir():
            raise SignatureError(directory, None, "tracker signature directory not found")
        entries: list[TrackerMatch] = []
        files: list[SignatureFile] = []
        for path in sorted(directory.glob("*.yaml")):
            data = _read(path)
            files.append(SignatureFile(str(path), hashlib.sha256(data).hexdigest()))
            entries.extend(parse_tracker_file(path, data))
        return cls(entries, files)

    def with_imported(self, entries: Iterable[TrackerMatch], files: Iterable[SignatureFile] = ()) -> TrackerDatabase:
        """This database plus entries read from user-supplied lists (tracker_lists.py).

        A name this database (or an earlier imported entry) already lists keeps its owner: the
        built-in files are reviewed facts, and the first list given wins over later ones.
        """
        combined = TrackerDatabase((), (*self.files, *files))
        combined._hosts = dict(self._hosts)
        combined._domains = dict(self._domains)
        organisations = {o.source: o for o in self.organisations}
        for entry in entries:
            if entry.matched in combined._hosts or entry.matched in combined._domains:
                continue
            (combined._hosts if entry.kind == "host" else combined._domains)[entry.matched] = entry
            organisations.setdefault(f"{entry.organisation.source}#{entry.organisation.name}", entry.organisation)
        combined.organisations = tuple(organisations.values())
        return combined

    # ------------------------------------------------------------------ matching

    def match(self, host: str) -> TrackerMatch | None:
        """The entry for ``host`` (a lower-case DNS name without port or trailing dot), or None.

        The exact ``hosts`` entry wins; otherwise the longest ``domains`` entry that
        is ``host`` itself or a suffix of it at a label boundary.
        """
        found = self._hosts.get(host)
        if found is not None:
            return found
        domains = self._domains
        name = host
        while True:
            found = domains.get(name)
            if found is not None:
                return found
            dot = name.find(".")
            if dot < 0:
                return None
            name = name[dot + 1 :]

    def entries(self) -> Iterator[TrackerMatch]:
        yield from self._hosts.values()
        yield from self._domains.values()

    def __len__(self) -> int:
        return len(self._hosts) + len(self._domains)


@functools.cache
def default_database() -> TrackerDatabase:
    """The repository's tracker database, loaded once per process."""
    return TrackerDatabase.load()


# ---------------------------------------------------------------------- parsing


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise SignatureError(path, None, f"cannot read: {exc.strerror or exc}") from exc


def parse_tracker_file(path: str | Path, data: bytes | str | None = None) -> list[TrackerMatch]:
    """Parse and validate one tracker file; every problem is a ``SignatureError`` naming the line.

    The YAML is *composed* (not constructed) so that every value keeps its line
    number, and validated node by node.
    """
    path = Path(path)
    if data is None:
        data = _read(path)
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise SignatureError(path, None, f"not UTF-8: {exc.reason} at byte {exc.start}") from exc
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SignatureError(path, line, f"invalid YAML: {exc.problem or exc.context}") from exc
    except yaml.YAMLError as exc:
        raise SignatureError(path, None, f"invalid YAML: {exc}") from exc
    if root is None:
        raise SignatureError(path, 1, "empty file: expected a mapping with 'organisation', 'domains', ...")
    return _FileParser(path).parse(root)


class _FileParser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.seen: dict[str, int] = {}  # name -> line, to catch a name listed twice in one file

    def error(self, node: Node, message: str) -> SignatureError:
        return SignatureError(self.path, node.start_mark.line + 1, message)

    def mapping(self, node: Node, what: str, required: tuple[str, ...], optional: tuple[str, ...]) -> dict[str, Node]:
        if not isinstance(node, MappingNode):
            raise self.error(node, f"{what} must be a mapping")
        out: dict[str, Node] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                raise self.error(key_node, f"{what}: keys must be plain names")
            key = key_node.value
            if key in out:
                raise self.error(key_node, f"{what}: key '{key}' given twice")
            if key not in required and key not in optional:
                allowed = ", ".join((*required, *optional))
                raise self.error(key_node, f"{what}: unknown key '{key}' (allowed: {allowed})")
            out[key] = value_node
        missing = [k for k in required if k not in out]
        if missing:
            raise self.error(node, f"{what}: missing {', '.join(repr(k) for k in missing)}")
        return out

    def string(self, node: Node, what: str) -> str:
        # Any scalar's text is taken as written: `country: NO` is Norway, not YAML 1.1's false.
        if (not isinstance(node, ScalarNode) or node.tag == "tag:yaml.org,2002:null"
                or (node.style is None and node.value in _PLAIN_NULLS) or not node.value.strip()):
            raise self.error(node, f"{what} must be a non-empty string")
        return str(node.value).strip()

    def sequence(self, node: Node, what: str) -> list[Node]:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.error(node, f"{what} must be a non-empty list")
        return list(node.value)

    def parse(self, root: Node) -> list[TrackerMatch]:
        top = self.mapping(root, "the file", _TOP_KEYS_REQUIRED, _TOP_KEYS_OPTIONAL)
        country = self.string(top["country"], "country")
        if not _COUNTRY_RE.match(country):
            raise self.error(top["country"], f"country must be an ISO 3166-1 alpha-2 code such as US, not {country!r}")
        website = self.url(top["website"], "website")
        sources = tuple(self.url(n, "each source") for n in self.sequence(top["sources"], "sources"))
        if "note" in top:
            self.string(top["note"], "note")
        organisation = Organisation(
            name=self.string(top["organisation"], "organisation"),
            parent=self.string(top["parent"], "parent"),
            country=country,
            website=website,
            sources=sources,
            licence=self.string(top["licence"], "licence"),
            source=str(self.path),
        )
        entries = [self.entry(n, "domain", organisation) for n in self.sequence(top["domains"], "domains")]
        if "hosts" in top:
            entries += [self.entry(n, "host", organisation) for n in self.sequence(top["hosts"], "hosts")]
        return entries

    def url(self, node: Node, what: str) -> str:
        value = self.string(node, what)
        if not _URL_RE.match(value):
            raise self.error(node, f"{what} must be an http(s) URL, not {value!r}")
        return value

    def entry(self, node: Node, kind: str, organisation: Organisation) -> TrackerMatch:
        what = f"a '{kind}s' entry"
        fields = self.mapping(node, what, (kind, "categories"), _ENTRY_KEYS_OPTIONAL)
        name = self.string(fields[kind], kind)
        if not _NAME_RE.match(name):
            raise self.error(
                fields[kind],
                f"{kind} {name!r} is not a lower-case DNS name (no scheme, port, wildcard or trailing dot; IDNs in punycode)",
            )
        line = fields[kind].start_mark.line + 1
        if name in self.seen:
            raise self.error(fields[kind], f"{name!r} is listed twice in this file (first at line {self.seen[name]})")
        self.seen[name] = line
        categories: list[str] = []
        for cat_node in self.sequence(fields["categories"], f"categories of {name}"):
            category = self.string(cat_node, "a category")
            if category not in CATEGORIES:
                raise self.error(cat_node, f"unknown category {category!r} (allowed: {', '.join(CATEGORIES)})")
            if category in categories:
                raise self.error(cat_node, f"category {category!r} given twice for {name}")
            categories.append(category)
        note = self.string(fields["note"], "note") if "note" in fields else None
        return TrackerMatch(
            organisation=organisation,
            categories=tuple(categories),
            tracker=not TRACKER_CATEGORIES.isdisjoint(categories),
            matched=name,
            kind=kind,
            note=note,
            line=line,
        )


def _check_unique(entry: TrackerMatch, hosts: dict[str, TrackerMatch], domains: dict[str, TrackerMatch]) -> None:
    # A name may be a host in one place or a domain in another, never both, and never in two files:
    # which company owns it would depend on the order the files load in.
    other = hosts.get(entry.matched) or domains.get(entry.matched)
    if other is not None:
        raise SignatureError(
            entry.source,
            entry.line,
            f"{entry.matched!r} is already listed in {other.source}:{other.line} ({other.org}); "
            "a name belongs to one company",
        )
