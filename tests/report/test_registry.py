"""The format registry: declaring a class registers it; the CLI finds formats by name or file name."""

from __future__ import annotations

import importlib
import io
import pkgutil
from pathlib import Path

import pytest

import scanner.report.formats as formats_package
from scanner.errors import InputError
from scanner.report.formats import (
    DEFAULT_FORMAT,
    FORMATS,
    RenderOptions,
    ReportFormat,
    available_formats,
    format_for_path,
    get_format,
    write_report,
)
from scanner.results import ScanResult
from scanner.settings import STABLE_ENV, Settings

EXPECTED = {"table", "json", "jsonl", "csv", "sarif", "html", "graphml", "gexf", "dot"}


def test_every_format_is_registered_by_being_declared() -> None:
    assert set(FORMATS) == EXPECTED
    assert available_formats() == sorted(EXPECTED)
    assert DEFAULT_FORMAT == "table"
    for name, cls in FORMATS.items():
        assert issubclass(cls, ReportFormat)
        assert cls.name == name
        assert cls.extensions, f"{name} has no file extension for -o"
        assert cls.description
        assert cls.__module__ == f"scanner.report.formats.{name}", "one module per format, named after it"


def test_get_format_by_name_and_unknown_name() -> None:
    assert get_format("json") is FORMATS["json"]
    assert get_format(" SARIF ") is FORMATS["sarif"]
    with pytest.raises(InputError, match="unknown report format 'pdf'") as caught:
        get_format("pdf")
    assert caught.value.exit_code == 2
    assert "json" in str(caught.value)


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("out/report.json", "json"),
        ("report.sarif", "sarif"),
        ("report.sarif.json", "sarif"),  # longest extension wins
        ("REPORT.HTML", "html"),
        ("findings.jsonl", "jsonl"),
        ("findings.ndjson", "jsonl"),
        ("r.csv", "csv"),
        ("flows.graphml", "graphml"),
        ("flows.gexf", "gexf"),
        ("flows.gv", "dot"),
        ("flows.dot", "dot"),
        ("report.txt", "table"),
    ],
)
def test_format_for_path(path: str, name: str) -> None:
    assert format_for_path(path) is FORMATS[name]


def test_format_for_path_unknown_extension() -> None:
    assert format_for_path("report.pdf") is None


def test_a_second_format_with_a_taken_name_is_a_bug() -> None:
    with pytest.raises(TypeError, match="declared twice"):

        class AnotherJson(ReportFormat):
            name = "json"

    assert FORMATS["json"].__module__ == "scanner.report.formats.json"


def test_an_intermediate_class_without_a_name_is_not_registered() -> None:
    before = dict(FORMATS)

    class Intermediate(ReportFormat):
        pass

    assert before == FORMATS


def test_an_import_error_in_a_format_module_is_raised_not_swallowed(monkeypatch: pytest.MonkeyPatch) -> None:
    real = pkgutil.iter_modules

    def with_a_broken_module(path: object = None, prefix: str = "") -> list[pkgutil.ModuleInfo]:
        modules = list(real(path, prefix))  # type: ignore[arg-type]
        return [*modules, pkgutil.ModuleInfo(modules[0].module_finder, "does_not_exist", False)]

    monkeypatch.setattr(pkgutil, "iter_modules", with_a_broken_module)
    with pytest.raises(ModuleNotFoundError):
        importlib.reload(formats_package)
    monkeypatch.undo()
    importlib.reload(formats_package)


def test_stable_option_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # The environment is read once, into the command line's settings; the formats only see options.
    monkeypatch.setenv(STABLE_ENV, "1")
    assert RenderOptions().is_stable is False
    assert RenderOptions(stable=True).is_stable is True
    assert RenderOptions(stable=False).is_stable is False
    assert Settings.from_environment().stable_report is True
    monkeypatch.delenv(STABLE_ENV)
    assert Settings.from_environment().stable_report is False


def test_write_report_to_a_file_keeps_bytes(scan_result: ScanResult, tmp_path: Path) -> None:
    for name in ("csv", "json", "html"):
        fmt = get_format(name)(RenderOptions(stable=True))
        target = tmp_path / f"out.{name}"
        write_report(scan_result, fmt, target)
        assert target.read_bytes() == fmt.render(scan_result).encode("utf-8")  # type: ignore[union-attr]
    assert b"\r\n" in (tmp_path / "out.csv").read_bytes()


def test_write_report_to_stdout(scan_result: ScanResult, capsys: pytest.CaptureFixture[str]) -> None:
    write_report(scan_result, get_format("jsonl")(), "-")
    assert capsys.readouterr().out.count("\n") == len(scan_result.findings)


def test_default_write_goes_to_a_text_stream(scan_result: ScanResult) -> None:
    out = io.StringIO()
    get_format("json")(RenderOptions(stable=True)).write(scan_result, out)
    assert out.getvalue().startswith("{\n")
