"""The device inventory (YAML and CSV, docs/inventory.md) and the operator's subscriber list: what they
say about devices, and errors that name the file and the line."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from scanner.errors import ConfigError
from scanner.knowledge.identifiers import normalise_identifier
from scanner.knowledge.inventory import (
    MINOR_AGE,
    Device,
    Inventory,
    Subscriber,
    TimedAddress,
    load_inventory,
    load_subscribers,
)

REPO = Path(__file__).resolve().parents[2]

YAML = """\
# two devices, every field
devices:
  - id: kid-tablet-01
    minor: true
    ips: [10.20.0.7, {ip: 10.20.0.8, from: "2024-03-12T16:00:00Z", until: "2024-03-12T18:00:00Z"}]
    macs: ["3C:22:FB:11:22:33"]
    first_party: [Duolingo.com]
    identifiers:
      imei: ["356938035643809"]
      gaid: ["38400000-8CF0-11BD-B23E-10B96E40000D"]
      email: ["Emma@example.org"]
      msisdn: ["+491523632892", "0049 171 3920030"]
      geo: [{lat: 48.8584, lon: 2.2945}]
  - id: parent-phone
    age: 41
    ips: ["2001:db8::1"]
    identifiers:
      idfa: ["59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD"]
      geo: ["52.520008,13.404954"]
"""

CSV = """\
id,minor,age,ips,macs,first_party,imei,gaid,email,msisdn,idfa,geo
kid-tablet-01,true,,10.20.0.7,3C:22:FB:11:22:33,Duolingo.com,356938035643809,38400000-8CF0-11BD-B23E-10B96E40000D,Emma@example.org,+491523632892;0049 171 3920030,,"48.8584,2.2945"
parent-phone,,41,2001:db8::1,,,,,,,59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD,"52.520008,13.404954"
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_inventory(path)
    return caught.value


def test_yaml_reads_every_field(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "inv.yaml", YAML))
    kid, parent = inventory.devices
    assert isinstance(inventory, Inventory) and inventory.source.endswith("inv.yaml")
    assert (kid.id, kid.minor) == ("kid-tablet-01", True)
    assert kid.addresses[0] == TimedAddress("10.20.0.7")
    start = dt.datetime(2024, 3, 12, 16, tzinfo=dt.UTC).timestamp()
    assert kid.addresses[1] == TimedAddress("10.20.0.8", start, start + 7200)
    assert kid.macs == ("3c:22:fb:11:22:33",)
    assert kid.first_party == ("duolingo.com",)
    assert kid.identifiers["msisdn"] == ("+491523632892", "0049 171 3920030")
    assert kid.places == ((48.8584, 2.2945),)
    assert "geo" not in kid.identifiers, "places are kept apart from the values searched as text"
    assert (parent.minor, parent.addresses, parent.places) == (False, (TimedAddress("2001:db8::1"),), ((52.520008, 13.404954),))


def test_yaml_and_csv_with_the_same_devices_give_the_same_inventory(tmp_path: Path) -> None:
    from_yaml = load_inventory(_write(tmp_path, "inv.yaml", YAML))
    from_csv = load_inventory(_write(tmp_path, "inv.csv", CSV))
    # The CSV cannot give an address a time window; everything else is the same.
    yaml_devices = tuple(
        Device(d.id, d.minor, tuple(TimedAddress(a.address) for a in d.addresses[:1]), d.macs, d.identifiers, d.places, d.first_party)
        for d in from_yaml.devices
    )
    assert from_csv.devices == yaml_devices


def test_shipped_inventories_load() -> None:
    for path in sorted((REPO / "captures").glob("*.inventory.yaml")):
        inventory = load_inventory(path)
        assert inventory.devices, path
        assert len({d.id for d in inventory.devices}) == len(inventory.devices)


@pytest.mark.parametrize(
    ("fields", "minor"),
    [
        ("minor: true", True),
        ("minor: false", False),
        ("minor: yes", True),
        ("minor: 'no'", False),
        ("age: 9", True),
        (f"age: {MINOR_AGE - 1}", True),
        (f"age: {MINOR_AGE}", False),
        ("age: 41", False),
        (f"birth_year: {dt.date.today().year - 9}", True),
        (f"birth_year: {dt.date.today().year - MINOR_AGE}", True),  # may not have had the birthday yet
        (f"birth_year: {dt.date.today().year - MINOR_AGE - 1}", False),
        ("minor: true\n    age: 41", True),  # an explicit flag wins
        ("name: somebody", None),  # unknown
    ],
)
def test_minor_age_birth_year(tmp_path: Path, fields: str, minor: bool | None) -> None:
    inventory = load_inventory(_write(tmp_path, "inv.yaml", f"devices:\n  - id: d1\n    {fields}\n"))
    assert inventory.devices[0].minor is minor


