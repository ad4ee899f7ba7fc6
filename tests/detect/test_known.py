"""Known values: every identifier the inventory lists, found in every encoded form the labelled
truth conventions list (plain, url, url2, upper, nodash, upper_nodash, md5/sha1/sha256 of the
normalised form, base64, hex, e164_noplus, national), wherever it travels (query, JSON, form,
cookie, header, User-Agent, base64-wrapped JSON), with the owning device and a label that says
which encoding was seen.  A value that is part of a longer run is not that value.  And the
search stays one pass over a field however many devices there are.
"""

from __future__ import annotations

import base64
import hashlib
import json
import random
import time
import uuid
from typing import Any
from urllib.parse import quote

import pytest

from scanner.detect.engine import Detector
from scanner.detect.known import KnownValues, forms_of
from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.inventory import Device, Inventory, load_inventory
from scanner.knowledge.validators import luhn_digit
from scanner.model import HttpRequest

INVENTORY = """\
devices:
  - id: kid-tablet-01
    minor: true
    identifiers:
      imei: ["356938035643809"]
      imsi: ["262013497757844"]
      msisdn: ["+491523632892"]
      gaid: ["38400000-8cf0-11bd-b23e-10b96e40000d"]
      android_id: ["974283758cea2e11"]
      email: ["Emma.Hartmann17@example.org"]
      mac: ["3c:22:fb:11:22:33"]
      iccid: ["8949226030000000013"]
      serial: ["R58M12ABCDE"]
  - id: kid-ipad-02
    age: 9
    identifiers:
      idfa: ["59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD"]
      idfv: ["E621E1F8-C36C-495A-93FC-0C247A3E6E5F"]
      msisdn: ["+12025550143"]
  - id: parent-phone
    minor: false
    identifiers:
      gaid: ["6f1c3a5e-2b7d-4e8f-9a0b-1c2d3e4f5a6b"]
"""



def _h(name: str, text: str) -> str:
    return hashlib.new(name, text.encode()).hexdigest()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def _url(text: str) -> str:
    return quote(text, safe="")


EMAIL = "emma.hartmann17@example.org"  # normalised: lower case
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IDFA = "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD"
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
MAC = "3c:22:fb:11:22:33"
IMEI = "356938035643809"
PHONE = "491523632892"

OWNER = {IDFA: "kid-ipad-02", IDFV: "kid-ipad-02", "12025550143": "kid-ipad-02"}

