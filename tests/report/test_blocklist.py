"""privscan blocklist: which trackers, at which level, and files that dnsmasq and BIND accept."""

from __future__ import annotations

import dataclasses
import datetime
import shutil
import subprocess
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.report.blocklist import (
    blocklist_from,
    dns_name,
    next_rpz_serial,
    render_blocklist,
    render_dnsmasq,
    render_hosts,
    render_rpz,
    rpz_serial_of,
    why_empty,
)
from scanner.results import ScanResult


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
    today = int(datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")) * 100
    assert f"@ IN SOA localhost. hostmaster.localhost. {today} " in text, "date-based, not the capture's time"
    assert rpz_serial_of(text) == today
    assert "adnet.example CNAME .\n*.adnet.example CNAME .\n" in text
    assert " 42 3600 " in render_rpz(blocklist, serial=42)


def test_rpz_serial_increases_from_one_run_to_the_next(scan_result: ScanResult, tmp_path: Path) -> None:
    day = datetime.date(2026, 12, 8)
    assert next_rpz_serial(None, day) == 2026120800
    assert next_rpz_serial(2026120800, day) == 2026120801, "a second run on one day"
    assert next_rpz_serial(2026120799, day) == 2026120800
    assert next_rpz_serial(2026110503, day) == 2026120800, "an older day's serial"
    assert next_rpz_serial(4000000000, day) == 4000000001, "a larger serial of another scheme is passed, not undercut"
    zone = tmp_path / "kids.rpz"
    serials = []
    for _ in range(3):
        zone.write_text(render_blocklist(scan_result, "rpz", replaces=zone), encoding="utf-8")
        serials.append(rpz_serial_of(zone.read_text(encoding="utf-8")))
    assert serials[0] is not None and serials == [serials[0], serials[0] + 1, serials[0] + 2]
    older = dataclasses.replace(scan_result, captures=tuple(dataclasses.replace(c, last_ts=1.0) for c in scan_result.captures))
    zone.write_text(render_blocklist(older, "rpz", replaces=zone), encoding="utf-8")
    assert rpz_serial_of(zone.read_text(encoding="utf-8")) == serials[0] + 3, "an older capture does not make it go back"


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
    assert f"loaded serial {rpz_serial_of(zone.read_text(encoding='utf-8'))}" in done.stdout


def test_why_empty(scan_result: ScanResult) -> None:
    assert why_empty(scan_result) is None, "the demo blocks trackers: nothing to explain"
    no_minors = dataclasses.replace(scan_result, subjects=tuple(dataclasses.replace(s, minor=None) for s in scan_result.subjects))
    no_minors = dataclasses.replace(no_minors, findings=tuple(
        dataclasses.replace(f, subject=dataclasses.replace(f.subject, minor=None)) for f in scan_result.findings))
    reason = why_empty(no_minors)
    assert reason is not None and "no subject is known to be a minor" in reason
    assert "--assume-minor" in reason and "networks" in reason
    nothing = why_empty(dataclasses.replace(scan_result, findings=()))
    assert nothing is not None and "no third-party tracker received" in nothing


DEMO = Path(__file__).resolve().parents[2] / "captures" / "demo.pcap"


def test_blocklist_command_says_why_it_is_empty_and_takes_no_ignored_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from scanner.cli import main

    def run(*args: str) -> tuple[int, str, str]:
        with pytest.raises(SystemExit) as exited:
            main(["blocklist", str(DEMO), "-q", *args])
        captured = capsys.readouterr()
        return int(exited.value.code or 0), captured.out, captured.err

    code, out, err = run()
    assert code == 0 and not [line for line in out.splitlines() if line.startswith("0.0.0.0 ")]
    assert "no subject is known to be a minor" in err and "--assume-minor" in err and "networks" in err
    code, out, err = run("--assume-minor")
    assert code == 0 and "0.0.0.0 googleads.g.doubleclick.net" in out and "blocklist is empty" not in err
    for ignored in ("--show-values", "--hmac-key-file=k"):
        code, _, err = run(ignored)
        assert code == 2 and "No such option" in err, ignored
    zone = tmp_path / "kids.rpz"
    serials = []
    for _ in range(2):
        run("--assume-minor", "--format", "rpz", "-o", str(zone))
        serials.append(rpz_serial_of(zone.read_text(encoding="utf-8")))
    assert serials[0] is not None and serials[1] == serials[0] + 1
