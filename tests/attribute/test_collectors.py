"""Analytics collectors by URL path (scanner/attribute/collectors.py)."""

from __future__ import annotations

import pytest

from scanner.attribute.collectors import Collectors
from scanner.datafiles import default_signatures_root
from scanner.model import Destination

COLLECTORS = Collectors.load(default_signatures_root())
SITE = Destination("sa.bbc.com", "66.235.139.206", 80, "bbc.com", "bbc.com", None, False, "first", "http_host")
TRACKER = Destination("www.google-analytics.com", "1.2.3.4", 80, "google-analytics.com", "Google", "analytics", True, "third",
                      "http_host")


@pytest.mark.parametrize(
    ("uri", "org"),
    [
        ("/b/ss/bbcwglobalprod/1/H.22.1/s29415039932756?AQB=1&ndh=1", "Adobe"),
        ("/collect?v=1&tid=UA-1-1&cid=1.2", "Google"),
        ("/b?c1=2&c2=6035051&ns__t=1", "comScore"),
        ("/matomo.php?idsite=3&rec=1", "Matomo"),
        ("http://sa.bbc.com/b/ss/x/1/H.22.1/s1", "Adobe"),
        ("/collect?page=contact", None),  # the site's own /collect page: no measurement id
        ("/bss/", None),
        ("/news/b/ss/", None),
    ],
)
def test_collector_by_path(uri: str, org: str | None) -> None:
    destination = COLLECTORS.describe(SITE, uri)
    if org is None:
        assert destination == SITE
    else:
        assert (destination.host, destination.org, destination.tracker, destination.party) == ("sa.bbc.com", org, True, "third")


def test_a_listed_tracker_keeps_its_entry() -> None:
    assert COLLECTORS.describe(TRACKER, "/b/ss/x/1") == TRACKER
