"""The device inventory and the operator's child-profile subscriber list.

Inventory (docs/inventory.md; YAML, or CSV with the same columns)::

    devices:
      - id: kid-tablet-01
        minor: true                # or age: 9 / birth_year: 2016
        ips: [10.20.0.7, {ip: 10.20.0.8, from: "2024-03-12T16:00:00Z", until: ...}]
        macs: ["3c:22:fb:11:22:33"]
        identifiers: {imei: [...], gaid: [...], email: [...], geo: [{lat: 48.8584, lon: 2.2945}]}
        first_party: [duolingo.com]  # optional: the app backends this device's apps own

CSV: one row per device; columns id, minor, age, birth_year, ips, macs,
first_party and one per identifier type; several values in a cell are
separated by ``;`` and a geo cell holds ``lat,lon`` pairs (``48.85,2.29;...``).

Subscriber list (operators' child-profile subscriptions; YAML ``subscribers:``
list or CSV) with imsi and/or msisdn and minor/age per row.

A person under ``MINOR_AGE`` (18: the UK Age Appropriate Design Code and the
UN CRC; COPPA's 13 and GDPR Art. 8's 13-16 are narrower) is a minor.
Everything is validated with file:line errors (ConfigError).
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scanner.datafiles import LineDict, LineList, line_of, load_csv, load_yaml
from scanner.errors import ConfigError
from scanner.knowledge.identifiers import IDENTIFIER_TYPES, identifier_type, normalise_identifier

MINOR_AGE = 18

_DEVICE_KEYS = {"id", "minor", "age", "birth_year", "ips", "macs", "identifiers", "first_party", "name", "platform", "notes"}


@dataclass(frozen=True, slots=True)
class TimedAddress:
    address: str
    start: float | None = None
    end: float | None = None

    def covers(self, ts: float) -> bool:
        return (self.start is None or ts >= self.start) and (self.end is None or ts < self.end)


@dataclass(frozen=True, slots=True)
class Device:
    id: str
    minor: bool | None
    addresses: tuple[TimedAddress, ...] = ()
    macs: tuple[str, ...] = ()
    identifiers: dict[str, tuple[str, ...]] = field(default_factory=dict)  # type -> raw values as listed
    places: tuple[tuple[float, float], ...] = ()
    first_party: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Inventory:
    devices: tuple[Device, ...]
    source: str = ""

    def by_id(self) -> dict[str, Device]:
        return {d.id: d for d in self.devices}


@dataclass(frozen=True, slots=True)
class Subscriber:
    id: str | None
    imsi: str | None
    msisdn: str | None
    minor: bool | None


def load_inventory(path: str | Path) -> Inventory:
    path = Path(path)
    lines: list[int | None]
    if path.suffix.lower() == ".csv":
        rows = load_csv(path)
        devices = [_device_from_csv(path, row) for row in rows]
        lines = [row.line for row in rows]
    else:
        document = load_yaml(path)
        if not isinstance(document, LineDict) or not isinstance(document.get("devices"), LineList):
            raise ConfigError(path, line_of(document), "an inventory is a mapping with a 'devices' list")
        items = document["devices"]
        devices = [_device_from_yaml(path, item, items.line_of(i)) for i, item in enumerate(items)]
        lines = [line_of(item, "id") for item in items]
    seen: dict[str, int | None] = {}
    for device, line in zip(devices, lines, strict=True):
        if device.id in seen:
            first = f" (first at line {seen[device.id]})" if seen[device.id] is not None else ""
            raise ConfigError(path, line, f"device id {device.id!r} appears twice{first}")
        seen[device.id] = line
    return Inventory(tuple(devices), str(path))


def _minor(path: Path, item: LineDict) -> bool | None:
    if "minor" in item:
        value = item["minor"]
        if isinstance(value, str):
            value = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}.get(value.lower(), value)
        if not isinstance(value, bool):
            raise ConfigError(path, line_of(item, "minor"), "'minor' must be true or false")
        return value
    if "age" in item:
        try:
            return int(item["age"]) < MINOR_AGE
        except (TypeError, ValueError):
            raise ConfigError(path, line_of(item, "age"), "'age' must be a whole number") from None
    if "birth_year" in item:
        try:
            year = int(item["birth_year"])
        except (TypeError, ValueError):
            raise ConfigError(path, line_of(item, "birth_year"), "'birth_year' must be a year") from None
        # Without a birthday, someone born MINOR_AGE years ago may still be a minor: say so.
        return _dt.date.today().year - year <= MINOR_AGE
    return None


def _time(path: Path, item: LineDict, key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, _dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return when.timestamp()
    try:
        when = _dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(path, line_of(item, key), f"{key!r} must be an ISO 8601 time or Unix seconds") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.UTC)
    return when.timestamp()


def _addresses(path: Path, values: Any, line: int | None) -> tuple[TimedAddress, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ConfigError(path, line, "'ips' must be a list")
    out = []
    for i, value in enumerate(values):
        if isinstance(value, LineDict):
            address = value.get("ip") or value.get("address")
            if not isinstance(address, str):
                raise ConfigError(path, line_of(value), "an address entry needs 'ip'")
            out.append(TimedAddress(_canonical_ip(path, address, line_of(value)), _time(path, value, "from"), _time(path, value, "until")))
        else:
            out.append(TimedAddress(_canonical_ip(path, str(value), line_of(values, i) if isinstance(values, LineList) else line)))
    return tuple(out)


def _canonical_ip(path: Path, text: str, line: int | None) -> str:
    import ipaddress

    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        raise ConfigError(path, line, f"not an IP address: {text!r}") from None


def _identifiers(path: Path, mapping: Any, line: int | None) -> tuple[dict[str, tuple[str, ...]], tuple[tuple[float, float], ...]]:
    if mapping is None:
        return {}, ()
    if not isinstance(mapping, dict):
        raise ConfigError(path, line, "'identifiers' must map identifier types to lists of values")
    out: dict[str, tuple[str, ...]] = {}
    places: list[tuple[float, float]] = []
    for id_type, values in mapping.items():
        where = line_of(mapping, id_type) if isinstance(mapping, LineDict) else line
        if id_type not in IDENTIFIER_TYPES:
            raise ConfigError(path, where, f"unknown identifier type {id_type!r} (known: {', '.join(IDENTIFIER_TYPES)})")
        if not isinstance(values, list):
            values = [values]
        if identifier_type(id_type).is_place:
            for value in values:
                places.append(_place(path, value, where))
            continue
        kept = []
        for value in values:
            text = str(value)
            if normalise_identifier(id_type, text) is None:
                raise ConfigError(path, where, f"{text!r} is not a valid {id_type}")
            kept.append(text)
        out[id_type] = tuple(kept)
    return out, tuple(places)


def _place(path: Path, value: Any, line: int | None) -> tuple[float, float]:
    try:
        if isinstance(value, dict):
            lat, lon = float(value["lat"]), float(value["lon"])
        else:
            lat_text, lon_text = str(value).replace(";", ",").split(",")
            lat, lon = float(lat_text), float(lon_text)
    except (KeyError, ValueError, TypeError):
        raise ConfigError(path, line, f"a geo entry is {{lat: .., lon: ..}} or 'lat,lon', not {value!r}") from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise ConfigError(path, line, f"coordinates out of range: {lat},{lon}")
    return lat, lon


def _macs(path: Path, values: Any, line: int | None) -> tuple[str, ...]:
    if values is None:
        return ()
    out = []
    for value in values if isinstance(values, list) else [values]:
        normal = normalise_identifier("mac", str(value))
        if normal is None:
            raise ConfigError(path, line, f"not a MAC address: {value!r}")
        out.append(normal)
    return tuple(out)


def _strings(path: Path, values: Any, line: int | None, what: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if not isinstance(values, list):
        raise ConfigError(path, line, f"{what!r} must be a list")
    return tuple(str(v).strip().lower() for v in values)


def _device_from_yaml(path: Path, item: Any, line: int | None) -> Device:
    if not isinstance(item, LineDict):
        raise ConfigError(path, line, "each device must be a mapping")
    unknown = set(item) - _DEVICE_KEYS
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(path, line_of(item, key), f"unknown device key {key!r}")
    device_id = item.get("id")
    if device_id is None or str(device_id).strip() == "":
        raise ConfigError(path, item.line, "a device needs an 'id'")
    identifiers, places = _identifiers(path, item.get("identifiers"), line_of(item, "identifiers"))
    return Device(
        id=str(device_id),
        minor=_minor(path, item),
        addresses=_addresses(path, item.get("ips"), line_of(item, "ips")),
        macs=_macs(path, item.get("macs"), line_of(item, "macs")),
        identifiers=identifiers,
        places=places,
        first_party=_strings(path, item.get("first_party"), line_of(item, "first_party"), "first_party"),
    )


def _cell_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(";") if part.strip()]


def _device_from_csv(path: Path, row: LineDict) -> Device:
    if "id" not in row:
        raise ConfigError(path, row.line, "a device needs an 'id'")
    mapping: dict[str, Any] = {}
    for id_type in IDENTIFIER_TYPES:
        if id_type in row:
            mapping[id_type] = _cell_list(row[id_type])
    unknown = set(row) - _DEVICE_KEYS - set(IDENTIFIER_TYPES)
    if unknown:
        raise ConfigError(path, row.line, f"unknown column {sorted(unknown)[0]!r}")
    identifiers, places = _identifiers(path, mapping, row.line)
    return Device(
        id=row["id"],
        minor=_minor(path, row),
        addresses=_addresses(path, _cell_list(row.get("ips")), row.line),
        macs=_macs(path, _cell_list(row.get("macs")), row.line),
        identifiers=identifiers,
        places=places,
        first_party=tuple(v.lower() for v in _cell_list(row.get("first_party"))),
    )


def load_subscribers(path: str | Path) -> tuple[Subscriber, ...]:
    path = Path(path)
    rows: Iterable[Any]
    if path.suffix.lower() == ".csv":
        rows = load_csv(path)
    else:
        document = load_yaml(path)
        if isinstance(document, LineDict) and isinstance(document.get("devices"), list):
            # An inventory that lists only IMSI/MSISDN and age serves as a subscriber list too.
            return tuple(_subscriber_from_device(d) for d in load_inventory(path).devices)
        if not isinstance(document, LineDict) or not isinstance(document.get("subscribers"), list):
            raise ConfigError(path, line_of(document), "a subscriber list is a mapping with a 'subscribers' list")
        rows = document["subscribers"]
    out = []
    for row in rows:
        if not isinstance(row, LineDict):
            raise ConfigError(path, None, "each subscriber must be a mapping")
        number_imsi = normalise_identifier("imsi", str(row["imsi"])) if "imsi" in row else None
        number_msisdn = normalise_identifier("msisdn", str(row["msisdn"])) if "msisdn" in row else None
        if number_imsi is None and number_msisdn is None:
            raise ConfigError(path, row.line, "a subscriber needs a valid 'imsi' or 'msisdn'")
        minor = _minor(path, row)
        if minor is None:
            minor = True  # the list is of child-profile subscriptions
        out.append(Subscriber(str(row["id"]) if "id" in row else None, number_imsi, number_msisdn, minor))
    return tuple(out)


def _subscriber_from_device(device: Device) -> Subscriber:
    imsis = [normalise_identifier("imsi", v) for v in device.identifiers.get("imsi", ())]
    msisdns = [normalise_identifier("msisdn", v) for v in device.identifiers.get("msisdn", ())]
    return Subscriber(device.id, next(filter(None, imsis), None), next(filter(None, msisdns), None),
                      True if device.minor is None else device.minor)