# (type, normalised value, encoding label, text as sent)
ENCODINGS: list[tuple[str, str, str, str]] = [
    ("imei", IMEI, "plain", IMEI),
    ("imei", IMEI, "md5", _h("md5", IMEI)),
    ("imei", IMEI, "sha1", _h("sha1", IMEI)),
    ("imei", IMEI, "sha256", _h("sha256", IMEI)),
    ("imei", IMEI, "base64", _b64(IMEI)),
    ("imei", IMEI, "hex", IMEI.encode().hex()),
    ("imsi", "262013497757844", "plain", "262013497757844"),
    ("imsi", "262013497757844", "md5", _h("md5", "262013497757844")),
    ("imsi", "262013497757844", "base64", _b64("262013497757844")),
    ("msisdn", PHONE, "plain", "+" + PHONE),
    ("msisdn", PHONE, "url", _url("+" + PHONE)),
    ("msisdn", PHONE, "url2", _url(_url("+" + PHONE))),
    ("msisdn", PHONE, "e164_noplus", PHONE),
    ("msisdn", PHONE, "international", "00" + PHONE),
    ("msisdn", PHONE, "national", "01523632892"),
    ("msisdn", PHONE, "md5", _h("md5", PHONE)),  # hashes of the digits
    ("msisdn", PHONE, "sha1", _h("sha1", PHONE)),
    ("msisdn", PHONE, "sha256", _h("sha256", PHONE)),
    ("msisdn", PHONE, "base64", _b64("+" + PHONE)),
    ("msisdn", "12025550143", "national", "2025550143"),  # NANP: the national number has no trunk 0
    ("email", EMAIL, "plain", EMAIL),
    ("email", EMAIL, "plain", "Emma.Hartmann17@example.org"),  # as the inventory lists it
    ("email", EMAIL, "upper", EMAIL.upper()),
    ("email", EMAIL, "url", _url(EMAIL)),
    ("email", EMAIL, "url2", _url(_url(EMAIL))),
    ("email", EMAIL, "md5", _h("md5", EMAIL)),  # hashes of the lower-case address
    ("email", EMAIL, "sha1", _h("sha1", EMAIL)),
    ("email", EMAIL, "sha256", _h("sha256", EMAIL)),
    ("email", EMAIL, "base64", _b64(EMAIL)),
    ("email", EMAIL, "hex", EMAIL.encode().hex()),
    ("gaid", GAID, "plain", GAID),
    ("gaid", GAID, "upper", GAID.upper()),
    ("gaid", GAID, "nodash", GAID.replace("-", "")),
    ("gaid", GAID, "upper_nodash", GAID.replace("-", "").upper()),
    ("gaid", GAID, "md5", _h("md5", GAID)),  # hashes of the lower-case GAID
    ("gaid", GAID, "sha1", _h("sha1", GAID)),
    ("gaid", GAID, "sha256", _h("sha256", GAID)),
    ("gaid", GAID, "base64", _b64(GAID)),
    ("idfa", IDFA, "plain", IDFA),
    ("idfa", IDFA, "lower", IDFA.lower()),
    ("idfa", IDFA, "nodash", IDFA.replace("-", "")),
    ("idfa", IDFA, "lower_nodash", IDFA.replace("-", "").lower()),
    ("idfa", IDFA, "md5", _h("md5", IDFA)),  # hashes of the upper-case IDFA
    ("idfa", IDFA, "sha256", _h("sha256", IDFA)),
    ("idfa", IDFA, "base64", _b64(IDFA)),
    ("idfv", IDFV, "plain", IDFV),
    ("idfv", IDFV, "lower", IDFV.lower()),
    ("idfv", IDFV, "nodash", IDFV.replace("-", "")),
    ("mac", MAC, "plain", MAC),
    ("mac", MAC, "upper", MAC.upper()),
    ("mac", MAC, "dash", MAC.replace(":", "-")),
    ("mac", MAC, "nodash", MAC.replace(":", "")),
    ("mac", MAC, "upper_nodash", MAC.replace(":", "").upper()),
    ("mac", MAC, "dotted", "3c22.fb11.2233"),
    ("mac", MAC, "md5", _h("md5", MAC)),  # hashes of the lower-case MAC
    ("mac", MAC, "sha1", _h("sha1", MAC)),
    ("mac", MAC, "sha256", _h("sha256", MAC)),
    ("android_id", "974283758cea2e11", "plain", "974283758cea2e11"),
    ("android_id", "974283758cea2e11", "upper", "974283758CEA2E11"),
    ("android_id", "974283758cea2e11", "sha256", _h("sha256", "974283758cea2e11")),
    ("iccid", "8949226030000000013", "plain", "8949226030000000013"),
    ("serial", "R58M12ABCDE", "plain", "R58M12ABCDE"),
    ("serial", "R58M12ABCDE", "base64", _b64("R58M12ABCDE")),
]

LOCATIONS = ("query", "json", "form", "cookie", "header", "user_agent", "base64_json")


def _request(location: str, key: str, text: str, events: Any) -> HttpRequest:
    """``text`` as sent, at ``location`` (no further escaping: the text is what is on the wire)."""
    if location == "query":
        return events.http(uri=f"/v1/collect?app=com.example.kids&{key}={text}&v=7")
    if location == "json":
        return events.http(body=json.dumps({"app": "com.example.kids", "device": {key: text}}), content_type="application/json")
    if location == "form":
        return events.http(body=f"app=com.example.kids&{key}={text}", content_type="application/x-www-form-urlencoded")
    if location == "cookie":
        return events.http(headers=[("Cookie", f"lang=de; {key}={text}; theme=dark")])
    if location == "header":
        return events.http(headers=[(f"X-App-{key}", text)])
    if location == "user_agent":
        return events.http(user_agent=f"KidsGame/3.1 (Linux; Android 13; {key} {text}) okhttp/4.12.0")
    if location == "base64_json":
        blob = base64.b64encode(json.dumps({"device": {key: text}, "ts": 1710259234}).encode()).decode()
        return events.http(body=f"payload={blob}", content_type="application/x-www-form-urlencoded")
    raise AssertionError(location)


