"""privscan blocklist: which trackers, at which level, and files that dnsmasq and BIND accept."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.model import ScanResult
from scanner.report.blocklist import (
    blocklist_from,
    dns_name,
    render_blocklist,
    render_dnsmasq,
    render_hosts,
    render_rpz,
)


def test_selection_and_levels(scan_result: ScanResult) -> None:
    blocklist = blocklist_from(scan_result)
    entries = {e.name: e for e in blocklist.entries}
    # minors' identifiers to third-party trackers
    assert set(entries) == {"adnet.example", "collect.metricsco.example", "geoloc.example", "pushmail.example"}
    # the whole domain when every host seen under it is a tracker...
    assert entries["adnet.example"].wildcard
    assert entries["adnet.example"].hosts == ("ads.adnet.example", "pixel.adnet.example")
    # ...only the host when the domain also served a non-tracker (www.metricsco.example, an adult's visit)
    assert not entries["collect.metricsco.example"].wildcard
    assert entries["adnet.example"].orgs == ("AdNet Example Ltd",)
    assert entries["geoloc.example"].id_types == ("geo",)
    # not: a contact without an identifier (social), an allow-listed finding (appvendor), subjects
    # of unknown age (the operator's header to MetricsCo, the cookie to pixel.adnet), a first party (telco)
    for name in ("social.example", "appvendor.example", "telco.example"):
        assert name not in entries
    assert blocklist.data_ts == 1714562000


def test_skips_what_is_not_a_dns_name(scan_result: ScanResult) -> None:
    finding = next(f for f in scan_result.findings if f.rule == "PS102")
    as_ip = dataclasses.replace(
        finding, destination=dataclasses.replace(finding.destination, host="198.51.100.20", domain=None)
    )
    blocklist = blocklist_from(dataclasses.replace(scan_result, findings=(as_ip,)))
    assert blocklist.entries == () and blocklist.skipped == ("198.51.100.20",)
    assert "Left out, not DNS names: 198.51.100.20" in render_hosts(blocklist)


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ads.AdNet.Example.", "ads.adnet.example"),
        ("_dmarc.example.com", "_dmarc.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("203.0.113.7", None),
        ("[2001:db8::1]", None),
        ("localhost", None),
        ("evil.example/\naddress=/#/1.2.3.4", None),
        ("-bad.example", None),
        ("a..b", None),
        ("host.123", None),
        ("", None),
        (None, None),
    ],
)
def test_dns_name(name: str | None, expected: str | None) -> None:
    assert dns_name(name) == expected


def test_hosts_file(scan_result: ScanResult) -> None:
    text = render_hosts(blocklist_from(scan_result))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert "0.0.0.0 adnet.example" in lines and ":: pixel.adnet.example" in lines
    assert all(line.split()[0] in ("0.0.0.0", "::") and len(line.split()) == 2 for line in lines)
    assert "www.metricsco.example" not in text
    for capture in scan_result.captures:
        assert capture.sha256 in text


def test_rpz_serial_and_records(scan_result: ScanResult) -> None:
    blocklist = blocklist_from(scan_result)
    text = render_rpz(blocklist)
    assert "@ IN SOA localhost. hostmaster.localhost. 1714562000 " in text
    assert "adnet.example CNAME .\n*.adnet.example CNAME .\n" in text
    assert " 42 3600 " in render_rpz(blocklist, serial=42)
    assert render_rpz(blocklist) == render_rpz(blocklist_from(scan_result)), "same scan, same zone"


def test_empty_blocklist_is_still_a_valid_file(scan_result: ScanResult) -> None:
    empty = blocklist_from(dataclasses.replace(scan_result, findings=()))
    assert empty.entries == ()
    assert "@ IN NS localhost." in render_rpz(empty)
    assert not [line for line in render_dnsmasq(empty).splitlines() if line.startswith("server=")]


def test_unknown_blocklist_format(scan_result: ScanResult) -> None:
    with pytest.raises(InputError, match="unknown blocklist format"):
        render_blocklist(scan_result, "pac")


def test_dnsmasq_accepts_it(scan_result: ScanResult, tmp_path: Path) -> None:
    dnsmasq = shutil.which("dnsmasq") or ("/usr/sbin/dnsmasq" if Path("/usr/sbin/dnsmasq").exists() else None)
    if dnsmasq is None:
        pytest.skip("dnsmasq is not installed (apt-get install dnsmasq-base)")
    config = tmp_path / "privscan.conf"
    config.write_text(render_blocklist(scan_result, "dnsmasq"), encoding="utf-8")
    done = subprocess.run(
        [dnsmasq, "--test", f"--conf-file={config}"], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0 and "syntax check OK" in done.stderr, done.stderr


def test_bind_accepts_the_rpz(scan_result: ScanResult, tmp_path: Path) -> None:
    checkzone = shutil.which("named-checkzone")
    if checkzone is None:
        pytest.skip("named-checkzone is not installed (apt-get install bind9-utils)")
    zone = tmp_path / "privscan.rpz"
    zone.write_text(render_blocklist(scan_result, "rpz"), encoding="utf-8")
    done = subprocess.run(
        [checkzone, "privscan.rpz", str(zone)], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "loaded serial 1714562000" in done.stdout
