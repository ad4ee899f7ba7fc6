"""Recall on hand-labelled real traffic, scanned as an operator would: without an inventory.

The labels (tests/labels/real_trackers.yaml) were made by reading every clear-text HTTP request
of the public captures in ../shared/captures/real (issue 13's proof): one label per capture,
client, host and key, with the frame and why.  A label is found when a finding of the same
capture comes from the same client (its evidence's source address: there is no inventory), the same
destination host and the same identifier type; cookie_id and user_id count as one family (the
labels file says why).  A finding's ``identifier.keys`` must also name the labelled key, or one
of the names the label lists in ``keys`` (a value nested in another parameter).

Every finding with an identifier that matches no label is listed: each must be a label that was
missed (add it) or a false positive (fix the detector).  The test fails on either.

Minor status does not matter here: every identifier that leaves a subject is a finding (severity
info at the least, DESIGN.md), so the findings are scored whoever the subject is.

Identifier values of the shared captures are never printed: hosts, keys and types only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from scanner.ingest import expand_inputs
from scanner.model import Finding
from scanner.pipeline import ScanSettings, run_scan
from scanner.results import ScanResult

LABELS = Path(__file__).resolve().parent / "labels" / "real_trackers.yaml"
RECALL_BAR = 0.9
FAMILY = {"user_id": "cookie_id"}  # a tracker's own id: in a cookie or not, the wire rarely says


@dataclass(frozen=True)
class Label:
    capture: str
    client: str
    host: str
    key: str
    keys: tuple[str, ...]
    id_type: str
    frame: int
    why: str

    @property
    def slot(self) -> tuple[str, str, str, str]:
        return self.capture, self.client, self.host, FAMILY.get(self.id_type, self.id_type)


def load_labels() -> list[Label]:
    data = yaml.safe_load(LABELS.read_text(encoding="utf-8"))
    labels = []
    for capture, rows in data.items():
        for row in rows:
            labels.append(
                Label(capture, str(row["client"]), row["host"], row["key"], tuple(row.get("keys", ())), row["type"], int(row["frame"]), row["why"])
            )
    return labels


def finding_slot(capture: str, finding: Finding) -> tuple[str, str, str, str]:
    """The label slot a finding fills.  The client is the source address of its evidence: a
    subject learned from DHCP is named by a pseudonym, not by the address the label gives."""
    assert finding.identifier is not None
    id_type = finding.identifier.type
    client = finding.evidence[0].flow.src if finding.evidence else finding.subject.id
    return capture, client, finding.destination.host, FAMILY.get(id_type, id_type)


def finding_keys(finding: Finding) -> set[str]:
    assert finding.identifier is not None
    keys = set(finding.identifier.keys)
    if finding.identifier.key:
        keys.add(finding.identifier.key)
    return keys


_SCANS: dict[str, ScanResult] = {}


def scanned(real_dir: Path, capture: str) -> ScanResult:
    if capture not in _SCANS:
        _SCANS[capture] = run_scan(expand_inputs([str(real_dir / capture)]), ScanSettings())
    return _SCANS[capture]


@pytest.fixture(scope="module")
def real_dir(shared_dir: Path) -> Path:
    directory = shared_dir / "captures" / "real"
    if not (directory / "MANIFEST.tsv").is_file():
        pytest.skip(f"{directory} has no MANIFEST.tsv (the public real captures are not here)")
    return directory


@dataclass
class Outcome:
    found: list[Label]
    missed: list[Label]
    wrong_key: list[tuple[Label, set[str]]]
    unlabelled: list[tuple[str, str, str, str, tuple[str, ...]]]

    @property
    def recall(self) -> float:
        total = len(self.found) + len(self.missed)
        return len(self.found) / total if total else 0.0

    def lines(self) -> Iterator[str]:
        yield f"recall {self.recall:.3f} ({len(self.found)}/{len(self.found) + len(self.missed)})"
        for label in self.missed:
            yield f"  missed   {label.capture} {label.client} {label.host} {label.key} {label.id_type} (frame {label.frame})"
        for label, keys in self.wrong_key:
            yield f"  key      {label.capture} {label.host} {label.id_type}: labelled {label.key}, finding says {sorted(keys)}"
        for capture, client, host, id_type, keys in self.unlabelled:
            yield f"  unlabelled finding {capture} {client} {host} {id_type} keys={list(keys)}"


def evaluate(real_dir: Path) -> Outcome:
    labels = load_labels()
    outcome = Outcome([], [], [], [])
    slots = {label.slot for label in labels}
    by_slot: dict[tuple[str, str, str, str], list[Finding]] = {}
    for capture in sorted({label.capture for label in labels}):
        for finding in scanned(real_dir, capture).findings:
            if finding.identifier is None:
                continue
            slot = finding_slot(capture, finding)
            by_slot.setdefault(slot, []).append(finding)
            if slot not in slots:
                outcome.unlabelled.append((*slot[:3], finding.identifier.type, tuple(sorted(finding_keys(finding)))))
    for label in labels:
        findings = by_slot.get(label.slot, [])
        if not findings:
            outcome.missed.append(label)
            continue
        outcome.found.append(label)
        keys = set().union(*(finding_keys(f) for f in findings))
        if not ({label.key, *label.keys} & keys):
            outcome.wrong_key.append((label, keys))
    return outcome


@pytest.mark.shared
def test_labels_are_well_formed(real_dir: Path) -> None:
    labels = load_labels()
    assert labels
    seen = set()
    for label in labels:
        assert (real_dir / label.capture).is_file(), label.capture
        assert label.why.strip(), label
        one = (label.capture, label.client, label.host, label.key)
        assert one not in seen, f"two labels for {one}"
        seen.add(one)


@pytest.mark.shared
def test_real_traffic_recall_without_inventory(real_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    outcome = evaluate(real_dir)
    with capsys.disabled():
        print("\nreal captures, no inventory: " + "\n".join(outcome.lines()))
    assert outcome.recall >= RECALL_BAR, "\n".join(outcome.lines())


@pytest.mark.shared
def test_real_traffic_findings_are_all_labelled(real_dir: Path) -> None:
    outcome = evaluate(real_dir)
    assert not outcome.unlabelled, "\n".join(outcome.lines())


@pytest.mark.shared
def test_real_traffic_findings_name_the_labelled_keys(real_dir: Path) -> None:
    outcome = evaluate(real_dir)
    assert not outcome.wrong_key, "\n".join(outcome.lines())
