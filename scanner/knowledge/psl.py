"""Host names to registrable domains (eTLD+1) with the Public Suffix List, offline.

The list is the copy that the ``publicsuffixlist`` package ships (its
``public_suffix_list.dat``); it is opened explicitly from there and never fetched
at run time, so a scan gives the same answer on an air-gapped machine and next
week.  Newer lists come with newer package versions.

Host names are first normalised the way they appear on the wire (``normalise_host``):
lower case, no trailing dot, no port (``example.com:8080``, ``[2001:db8::1]:443``),
internationalised names in punycode (``bücher.de`` -> ``xn--bcher-kva.de``), IP
literals in their canonical text form.  IP literals have no registrable domain.

Which suffixes count: ICANN *and* private.  The private section lists suffixes
under which independent customers get their own names: ``d1234.cloudfront.net``,
``my-app.appspot.com``, ``user.github.io``.  For attributing data to the party
that receives it, those customers are the parties: data sent to
``d1234.cloudfront.net`` belongs to whoever runs that distribution, not to
Amazon, so its registrable domain is ``d1234.cloudfront.net``.  An ICANN-only
reading would lump every CloudFront customer together as "cloudfront.net".

One exception: a name that is itself a private public suffix
(``s3.amazonaws.com``, or ``ec2-1-2-3-4.compute-1.amazonaws.com`` under the
``*.compute-1.amazonaws.com`` wildcard) has no registrable domain in the full
list; it names the provider's own endpoint, so it falls back to the ICANN-only
reading (``amazonaws.com``).

Names under a top-level domain the list does not know (``printer.local``,
``router.lan``, ``host.internal``, ``localhost``) have no registrable domain:
they are local names, not Internet destinations.

Results are cached (LRU): traffic repeats the same few thousand names.
"""

from __future__ import annotations

import functools
import ipaddress
from pathlib import Path

import publicsuffixlist
from publicsuffixlist import PublicSuffixList

_CACHE_SIZE = 65536


def psl_file() -> Path:
    """The Public Suffix List file bundled with the ``publicsuffixlist`` package."""
    return Path(publicsuffixlist.PSLFILE)


@functools.cache
def _psl(only_icann: bool) -> PublicSuffixList:
    # Parsing takes ~60 ms, so each reading is built once, when first needed.
    with psl_file().open("rb") as source:
        return PublicSuffixList(source, accept_unknown=False, only_icann=only_icann)


def _ip_literal(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def normalise_host(host: str) -> str | None:
    """The name as DNS carries it, or the canonical IP literal; None when nothing is left.

    ``"WWW.Example.COM.:8080"`` -> ``"www.example.com"``; ``"[2001:DB8::1]:443"`` ->
    ``"2001:db8::1"``; ``"bücher.de"`` -> ``"xn--bcher-kva.de"``.
    """
    name = host.strip()
    if name.startswith("["):  # [IPv6] or [IPv6]:port (RFC 3986 s3.2.2)
        end = name.find("]")
        return _ip_literal(name[1:end]) if end > 0 else None
    if name.count(":") == 1:  # name:port or IPv4:port; more colons is a bare IPv6 address
        name, _, port = name.partition(":")
        if port and not port.isdigit():
            return None
    elif ":" in name:
        return _ip_literal(name)
    name = name.rstrip(".").lower()
    if not name:
        return None
    literal = _ip_literal(name)
    if literal is not None:
        return literal
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            # Not a valid IDN (an over-long label, say): keep it readable rather than drop it.
            return name
    return name


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (with or without brackets and port)."""
    name = normalise_host(host)
    return name is not None and _ip_literal(name) is not None


@functools.lru_cache(maxsize=_CACHE_SIZE)
def registrable_domain(host: str) -> str | None:
    """The registrable domain (eTLD+1, private suffixes included) of ``host``; None for
    IP literals, public suffixes and names under unknown top-level domains."""
    name = normalise_host(host)
    if name is None or _ip_literal(name) is not None:
        return None
    domain = _psl(False).privatesuffix(name)
    if domain is None and _psl(False).is_public(name):
        # The name is itself a (private) public suffix: the provider's own endpoint.
        domain = _psl(True).privatesuffix(name)
    return domain


def public_suffix(host: str) -> str | None:
    """The longest public suffix (ICANN or private) of ``host``; None for IP literals and unknown TLDs."""
    name = normalise_host(host)
    if name is None or _ip_literal(name) is not None:
        return None
    return _psl(False).publicsuffix(name)


def is_public_suffix(name: str) -> bool:
    """True when ``name`` is itself a public suffix (``co.uk``, ``cloudfront.net``)."""
    normalised = normalise_host(name)
    return normalised is not None and _psl(False).is_public(normalised)