# Where each location leaves the identifier (the report's channel.location).
WHERE = {"query": "query", "json": "body", "form": "body", "cookie": "cookie", "header": "header",
         "user_agent": "user_agent", "base64_json": "body"}


@pytest.fixture(scope="module")
def inventory(tmp_path_factory: pytest.TempPathFactory) -> Inventory:
    path = tmp_path_factory.mktemp("inventory") / "inventory.yaml"
    path.write_text(INVENTORY, encoding="utf-8")
    return load_inventory(path)


@pytest.fixture(scope="module")
def known_detector(id_signatures: IdentifierSignatures, inventory: Inventory) -> Detector:
    return Detector(id_signatures, inventory)


@pytest.mark.parametrize("location", LOCATIONS)
@pytest.mark.parametrize(("id_type", "value", "encoding", "text"), ENCODINGS,
                         ids=[f"{e[0]}-{e[2]}-{i}" for i, e in enumerate(ENCODINGS)])
def test_known_value_in_every_form(id_type: str, value: str, encoding: str, text: str, location: str,
                                   known_detector: Detector, events: Any) -> None:
    key = "uid"  # a key that says nothing: the inventory knows the value
    observations = known_detector.observe(_request(location, key, text, events)).observations
    assert len(observations) == 1, [(o.id_type, o.encoding, o.owner) for o in observations]
    (observation,) = observations
    assert (observation.id_type, observation.value) == (id_type, value)
    assert observation.owner == OWNER.get(value, "kid-tablet-01")
    assert (observation.source, observation.confidence) == ("known", 1.0)
    expected = encoding if location != "base64_json" else ("base64" if encoding == "plain" else f"base64+{encoding}")
    assert observation.encoding == expected
    assert observation.location == WHERE[location]


def test_every_encoding_of_the_truth_conventions_is_in_the_table() -> None:
    listed = {e[2] for e in ENCODINGS}
    conventions = {"plain", "url", "url2", "upper", "nodash", "upper_nodash", "md5", "sha1", "sha256", "base64", "hex",
                   "e164_noplus", "national"}
    assert conventions <= listed


def test_known_beats_shape_and_says_whose(known_detector: Detector, events: Any) -> None:
    # The same GAID under a key that says so: still one observation, the known one.
    (observation,) = known_detector.observe(events.http(uri=f"/a?adid={GAID}")).observations
    assert (observation.source, observation.owner, observation.key) == ("known", "kid-tablet-01", "adid")


def test_two_devices_values_in_one_request(known_detector: Detector, events: Any) -> None:
    event = events.http(uri=f"/a?adid={GAID}&idfa={IDFA}&other=6f1c3a5e-2b7d-4e8f-9a0b-1c2d3e4f5a6b")
    owners = {(o.id_type, o.owner) for o in known_detector.observe(event).observations}
    assert owners == {("gaid", "kid-tablet-01"), ("idfa", "kid-ipad-02"), ("gaid", "parent-phone")}


def test_a_value_under_several_keys_is_one_observation(known_detector: Detector, events: Any) -> None:
    event = events.http(uri=f"/a?imei={IMEI}&hwid={IMEI}", headers=[("X-IMEI", IMEI)])
    assert len(known_detector.observe(event).observations) == 1


def test_operator_header_with_a_known_value_is_injected(known_detector: Detector, events: Any) -> None:
    (observation,) = known_detector.observe(events.http(headers=[("X-MSISDN", PHONE)])).observations
    assert (observation.id_type, observation.owner, observation.location) == ("msisdn", "kid-tablet-01", "header_enrichment")
    assert observation.operator_injected and observation.encoding == "e164_noplus"


def test_known_digest_under_an_enrichment_name_is_not_injected(known_detector: Detector, events: Any) -> None:
    (observation,) = known_detector.observe(events.http(headers=[("X-IMSI", _h("md5", "262013497757844"))])).observations
    assert (observation.id_type, observation.owner, observation.encoding) == ("imsi", "kid-tablet-01", "md5")
    assert observation.location == "header" and not observation.operator_injected


# ---------------------------------------------------------------------- boundaries

