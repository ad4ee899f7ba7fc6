"""Fixtures for the audit tests: a lab directory with tiny captures built from a catalogue of leaks.

Each leak is one HTTP request (a full TCP handshake, the request, a FIN) from
the inventory's child tablet, so a capture is a few hundred bytes and scans in
milliseconds, and a later capture can add or drop exactly one leak.  The HMAC
key comes from tests/conftest.py (PRIVSCAN_HMAC_KEY), so fingerprints are the
same in every run and in subprocesses, which inherit the environment.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result

logging.getLogger("scapy.runtime").setLevel(logging.ERROR)

from scapy.layers.inet import IP, TCP  # noqa: E402
from scapy.layers.l2 import Ether  # noqa: E402
from scapy.utils import PcapWriter  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEVICE_IP = "10.0.0.7"
DEVICE_MAC = "02:00:00:00:00:07"
ROUTER_MAC = "02:00:00:00:00:01"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"
IMEI = "356938035643809"
EMAIL = "emma@example.org"

INVENTORY = f"""\
devices:
  - id: kid-tablet-01
    minor: true
    ips: [{DEVICE_IP}]
    macs: ["{DEVICE_MAC}"]
    identifiers:
      imei: ["{IMEI}"]
      gaid: ["{GAID}"]
      email: ["{EMAIL}"]
"""


@dataclass(frozen=True)
class Leak:
    host: str
    ip: str
    uri: str


# Each leak becomes one finding (plus one info "contact" finding per tracker host, shared by
# every leak to that host): "imei_ads" adds exactly one finding to a capture that has "gaid_ads".
LEAKS: dict[str, Leak] = {
    "gaid_ads": Leak("googleads.g.doubleclick.net", "142.250.1.1", f"/pagead/ads?adid={GAID}"),
    "imei_ads": Leak("googleads.g.doubleclick.net", "142.250.1.1", f"/pagead/ads?imei={IMEI}&fmt=json"),
    "imei_appsflyer": Leak("t.appsflyer.com", "52.1.1.1", f"/api/v4/androidevent?imei={IMEI}"),
    "email_signup": Leak("api.example-kids.com", "52.1.1.2", "/signup?email=emma%40example.org"),
}


def leak_packets(
    leaks: Sequence[str],
    start: float = 1_700_000_000.0,
    device_ip: str = DEVICE_IP,
    device_mac: str = DEVICE_MAC,
    router_mac: str = ROUTER_MAC,
    server_ip: str | None = None,
) -> list[Any]:
    """One HTTP request per leak name (handshake, request, FIN), in order, with deterministic times."""
    packets: list[Any] = []
    t = start
    for index, name in enumerate(leaks):
        leak = LEAKS[name]
        payload = (
            f"GET {leak.uri} HTTP/1.1\r\nHost: {leak.host}\r\nUser-Agent: okhttp/4.12.0\r\nAccept: */*\r\n\r\n"
        ).encode()
        sport = 40000 + index
        server = server_ip or leak.ip
        up = Ether(src=device_mac, dst=router_mac) / IP(src=device_ip, dst=server)
        down = Ether(src=router_mac, dst=device_mac) / IP(src=server, dst=device_ip)
        for packet in (
            up / TCP(sport=sport, dport=80, flags="S", seq=1000),
            down / TCP(sport=80, dport=sport, flags="SA", seq=5000, ack=1001),
            up / TCP(sport=sport, dport=80, flags="A", seq=1001, ack=5001),
            up / TCP(sport=sport, dport=80, flags="PA", seq=1001, ack=5001) / payload,
            up / TCP(sport=sport, dport=80, flags="FA", seq=1001 + len(payload), ack=5001),
        ):
            packet.time = t
            t += 0.001
            packets.append(packet)
        t += 1.0
    return packets


def write_capture(path: Path, leaks: Sequence[str], **options: Any) -> Path:
    """A classic pcap of ``leak_packets``: deterministic bytes, a few hundred per leak."""
    writer = PcapWriter(str(path), linktype=1, sync=True)
    for packet in leak_packets(leaks, **options):
        writer.write(packet)
    writer.close()
    return path


def audit_group() -> click.Group:
    """privscan's command group with the audit commands registered (cli.py will do it itself)."""
    from scanner.audit.commands import register
    from scanner.cli import cli

    register(cli)
    return cli


def privscan_argv(*args: str) -> list[str]:
    """The command line of a privscan subprocess (python -m scanner: the privscan command, audit commands included)."""
    return [sys.executable, "-m", "scanner", *args]


class Lab:
    """A temporary lab: inventory, captures, audit config, history; commands run in-process."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.inventory = root / "devices.yaml"
        self.inventory.write_text(INVENTORY, encoding="utf-8")
        self.config = root / "audit.yaml"
        self.history = root / "audit.sqlite"
        self.baseline = root / "privscan-baseline.yaml"

    def capture(self, name: str, leaks: Sequence[str], **options: Any) -> Path:
        return write_capture(self.root / name, leaks, **options)

    def write_config(self, captures: Sequence[str] | str, **extra: Any) -> Path:
        lines = [
            "inventory: devices.yaml",
            f"captures: {list(captures) if not isinstance(captures, str) else [captures]}",
            "history: audit.sqlite",
            "baseline: privscan-baseline.yaml",
            "fail_on: high",
            "outputs: {html: report.html, json: report.json, sarif: report.sarif}",
        ]
        lines += [f"{key}: {value}" for key, value in extra.items()]
        self.config.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return self.config

    def run(self, *args: str) -> Result:
        return CliRunner().invoke(audit_group(), list(args), catch_exceptions=False)

    def main(self, *args: str) -> tuple[int, str, str]:
        """Run through scanner.cli.main, as the privscan command does: (exit status, stdout, stderr)."""
        from scanner.cli import main

        audit_group()
        out, err = io.StringIO(), io.StringIO()
        code: int | str | None = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                main(list(args))
            except SystemExit as exited:
                code = exited.code
        return (code if isinstance(code, int) else 1), out.getvalue(), err.getvalue()

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "PYTHONPATH": str(REPO), **extra}

    def subprocess(self, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            privscan_argv(*args), cwd=self.root, env=self.env(**extra_env), capture_output=True, text=True, timeout=60
        )

    def popen(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            privscan_argv(*args), cwd=self.root, env=self.env(**extra_env),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )


@pytest.fixture
def lab(tmp_path: Path) -> Lab:
    return Lab(tmp_path)
