"""Live capture in a network namespace: scapy sends HTTP requests with identifiers, privscan records and audits them.

The test builds its own test host: a network namespace with one end of a veth
pair, the other end in this namespace.  scapy (run inside the namespace with
``ip netns exec``) sends the test device's requests out of its end;
``privscan capture`` (dumpcap) or the audit config's ``capture:`` form (scapy)
records the other end; the audit then finds the identifiers.

The frames are addressed to a MAC that is nobody's: the receiving kernel drops
them before IP (not for this host), so no RST, no forwarding and no traffic
beyond the veth pair, while the capture, promiscuous, records them all.

Needs root (or CAP_NET_ADMIN and CAP_NET_RAW) and iproute2 (``make test``
installs it when root); otherwise each test skips and says why.  The namespace
is deleted whatever happens.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.capture import parse_duration, record
from scanner.errors import InputError

NOBODY_MAC = "02:00:00:00:00:01"  # the "router" the device sends to: no interface has it


@dataclass(frozen=True)
class VethLab:
    namespace: str
    host_if: str  # our end, in this namespace: what privscan captures on
    peer_if: str  # the device's end, inside the namespace
    host_ip: str
    peer_ip: str
    peer_mac: str

    def in_namespace(self, *command: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", self.namespace, *command], capture_output=True, text=True, timeout=timeout, check=True
        )


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)


@pytest.fixture
def veth() -> Iterator[VethLab]:
    if not sys.platform.startswith("linux"):
        pytest.skip("network namespaces are a Linux feature")
    if shutil.which("ip") is None:
        pytest.skip("iproute2 is not installed (make test installs it when root: apt-get install iproute2)")
    if os.geteuid() != 0:
        pytest.skip("creating a network namespace and a veth pair needs root (CAP_NET_ADMIN)")
    tag = uuid.uuid4().hex[:6]
    namespace, host_if, peer_if = f"privscan-{tag}", f"psh{tag}", f"psn{tag}"
    # A /30 of its own per run, from the tag, so parallel runs on one machine do not collide.
    octet = int(tag[:2], 16)
    host_ip, peer_ip = f"10.203.{octet}.1", f"10.203.{octet}.2"
    made = _ip("netns", "add", namespace)
    if made.returncode != 0:
        pytest.skip(f"cannot create a network namespace here: {made.stderr.strip()}")
    try:
        steps = [
            ("link", "add", host_if, "type", "veth", "peer", "name", peer_if),
            ("link", "set", peer_if, "netns", namespace),
            ("addr", "add", f"{host_ip}/30", "dev", host_if),
            ("link", "set", host_if, "up"),
            ("-n", namespace, "addr", "add", f"{peer_ip}/30", "dev", peer_if),
            ("-n", namespace, "link", "set", peer_if, "up"),
            ("-n", namespace, "link", "set", "lo", "up"),
        ]
        for step in steps:
            done = _ip(*step)
            if done.returncode != 0:
                pytest.skip(f"cannot set up the veth pair (ip {' '.join(step)}): {done.stderr.strip()}")
        mac = _ip("-n", namespace, "-o", "link", "show", peer_if).stdout.split("link/ether ")[1].split()[0]
        yield VethLab(namespace, host_if, peer_if, host_ip, peer_ip, mac)
    finally:
        _ip("link", "del", host_if)  # gone with the namespace usually; harmless when already gone
        _ip("netns", "del", namespace)


def _inventory(lab: Any, veth: VethLab) -> None:
    lab.inventory.write_text(
        lab.inventory.read_text(encoding="utf-8").replace("10.0.0.7", veth.peer_ip).replace("02:00:00:00:00:07", veth.peer_mac),
        encoding="utf-8",
    )


def _send_from_namespace(lab: Any, veth: VethLab, leaks: list[str]) -> None:
    """scapy, inside the namespace, sends the device's HTTP requests out of the peer end."""
    packets = lab.capture("to-send.pcap", leaks, device_ip=veth.peer_ip, device_mac=veth.peer_mac,
                          router_mac=NOBODY_MAC, server_ip=veth.host_ip)
    script = (
        "import logging; logging.getLogger('scapy.runtime').setLevel(logging.ERROR)\n"
        "from scapy.all import rdpcap, sendp\n"
        f"sendp(rdpcap({str(packets)!r}), iface={veth.peer_if!r}, inter=0.01, verbose=False)\n"
    )
    veth.in_namespace(sys.executable, "-c", script)


def _wait_for_stderr(process: subprocess.Popen[str], needle: str, timeout: float = 30) -> list[str]:
    lines: list[str] = []
    seen = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line)
            if needle in line:
                seen.set()
        seen.set()

    threading.Thread(target=read, daemon=True).start()
    assert seen.wait(timeout) and any(needle in line for line in lines), "".join(lines)
    return lines


