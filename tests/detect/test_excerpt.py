"""The redacted request excerpt carried on each observation (scanner/detect/excerpt.py).

What must hold: the excerpt shows where the identifier was (the key, the request line, the
neighbouring parameters) and the value only as its preview; no identifier of the request, in
any form it was sent in, survives in it; tokens that could identify someone are masked; and
only HTTP requests get one.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any
from urllib.parse import quote

import pytest

from scanner.detect.engine import Detector
from scanner.detect.excerpt import EXCERPT_CHARS, MASK
from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.inventory import Inventory, load_inventory
from scanner.model import Evidence, FlowTuple, HttpRequest
from scanner.privacy import preview

GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IMEI = "356938035643809"
EMAIL = "emma.hartmann17@example.org"
PHONE = "491523632892"

INVENTORY = f"""\
devices:
  - id: kid-tablet-01
    minor: true
    identifiers:
      imei: ["{IMEI}"]
      gaid: ["{GAID}"]
      email: ["{EMAIL}"]
      msisdn: ["+{PHONE}"]
"""


@pytest.fixture(scope="module")
def known_detector(id_signatures: IdentifierSignatures, tmp_path_factory: pytest.TempPathFactory) -> Detector:
    path = tmp_path_factory.mktemp("inventory") / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    inventory: Inventory = load_inventory(path)
    return Detector(id_signatures, inventory)


def _raw_forms(value: str) -> set[str]:
    """Every form in which a value could be read back out of an excerpt."""
    return {
        value,
        value.lower(),
        value.upper(),
        quote(value, safe=""),
        value.replace("-", ""),
        base64.b64encode(value.encode()).decode().rstrip("="),
        hashlib.md5(value.encode()).hexdigest(),
        hashlib.sha256(value.encode()).hexdigest(),
    }


# (type, value, the text as sent)
SENT = [
    ("gaid", GAID, GAID),
    ("gaid", GAID, GAID.upper()),
    ("gaid", GAID, GAID.replace("-", "")),
    ("gaid", GAID, hashlib.md5(GAID.encode()).hexdigest()),
    ("imei", IMEI, IMEI),
    ("imei", IMEI, base64.b64encode(IMEI.encode()).decode()),
    ("email", EMAIL, EMAIL),
    ("email", EMAIL, quote(EMAIL, safe="")),
    ("email", EMAIL, quote(quote(EMAIL, safe=""), safe="")),
    ("msisdn", PHONE, "+" + PHONE),
    ("msisdn", PHONE, hashlib.sha256(PHONE.encode()).hexdigest()),
]


def _request(location: str, key: str, text: str, events: Any) -> HttpRequest:
    # A second identifier rides along in every request: it must be masked too.
    if location == "query":
        return events.http(uri=f"/v1/ad?app=com.example.kids&{key}={text}&imei={IMEI}&v=7")
    if location == "json":
        return events.http(body=json.dumps({"app": "com.example.kids", "device": {key: text, "imei": IMEI}}),
                           content_type="application/json")
    if location == "cookie":
        return events.http(headers=[("Cookie", f"lang=de; {key}={text}; imei={IMEI}")])
    if location == "header":
        return events.http(headers=[(f"X-App-{key}", text), ("X-Device", IMEI)])
    if location == "base64_json":
        blob = base64.b64encode(json.dumps({"device": {key: text, "imei": IMEI}}).encode()).decode()
        return events.http(body=f"payload={blob}", content_type="application/x-www-form-urlencoded")
    raise AssertionError(location)


@pytest.mark.parametrize("location", ["query", "json", "cookie", "header", "base64_json"])
@pytest.mark.parametrize(("id_type", "value", "text"), SENT, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(SENT)])
def test_no_value_survives_in_any_excerpt(known_detector: Detector, events: Any, location: str, id_type: str,
                                          value: str, text: str) -> None:
    event = _request(location, "uid", text, events)
    observations = known_detector.observe(event).observations
    assert any(o.id_type == id_type for o in observations), "the identifier is found (precondition)"
    forbidden = _raw_forms(value) | _raw_forms(IMEI) | {text}
    for observation in observations:
        if observation.excerpt is None:
            continue
        assert len(observation.excerpt) <= EXCERPT_CHARS + 2 + min(len(preview(observation.id_type, observation.value)), 38)
        lowered = observation.excerpt.lower()
        for form in forbidden:
            assert form.lower() not in lowered, (form, observation.excerpt)


def test_a_query_excerpt_shows_the_key_the_preview_and_the_neighbours(known_detector: Detector, events: Any) -> None:
    event = events.http(uri=f"/v1/ad?app=com.example.kids&adid={GAID}&imei={IMEI}&v=7")
    found = {o.id_type: o for o in known_detector.observe(event).observations}
    excerpt = found["gaid"].excerpt
    assert excerpt is not None
    assert f"adid={preview('gaid', GAID)}" in excerpt
    assert f"imei={preview('imei', IMEI)}" in excerpt  # the other identifier, as its own preview
    assert excerpt.startswith("GET /v1/ad?app=com.example.kids&")
    assert "Host: collector.example.com" in excerpt  # host names are words, not masked


def test_identifier_like_tokens_nobody_recognised_are_masked(detector: Detector, events: Any) -> None:
    token = "a9F3kQ7zL2mN8pR4sT6v"  # 20 characters with digits: a session token, say
    event = events.http(
        uri=f"/v1/ad?adid={GAID}&sess={token}&uid=4915236&pos=48.858412,2.294513&contact=kim@example.net&lang=de"
    )
    found = {o.id_type: o for o in detector.observe(event).observations}
    excerpt = found["gaid"].excerpt
    assert excerpt is not None
    for secret in (token, "4915236", "48.858412", "2.294513", "kim@example.net"):
        assert secret not in excerpt
    assert f"sess={MASK}" in excerpt and "lang=de" in excerpt


def test_a_long_request_is_cut_around_the_value(detector: Detector, events: Any) -> None:
    filler = "&".join(f"k{i}=v" for i in range(200))
    event = events.http(uri=f"/collect?{filler}&adid={GAID}&{filler}")
    excerpt = {o.id_type: o for o in detector.observe(event).observations}["gaid"].excerpt
    assert excerpt is not None and excerpt.startswith("…") and excerpt.endswith("…")
    assert preview("gaid", GAID) in excerpt
    assert len(excerpt) <= EXCERPT_CHARS + 2 + len(preview("gaid", GAID))


def test_only_http_requests_get_an_excerpt(detector: Detector, events: Any) -> None:
    event = events.at("name", "hostname", "Emmas-iPad")
    assert all(o.excerpt is None for o in detector.observe(event).observations)


def test_evidence_carries_the_excerpt_and_wireshark_filters() -> None:
    evidence = Evidence("a.pcap", 12, 1.0, FlowTuple("tcp", "10.0.0.7", 51514, "203.0.113.10", 80), "GET /x")
    record = evidence.to_record()
    assert record["display_filter"] == "frame.number == 12"
    assert record["flow_filter"] == "ip.addr == 10.0.0.7 && ip.addr == 203.0.113.10 && tcp.port == 51514 && tcp.port == 80"
    assert record["excerpt"] == "GET /x"
    v6 = Evidence("a.pcap", 3, 1.0, FlowTuple("udp", "2001:db8::7", 5353, "ff02::fb", 5353))
    assert v6.flow_filter.startswith("ipv6.addr == 2001:db8::7 && ipv6.addr == ff02::fb && udp.port == 5353")
    assert "excerpt" not in v6.to_record()


def test_a_long_value_does_not_make_a_long_excerpt(detector: Detector, events: Any) -> None:
    token = "tok" + "a1b2c3d4" * 60  # 483 characters under a key that says it is a user id
    event = events.http(uri=f"/collect?user_id={token}&adid={GAID}&v=7")
    for observation in detector.observe(event).observations:
        if observation.excerpt is not None:
            assert len(observation.excerpt) <= 300, observation.excerpt
            assert "a1b2c3d4a1b2" not in observation.excerpt
