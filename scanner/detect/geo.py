"""Precise location: a latitude/longitude pair precise enough to find a street.

Decimal places are counted as written (the JSON walker keeps numbers as
text): 3 decimals are ~110 m, enough to find a home's street; 1 or 2 decimals
(~1-11 km) only name a town and are not reported.  A pair is found as:
two keys of one object or query string (lat + lon, latitude + longitude, ...);
one value under a location key ("48.8584,2.2945", "geo:48.8584,2.2945", a
[lat, lon] array); or, without a key, a pair with 4+ decimals each.  A pair
within ``KNOWN_RADIUS_M`` of a place the inventory lists for a device is that
device's location (``known``), and is normalised to the listed place so that
repeats compare equal.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scanner.detect.code import DetectorContext, code_detector
from scanner.detect.fields import Field
from scanner.detect.keys import key_forms
from scanner.detect.signatures import IdentifierSignature

KNOWN_RADIUS_M = 150.0
_NUMBER = re.compile(r"^-?\d{1,3}\.(\d+)$")
_PAIR = re.compile(r"^(?:geo:)?\s*(-?\d{1,3}\.(\d+))\s*[,;/| ]\s*(-?\d{1,3}\.(\d+))\s*$")


@dataclass(frozen=True, slots=True)
class Place:
    owner: str
    lat: float
    lon: float

    @property
    def normalised(self) -> str:
        return normalise(self.lat, self.lon)


@dataclass(frozen=True, slots=True)
class GeoHit:
    value: str  # normalised "lat,lon"
    decimals: int
    key: str | None
    field: Field
    owner: str | None
    confidence: float


def normalise(lat: float, lon: float) -> str:
    # 4 decimals (~11 m): the same place written with 5 or 6 decimals is one identifier.
    return f"{lat:.4f},{lon:.4f}"


def distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_000.0 * math.asin(min(1.0, math.sqrt(a)))


class GeoDetector:
    def __init__(self, signature: IdentifierSignature, places: Sequence[Place] = ()) -> None:
        data = signature.data
        self.lat_keys: frozenset[str] = data.get("lat_keys", frozenset())
        self.lon_keys: frozenset[str] = data.get("lon_keys", frozenset())
        self.pair_keys: frozenset[str] = data.get("pair_keys", frozenset())
        self.min_decimals = int(data.get("min_decimals", 3))
        self.places = tuple(places)

    def detect(self, fields: Iterable[Field]) -> list[GeoHit]:
        hits: list[GeoHit] = []
        lats: dict[int, list[tuple[int, Field, str]]] = {}
        lons: dict[int, list[tuple[int, Field, str]]] = {}
        for field in fields:
            forms = key_forms(field.key)
            role = self._role(forms)
            value = field.value.strip()
            if role in ("lat", "lon"):
                match = _NUMBER.match(value)
                if match:
                    side = lats if role == "lat" else lons
                    side.setdefault(field.container, []).append((len(match.group(1)), field, value))
                continue
            match = _PAIR.match(value) if ("," in value or ";" in value or "|" in value or value.startswith("geo:")) else None
            if match is None:
                continue
            decimals = min(len(match.group(2)), len(match.group(4)))
            keyed = role == "pair"
            if not keyed and decimals < 4:
                continue  # an unlabelled pair must look unmistakably like coordinates
            hit = self._hit(float(match.group(1)), float(match.group(3)), decimals, field.key, field, keyed)
            if hit is not None:
                hits.append(hit)
        for container, lat_list in lats.items():
            lon_list = lons.get(container)
            if not lon_list:
                continue
            # Several candidates in one object (region_lat next to lat): the most precise pair.
            lat_dec, lat_field, lat_text = max(lat_list, key=lambda item: item[0])
            lon_dec, _lon_field, lon_text = max(lon_list, key=lambda item: item[0])
            hit = self._hit(float(lat_text), float(lon_text), min(lat_dec, lon_dec), lat_field.key, lat_field, True)
            if hit is not None:
                hits.append(hit)
        return hits

    def _role(self, forms: tuple[str, ...]) -> str | None:
        if not forms:
            return None
        last = forms[1] if len(forms) > 1 else forms[0]
        for form in (forms[0], last):
            if form in self.lat_keys:
                return "lat"
            if form in self.lon_keys:
                return "lon"
            if form in self.pair_keys:
                return "pair"
        return None

    def _hit(self, lat: float, lon: float, decimals: int, key: str | None, field: Field, keyed: bool) -> GeoHit | None:
        if decimals < self.min_decimals:
            return None
        if abs(lat) > 90 and abs(lon) <= 90:
            lat, lon = lon, lat  # GeoJSON order: [lon, lat]
        if abs(lat) > 90 or abs(lon) > 180 or (abs(lat) < 1e-6 and abs(lon) < 1e-6):
            return None
        owner, value = self._known(lat, lon)
        if owner is None:
            owner_swapped, value_swapped = self._known(lon, lat) if abs(lon) <= 90 else (None, "")
            if owner_swapped is not None:
                owner, value = owner_swapped, value_swapped
        confidence = 1.0 if owner else (0.9 if keyed else 0.6)
        return GeoHit(value, decimals, key, field, owner, confidence)

    def _known(self, lat: float, lon: float) -> tuple[str | None, str]:
        for place in self.places:
            if abs(place.lat - lat) < 0.01 and distance_m(place.lat, place.lon, lat, lon) <= KNOWN_RADIUS_M:
                return place.owner, place.normalised
        return None, normalise(lat, lon)


@code_detector("geo")
def _geo_detector(context: DetectorContext) -> GeoDetector:
    inventory = context.inventory
    places = [Place(d.id, lat, lon) for d in (inventory.devices if inventory else ()) for lat, lon in d.places]
    return GeoDetector(context.signatures.signature("geo"), places)
