"""Registrable domains with the bundled Public Suffix List: a table of names as they
appear in traffic -> (normalised host, registrable domain)."""

from __future__ import annotations

import pytest

from scanner.knowledge import psl
from scanner.knowledge.psl import is_ip_literal, normalise_host, public_suffix, registrable_domain

CASES = [
    # as seen in traffic, normalised host, registrable domain
    ("www.example.com", "www.example.com", "example.com"),
    ("example.com", "example.com", "example.com"),
    ("a.b.c.kinderspiele-welt.de", "a.b.c.kinderspiele-welt.de", "kinderspiele-welt.de"),
    ("www.bbc.co.uk", "www.bbc.co.uk", "bbc.co.uk"),
    ("WWW.Example.COM", "www.example.com", "example.com"),  # upper case
    ("www.example.com.", "www.example.com", "example.com"),  # trailing dot (FQDN)
    ("example.com:8080", "example.com", "example.com"),  # Host header with a port
    ("Example.com.:443", "example.com", "example.com"),
    ("bücher.de", "xn--bcher-kva.de", "xn--bcher-kva.de"),  # IDN to punycode
    ("www.XN--BCHER-KVA.de", "www.xn--bcher-kva.de", "xn--bcher-kva.de"),
    ("shop.例え.jp", "shop.xn--r8jz45g.jp", "xn--r8jz45g.jp"),
    # private suffixes: the customer is the party
    ("d1234abcd.cloudfront.net", "d1234abcd.cloudfront.net", "d1234abcd.cloudfront.net"),
    ("my-app.appspot.com", "my-app.appspot.com", "my-app.appspot.com"),
    ("user.github.io", "user.github.io", "user.github.io"),
    ("firebaselogging-pa.googleapis.com", "firebaselogging-pa.googleapis.com", "firebaselogging-pa.googleapis.com"),
    # a name that is itself a private suffix is the provider's own endpoint
    ("s3.amazonaws.com", "s3.amazonaws.com", "amazonaws.com"),
    ("ec2-1-2-3-4.compute-1.amazonaws.com", "ec2-1-2-3-4.compute-1.amazonaws.com", "amazonaws.com"),
    ("cloudfront.net", "cloudfront.net", "cloudfront.net"),
    # no registrable domain
    ("co.uk", "co.uk", None),
    ("com", "com", None),
    ("localhost", "localhost", None),
    ("printer.local", "printer.local", None),
    ("nas.lan", "nas.lan", None),
    # IP literals
    ("192.0.2.7", "192.0.2.7", None),
    ("192.0.2.7:80", "192.0.2.7", None),
    ("2001:DB8::1", "2001:db8::1", None),
    ("[2001:db8:0:0::1]:443", "2001:db8::1", None),
    ("[2001:db8::1]", "2001:db8::1", None),
    # nothing left
    ("", None, None),
    (".", None, None),
    ("example.com:http", None, None),
]


@pytest.mark.parametrize(("seen", "host", "domain"), CASES, ids=[c[0] or "empty" for c in CASES])
def test_registrable_domain(seen: str, host: str | None, domain: str | None) -> None:
    assert normalise_host(seen) == host
    assert registrable_domain(seen) == domain


def test_ip_literals() -> None:
    assert is_ip_literal("10.0.0.1") and is_ip_literal("[::1]:53") and is_ip_literal("fe80::1%eth0")
    assert not is_ip_literal("example.com") and not is_ip_literal("1.2.3.4.example.com")
    assert public_suffix("10.0.0.1") is None


def test_public_suffix() -> None:
    assert public_suffix("www.bbc.co.uk") == "co.uk"
    assert public_suffix("d1.cloudfront.net") == "cloudfront.net"
    assert public_suffix("printer.local") is None
    assert psl.is_public_suffix("googleapis.com") and not psl.is_public_suffix("google.com")


def test_list_is_the_bundled_file() -> None:
    # Never fetched: the file comes with the package, so results do not change under a scan.
    path = psl.psl_file()
    assert path.is_file() and path.name == "public_suffix_list.dat"
    assert "===BEGIN PRIVATE DOMAINS===" in path.read_text(encoding="utf-8")


def test_results_are_cached() -> None:
    registrable_domain.cache_clear()
    registrable_domain("www.example.org")
    registrable_domain("www.example.org")
    assert registrable_domain.cache_info().hits >= 1
