"""Precise location: lat/lon pairs in every shape apps send them, with enough decimals to find
a street (3 or more), never coarse ones, never (0, 0); near a place the inventory lists, the
device that lives there."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest

from scanner.detect.engine import Detector
from scanner.detect.geo import KNOWN_RADIUS_M, distance_m, normalise
from scanner.detect.signatures import IdentifierSignatures
from scanner.knowledge.inventory import Device, Inventory

JSON = "application/json"

# (id, uri, json body or None, expected {(value, encoding)})
Row = tuple[str, str, object, set[tuple[str, str]]]

ROWS: list[Row] = [
    ("separate-keys-query", "/x?lat=52.520008&lon=13.404954", None, {("52.5200,13.4050", "decimal_6")}),
    ("latitude-longitude", "/x?latitude=-33.868820&longitude=151.209296", None, {("-33.8688,151.2093", "decimal_6")}),
    ("lat-lng-json-numbers", "/x", {"lat": 52.520008, "lng": 13.404954}, {("52.5200,13.4050", "decimal_6")}),
    ("json-strings", "/x", {"geo": {"lat": "52.52001", "lon": "13.40496"}}, {("52.5200,13.4050", "decimal_5")}),
    ("trailing-zeros-kept", "/x", '{"lat": 52.540000, "lon": 13.400000}', {("52.5400,13.4000", "decimal_6")}),
    ("three-decimals", "/x?lat=52.520&lon=13.405", None, {("52.5200,13.4050", "decimal_3")}),
    ("one-string", "/x?ll=48.858400,2.294500", None, {("48.8584,2.2945", "decimal_6")}),
    ("geo-uri", "/x?geo=geo:52.520008,13.404954", None, {("52.5200,13.4050", "decimal_6")}),
    ("string-unlabelled-4-decimals", "/x?foo=52.520008,13.404954", None, {("52.5200,13.4050", "decimal_6")}),
    ("json-array", "/x", {"device": {"loc": [52.520008, 13.404954]}}, {("52.5200,13.4050", "decimal_6")}),
    ("json-array-5", "/x", '{"loc": [52.46951, 13.36100]}', {("52.4695,13.3610", "decimal_5")}),
    ("geojson-point-lon-first", "/x", {"geometry": {"type": "Point", "coordinates": [13.404954, 52.520008]}},
     {("52.5200,13.4050", "decimal_6")}),
    ("geojson-point-with-altitude", "/x", {"type": "Point", "coordinates": [13.404954, 52.520008, 34.0]},
     {("52.5200,13.4050", "decimal_6")}),
    ("lon-first-when-it-cannot-be-a-latitude", "/x", {"coords": [139.691706, 35.689487]}, {("35.6895,139.6917", "decimal_6")}),
    ("region-lat-beside-precise", "/x?region_lat=53.6&region_lon=10.0&lat=52.520008&lon=13.404954", None,
     {("52.5200,13.4050", "decimal_6")}),
    # negatives
    ("coarse-2-decimals", "/x?lat=52.52&lon=13.40", None, set()),
    ("coarse-1-decimal", "/x?ll=48.8,2.2", None, set()),
    ("one-side-coarse", "/x?lat=52.520&lon=13.40", None, set()),
    ("region-lat-alone", "/x?region_lat=53.6", None, set()),
    ("region-lat-lon-coarse", "/x", {"region_lat": 53.6, "region_lon": 10.0}, set()),
    ("null-island", "/x?ll=0.000000,0.000000", None, set()),
    ("null-island-keys", "/x?lat=0.000&lon=0.000", None, set()),
    ("out-of-range", "/x?ll=123.456789,200.123456", None, set()),
    ("unlabelled-3-decimals", "/x?foo=52.520,13.404", None, set()),
    ("lat-and-lon-in-different-objects", "/x", {"device": {"lat": "52.520008"}, "user": {"lon": "13.404954"}}, set()),
    ("version-numbers", "/x?v=1.2,3.4", None, set()),
]


def _request(events: Any, uri: str, body: object) -> Any:
    if body is None:
        return events.http(uri=uri)
    return events.http(uri=uri, body=body if isinstance(body, str) else json.dumps(body), content_type=JSON)


@pytest.mark.parametrize("row", ROWS, ids=[r[0] for r in ROWS])
def test_row(row: Row, detector: Detector, events: Any) -> None:
    _, uri, body, expected = row
    observations = detector.observe(_request(events, uri, body)).observations
    assert all(o.id_type == "geo" for o in observations)
    assert {(o.value, o.encoding) for o in observations} == expected


def test_header_and_query_give_two_places(detector: Detector, events: Any) -> None:
    event = events.http(uri="/x?lat=52.520008&lng=13.404954", headers=[("X-Geo", "52.494152,13.441813")])
    assert {o.value for o in detector.observe(event).observations} == {"52.5200,13.4050", "52.4942,13.4418"}


def test_location_inside_base64_json_keeps_both_encodings(detector: Detector, events: Any) -> None:
    import base64

    blob = base64.b64encode(json.dumps({"lat": 52.520008, "lon": 13.404954}).encode()).decode()
    (observation,) = detector.observe(events.http(uri=f"/x?d={blob}")).observations
    assert (observation.value, observation.encoding) == ("52.5200,13.4050", "base64+decimal_6")


# ---------------------------------------------------------------------- known places

HOME = (51.007949, 6.947749)


def _offset(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    return lat + north_m / 111_195.0, lon + east_m / (111_195.0 * math.cos(math.radians(lat)))


@pytest.fixture(scope="module")
def home_detector(id_signatures: IdentifierSignatures) -> Detector:
    device = Device(id="kid-tablet-01", minor=True, identifiers={}, places=(HOME,))
    return Detector(id_signatures, Inventory((device,)))


@pytest.mark.parametrize(
    ("north_m", "east_m", "decimals", "owner"),
    [
        (0, 0, 6, "kid-tablet-01"),
        (0, 0, 5, "kid-tablet-01"),
        (0, 0, 4, "kid-tablet-01"),
        (60, 0, 6, "kid-tablet-01"),
        (0, -80, 5, "kid-tablet-01"),
        (70, 70, 6, "kid-tablet-01"),  # ~99 m
        (400, 0, 6, None),
        (0, 1_500, 6, None),
    ],
)
def test_near_a_known_place(north_m: float, east_m: float, decimals: int, owner: str | None, home_detector: Detector,
                            events: Any) -> None:
    lat, lon = _offset(*HOME, north_m, east_m)
    event = events.http(uri=f"/x?lat={lat:.{decimals}f}&lon={lon:.{decimals}f}")
    (observation,) = home_detector.observe(event).observations
    assert observation.owner == owner
    if owner:
        # normalised to the listed place: the same home written with 5 or 6 decimals is one value
        assert (observation.value, observation.source, observation.confidence) == (normalise(*HOME), "known", 1.0)
    else:
        assert observation.source == "pattern" and observation.value == normalise(lat, lon)


def test_known_place_in_geojson_order(home_detector: Detector, events: Any) -> None:
    body = json.dumps({"loc": [round(HOME[1], 6), round(HOME[0], 6)]})  # [lon, lat], both plausible latitudes
    (observation,) = home_detector.observe(events.http(body=body, content_type=JSON)).observations
    assert (observation.owner, observation.value) == ("kid-tablet-01", normalise(*HOME))


def test_coarse_near_a_known_place_is_still_not_precise(home_detector: Detector, events: Any) -> None:
    event = events.http(uri=f"/x?lat={HOME[0]:.2f}&lon={HOME[1]:.2f}")
    assert home_detector.observe(event).observations == []


def test_radius_is_about_a_hundred_metres() -> None:
    assert 100 <= KNOWN_RADIUS_M <= 200
    assert distance_m(*HOME, *_offset(*HOME, 100, 0)) == pytest.approx(100, rel=0.01)
