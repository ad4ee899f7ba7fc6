"""Tracker IDs by vendor format (scanner/detect/cookies.py, signatures/identifiers/cookie_id.yaml).

The formats of the labelled real captures: one ID wherever it travels (the GA client ID in _ga,
__utma, utmcc and cid), parsed out of structured values, only towards the vendor for generic names.
"""

from __future__ import annotations

from typing import Any

import pytest

from scanner.detect.engine import Detector

FORMATS = [
    ("utma-cookie", "cookie", "__utma", "55934708.14538266.1402376246.1420289700.1420289700.1", "www.ynet.co.il",
     ("cookie_id", "14538266.1402376246")),
    ("utmcc-nested", "query", "utmcc", "__utma=1.14538266.1402376246.1420290299.1420290299.1;+__utmz=1.1", "stats.g.doubleclick.net",
     ("cookie_id", "14538266.1402376246")),
    ("doubleclick-id", "cookie", "id", "2280eb3698010001|3626473/324890/16192|t=1", "stats.g.doubleclick.net",
     ("cookie_id", "2280eb3698010001")),
    ("google-pref-cctld", "cookie", "PREF", "ID=c77d383b37fc1415:U=ff37a1943414fe07:FF=0", "www.google.co.il",
     ("cookie_id", "c77d383b37fc1415")),
    ("google-nid", "cookie", "NID", "67=duCgQwzWQ2FuXEeneUONhF6aikpI9rLF2", "www.google.com",
     ("cookie_id", "duCgQwzWQ2FuXEeneUONhF6aikpI9rLF2")),
    ("adobe-s_vi", "cookie", "s_vi", "[CS]v1|2A53F49B0530BBA9-600003002005293E|[CE]", "www.bbc.com",
     ("cookie_id", "2A53F49B0530BBA9-600003002005293E")),
    ("adobe-vidn-anywhere", "query", "vidn", "2A53F49B0530BBA9-600003002005293E", "sa.bbc.com",
     ("cookie_id", "2A53F49B0530BBA9-600003002005293E")),
    ("ga-user-id", "body", "uid", "124067228", "www.google-analytics.com", ("user_id", "124067228")),
    ("amazon-session-id", "cookie", "session-id", "154-3103265-2932516", "alexa.amazon.com",
     ("cookie_id", "154-3103265-2932516")),
]


@pytest.mark.parametrize(("location", "key", "value", "host", "expected"), [f[1:] for f in FORMATS], ids=[f[0] for f in FORMATS])
def test_vendor_format(location: str, key: str, value: str, host: str, expected: tuple[str, str], detector: Detector,
                       events: Any) -> None:
    found = {(o.id_type, o.value) for o in detector.observe(events.at(location, key, value, host=host)).observations}
    assert expected in found


@pytest.mark.parametrize(
    ("location", "key", "value", "host"),
    [
        ("cookie", "id", "2280eb3698010001", "www.example.com"),  # DoubleClick's name only at doubleclick.net
        ("cookie", "session-id", "abc-session", "alexa.amazon.com"),  # not Amazon's browser-id format
        ("query", "vidn", "not-adobe", "sa.bbc.com"),
        ("cookie", "PREF", "ID=c77d383b37fc1415", "www.example.com"),
    ],
)
def test_not_the_vendor_format(location: str, key: str, value: str, host: str, detector: Detector, events: Any) -> None:
    found = {o.id_type for o in detector.observe(events.at(location, key, value, host=host)).observations}
    assert not found & {"cookie_id", "user_id"}


def test_one_value_under_two_keys_keeps_both(detector: Detector, events: Any) -> None:
    event = events.http(uri="/b/ss/x?vidn=2A53F49B0530BBA9-600003002005293E", host="sa.bbc.com",
                        headers=[("Cookie", "s_vi=[CS]v1|2A53F49B0530BBA9-600003002005293E|[CE]")])
    (observation,) = [o for o in detector.observe(event).observations if o.id_type == "cookie_id"]
    assert {observation.key, *observation.also_keys} == {"vidn", "s_vi"}
