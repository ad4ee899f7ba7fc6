"""Hostile configuration files (issue 15, defects 1, 2, 3 and 9): one short line on stderr, exit 2.

Exit 1 means "findings" or "a new violation" to a CI job, so a broken config must never end in
a traceback (exit 1); and a message that quotes a value must stay one short line even when the
value is huge (a YAML alias bomb expanded into it).
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scanner.audit.config import load_config
from scanner.datafiles import load_yaml
from scanner.errors import ConfigError, InputError, SignatureError
from scanner.privacy import load_key

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "captures" / "demo.pcap"

# Every kind of YAML privscan reads, with a list and a map used as mapping keys.
UNHASHABLE_KEYS = {
    "list key in a flow mapping": "devices:\n  - {[1, 2]: x}\n",
    "map key in a flow mapping": "devices:\n  - {{a: 1}: x}\n",
    "complex block key": "devices:\n  - ? [1, 2]\n    : x\n",
    "merge of a list key": "base: &b {[1]: x}\ndevices:\n  - <<: *b\n",
}

# A "billion laughs": about 500 bytes that expand to 10^9 strings when aliases are followed.
BOMB = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{', '.join([f'*{chr(97 + i)}'] * 10)}]\n" for i in range(8)
) + "devices: *i\n"


def privscan(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "scanner", *args],
        capture_output=True,
        env={**os.environ, **(env or {})},
        cwd=REPO,
        timeout=timeout,
    )


def one_short_error(result: subprocess.CompletedProcess[bytes], limit: int = 300) -> str:
    lines = result.stderr.decode().strip().splitlines()
    assert result.returncode == 2, (result.returncode, lines[-3:])
    assert len(lines) == 1, lines[-5:]
    assert "Traceback" not in lines[0] and lines[0].startswith("privscan: error: ")
    assert len(lines[0]) <= limit, f"{len(lines[0])} characters: {lines[0][:200]}..."
    return lines[0]


@pytest.mark.parametrize("text", UNHASHABLE_KEYS.values(), ids=UNHASHABLE_KEYS.keys())
def test_an_unhashable_key_is_a_located_error_in_every_loader(tmp_path: Path, text: str) -> None:
    path = tmp_path / "data.yaml"
    path.write_text(text, encoding="utf-8")
    for error in (ConfigError, SignatureError):
        with pytest.raises(error) as raised:
            load_yaml(path, error)
        assert raised.value.line is not None and raised.value.line >= 1
        assert "key" in raised.value.message and str(path) in str(raised.value)


@pytest.mark.parametrize("option", ["--inventory", "--allowlist", "--subscribers"])
def test_an_unhashable_key_in_a_scan_file_exits_2_with_one_line(tmp_path: Path, option: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("devices:\n  - {[1, 2]: x}\n", encoding="utf-8")
    line = one_short_error(privscan("scan", str(DEMO), option, str(bad), "-q"))
    assert f"{bad}:2:" in line


def test_an_unhashable_key_in_a_signature_file_exits_2(tmp_path: Path) -> None:
    root = tmp_path / "signatures"
    (root / "identifiers").mkdir(parents=True)
    (root / "identifiers" / "bad.yaml").write_text("id: x\n? [1, 2]\n: y\n", encoding="utf-8")
    line = one_short_error(privscan("scan", str(DEMO), "--signatures", str(root), "-q"))
    assert "bad.yaml:2:" in line


def test_an_unhashable_key_in_an_audit_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(f"captures: [{DEMO}]\noutputs: {{[1]: x}}\n", encoding="utf-8")
    one_short_error(privscan("audit", str(config)))


WRONG_TYPES = {
    "duration list": "capture: {interface: lo, duration: [1]}\n",
    "duration map": "capture: {interface: lo, duration: {a: 1}}\n",
    "duration null": "capture: {interface: lo, duration: null}\n",
    "duration bool": "capture: {interface: lo, duration: true}\n",
    "interface list": "capture: {interface: [lo], duration: 1s}\n",
    "backend list": "capture: {interface: lo, duration: 1s, backend: [x]}\n",
    "backend map": "capture: {interface: lo, duration: 1s, backend: {x: 1}}\n",
    "filter list": "capture: {interface: lo, duration: 1s, filter: [port, 80]}\n",
    "output list": "capture: {interface: lo, duration: 1s, output: [a]}\n",
    "engine list": f"captures: [{DEMO}]\nengine: [native]\n",
    "engine map": f"captures: [{DEMO}]\nengine: {{native: 1}}\n",
    "fail_on list": f"captures: [{DEMO}]\nfail_on: [high]\n",
    "name list": f"captures: [{DEMO}]\nname: [a]\n",
    "name number": f"captures: [{DEMO}]\nname: 7\n",
    "show_values string": f"captures: [{DEMO}]\nshow_values: 'yes'\n",
    "captures map": "captures: {a: 1}\n",
    "captures number": "captures: 7\n",
    "capture list": "capture: [lo, 1s]\n",
    "outputs list": f"captures: [{DEMO}]\noutputs: [json]\n",
    "outputs target list": f"captures: [{DEMO}]\noutputs: {{json: [a]}}\n",
    "inventory list": f"captures: [{DEMO}]\ninventory: [a]\n",
    "history map": f"captures: [{DEMO}]\nhistory: {{a: 1}}\n",
    "whole document a list": "- captures\n",
    "whole document a string": "captures\n",
}


@pytest.mark.parametrize("text", WRONG_TYPES.values(), ids=WRONG_TYPES.keys())
def test_every_audit_config_value_of_the_wrong_type_is_a_config_error(tmp_path: Path, text: str) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert len(str(raised.value)) < 300


def test_a_wrong_duration_type_from_the_command_line_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text("capture: {interface: lo, duration: [1]}\n", encoding="utf-8")
    line = one_short_error(privscan("audit", str(config)))
    assert f"{config}:1:" in line and "duration" in line


def test_a_yaml_alias_bomb_is_refused_quickly_in_little_memory(tmp_path: Path) -> None:
    assert len(BOMB) < 600
    inventory = tmp_path / "bomb.yaml"
    inventory.write_text(BOMB, encoding="utf-8")
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = privscan("scan", str(DEMO), "--inventory", str(inventory), "-q", timeout=60)
    elapsed = time.monotonic() - started
    line = one_short_error(result)
    assert "alias" in line
    assert elapsed < 20, elapsed
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if peak_kib > before:  # the largest child so far is this one
        assert peak_kib < 400 * 1024, f"{peak_kib} KiB"


def test_one_level_less_of_the_bomb_still_gives_a_short_message(tmp_path: Path) -> None:
    # 10^7 expanded strings when followed: what made a 312 MB error line before.
    smaller = BOMB.replace("devices: *i", "devices: *h")
    inventory = tmp_path / "bomb.yaml"
    inventory.write_text(smaller, encoding="utf-8")
    one_short_error(privscan("scan", str(DEMO), "--inventory", str(inventory), "-q", timeout=60))


def test_a_few_aliases_still_work(tmp_path: Path) -> None:
    path = tmp_path / "ok.yaml"
    path.write_text("ids: &ids [a, b]\ndevices:\n  - {id: one, macs: *ids}\n  - {id: two, macs: *ids}\n", encoding="utf-8")
    document = load_yaml(path)
    assert document["devices"][1]["macs"] == ["a", "b"]


def test_a_long_value_is_quoted_short_in_errors(tmp_path: Path) -> None:
    inventory = tmp_path / "long.yaml"
    inventory.write_text("devices:\n  - id: kid\n    identifiers:\n      imei: [" + "9" * 100_000 + "]\n", encoding="utf-8")
    one_short_error(privscan("scan", str(DEMO), "--inventory", str(inventory), "-q"))
    config = tmp_path / "audit.yaml"
    config.write_text(f"captures: [{DEMO}]\nfail_on: {'x' * 100_000}\nengine: {'y' * 100_000}\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert len(str(raised.value)) < 300
    config.write_text(f"captures: [{DEMO}]\n{'k' * 100_000}: 1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(config)
    assert len(str(raised.value)) < 300


# ---------------------------------------------------------------- the HMAC key (defect 9)


def test_an_explicit_key_file_wins_over_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    key_file = tmp_path / "hmac.key"
    key_file.write_bytes(b"k" * 32)
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "an environment key, long enough")
    assert load_key(key_file) == b"k" * 32
    assert load_key(None) == b"an environment key, long enough"


def test_a_missing_explicit_key_file_is_an_error_even_with_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "an environment key, long enough")
    with pytest.raises(ConfigError, match="no such HMAC key file"):
        load_key(tmp_path / "absent.key")


def test_a_short_environment_key_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "x")
    with pytest.raises(InputError, match="at least 16 bytes"):
        load_key(None)


def test_the_cli_refuses_a_short_key_and_a_missing_key_file(tmp_path: Path) -> None:
    line = one_short_error(privscan("scan", str(DEMO), "-q", env={"PRIVSCAN_HMAC_KEY": "zq7"}))
    assert "PRIVSCAN_HMAC_KEY" in line and "zq7" not in line  # a key is a secret: never in a message
    absent = tmp_path / "absent.key"
    line = one_short_error(
        privscan("scan", str(DEMO), "-q", "--hmac-key-file", str(absent), env={"PRIVSCAN_HMAC_KEY": "long enough test key"})
    )
    assert str(absent) in line