def _findings(report: Path) -> set[tuple[str, str | None, str]]:
    document = json.loads(report.read_text(encoding="utf-8"))
    return {(f["subject"], (f["identifier"] or {}).get("type"), f["destination"]["host"]) for f in document["findings"]}


@pytest.mark.skipif(shutil.which("dumpcap") is None, reason="dumpcap is not installed (make test installs tshark, which brings it)")
def test_privscan_capture_records_what_the_device_sends_and_the_audit_finds_it(lab: Any, veth: VethLab) -> None:
    _inventory(lab, veth)
    output = lab.root / "live.pcapng"
    process = lab.popen("capture", "--interface", veth.host_if, "--duration", "3s", "--filter", "tcp port 80", "-o", str(output))
    try:
        lines = _wait_for_stderr(process, "capturing on")
        _send_from_namespace(lab, veth, ["gaid_ads", "imei_appsflyer"])
        assert process.wait(timeout=30) == 0, "".join(lines)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "captured 10 packets" in "".join(lines)

    lab.write_config(["live.pcapng"])
    result = lab.run("audit", str(lab.config), "--format", "json")
    assert result.exit_code == 1, result.output  # a minor's IMEI to a tracker
    assert len(json.loads(result.stdout)["new"]) == 4  # two leaks, two tracker contacts
    found = _findings(lab.root / "report.json")
    assert ("kid-tablet-01", "gaid", "googleads.g.doubleclick.net") in found
    assert ("kid-tablet-01", "imei", "t.appsflyer.com") in found


def test_audit_config_live_capture_form_records_then_scans(lab: Any, veth: VethLab) -> None:
    _inventory(lab, veth)
    lab.config.write_text(
        "inventory: devices.yaml\n"
        f"capture: {{interface: {veth.host_if}, duration: 3s, backend: scapy, output: 'rec/audit-{{started}}.pcap'}}\n"
        "history: audit.sqlite\nfail_on: high\noutputs: {json: report.json}\n",
        encoding="utf-8",
    )
    process = lab.popen("audit", str(lab.config), "--format", "json")
    try:
        lines = _wait_for_stderr(process, "capturing on")
        _send_from_namespace(lab, veth, ["email_signup", "imei_appsflyer"])
        stdout, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 1, "".join(lines)
    assert "(scapy)" in "".join(lines)
    summary = json.loads(stdout)
    assert summary["run"] == 1 and len(summary["new"]) == 3
    recorded = list((lab.root / "rec").glob("audit-*.pcap"))
    assert len(recorded) == 1
    assert ("kid-tablet-01", "email", "api.example-kids.com") in _findings(lab.root / "report.json")
    from scanner.audit.history import History

    with History(lab.history) as history:
        run = history.run(summary["run"])
        assert run is not None and run.inputs[0]["path"] == str(recorded[0])


def test_a_missing_interface_is_one_clear_line(lab: Any) -> None:
    code, _, err = lab.main("capture", "--interface", "nosuchif0", "--duration", "1s", "-o", str(lab.root / "x.pcapng"))
    assert code == 2
    assert err.strip() == "privscan: error: no such network interface: nosuchif0"
    code, _, err = lab.main("capture", "--interface", "lo", "--duration", "soon", "-o", str(lab.root / "x.pcapng"))
    assert code == 2 and "--duration" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("stderr", "expected"),
    [
        (
            "Capturing on 'Loopback: lo'\ndumpcap: You do not have permission to capture on device \"lo\".\n"
            "(socket: Operation not permitted)\nPlease check to make sure you have sufficient permissions.\n",
            "permission denied capturing on lo: run as root, or give dumpcap CAP_NET_RAW",
        ),
        (
            "Capturing on 'Loopback: lo'\ndumpcap: Invalid capture filter \"tcp port\" for interface 'lo'.\n\n"
            "That string isn't a valid capture filter (can't parse filter expression: syntax error).\n",
            "invalid capture filter 'tcp port' for lo",
        ),
        ("Capturing on 'lo'\ndumpcap: something else went wrong\n", "dumpcap failed on lo: dumpcap: something else went wrong"),
    ],
)
def test_dumpcap_errors_become_one_line(stderr: str, expected: str) -> None:
    from scanner.audit.capture import _dumpcap_message

    bpf = "tcp port" if "filter" in stderr else None
    assert _dumpcap_message(stderr.splitlines(), "lo", bpf, 1).startswith(expected)


def test_record_refuses_before_capturing(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such directory"):
        record("lo", parse_duration("1s"), tmp_path / "missing" / "x.pcapng")
    with pytest.raises(InputError, match="unknown capture backend"):
        record("lo", 1.0, tmp_path / "x.pcapng", backend="wireshark")