def test_csv_minor_and_age(tmp_path: Path) -> None:
    inventory = load_inventory(_write(tmp_path, "inv.csv", "id,minor,age,birth_year\na,yes,,\nb,,12,\nc,,,1970\nd,,,\n"))
    assert [d.minor for d in inventory.devices] == [True, True, False, None]


def test_times_as_unix_seconds_and_naive_iso(tmp_path: Path) -> None:
    text = "devices:\n  - id: d1\n    ips:\n      - {ip: 10.0.0.1, from: 1710259200, until: '2024-03-12 17:00:00'}\n"
    (address,) = load_inventory(_write(tmp_path, "inv.yaml", text)).devices[0].addresses
    assert address.start == 1710259200.0
    assert address.end == dt.datetime(2024, 3, 12, 17, tzinfo=dt.UTC).timestamp()
    assert address.covers(1710259200.0) and not address.covers(1710259199.0) and not address.covers(address.end)


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("devices:\n  - id: d1\n    ips: [10.0.0.300]\n", 3, "not an IP address"),
        ("devices:\n  - id: d1\n    ips:\n      - 10.0.0.1\n      - not-an-ip\n", 5, "not an IP address"),
        ("devices:\n  - id: d1\n    identifiers:\n      shoe_size: ['42']\n", 4, "unknown identifier type 'shoe_size'"),
        ("devices:\n  - id: d1\n    identifiers:\n      imei: ['356938035643808']\n", 4, "not a valid imei"),
        ("devices:\n  - id: d1\n    identifiers:\n      email: [nobody]\n", 4, "not a valid email"),
        ("devices:\n  - id: d1\n    identifiers:\n      gaid: ['not-a-uuid']\n", 4, "not a valid gaid"),
        ("devices:\n  - id: d1\n  - id: d2\n  - id: d1\n", 4, "appears twice"),
        ("devices:\n  - id: d1\n    minor: true\n    minor: false\n", 4, "given twice"),
        ("devices:\n  - id: !!python/object/apply:os.system ['true']\n", 2, "not valid YAML"),
        ("devices:\n  - id: d1\n    colour: blue\n", 3, "unknown device key 'colour'"),
        ("devices:\n  - id: d1\n    minor: perhaps\n", 3, "'minor' must be true or false"),
        ("devices:\n  - id: d1\n    age: nine\n", 3, "'age' must be a whole number"),
        ("devices:\n  - id: d1\n    ips:\n      - {ip: 10.0.0.1, from: yesterday}\n", 4, "ISO 8601"),
        ("devices:\n  - id: d1\n    identifiers:\n      geo: [{lat: 95.1, lon: 2.2}]\n", 4, "out of range"),
        ("devices:\n  - id: d1\n    identifiers:\n      geo: [somewhere]\n", 4, "a geo entry is"),
        ("devices:\n  - minor: true\n", 2, "needs an 'id'"),
        ("devices:\n  - id: d1\n    macs: [nope]\n", 3, "not a MAC address"),
        ("devices: [\n", 2, "not valid YAML"),
        ("hosts: []\n", 1, "'devices' list"),
    ],
)
def test_yaml_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, "inv.yaml", text)
    error = _error(path)
    assert words in error.message
    assert (error.file, error.line) == (str(path), line)
    assert str(error).startswith(f"{path}:{line}: ")


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("id,ips\nd1,10.0.0.1\nd2,10.0.0.999\n", 3, "not an IP address"),
        ("id,imei\nd1,356938035643808\n", 2, "not a valid imei"),
        ("id,shoe_size\nd1,42\n", 2, "unknown column 'shoe_size'"),
        ("id,minor\nd1,true\nd2,maybe\n", 3, "'minor'"),
        ("id,imei\nd1,356938035643809\nd1,\n", 3, "appears twice"),
        ("imei\n356938035643809\n", 2, "needs an 'id'"),
        ("id,imei,imei\nd1,356938035643809,\n", 1, "column 'imei' given twice"),
        ("id,geo,imei\nd1,48.8584,2.2945,356938035643809\n", 2, "4 cells for 3 columns"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path: Path, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, "inv.csv", text)
    error = _error(path)
    assert words in error.message
    assert (error.file, error.line) == (str(path), line)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    assert "no such file" in _error(tmp_path / "absent.yaml").message


