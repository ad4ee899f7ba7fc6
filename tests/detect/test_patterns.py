"""Detection by shape and key name, without an inventory: a table of (where, key, value) ->
expected observations per identifier type, positive and negative rows, and the decoys of the
labelled captures (random UUIDs, 15-digit numbers failing Luhn, coarse coordinates, Unix
timestamps) that must give no observation at all.

Every row is run through ``Detector.observe`` on a synthetic event that carries the value at
that location, and must give exactly the expected set of (type, normalised value).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from scanner.detect.engine import Detector, platform_of
from scanner.detect.patterns import value_kinds

ANDROID_UA = "Dalvik/2.1.0 (Linux; U; Android 13; SM-A536B Build/TP1A.220624.014)"
IOS_UA = "MyApp/5.12.1 CFNetwork/1494.0.7 Darwin/23.4.0"

IMEI = "356938035643809"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IDFA = "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD"
IDFV = "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"
EMAIL_SHA256 = hashlib.sha256(b"emma@example.org").hexdigest()
EMAIL_MD5 = hashlib.md5(b"emma@example.org").hexdigest()
IMEI_MD5 = hashlib.md5(IMEI.encode()).hexdigest()
IMEI_SHA1 = hashlib.sha1(IMEI.encode()).hexdigest()
IMEI_SHA256 = hashlib.sha256(IMEI.encode()).hexdigest()

# (id, location, key, value, expected {(type, normalised)}, user agent)
Row = tuple[str, str, str, str, set[tuple[str, str]], str | None]

ROWS: list[Row] = [
    # ------------------------------------------------------------------ IMEI: Luhn, TAC, IMEISV
    ("imei-keyed", "query", "imei", IMEI, {("imei", IMEI)}, None),
    ("imei-dashed-as-printed", "query", "imei", "35-693803-564380-9", {("imei", IMEI)}, None),
    ("imei-spaced", "json", "imei", "35 693803 564380 9", {("imei", IMEI)}, None),
    ("imei-dashed-unkeyed", "query", "code", "35-693803-564380-9", set(), None),
    ("imei-camel-key", "json", "deviceImei", IMEI, {("imei", IMEI)}, None),
    ("imei-suffix-key", "form", "user_imei", IMEI, {("imei", IMEI)}, None),
    ("imei-header", "header", "X-IMEI", IMEI, {("imei", IMEI)}, None),
    ("imei-unkeyed-plausible-tac", "query", "q", IMEI, {("imei", IMEI)}, None),
    ("imei-luhn-fail", "query", "imei", "356938035643808", set(), None),
    ("imei-14-digits", "query", "imei", IMEI[:14], set(), None),
    ("imei-luhn-ok-no-reporting-body", "query", "order_no", "123456789012347", set(), None),
    ("imei-valid-under-negative-key", "query", "txn", "358965113482691", set(), None),
    ("imeisv-keyed", "query", "imeisv", "3569380356438091", {("imei", IMEI)}, None),
    ("imeisv-16-digits-unkeyed", "query", "q", "3569380356438091", set(), None),
    # ------------------------------------------------------------------ IMSI: MCC table, key needed
    ("imsi-de", "query", "imsi", "262013497757844", {("imsi", "262013497757844")}, None),
    ("imsi-us", "json", "subscriber_id", "310410123456789", {("imsi", "310410123456789")}, None),
    ("imsi-14-digits", "query", "imsi", "26201349775784", {("imsi", "26201349775784")}, None),
    ("imsi-no-mcc", "query", "imsi", "123456789012345", set(), None),
    ("imsi-16-digits", "query", "imsi", "2620134977578441", set(), None),
    ("imsi-without-key", "query", "txn", "262013497757844", set(), None),
    ("imsi-header", "header", "X-IMSI", "262013497757844", {("imsi", "262013497757844")}, None),
    # ------------------------------------------------------------------ MSISDN: +, 00, no +, national
    ("msisdn-plus", "query", "phone", "+491523632892", {("msisdn", "491523632892")}, None),
    ("msisdn-00", "query", "phone", "00491523632892", {("msisdn", "491523632892")}, None),
    ("msisdn-00-spaced", "json", "phone", "0049 152 3632892", {("msisdn", "491523632892")}, None),
    ("msisdn-no-plus", "query", "msisdn", "491523632892", {("msisdn", "491523632892")}, None),
    ("msisdn-national", "form", "mobile", "015236328920", {("msisdn", "015236328920")}, None),
    ("msisdn-uk-formatted", "json", "tel", "+44 20 7946 0958", {("msisdn", "442079460958")}, None),
    ("msisdn-plus-any-key", "json", "contact", "+491523632892", {("msisdn", "491523632892")}, None),
    ("msisdn-in-text", "json", "message", "call me on +49 152 3632892 tonight", {("msisdn", "491523632892")}, None),
    ("msisdn-digits-without-phone-key", "query", "order_no", "491523632892", set(), None),
    ("msisdn-too-short", "query", "phone", "12345", set(), None),
    ("msisdn-unknown-country-code", "query", "msisdn", "2899123456789", set(), None),  # 28x: no country
    ("msisdn-timestamp-ms", "query", "ts", "1710259234906", set(), None),
    # ------------------------------------------------------------------ ICCID: 89, Luhn
    ("iccid-keyed", "query", "iccid", "8949226030000000013", {("iccid", "8949226030000000013")}, None),
    ("iccid-unkeyed", "json", "data", "8949226030000000013", {("iccid", "8949226030000000013")}, None),
    ("iccid-20-digits", "query", "sim_serial", "89441000000000000018", {("iccid", "89441000000000000018")}, None),
    ("iccid-trailing-f", "query", "iccid", "8949226030000000013F", {("iccid", "8949226030000000013")}, None),
    ("iccid-luhn-fail", "query", "iccid", "8949226030000000018", set(), None),
    ("iccid-not-89", "query", "iccid", "7949226030000000016", set(), None),
    # ------------------------------------------------------------------ MAC
    ("mac-colons", "query", "wifi_mac", "a4:83:e7:49:87:5e", {("mac", "a4:83:e7:49:87:5e")}, None),
    ("mac-dashes-upper", "json", "m", "A4-83-E7-49-87-5E", {("mac", "a4:83:e7:49:87:5e")}, None),
    ("mac-cisco-dots", "query", "mac", "a483.e749.875e", {("mac", "a4:83:e7:49:87:5e")}, None),
    ("mac-bare-keyed", "query", "mac_address", "A483E749875E", {("mac", "a4:83:e7:49:87:5e")}, None),
    ("mac-bare-unkeyed", "query", "hash", "a483e749875e", set(), None),
    ("mac-broadcast", "query", "mac", "ff:ff:ff:ff:ff:ff", set(), None),
    ("mac-multicast", "query", "mac", "01:00:5e:00:00:fb", set(), None),
    ("mac-zero", "query", "mac", "00:00:00:00:00:00", set(), None),
    ("mac-randomised", "query", "mac", "da:a1:19:12:34:56", {("mac", "da:a1:19:12:34:56")}, None),
    # ------------------------------------------------------------------ advertising IDs
    ("gaid-keyed", "query", "adid", GAID, {("gaid", GAID)}, None),
    ("gaid-gps-adid", "json", "gps_adid", GAID, {("gaid", GAID)}, None),
    ("gaid-nodash", "query", "advertising_id", GAID.replace("-", ""), {("gaid", GAID)}, None),
    ("gaid-braces", "json", "rdid", "{" + GAID + "}", {("gaid", GAID)}, None),
    ("gaid-upper-from-android", "query", "adid", GAID.upper(), {("gaid", GAID)}, ANDROID_UA),
    ("gaid-upper-nodash-from-android", "header", "X-Advertising-Id", GAID.upper().replace("-", ""), {("gaid", GAID)}, ANDROID_UA),
    ("gaid-opted-out", "query", "adid", "00000000-0000-0000-0000-000000000000", set(), None),
    ("gaid-opted-out-nodash", "query", "gaid", "0" * 32, set(), None),
    ("gaid-without-key", "query", "id", GAID, set(), None),
    ("idfa-keyed", "query", "idfa", IDFA, {("idfa", IDFA)}, None),
    ("idfa-advertising-id-upper", "json", "advertising_id", IDFA, {("idfa", IDFA)}, None),
    ("idfa-lower-from-ios", "query", "idfa", IDFA.lower(), {("idfa", IDFA)}, IOS_UA),
    ("idfa-lower-nodash-from-ios", "query", "ifa", IDFA.lower().replace("-", ""), {("idfa", IDFA)}, IOS_UA),
    ("idfa-upper-under-adid-from-ios", "query", "adid", IDFA, {("idfa", IDFA)}, IOS_UA),
    ("idfa-opted-out", "query", "idfa", "00000000-0000-0000-0000-000000000000", set(), IOS_UA),
    ("idfv-keyed", "query", "idfv", IDFV, {("idfv", IDFV)}, None),
    ("idfv-vendor-id", "json", "identifierForVendor", IDFV, {("idfv", IDFV)}, IOS_UA),
    ("idfv-lower-case", "query", "idfv", IDFV.lower(), {("idfv", IDFV)}, None),
    ("idfv-nodash", "json", "vendor_id", IDFV.replace("-", ""), {("idfv", IDFV)}, None),
    ("idfv-under-nonce", "query", "nonce", IDFV, set(), None),
    # ------------------------------------------------------------------ Android ID
    ("android-id", "query", "android_id", "974283758cea2e11", {("android_id", "974283758cea2e11")}, None),
    ("android-id-upper", "json", "androidId", "974283758CEA2E11", {("android_id", "974283758cea2e11")}, None),
    ("android-id-all-digits", "query", "android_id", "9742837581234567", {("android_id", "9742837581234567")}, None),
    ("android-id-header", "header", "X-Android-Id", "974283758cea2e11", {("android_id", "974283758cea2e11")}, None),
    ("android-id-under-trace", "query", "trace", "974283758cea2e11", set(), None),
    ("android-id-zero", "query", "android_id", "0" * 16, set(), None),
    ("android-id-15-hex", "query", "android_id", "974283758cea2e1", set(), None),
    # ------------------------------------------------------------------ e-mail
    ("email-keyed", "query", "email", "emma@example.org", {("email", "emma@example.org")}, None),
    ("email-any-key-lowered", "json", "u", "Emma.Hartmann17@Example.org", {("email", "emma.hartmann17@example.org")}, None),
    ("email-in-text", "json", "note", "write to Emma <emma@example.org> please", {("email", "emma@example.org")}, None),
    ("email-sha256-under-em", "query", "em", EMAIL_SHA256, {("email", EMAIL_SHA256)}, None),
    ("email-md5-under-hashed-email", "json", "hashed_email", EMAIL_MD5, {("email", EMAIL_MD5)}, None),
    ("email-sha256-under-hash", "query", "hash", EMAIL_SHA256, set(), None),
    ("email-not-an-address", "query", "email", "not-an-address", set(), None),
    ("email-no-tld", "query", "email", "emma@localhost", set(), None),
    # ------------------------------------------------------------------ hashed identifiers under a key that names the type
    ("imei-sha256", "query", "imei", IMEI_SHA256, {("imei", IMEI_SHA256)}, None),
    ("imei-md5-suffix-key", "json", "device_imei", IMEI_MD5, {("imei", IMEI_MD5)}, None),
    ("imei-md5-digest-named-after", "query", "imei_md5", IMEI_MD5, {("imei", IMEI_MD5)}, None),
    ("imei-sha1-upper-hex", "cookie", "hwid", IMEI_SHA1.upper(), {("imei", IMEI_SHA1)}, None),
    ("imsi-md5", "form", "imsi", IMEI_MD5, {("imsi", IMEI_MD5)}, None),
    ("msisdn-sha256", "cookie", "phone_number", IMEI_SHA256, {("msisdn", IMEI_SHA256)}, None),
    ("mac-md5", "json", "wifi_mac", IMEI_MD5, {("mac", IMEI_MD5)}, None),
    ("mac-sha1-digest-named-after", "query", "mac_sha1", IMEI_SHA1, {("mac", IMEI_SHA1)}, None),
    ("android-id-sha256", "query", "android_id", IMEI_SHA256, {("android_id", IMEI_SHA256)}, None),
    ("gaid-sha1-generic-ad-key", "query", "advertising_id", IMEI_SHA1, {("gaid", IMEI_SHA1)}, None),
    ("gaid-sha256-generic-ad-key-from-ios", "header", "X-Advertising-Id", IMEI_SHA256, {("idfa", IMEI_SHA256)}, IOS_UA),
    ("idfa-sha256", "cookie", "idfa", IMEI_SHA256, {("idfa", IMEI_SHA256)}, None),
    ("idfv-sha1", "query", "idfv", IMEI_SHA1, {("idfv", IMEI_SHA1)}, None),
    ("idfa-sha1-apple-name", "json", "advertisingIdentifier", IMEI_SHA1, {("idfa", IMEI_SHA1)}, None),
    # 32 hex digits under an advertising-ID key read as an undashed UUID, not as an md5: the
    # two cannot be told apart (the GAID example above is a version-1 UUID, so no version check)
    ("ad-id-key-md5-reads-as-undashed-uuid", "query", "gaid", IMEI_MD5,
     {("gaid", f"{IMEI_MD5[:8]}-{IMEI_MD5[8:12]}-{IMEI_MD5[12:16]}-{IMEI_MD5[16:20]}-{IMEI_MD5[20:]}")}, None),
    ("hash-under-hash", "query", "hash", IMEI_SHA256, set(), None),
    ("hash-under-signature", "query", "sig", IMEI_SHA1, set(), None),
    ("hash-under-device-id", "query", "device_id", IMEI_MD5, set(), None),  # a random install id as often as not
    ("hash-under-aid", "cookie", "aid", IMEI_MD5, set(), None),
    ("hash-unkeyed", "query", "h", IMEI_SHA256, set(), None),
    ("hash-all-zeros", "query", "imei", "0" * 32, set(), None),
    ("hash-wrong-length", "query", "imei", IMEI_SHA256[:50], set(), None),
    # ------------------------------------------------------------------ serial
    ("serial", "query", "serial", "R58M12ABCDE", {("serial", "R58M12ABCDE")}, None),
    ("serial-camel", "json", "serialNumber", "F2LXK0ABHG7F", {("serial", "F2LXK0ABHG7F")}, None),
    ("serial-digits-only", "query", "serial", "394388210422607", set(), None),
    ("serial-letters-only", "query", "serial", "ABCDEFGHIJ", set(), None),
    ("serial-under-model", "query", "model", "R58M12ABCDE", set(), None),
    # ------------------------------------------------------------------ device names in requests (key says so)
    ("device-name-keyed", "json", "device_name", "Emma’s iPad", {("device_name", "Emma’s iPad")}, None),
    ("device-name-unkeyed", "json", "title", "Emma’s iPad", set(), None),
]


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row(row: Row, detector: Detector, events: Any) -> None:
    _, location, key, value, expected, user_agent = row
    event = events.at(location, key, value, user_agent=user_agent)
    found = {(o.id_type, o.value) for o in detector.observe(event).observations}
    assert found == expected


def test_every_type_has_positive_and_negative_rows() -> None:
    positive = {t for row in ROWS for t, _ in row[4]}
    assert positive >= {"imei", "imsi", "msisdn", "iccid", "mac", "gaid", "idfa", "idfv", "android_id", "email", "serial",
                        "device_name"}
    assert sum(1 for row in ROWS if not row[4]) >= 30


def test_hashed_identifiers_report_the_hash_as_their_encoding(detector: Detector, events: Any) -> None:
    for key, digest, name in (("imei", IMEI_MD5, "md5"), ("mac_address", IMEI_SHA1, "sha1"), ("msisdn", IMEI_SHA256, "sha256")):
        (observation,) = detector.observe(events.at("query", key, digest)).observations
        assert (observation.encoding, observation.source, observation.confidence) == (name, "pattern", 0.7)


def test_hashed_email_reports_the_hash_as_its_encoding(detector: Detector, events: Any) -> None:
    for key, digest, name in (("em", EMAIL_SHA256, "sha256"), ("hashed_email", EMAIL_MD5, "md5"), ("email_md5", EMAIL_MD5, "md5"),
                              ("email_sha1", hashlib.sha1(b"emma@example.org").hexdigest(), "sha1")):
        (observation,) = detector.observe(events.at("query", key, digest)).observations
        assert (observation.id_type, observation.encoding) == ("email", name)


def test_randomised_mac_is_noted(detector: Detector, events: Any) -> None:
    (random,) = detector.observe(events.at("query", "mac", "da:a1:19:12:34:56")).observations
    assert random.note == "randomised MAC"
    (real,) = detector.observe(events.at("query", "mac", "a4:83:e7:49:87:5e")).observations
    assert real.note is None


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("/v17.0/450809253801129/activities", set()),  # a Facebook app id: Luhn-valid, starts with 45
        ("/orders/358965113482691", set()),
        ("/api/imei/356938035643809/status", {("imei", IMEI)}),
        ("/device/imei/35-693803-564380-9", {("imei", IMEI)}),
        ("/users/emma@example.org/profile", {("email", "emma@example.org")}),
        ("/v1/sim/8949226030000000013", set()),
        ("/v1/iccid/8949226030000000013", {("iccid", "8949226030000000013")}),
    ],
)
def test_numbers_in_a_path_need_a_segment_that_names_them(uri: str, expected: set[tuple[str, str]], detector: Detector,
                                                          events: Any) -> None:
    assert {(o.id_type, o.value) for o in detector.observe(events.http(uri=uri)).observations} == expected


def test_observation_says_where_and_under_which_key(detector: Detector, events: Any) -> None:
    (observation,) = detector.observe(events.at("cookie", "imei", IMEI)).observations
    assert (observation.location, observation.key, observation.source, observation.owner) == ("cookie", "imei", "pattern", None)
    assert observation.confidence >= 0.9
    (unkeyed,) = detector.observe(events.at("query", "q", IMEI)).observations
    assert unkeyed.confidence < observation.confidence, "a key that names the type raises confidence"


# ---------------------------------------------------------------------- operator header enrichment

ENRICHMENT = [
    ("X-MSISDN", "491523632892", ("msisdn", "491523632892")),
    ("MSISDN", "+491523632892", ("msisdn", "491523632892")),
    ("X-UP-CALLING-LINE-ID", "+491523632892", ("msisdn", "491523632892")),
    ("X-UIDH", "OTgxNTk2NDk0ADJVquRu5NS5+rSbBANlrp+13QL7CXLGsFHpMi4LsUHw", ("uidh", "OTgxNTk2NDk0ADJVquRu5NS5+rSbBANlrp+13QL7CXLGsFHpMi4LsUHw")),
    ("X-ACR", "bWFya2V0aW5nLWlkLTAwMDAwMDE", ("uidh", "bWFya2V0aW5nLWlkLTAwMDAwMDE")),
    ("X-VF-ACR", "a1b2c3d4e5f6a7b8", ("uidh", "a1b2c3d4e5f6a7b8")),
    ("X-UP-SUBNO", "1234567890_atlas.example.net", ("uidh", "1234567890_atlas.example.net")),
    ("X-UP-3GPP-IMEISV", "3569380356438091", ("imei", IMEI)),
    ("X-IMSI", "262013497757844", ("imsi", "262013497757844")),
]


@pytest.mark.parametrize(("header", "value", "expected"), ENRICHMENT, ids=[e[0] for e in ENRICHMENT])
def test_operator_header(header: str, value: str, expected: tuple[str, str], detector: Detector, events: Any) -> None:
    (observation,) = detector.observe(events.http(headers=[(header, value)])).observations
    assert (observation.id_type, observation.value) == expected
    assert observation.operator_injected
    assert observation.location == "header_enrichment"


@pytest.mark.parametrize(("header", "value"), [("X-UIDH", "short"), ("X-MSISDN", "unknown"), ("X-IMSI", "123456789012345"),
                                               ("X-UP-3GPP-IMEISV", "12345")])
def test_operator_header_with_an_invalid_value(header: str, value: str, detector: Detector, events: Any) -> None:
    assert detector.observe(events.http(headers=[(header, value)])).observations == []


@pytest.mark.parametrize(("header", "value", "id_type"), [("X-IMEI", IMEI_MD5, "imei"), ("X-IMSI", IMEI_SHA256, "imsi"),
                                                         ("X-MSISDN", IMEI_SHA1, "msisdn")])
def test_enrichment_name_with_a_digest_is_the_apps_header(header: str, value: str, id_type: str, detector: Detector,
                                                          events: Any) -> None:
    # A network injects the number itself; a digest under the same name was put there by the app.
    (observation,) = detector.observe(events.http(headers=[(header, value)])).observations
    assert (observation.id_type, observation.value, observation.location) == (id_type, value, "header")
    assert not observation.operator_injected


def test_an_ordinary_header_is_not_enrichment(detector: Detector, events: Any) -> None:
    (observation,) = detector.observe(events.http(headers=[("X-Device-Imei", IMEI)])).observations
    assert observation.location == "header" and not observation.operator_injected


# ---------------------------------------------------------------------- tracker cookie ids

COOKIES = [
    ("ga", "cookie", "_ga", "GA1.3.14538266.1402376246", "www.example.com", ("cookie_id", "14538266.1402376246")),
    ("gid", "cookie", "_gid", "GA1.2.1987654321.1710259234", "www.example.com", ("cookie_id", "1987654321.1710259234")),
    ("fbp", "cookie", "_fbp", "fb.1.1596403881668.1116446470", "www.example.com", ("cookie_id", "fb.1.1596403881668.1116446470")),
    ("uuid2-to-adnxs", "cookie", "uuid2", "8071214953321712345", "ib.adnxs.com", ("cookie_id", "8071214953321712345")),
    ("ide-to-doubleclick", "cookie", "IDE", "AHWqTUmXyz0123456789", "googleads.g.doubleclick.net", ("cookie_id", "AHWqTUmXyz0123456789")),
    ("mixpanel-prefix", "cookie", "mp_0123abcd_mixpanel", "distinct-0123456789", "www.example.com", ("cookie_id", "distinct-0123456789")),
    ("ga-cid-parameter", "query", "cid", "14538266.1402376246", "www.google-analytics.com", ("cookie_id", "14538266.1402376246")),
    ("ga-cid-with-version", "query", "cid", "GA1.3.14538266.1402376246", "www.google-analytics.com", ("cookie_id", "14538266.1402376246")),
]


@pytest.mark.parametrize(("location", "key", "value", "host", "expected"), [c[1:] for c in COOKIES], ids=[c[0] for c in COOKIES])
def test_tracker_cookie(location: str, key: str, value: str, host: str, expected: tuple[str, str], detector: Detector, events: Any) -> None:
    found = {(o.id_type, o.value) for o in detector.observe(events.at(location, key, value, host=host)).observations}
    assert found == {expected}


@pytest.mark.parametrize(
    ("location", "key", "value", "host"),
    [
        ("cookie", "uuid2", "8071214953321712345", "www.example.com"),  # generic name, not towards adnxs.com
        ("cookie", "uuid", "0123456789abcdefgh", "www.example.com"),  # MediaMath's name only towards mathtag.com
        ("cookie", "IDE", "AHWqTUmXyz0123456789", "www.example.com"),
        ("cookie", "i", "0123456789abcdef01", "www.example.com"),
        ("query", "cid", "14538266.1402376246", "www.example.com"),  # cid is GA's only towards GA
        ("cookie", "sessionid", "abcdef0123456789", "www.example.com"),
        ("cookie", "_ga", "GA1.3", "www.example.com"),  # nothing left once the version is stripped
    ],
)
def test_not_a_tracker_cookie(location: str, key: str, value: str, host: str, detector: Detector, events: Any) -> None:
    found = {o.id_type for o in detector.observe(events.at(location, key, value, host=host)).observations}
    assert "cookie_id" not in found


# ---------------------------------------------------------------------- device names on the network

NAMES = [
    ("Emma’s iPad", "hostname", True),
    ("Emmas-iPad", "hostname", True),
    ("Lucas-iPhone", "hostname", True),
    ("iPad-von-Mia", "hostname", True),
    ("Noahs-Tab-A8", "hostname", True),
    ("DESKTOP-2AEFM7G", "hostname", False),
    ("iPhone 15 Pro Max", "mdns", False),
    ("Nest-Hub-Max", "hostname", False),
    ("Max-iPhone", "hostname", True),
    ("android-1c1335ec95a27318", "hostname", False),
    ("Galaxy-A54", "hostname", False),
    ("Pixel-6a", "hostname", False),
    ("Living Room TV", "mdns", False),
]


@pytest.mark.parametrize(("name", "via", "personal"), NAMES, ids=[n[0] for n in NAMES])
def test_device_name_on_the_network(name: str, via: str, personal: bool, detector: Detector, events: Any) -> None:
    observations = detector.observe(events.at("name", via, name)).observations
    if personal:
        (observation,) = observations
        assert (observation.id_type, observation.value, observation.location) == ("device_name", name, "name")
        assert observation.note == "contains a personal name"
    else:
        assert observations == []


def test_mdns_local_suffix_is_not_part_of_the_name(detector: Detector, events: Any) -> None:
    (observation,) = detector.observe(events.at("name", "mdns", "Lucas-iPhone.local")).observations
    assert observation.value == "Lucas-iPhone"


def test_names_on_the_wire_are_not_searched_by_shape(detector: Detector, events: Any) -> None:
    from scanner.model import DnsMessage, FlowTuple, TlsClientHello

    flow = FlowTuple("udp", "10.20.0.7", 5353, "10.20.0.1", 53)
    dns = DnsMessage(ts=0.0, capture="c", frame=1, flow=flow, query=f"{IMEI}.example.com", qtype="A")
    tls = TlsClientHello(ts=0.0, capture="c", frame=1, flow=flow, sni=f"{GAID}.example.com")
    assert detector.observe(dns).observations == []
    assert detector.observe(tls).observations == []


# ---------------------------------------------------------------------- decoys

DECOY_UUID = "1b0c2594-121f-49a2-bdd2-5c8634192c28"
DECOYS = [
    *(("random_uuid", key, DECOY_UUID) for key in ("trace", "session_id", "request_id", "event_id", "nonce")),
    *(("random_uuid_upper", key, DECOY_UUID.upper()) for key in ("trace", "request_id")),
    *(("luhn_fail_15digit", key, value) for key in ("txn", "serial", "order_no", "ref")
      for value in ("394388210422607", "352099001761480")),
    ("luhn_fail_15digit", "id", "394388210422607"),
    ("coarse_latlon", "region_lat", "53.6"),
    ("coarse_latlon", "region_lat", "53.55"),
    *(("timestamp_s", key, "1710259234") for key in ("ts", "time", "created", "client_time", "t")),
    *(("timestamp_ms", key, "1710259234906") for key in ("ts", "time", "created", "client_time", "t")),
    ("timestamp_ms", "x", "1710259234906"),
]


@pytest.mark.parametrize("location", ["query", "json", "form"])
@pytest.mark.parametrize(("kind", "key", "value"), DECOYS, ids=[f"{d[0]}-{d[1]}-{d[2][:6]}" for d in DECOYS])
def test_decoy_gives_no_observation(kind: str, key: str, value: str, location: str, detector: Detector, events: Any) -> None:
    assert detector.observe(events.at(location, key, value)).observations == []


def test_decoys_together_in_one_request_give_nothing(detector: Detector, events: Any) -> None:
    body = json.dumps({"trace": DECOY_UUID, "txn": "394388210422607", "region_lat": "53.6", "region_lon": "10.0",
                       "ts": 1710259234, "client_time": 1710259234906, "nonce": DECOY_UUID})
    assert detector.observe(events.http(body=body, content_type="application/json")).observations == []
    query = f"/e?trace={DECOY_UUID}&txn=394388210422607&region_lat=53.6&region_lon=10.0&t=1710259234&created=1710259234906"
    assert detector.observe(events.http(uri=query)).observations == []


# ---------------------------------------------------------------------- platform and child-directed flags

@pytest.mark.parametrize(
    ("agent", "platform"),
    [
        (ANDROID_UA, "android"),
        ("okhttp/4.12.0", "android"),
        ("com.example.game/3.1 (Linux; Android 14)", "android"),
        (IOS_UA, "ios"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15", "ios"),
        ("FBAndroidSDK/16.0 CFNetwork/1494.0.7 Darwin/23.4.0", "ios"),
        ("curl/8.5.0", None),
        (None, None),
    ],
)
def test_platform_from_user_agent(agent: str | None, platform: str | None, events: Any) -> None:
    assert platform_of(events.http(user_agent=agent)) == platform


@pytest.mark.parametrize(
    ("query", "flag"),
    [
        ("tag_for_child_directed_treatment=1", True),
        ("tfcd=1", True),
        ("coppa=true", True),
        ("regs.coppa=1", True),
        ("tfua=1", True),
        ("coppa=0", False),
        ("tfcd=0&coppa=1", True),
        ("q=1", False),
    ],
)
def test_child_directed_flag(query: str, flag: bool, detector: Detector, events: Any) -> None:
    assert detector.observe(events.http(uri=f"/ads?adid={GAID}&{query}")).child_directed is flag


def test_child_directed_flag_in_json(detector: Detector, events: Any) -> None:
    body = json.dumps({"regs": {"coppa": 1}, "device": {"ifa": GAID}})
    assert detector.observe(events.http(body=body, content_type="application/json")).child_directed is True


def test_child_directed_is_none_for_what_is_not_http(detector: Detector, events: Any) -> None:
    assert detector.observe(events.at("name", "hostname", "Lucas-iPhone")).child_directed is None


# ---------------------------------------------------------------------- value kinds (the dispatch table)

@pytest.mark.parametrize(
    ("value", "kinds"),
    [
        ("356938035643809", ("digits",)),
        ("9742837581234567", ("digits", "hex")),
        ("+491523632892", ("phone",)),
        ("0049 152 3632892", ("phone",)),
        ("emma@example.org", ("email",)),
        (GAID, ("uuid",)),
        ("{" + GAID + "}", ("uuid",)),
        ("974283758cea2e11", ("hex",)),
        ("a4:83:e7:49:87:5e", ("mac",)),
        ("a483.e749.875e", ("mac",)),
        ("R58M12ABCDE", ("text",)),
    ],
)
def test_value_kinds(value: str, kinds: tuple[str, ...]) -> None:
    assert value_kinds(value) == kinds
