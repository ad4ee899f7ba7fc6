"""Precision and recall on the labelled captures, the bar issue 3 sets.

A true leak is the triple (device, identifier type, destination host) of the truth file; a
finding is the triple (subject, identifier.type, destination.host) of the report; precision and
recall are over distinct triples (../shared/captures/labelled/README.md).  Truth type names are
mapped to privscan's: wifi_mac -> mac, location -> geo.  Every finding with an identifier counts
against precision, whatever its type (a device name broadcast on the LAN that the truth does not
label is a false positive here).

- With the inventory: leaks_public (../shared), labelled_encodings and labelled_gtp (this
  repository) must reach 0.97 each.  labelled_gtp's inventory has no addresses: its subjects come
  from GTPv2-C.
- Without an inventory the subjects are what the network says: the client address (source
  "address"), or a pseudonym learned from the control plane.  They are mapped back to the truth's
  devices for scoring: an address by the truth's ``ue_ip``; a GTP pseudonym by the IMSI its
  binding carries (``Subject.attributes``, kept in memory, never printed); a DHCP pseudonym by
  the MAC of its lease (the truth's ``wifi_mac``).  Anything else stays unmapped and counts as a
  false positive.  The figures measured when this test was written are asserted as floors
  (a little below), so a regression fails.
- The public file's bench: recall per transform and per location, printed.

Identifier values of the shared captures are never printed: counts and types only.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.ingest import expand_inputs
from scanner.model import Subject
from scanner.pipeline import ScanSettings, run_scan
from scanner.results import ScanResult

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
TYPE_MAP = {"wifi_mac": "mac", "location": "geo"}
BAR = 0.97

# Without an inventory: (precision, recall) as measured by this test when it was written, and the
# floors asserted (measured - 0.02, so that one lost triple in the smaller captures fails).  Raise
# them when detection improves.
#   leaks_public        P 0.979 R 1.000   (the 3 "false positives" are real sends the truth leaves out, see below)
#   labelled_encodings  P 1.000 R 0.951   (misses: IMSIs under 'sub_id', a generic name; Android ID digests under
#                                          'aid'/'X-Device-Id', not said to be the Android ID; a base64 IMEI in
#                                          X-IMEI; a base64 number in a User-Agent; url2 inside a JSON string)
#   labelled_gtp        P 1.000 R 0.943   (misses: IMSIs under 'sub_id')
FLOORS = {
    "leaks_public": (0.959, 0.980),
    "labelled_encodings": (0.980, 0.931),
    "labelled_gtp": (0.980, 0.923),
}

Triple = tuple[str, str, str]


@dataclass(frozen=True)
class Labelled:
    name: str
    pcap: Path
    inventory: Path
    truth: dict[str, Any]

    @classmethod
    def load(cls, directory: Path, name: str) -> Labelled:
        truth = json.loads((directory / f"{name}.truth.json").read_text(encoding="utf-8"))
        return cls(name, directory / f"{name}.pcap", directory / f"{name}.inventory.yaml", truth)

    def triples(self) -> set[Triple]:
        return {_truth_triple(leak) for leak in self.truth["leaks"]}


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    true_positives: set[Triple]
    false_positives: set[Triple]
    false_negatives: set[Triple]

    def describe(self) -> str:
        fp = Counter(t[1] for t in self.false_positives)
        fn = Counter(t[1] for t in self.false_negatives)
        return (f"P {self.precision:.3f} R {self.recall:.3f} (tp {len(self.true_positives)}, fp {len(self.false_positives)} "
                f"{dict(sorted(fp.items()))}, fn {len(self.false_negatives)} {dict(sorted(fn.items()))})")


def _truth_triple(leak: dict[str, Any]) -> Triple:
    return leak["device"], TYPE_MAP.get(leak["identifier_type"], leak["identifier_type"]), leak["destination_host"]


def score(truth: set[Triple], found: set[Triple]) -> Score:
    tp = truth & found
    return Score(len(tp) / len(found) if found else 0.0, len(tp) / len(truth) if truth else 0.0, tp, found - truth, truth - found)


def scan(pcap: Path, inventory: Path | None) -> ScanResult:
    settings = ScanSettings(inventory=str(inventory) if inventory else None)
    return run_scan(expand_inputs([str(pcap)]), settings)


def found_triples(result: ScanResult, name_of: dict[str, str] | None = None) -> set[Triple]:
    name_of = name_of or {}
    return {
        (name_of.get(f.subject.id, f.subject.id), f.identifier.type, f.destination.host)
        for f in result.findings
        if f.identifier is not None
    }


def device_of_subject(subjects: Iterable[Subject], truth: dict[str, Any]) -> dict[str, str]:
    """Subject id -> truth device, for a scan without an inventory (see the module docstring)."""
    by_ip = {d["ue_ip"]: d["device_id"] for d in truth["devices"] if d.get("ue_ip")}
    by_imsi = {d["identifiers"]["imsi"]: d["device_id"] for d in truth["devices"] if d["identifiers"].get("imsi")}
    by_mac = {d["identifiers"]["wifi_mac"]: d["device_id"] for d in truth["devices"] if d["identifiers"].get("wifi_mac")}
    mapping = {}
    for subject in subjects:
        attributes = dict(subject.attributes)
        if subject.source == "address":
            device = by_ip.get(subject.id)
        elif subject.source == "gtp":
            device = by_imsi.get(attributes.get("imsi", ""))
        elif subject.source == "dhcp":
            device = by_mac.get(attributes.get("mac", ""))
        else:
            device = None
        if device is not None:
            mapping[subject.id] = device
    return mapping


def recall_table(labelled: Labelled, found: set[Triple], field: str) -> dict[str, tuple[int, int]]:
    """Per value of a truth field (transform, location, transport): (leaks found, leaks)."""
    table: dict[str, list[int]] = {}
    for leak in labelled.truth["leaks"]:
        row = table.setdefault(leak[field], [0, 0])
        row[1] += 1
        row[0] += _truth_triple(leak) in found
    return {key: (hit, total) for key, (hit, total) in sorted(table.items())}


def _print_table(title: str, table: dict[str, tuple[int, int]]) -> None:
    print(f"  {title}:")
    for key, (hit, total) in table.items():
        print(f"    {key:<24} {hit:>4}/{total:<4} {hit / total:6.3f}")


# ---------------------------------------------------------------------- captures, scanned once per session


@pytest.fixture(scope="module")
def public(labelled_dir: Path) -> Labelled:
    return Labelled.load(labelled_dir, "leaks_public")


@pytest.fixture(scope="module")
def project() -> dict[str, Labelled]:
    return {name: Labelled.load(CAPTURES, name) for name in ("labelled_encodings", "labelled_gtp")}


_SCANS: dict[tuple[str, bool], ScanResult] = {}


def scanned(labelled: Labelled, with_inventory: bool) -> ScanResult:
    key = (str(labelled.pcap), with_inventory)
    if key not in _SCANS:
        _SCANS[key] = scan(labelled.pcap, labelled.inventory if with_inventory else None)
    return _SCANS[key]


def _report(capsys: pytest.CaptureFixture[str], text: str) -> None:
    with capsys.disabled():
        print(text)


# ---------------------------------------------------------------------- with the inventory


@pytest.mark.shared
def test_public_capture_with_inventory(public: Labelled, capsys: pytest.CaptureFixture[str]) -> None:
    result = scanned(public, True)
    result_score = score(public.triples(), found_triples(result))
    _report(capsys, f"\nleaks_public, with inventory: {result_score.describe()}")
    assert result_score.precision >= BAR, result_score.describe()
    assert result_score.recall >= BAR, result_score.describe()
    assert {s.source for s in result.subjects} <= {"inventory", "dhcp"}


@pytest.mark.parametrize("name", ["labelled_encodings", "labelled_gtp"])
def test_project_capture_with_inventory(name: str, project: dict[str, Labelled], capsys: pytest.CaptureFixture[str]) -> None:
    labelled = project[name]
    result = scanned(labelled, True)
    result_score = score(labelled.triples(), found_triples(result))
    _report(capsys, f"\n{name}, with inventory: {result_score.describe()}")
    assert result_score.precision >= BAR, sorted(result_score.false_positives)
    assert result_score.recall >= BAR, sorted(result_score.false_negatives)
    if name == "labelled_gtp":
        assert {s.source for s in result.subjects} == {"gtp"}, "no addresses in the inventory: GTPv2-C says who"
        devices = {d["device_id"] for d in labelled.truth["devices"]}
        assert {s.id for s in result.subjects} <= devices


def test_every_transform_and_location_is_found_with_the_inventory(project: dict[str, Labelled],
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """labelled_encodings has every transform, location and transport of the truth conventions."""
    labelled = project["labelled_encodings"]
    found = found_triples(scanned(labelled, True))
    tables = {field: recall_table(labelled, found, field) for field in ("transform", "location", "transport")}
    without = scanned(labelled, False)
    without_found = found_triples(without, device_of_subject(without.subjects, labelled.truth))
    with capsys.disabled():
        print("\nlabelled_encodings with inventory, recall of leaks (their triples):")
        for field, table in tables.items():
            _print_table(field, table)
        print(" without inventory:")
        for field in ("transform", "location"):
            _print_table(field, recall_table(labelled, without_found, field))
    conventions = labelled.truth["conventions"]
    for field in ("transform", "location", "transport"):
        # "plain|url2|...|decimal_N[+json_array]; hashes are ...", "split (request cut ...)|out_of_order (...)"
        listed = {t.split("[")[0].split(" (")[0].strip() for t in conventions[field].split(";")[0].split("|")}
        assert {key.split("+")[0] for key in tables[field]} >= listed - {"decimal_N"}, field
        assert all(hit >= 1 for hit, _ in tables[field].values()), (field, tables[field])


# ---------------------------------------------------------------------- without an inventory


def _without_inventory(labelled: Labelled, capsys: pytest.CaptureFixture[str]) -> Score:
    result = scanned(labelled, False)
    mapping = device_of_subject(result.subjects, labelled.truth)
    sources = Counter(s.source for s in result.subjects)
    unmapped = [s for s in result.subjects if s.id not in mapping]
    result_score = score(labelled.triples(), found_triples(result, mapping))
    _report(capsys, f"\n{labelled.name}, without inventory: {result_score.describe()}; subjects by source "
                    f"{dict(sorted(sources.items()))}, unmapped {len(unmapped)}")
    assert all(s.minor is None for s in result.subjects if s.source == "address"), "no inventory: minor unknown"
    return result_score


@pytest.mark.shared
def test_public_capture_without_inventory(public: Labelled, capsys: pytest.CaptureFixture[str]) -> None:
    result_score = _without_inventory(public, capsys)
    floor_p, floor_r = FLOORS["leaks_public"]
    assert result_score.precision >= floor_p, result_score.describe()
    assert result_score.recall >= floor_r, result_score.describe()


@pytest.mark.parametrize("name", ["labelled_encodings", "labelled_gtp"])
def test_project_capture_without_inventory(name: str, project: dict[str, Labelled], capsys: pytest.CaptureFixture[str]) -> None:
    result_score = _without_inventory(project[name], capsys)
    floor_p, floor_r = FLOORS[name]
    assert result_score.precision >= floor_p, result_score.describe()
    assert result_score.recall >= floor_r, result_score.describe()


def test_address_subjects_are_the_truths_addresses(project: dict[str, Labelled]) -> None:
    labelled = project["labelled_encodings"]
    result = scanned(labelled, False)
    addresses = {d["ue_ip"] for d in labelled.truth["devices"]}
    assert {s.id for s in result.subjects if s.source == "address"} <= addresses


# ---------------------------------------------------------------------- the public file's bench


@pytest.mark.shared
def test_public_bench_recall_by_transform_and_location(public: Labelled, capsys: pytest.CaptureFixture[str]) -> None:
    with_inventory = found_triples(scanned(public, True))
    without = scanned(public, False)
    without_found = found_triples(without, device_of_subject(without.subjects, public.truth))
    tables = {}
    with capsys.disabled():
        print(f"\nleaks_public bench: {len(public.truth['leaks'])} leaks, {len(public.triples())} triples, "
              f"{len(public.truth['decoys'])} decoys")
        for label, found in (("with inventory", with_inventory), ("without inventory", without_found)):
            print(f" {label}, recall of leaks (their triples):")
            for field in ("transform", "location", "identifier_type", "transport"):
                tables[(label, field)] = recall_table(public, found, field)
                _print_table(field, tables[(label, field)])
    for field in ("transform", "location"):
        table = tables[("with inventory", field)]
        assert sum(h for h, _ in table.values()) / sum(t for _, t in table.values()) >= BAR


@pytest.mark.shared
def test_public_decoys_are_not_findings(public: Labelled) -> None:
    """No finding is keyed by a decoy's parameter name (trace, txn, region_lat, ts, ...)."""
    decoy_keys = {d["param_name"] for d in public.truth["decoys"]}
    for with_inventory in (True, False):
        result = scanned(public, with_inventory)
        keys = {k for f in result.findings if f.identifier for k in (f.identifier.keys or (f.identifier.key,)) if k}
        assert not keys & decoy_keys, sorted(keys & decoy_keys)


@pytest.mark.shared
def test_public_false_positives_are_real_sends(public: Labelled) -> None:
    """What the public truth leaves out: with the inventory, every extra triple carries a value the
    inventory gives the same device (requests the truth does not label), or is a minor's device name
    broadcast on the LAN (the truth labels no device names).  None is a decoy."""
    result = scanned(public, True)
    extra = score(public.triples(), found_triples(result)).false_positives
    by_triple = {(f.subject.id, f.identifier.type, f.destination.host): f for f in result.findings if f.identifier}
    for triple in extra:
        finding = by_triple[triple]
        assert finding.subject.source == "inventory"
        assert finding.identifier is not None
        assert triple[1] == "device_name" or "PS000" in {m.rule for m in finding.rules}
    assert len(extra) <= 4