@pytest.mark.parametrize(
    ("id_type", "raw", "normal"),
    [
        ("imei", "356938035643809", "356938035643809"),
        ("imei", "3569380356438091", "356938035643809"),  # IMEISV -> its IMEI
        ("msisdn", "+491523632892", "491523632892"),
        ("msisdn", "491523632892", "491523632892"),
        ("msisdn", "0049 152 3632892", "491523632892"),
        ("mac", "3C-22-FB-11-22-33", "3c:22:fb:11:22:33"),
        ("mac", "3c22fb112233", "3c:22:fb:11:22:33"),
        ("gaid", "38400000-8CF0-11BD-B23E-10B96E40000D", "38400000-8cf0-11bd-b23e-10b96e40000d"),
        ("idfa", "59420744-3ec0-4fa1-ac86-bbd4ebaa8cbd", "59420744-3EC0-4FA1-AC86-BBD4EBAA8CBD"),
        ("idfv", "e621e1f8-c36c-495a-93fc-0c247a3e6e5f", "E621E1F8-C36C-495A-93FC-0C247A3E6E5F"),
        ("email", "Emma@Example.org", "emma@example.org"),
        ("android_id", "974283758CEA2E11", "974283758cea2e11"),
        ("device_name", "Emma’s iPad", "Emma’s iPad"),
        ("imei", "12345", None),
        ("gaid", "00000000-0000-0000-0000-000000000000", None),
    ],
)
def test_normalise_identifier(id_type: str, raw: str, normal: str | None) -> None:
    assert normalise_identifier(id_type, raw) == normal


# ---------------------------------------------------------------------- subscriber lists


def test_subscribers_yaml(tmp_path: Path) -> None:
    text = """\
subscribers:
  - {id: child-line-1, imsi: "262017201373089", age: 10}
  - {msisdn: "+491713920031", minor: true}
  - {imsi: 262072246121161, msisdn: 4917604069030, minor: false}
  - {imsi: "262017995949385"}
"""
    subscribers = load_subscribers(_write(tmp_path, "subs.yaml", text))
    assert subscribers == (
        Subscriber("child-line-1", "262017201373089", None, True),
        Subscriber(None, None, "491713920031", True),
        Subscriber(None, "262072246121161", "4917604069030", False),
        Subscriber(None, "262017995949385", None, True),  # the list is of child profiles
    )


def test_subscribers_inventory_shaped() -> None:
    subscribers = load_subscribers(REPO / "captures" / "demo_gtp.subscribers.yaml")
    assert subscribers == (
        Subscriber("sub-leon", "262017201373089", "491713920030", True),
        Subscriber("sub-lotta", "262017995949385", "491713920031", True),
    )


def test_subscribers_csv(tmp_path: Path) -> None:
    path = _write(tmp_path, "subs.csv", "id,imsi,msisdn,age\nline-1,262017201373089,,10\n,,+4917604069030,35\n")
    assert load_subscribers(path) == (
        Subscriber("line-1", "262017201373089", None, True),
        Subscriber(None, None, "4917604069030", False),
    )


@pytest.mark.parametrize(
    ("name", "text", "line", "words"),
    [
        ("subs.yaml", "subscribers:\n  - {imsi: '262017201373089'}\n  - {id: x, age: 9}\n", 3, "needs a valid 'imsi' or 'msisdn'"),
        ("subs.yaml", "subscribers:\n  - {imsi: '262017201373089', age: old}\n", 2, "'age' must be a whole number"),
        ("subs.yaml", "people: []\n", 1, "'subscribers' list"),
        ("subs.csv", "imsi,age\n262017201373089,9\nabc,9\n", 3, "needs a valid"),
    ],
)
def test_subscriber_errors(tmp_path: Path, name: str, text: str, line: int, words: str) -> None:
    path = _write(tmp_path, name, text)
    with pytest.raises(ConfigError) as caught:
        load_subscribers(path)
    assert words in caught.value.message
    assert (caught.value.file, caught.value.line) == (str(path), line)
