"""--keylog on the command line and in audit configs: one-line errors, warnings without secrets,
the same report with --jobs, and DSB captures needing no flag (captures/tls, real stacks)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from scanner.audit.config import load_config
from scanner.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent
TLS = REPO / "captures" / "tls"
CAPTURE, DSB, KEYS = TLS / "tls_own.pcapng", TLS / "tls_own.dsb.pcapng", TLS / "tls_own.keys"


def privscan(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "cli-test", "PRIVSCAN_STABLE_REPORT": "1"}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, text=True, env=env, cwd=REPO, timeout=300)


def secrets_in(text: str) -> list[str]:
    wanted = {line.split()[2] for line in KEYS.read_text(encoding="ascii").splitlines() if line and not line.startswith("#")}
    return [secret for secret in wanted if secret in text.lower()]


@pytest.mark.parametrize("command", ["scan", "events", "blocklist"])
def test_an_unreadable_key_log_is_one_line_and_exit_2(command: str, tmp_path: Path) -> None:
    result = privscan(command, str(CAPTURE), "--keylog", str(tmp_path / "missing.keys"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"privscan: error: cannot read key log {tmp_path / 'missing.keys'}: No such file or directory"]


def test_events_with_keys_and_warnings_without_them() -> None:
    with_keys = privscan("events", str(CAPTURE), "--keylog", str(KEYS))
    assert with_keys.returncode == 0 and with_keys.stderr == ""
    decrypted = [json.loads(line) for line in with_keys.stdout.splitlines() if '"decrypted"' in line]
    assert {e["decrypted"] for e in decrypted} == {"TLSv1.0", "TLSv1.2", "TLSv1.3"}
    assert not secrets_in(with_keys.stdout)
    without = privscan("events", str(CAPTURE))
    assert '"decrypted"' not in without.stdout
    assert "TLS/QUIC connections could not be read" in without.stderr and "docs/decryption.md" in without.stderr


def test_a_malformed_key_log_line_is_a_warning_naming_the_line_not_the_secret(tmp_path: Path) -> None:
    lines = [line for line in KEYS.read_text(encoding="ascii").splitlines() if not line.startswith("#")]
    label, client_random, secret = lines[0].split()
    broken = tmp_path / "broken.keys"
    broken.write_text("\n".join(["# a comment", f"{label} {client_random} {secret[:-3]}", *lines[1:]]) + "\n", encoding="ascii")
    result = privscan("events", str(CAPTURE), "--keylog", str(broken))
    assert f"key log {broken}:2: malformed {label} line ignored" in result.stderr
    assert secret[:-3] not in result.stderr and client_random not in result.stderr


def test_scan_reports_are_the_same_with_the_dsb_and_with_jobs(tmp_path: Path) -> None:
    reports = {}
    for name, args in {
        "keylog": [str(CAPTURE), "--keylog", str(KEYS)],
        "jobs": [str(CAPTURE), str(DSB), "--keylog", str(KEYS), "--jobs", "2"],
        "serial": [str(CAPTURE), str(DSB), "--keylog", str(KEYS)],
    }.items():
        result = privscan("scan", *args, "-q", "--format", "json", "--fail-on", "none")
        assert result.returncode == 0, result.stderr
        assert not secrets_in(result.stdout + result.stderr)
        reports[name] = json.loads(result.stdout)
    assert reports["jobs"] == reports["serial"]
    assert reports["keylog"]["stats"]["tls_connections_decrypted"] * 2 == reports["serial"]["stats"]["tls_connections_decrypted"]


def test_audit_config_keylog(tmp_path: Path) -> None:
    config = tmp_path / "audit.yaml"
    config.write_text(f"captures: [{CAPTURE}]\nkeylog: [{KEYS}]\n", encoding="utf-8")
    assert load_config(config).scan_settings().keylogs == (str(KEYS),)
    config.write_text(f"captures: [{CAPTURE}]\nkeylog: {KEYS}\n", encoding="utf-8")
    assert load_config(config).scan_settings().keylogs == (str(KEYS),)
    config.write_text(f"captures: [{CAPTURE}]\nkeylog:\n  - {KEYS}\n  - missing.keys\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"audit\.yaml:4: keylog: no such file: .*missing\.keys"):
        load_config(config)


@pytest.mark.parametrize("args", [[str(CAPTURE), "--keylog", str(KEYS)], [str(DSB)]])
def test_one_capture_split_into_flow_shards_decrypts_the_same(args: list[str]) -> None:
    # --jobs 2 on one capture: two processes each decode the flows of their shard; both read
    # the key log (and the capture's DSBs), and the merged report is the serial one.
    serial = privscan("scan", *args, "-q", "--format", "json", "--fail-on", "none")
    sharded = privscan("scan", *args, "-q", "--format", "json", "--fail-on", "none", "--jobs", "2")
    assert serial.returncode == sharded.returncode == 0, sharded.stderr
    assert json.loads(sharded.stdout) == json.loads(serial.stdout)
    assert json.loads(serial.stdout)["stats"]["tls_connections_decrypted"] > 20
