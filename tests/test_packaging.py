"""A wheel install scans like a checkout: the signatures travel with the package.

``signatures/`` sits at the repository's top level (the client's layout), outside
the ``scanner`` package; setup.py ships it as ``scanner/_signatures``.  Without that,
``pip install privscan-*.whl`` gave a scanner with no trackers, no identifier
signatures and no policy.  The wheel is built offline from a copy of the sources
and installed into a directory of its own, then run with the test environment's
dependencies but not its editable ``scanner``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SOURCES = ("pyproject.toml", "setup.py", "README.md", "scanner", "signatures")
DEMO = REPO / "captures" / "demo.pcap"
DEMO_INVENTORY = REPO / "captures" / "demo.inventory.yaml"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("setuptools.command.bdist_wheel", reason="setuptools >= 70.1 builds wheels without 'wheel'")
    tree = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        source = REPO / name
        if source.is_dir():
            shutil.copytree(source, tree / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, tree / name)
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(tree)],
        check=True, capture_output=True, timeout=300,
    )
    (built,) = out.glob("privscan-*.whl")
    return built


def test_wheel_carries_every_signature_file(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        "scanner/_signatures/" + path.relative_to(REPO / "signatures").as_posix()
        for path in (REPO / "signatures").rglob("*")
        if path.is_file()
    }
    assert len(expected) > 100
    assert expected - names == set(), "signature files missing from the wheel"
    modules = {path.relative_to(REPO).as_posix() for path in (REPO / "scanner").rglob("*.py")}
    assert modules - names == set(), "modules missing from the wheel"


def test_installed_wheel_scans_like_the_checkout(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(site), str(wheel)],
        check=True, capture_output=True, timeout=300,
    )
    # -S: no site.py, so the editable install's finder never loads; the wheel's scanner comes first
    # and the dependencies from this environment's site-packages.
    code = (
        "import sys; sys.path[:0] = [sys.argv.pop(1)]; sys.path.append(sys.argv.pop(1));"
        "import scanner, scanner.datafiles as d; print(scanner.__file__, d.default_signatures_root(), file=sys.stderr);"
        "from scanner.cli import main; main(sys.argv[1:])"
    )
    argv = ["scan", str(DEMO), "--inventory", str(DEMO_INVENTORY), "--format", "json", "-q"]
    env = {"PRIVSCAN_HMAC_KEY": "packaging-test-key-0123", "PRIVSCAN_STABLE_REPORT": "1", "PATH": "/usr/bin:/bin"}
    installed = subprocess.run(
        [sys.executable, "-S", "-c", code, str(site), sysconfig.get_paths()["purelib"], *argv],
        capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    checkout = subprocess.run(
        [sys.executable, "-m", "scanner", *argv], capture_output=True, text=True, timeout=300, env=env, cwd=tmp_path,
    )
    assert installed.returncode == checkout.returncode == 1, installed.stderr[-2000:]
    assert str(site / "scanner" / "_signatures") in installed.stderr, "the wheel's own signatures were used"
    ours, theirs = json.loads(installed.stdout), json.loads(checkout.stdout)
    assert len(ours["findings"]) == len(theirs["findings"]) > 10
    assert [f["id"] for f in ours["findings"]] == [f["id"] for f in theirs["findings"]]
    assert [s["path"] for s in ours["signatures"]] == [s["path"] for s in theirs["signatures"]]
