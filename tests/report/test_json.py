"""The JSON report against docs/report.md's contract and schemas/report-v1.schema.json; determinism."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import networkx as nx
import pytest

from scanner.model import EVENT_TYPES, LOCATIONS, SEVERITIES, SUBJECT_SOURCES, channel_location, contact_location
from scanner.report.formats import RenderOptions, get_format
from scanner.results import ScanResult
from scanner.settings import STABLE_ENV, Settings

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "schemas" / "report-v1.schema.json"


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def render(result: ScanResult, *, stable: bool = True) -> dict[str, Any]:
    return json.loads(get_format("json")(RenderOptions(stable=stable)).render(result))


def test_report_validates_against_the_schema(scan_result: ScanResult, validator: Any) -> None:
    errors = sorted(validator.iter_errors(render(scan_result)), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_report_with_values_validates_too(scan_result_with_values: ScanResult, validator: Any) -> None:
    validator.validate(render(scan_result_with_values, stable=False))


def test_schema_rejects_what_the_contract_forbids(scan_result: ScanResult, validator: Any) -> None:
    document = render(scan_result)
    broken = json.loads(json.dumps(document))
    broken["findings"][0]["severity"] = "urgent"
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(document))
    del broken["findings"][0]["destination"]["party"]
    assert not validator.is_valid(broken)
    broken = json.loads(json.dumps(document))
    broken["schema"] = "privscan/report/v2"
    assert not validator.is_valid(broken)


def test_schema_enums_follow_the_model() -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    assert set(schema["$defs"]["severity"]["enum"]) == set(SEVERITIES)
    assert set(schema["$defs"]["channel"]["properties"]["location"]["enum"]) == set(LOCATIONS)
    # docs/report.md: "location": "query|path|header|cookie|body|sni|dns|user_agent", a closed list;
    # "party": "first|third".
    assert LOCATIONS == ("query", "path", "header", "cookie", "body", "sni", "dns", "user_agent")
    assert schema["$defs"]["destination"]["properties"]["party"]["enum"] == ["first", "third"]


@pytest.mark.parametrize(
    ("detector_location", "protocol", "reported"),
    [
        ("header_enrichment", "http", "header"),
        ("name", "mdns", "dns"),
        ("name", "llmnr", "dns"),
        ("name", "nbns", "dns"),
        ("name", "ssdp", "header"),
        ("name", "dhcp", "body"),
        ("query", "http", "query"),
        ("sni", "quic", "sni"),
    ],
)
def test_detector_locations_map_onto_the_contracts(detector_location: str, protocol: str, reported: str) -> None:
    assert channel_location(detector_location, protocol) == reported in LOCATIONS


def test_every_event_type_declares_locations_of_the_contract() -> None:
    # DHCPv6 messages are "dhcp" events (version 6): there is no "dhcpv6" protocol to map.
    assert "dhcpv6" not in EVENT_TYPES
    for protocol, event_type in EVENT_TYPES.items():
        assert channel_location("name", protocol) == event_type.name_location in LOCATIONS
        if event_type.contact_location is not None:
            assert contact_location(protocol) == event_type.contact_location in LOCATIONS


def test_contract_keys_and_meanings(scan_result: ScanResult) -> None:
    document = render(scan_result)
    assert list(document)[:7] == ["schema", "tool", "captures", "stats", "subjects", "findings", "graph"]
    assert document["schema"] == "privscan/report/v1"
    assert document["tool"] == {"name": "privscan", "version": "0.1.0"}
    assert len(document["findings"]) == len(scan_result.findings)
    by_id = {f.id: f for f in scan_result.findings}
    for record in document["findings"]:
        assert record == by_id[record["id"]].to_record()
    contact = [f for f in document["findings"] if f["rule"] == "PS106"]
    assert contact and contact[0]["identifier"] is None
    ranks = [SEVERITIES.index(f["severity"]) for f in document["findings"]]
    assert ranks == sorted(ranks, reverse=True), "worst first"
    assert {s["id"] for s in document["subjects"]} == {s.id for s in scan_result.subjects}
    assert document["analyses"]["linkable_identifiers"][0]["organisations"] == ["AdNet Example Ltd", "MetricsCo"]
    assert [s["path"] for s in document["signatures"]] == sorted(s.path for s in scan_result.signatures)
    assert document["warnings"] == list(scan_result.warnings)
    assert {r["id"] for r in document["rules"]} == {r.id for r in scan_result.rules}


def test_graph_is_node_link_data_under_links(scan_result: ScanResult) -> None:
    graph = render(scan_result)["graph"]
    assert graph["directed"] is True and graph["multigraph"] is True
    assert "links" in graph and "edges" not in graph
    assert [n["id"] for n in graph["nodes"]] == sorted(n["id"] for n in graph["nodes"])
    rebuilt = nx.node_link_graph(graph, edges="links")
    assert rebuilt.number_of_nodes() == scan_result.graph.number_of_nodes()
    assert rebuilt.number_of_edges() == scan_result.graph.number_of_edges()
    assert {k for _, _, k in rebuilt.edges(keys=True)} == {k for _, _, k in scan_result.graph.edges(keys=True)}


def test_stable_output_blanks_elapsed_only(scan_result: ScanResult, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(STABLE_ENV, raising=False)
    assert render(scan_result, stable=True)["stats"]["elapsed_s"] is None
    assert render(scan_result, stable=False)["stats"]["elapsed_s"] == 4.271
    monkeypatch.setenv(STABLE_ENV, "1")
    options = RenderOptions(stable=Settings.from_environment().stable_report)  # as the command line builds them
    assert json.loads(get_format("json")(options).render(scan_result))["stats"]["elapsed_s"] is None


def _as_if_merged_differently(result: ScanResult) -> ScanResult:
    """The same scan as a parallel run might hand it over: other orders everywhere, other elapsed time."""
    graph = nx.MultiDiGraph()
    for node in reversed(list(result.graph.nodes)):
        attrs = result.graph.nodes[node]
        graph.add_node(node, **dict(reversed(list(attrs.items()))))
    for u, v, k, d in reversed(list(result.graph.edges(keys=True, data=True))):
        graph.add_edge(u, v, key=k, **dict(reversed(list(d.items()))))
    stats = dict(reversed(list(result.stats.items())))
    stats["elapsed_s"] = 1.5
    stats["anomalies"] = dict(reversed(list(result.stats["anomalies"].items())))
    return dataclasses.replace(
        result,
        findings=tuple(reversed(result.findings)),
        subjects=tuple(reversed(result.subjects)),
        graph=graph,
        stats=stats,
        rules=tuple(reversed(result.rules)),
        signatures=tuple(reversed(result.signatures)),
        analyses=dataclasses.replace(
            result.analyses,
            organisations=tuple(reversed(result.analyses.organisations)),
            subjects=tuple(reversed(result.analyses.subjects)),
        ),
    )


@pytest.mark.parametrize("name", ["json", "jsonl", "csv", "sarif", "html", "table", "graphml", "gexf", "dot"])
def test_serial_and_parallel_orders_give_identical_bytes(name: str, build: Callable[..., ScanResult]) -> None:
    fmt = get_format(name)(RenderOptions(stable=True, width=100))
    assert fmt.render(build()) == fmt.render(_as_if_merged_differently(build()))


def test_output_is_utf8_text_with_unicode_kept(scan_result_with_values: ScanResult) -> None:
    text = get_format("json")(RenderOptions(stable=True)).render(scan_result_with_values)
    assert isinstance(text, str)
    assert "Emma’s iPad" in text
    assert text.endswith("}\n")


def test_subject_sources_are_the_design_contracts_and_nothing_else(scan_result: ScanResult, validator: Any) -> None:
    assert SUBJECT_SOURCES == ("inventory", "gtp", "radius", "dhcp", "address")  # docs/report.md, "subjects"
    document = render(scan_result)
    document["subjects"][0]["source"] = "diameter"
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(document)


@pytest.mark.parametrize("source", SUBJECT_SOURCES)
def test_every_subject_source_the_pipeline_uses_is_valid(source: str, scan_result: ScanResult, validator: Any) -> None:
    document = render(scan_result)
    document["subjects"][0]["source"] = source
    validator.validate(document)