@pytest.mark.parametrize(
    "text",
    [
        "1" + IMEI,  # a longer number that contains the IMEI
        IMEI + "7",
        "98" + IMEI + "12",
        "x" + GAID.replace("-", "") + "a",  # a longer hex run
        GAID.replace("-", "") + "0",
        "a" + _h("md5", EMAIL),
        PHONE + "5",  # a longer number ending in the phone's digits
        "3" + PHONE,
        "0" + "262013497757844",
    ],
)
def test_value_inside_a_longer_run_is_not_matched(text: str, known_detector: Detector, events: Any) -> None:
    for location in ("query", "json", "header"):
        observations = known_detector.observe(_request(location, "n", text, events)).observations
        assert [o for o in observations if o.owner is not None] == [], (location, text)


@pytest.mark.parametrize(
    "text",
    [
        f"imei:{IMEI};",
        f"[{IMEI}]",
        f"id={GAID}&x=1",
        f"{EMAIL},other@example.net",
        f"tel:+{PHONE}",
    ],
)
def test_value_between_separators_is_matched(text: str, known_detector: Detector, events: Any) -> None:
    observations = known_detector.observe(_request("json", "blob", text, events)).observations
    assert any(o.owner == "kid-tablet-01" for o in observations)


def test_email_inside_a_longer_address_is_not_the_known_one(known_detector: Detector, events: Any) -> None:
    observations = known_detector.observe(events.http(uri="/a?e=xemma.hartmann17@example.org")).observations
    assert all(o.owner is None for o in observations)


def test_hash_forms_cover_value_and_normalised_form() -> None:
    forms = {(form, encoding) for form, encoding, _ in forms_of("email", "Emma.Hartmann17@example.org")}
    assert (_h("sha256", EMAIL), "sha256") in forms
    assert (_h("sha256", "Emma.Hartmann17@example.org"), "sha256") in forms
    phone_forms = {(form, encoding) for form, encoding, _ in forms_of("msisdn", "+491523632892")}
    assert (_h("md5", PHONE), "md5") in phone_forms and (_h("md5", "+" + PHONE), "md5") in phone_forms


# ---------------------------------------------------------------------- one pass, whatever the inventory size

def _fleet(count: int) -> Inventory:
    rng = random.Random(20240501)
    devices = []
    for i in range(count):
        imei14 = "35" + "".join(rng.choice("0123456789") for _ in range(12))
        devices.append(
            Device(
                id=f"dev-{i:03d}",
                minor=i % 2 == 0,
                identifiers={
                    "imei": (imei14 + luhn_digit(imei14),),
                    "imsi": ("26201" + "".join(rng.choice("0123456789") for _ in range(10)),),
                    "msisdn": ("+49151" + "".join(rng.choice("0123456789") for _ in range(8)),),
                    "gaid": (str(uuid.UUID(int=rng.getrandbits(128), version=4)),),
                    "email": (f"child{i}@example.org",),
                    "mac": ("3c:22:fb:{:02x}:{:02x}:{:02x}".format(*(rng.randrange(256) for _ in range(3))),),
                    "android_id": (f"{rng.getrandbits(64):016x}",),
                },
            )
        )
    return Inventory(tuple(devices))


def test_five_hundred_devices_search_a_field_in_one_pass() -> None:
    fleet = _fleet(500)
    known = KnownValues(fleet)
    assert known.patterns > 500 * 7 * 10, "every form of every value is a pattern of one automaton"
    target = fleet.devices[321]
    field = ("/v1/events?app=com.example.game&sdk=7.2.1&os=android&osv=13&model=SM-A536B&lang=de&tz=Europe%2FBerlin"
             "&session=1b0c2594-121f-49a2-bdd2-5c8634192c28&ts=1710259234906&adid=" + target.identifiers["gaid"][0])
    (match,) = known.find(field)
    assert (match.form.owner, match.form.id_type) == ("dev-321", "gaid")
    one = KnownValues(_fleet(1))

    def clock(values: KnownValues) -> float:
        start = time.perf_counter()
        for _ in range(10_000):
            values.find(field)
        return time.perf_counter() - start

    many, single = min(clock(known) for _ in range(3)), min(clock(one) for _ in range(3))
    print(f"10k finds: 500 devices {many:.3f} s, 1 device {single:.3f} s, {known.patterns} patterns")
    # Generous bounds: a loop over the values would take ~500 times as long as one device.
    assert many < 2.0
    assert many < 10 * single + 0.2
