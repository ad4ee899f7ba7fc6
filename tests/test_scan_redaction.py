"""No raw identifier value in any output of ``privscan scan`` unless ``--show-values``.

captures/demo.pcap is scanned with its inventory through the command line into every format
(table json jsonl csv sarif html graphml gexf dot), and every output is searched for every value
the inventory lists, in its raw form and its common encodings (case, without separators,
URL-encoded, base64, hex of the text, phone number forms, and unkeyed md5/sha1/sha256: a report
may carry keyed HMACs only).  With ``--show-values`` the JSON report does carry the values.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from scanner.cli import cli
from scanner.knowledge.identifiers import normalise_identifier
from scanner.knowledge.inventory import load_inventory

CAPTURES = Path(__file__).resolve().parent.parent / "captures"
DEMO = CAPTURES / "demo.pcap"
INVENTORY = CAPTURES / "demo.inventory.yaml"
FORMATS = ("table", "json", "jsonl", "csv", "sarif", "html", "graphml", "gexf", "dot")


def _forms(id_type: str, raw: str) -> set[str]:
    normal = normalise_identifier(id_type, raw) or raw
    forms = {raw, normal, raw.upper(), raw.lower(), normal.upper(), normal.lower()}
    for value in list(forms):
        forms.add(value.replace("-", "").replace(":", ""))
    if id_type == "msisdn":
        digits = normal
        forms |= {digits, "+" + digits, "00" + digits, "0" + digits[2:]}
    if id_type == "imei":
        forms.add(normal[:14])
    for value in (raw, normal):
        forms |= {quote(value, safe=""), quote(quote(value, safe=""), safe="")}
        forms.add(base64.b64encode(value.encode()).decode().rstrip("="))
        forms.add(value.encode().hex())
        for name in ("md5", "sha1", "sha256"):
            forms.add(hashlib.new(name, value.encode()).hexdigest())
    if id_type == "device_name":
        forms |= {raw.replace("’", "'"), raw.replace("’", "\\u2019"), raw.replace("’", "&#8217;"), raw.replace("’", "&rsquo;")}
    return {f for f in forms if len(f) >= 8}


def inventory_values() -> dict[str, set[str]]:
    """(device, type) label -> every form of its values; geo places as written with 4-6 decimals."""
    out: dict[str, set[str]] = {}
    for device in load_inventory(INVENTORY).devices:
        for id_type, values in device.identifiers.items():
            for raw in values:
                out.setdefault(f"{device.id}/{id_type}", set()).update(_forms(id_type, raw))
        for lat, lon in device.places:
            out[f"{device.id}/geo"] = {f"{lat:.{n}f}" for n in (4, 5, 6)} | {f"{lon:.{n}f}" for n in (4, 5, 6)}
        for mac in device.macs:
            out.setdefault(f"{device.id}/mac", set()).update(_forms("mac", mac))
    return out


# The policy's own documentation quotes an example device name ("Emma's iPad", PS801's rationale)
# that happens to be one of the demo inventory's: text shipped in signatures/ is no leak.
SHIPPED_TEXT = " ".join(p.read_text(encoding="utf-8") for p in (CAPTURES.parent / "signatures" / "policies").glob("*.yaml"))
VALUES = {label: {f for f in forms if f not in SHIPPED_TEXT} for label, forms in inventory_values().items()}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("reports")
    runner = CliRunner()
    texts = {}
    for name in FORMATS:
        target = directory / f"demo.{name}"
        args = ["scan", str(DEMO), "--inventory", str(INVENTORY), "--fail-on", "none", "-q", "--format", name, "-o", f"{name}:{target}"]
        result = runner.invoke(cli, args, catch_exceptions=False)
        assert result.exit_code == 0, (name, result.output)
        # The HTML's <wbr> (line-break opportunities in hosts and paths) would hide a value from a search.
        texts[name] = target.read_text(encoding="utf-8").replace("<wbr>", "")
    return texts


def test_the_inventory_has_values_to_look_for() -> None:
    kinds = {label.split("/")[1] for label in VALUES}
    assert {"imei", "gaid", "idfa", "email", "msisdn", "android_id", "mac", "geo", "device_name", "cookie_id"} <= kinds


@pytest.mark.parametrize("name", FORMATS)
def test_no_value_in_any_format(name: str, outputs: dict[str, str]) -> None:
    text = outputs[name]
    assert len(text) > 500, "a real report"
    lowered = text.lower()
    leaked = sorted(label for label, forms in VALUES.items() for form in forms if form.lower() in lowered)
    assert leaked == [], f"{name}: values of {leaked} appear in the report"


def test_reports_still_name_what_leaked(outputs: dict[str, str]) -> None:
    report = json.loads(outputs["json"])
    findings = [f for f in report["findings"] if f["identifier"]]
    assert len(findings) >= 20
    for finding in findings:
        identifier = finding["identifier"]
        assert identifier["value"] and len(identifier["value_hmac"]) == 64
    types = {f["identifier"]["type"] for f in findings}
    assert {"gaid", "idfa", "imei", "email", "msisdn", "geo", "cookie_id", "android_id"} <= types


def test_show_values_puts_them_in_the_json(tmp_path: Path) -> None:
    target = tmp_path / "demo.json"
    args = ["scan", str(DEMO), "--inventory", str(INVENTORY), "--fail-on", "none", "-q", "--show-values", "-o", f"json:{target}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    text = target.read_text(encoding="utf-8")
    report = json.loads(text)
    shown = {(f["subject"], f["identifier"]["type"]): f["identifier"]["value"] for f in report["findings"] if f["identifier"]}
    inventory = {d.id: d for d in load_inventory(INVENTORY).devices}
    checked = 0
    for (subject, id_type), value in shown.items():
        device = inventory.get(subject)
        if device is None or id_type not in device.identifiers:
            continue
        normals = {normalise_identifier(id_type, raw) for raw in device.identifiers[id_type]}
        assert value in normals, (subject, id_type)
        checked += 1
    assert checked >= 10
    leaked = {label for label, forms in VALUES.items() for form in forms if form in text}
    assert len(leaked) >= 10, "with --show-values the values are there"
