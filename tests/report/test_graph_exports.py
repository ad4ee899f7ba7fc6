"""GraphML, GEXF and DOT: readable by their tools, quoted properly, stable."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
import subprocess
from pathlib import Path

import networkx as nx
import pytest

from scanner.report.formats import get_format
from scanner.report.formats.dot import quote
from scanner.results import ScanResult


def render(name: str, result: ScanResult) -> str:
    text = get_format(name)().render(result)
    assert isinstance(text, str)
    return text


def test_graphml_round_trips(scan_result: ScanResult) -> None:
    text = render("graphml", scan_result)
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<graphml')
    graph = nx.read_graphml(io.BytesIO(text.encode()))
    original = scan_result.graph
    assert set(graph.nodes) == set(original.nodes)
    assert graph.number_of_edges() == original.number_of_edges()
    assert graph.nodes["subject:kid-tablet-01"]["minor"] == "true"
    assert graph.nodes["host:ads.adnet.example"]["tracker"] is True
    relations = {d["relation"] for _, _, d in graph.edges(data=True)}
    assert relations == {k for _, _, k in original.edges(keys=True)}
    assert "kid-tablet-2024-05-01.pcapng=" in graph.graph["captures"]


def test_gexf_round_trips_without_today_in_it(scan_result: ScanResult) -> None:
    text = render("gexf", scan_result)
    assert 'lastmodifieddate="2024-05-01"' in text, "the data's date, not today's"
    assert "<creator>privscan 0.1.0</creator>" in text and "NetworkX" not in text
    graph = nx.read_gexf(io.BytesIO(text.encode()))
    assert set(graph.nodes) == set(scan_result.graph.nodes)
    assert graph.number_of_edges() == scan_result.graph.number_of_edges()
    assert graph.nodes["subject:kid-tablet-01"]["viz"]["color"]["r"] == 190


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("plain", '"plain"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash \\N", '"back\\\\slash \\\\N"'),
        ("two\nlines", '"two\\nlines"'),
        ("esc\x1b[2J", '"esc\\\\x1b[2J"'),
        ("<b>html</b>", '"<b>html</b>"'),
    ],
)
def test_dot_quoting(value: str, quoted: str) -> None:
    assert quote(value) == quoted


def test_dot_structure(scan_result: ScanResult) -> None:
    text = render("dot", scan_result)
    assert text.startswith("// privscan 0.1.0 data-flow graph\n")
    assert 'digraph "privscan" {' in text and text.endswith("}\n")
    for node in scan_result.graph.nodes:
        assert f"  {quote(node)} [" in text
    assert text.count(" -> ") == scan_result.graph.number_of_edges()
    assert '"relation"="sent_to"' in text and "{ rank=same;" in text


def test_dot_with_hostile_names_still_parses(scan_result: ScanResult, tmp_path: Path) -> None:
    graph = scan_result.graph.copy()
    hostile = 'host:evil"];\n"x" -> "y" [label="\\N'
    graph.add_node(
        hostile, kind="host", label='evil"]; digraph { \\G', tracker=True, party="third", domain="", org="", category=""
    )
    graph.add_edge(
        "subject:kid-tablet-01", hostile, key="contacted", count=1, protocols="dns", first_seen=1.0, last_seen=2.0
    )
    text = render("dot", dataclasses.replace(scan_result, graph=graph))
    kinds = {d["kind"] for _, d in graph.nodes(data=True)}
    # 7 header lines, one line per node, per edge and per rank group, and the closing brace: nothing more.
    assert len(text.splitlines()) == 7 + graph.number_of_nodes() + graph.number_of_edges() + len(kinds) + 1
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz is not installed: quoting checked above, parsing not")
    source = tmp_path / "g.dot"
    source.write_text(text, encoding="utf-8")
    done = subprocess.run([dot, "-Tjson", str(source)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert not done.stderr.strip(), done.stderr
    parsed = json.loads(done.stdout)
    assert len(parsed["edges"]) == graph.number_of_edges()
    names = [o["name"] for o in parsed["objects"] if "nodes" not in o]  # the rank=same groups are subgraphs
    assert len(names) == graph.number_of_nodes()
    # DOT unescapes only \" in an id (a \n stays two characters), so compare the unaffected nodes exactly
    assert set(graph.nodes) - {hostile} <= set(names)
    assert sum(1 for name in names if name.startswith('host:evil"];')) == 1


def test_graphviz_parses_the_report(scan_result: ScanResult, tmp_path: Path) -> None:
    dot = shutil.which("dot")
    if dot is None:
        pytest.skip("Graphviz is not installed (apt-get install graphviz)")
    source = tmp_path / "g.dot"
    source.write_text(render("dot", scan_result), encoding="utf-8")
    done = subprocess.run([dot, "-Tsvg", str(source)], capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0 and "<svg" in done.stdout, done.stderr
    assert not done.stderr.strip(), done.stderr
