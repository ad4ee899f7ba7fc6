"""privscan audit: two audits in a row, new / open / resolved, exit statuses, baseline and allow-list."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from scanner.audit.history import History


def _summary(output: str) -> dict[str, Any]:
    summary: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    return summary


def _finding_ids(report: Path, **match: str) -> list[str]:
    """Ids of the findings in a JSON report whose identifier type / host match."""
    document = json.loads(report.read_text(encoding="utf-8"))
    out = []
    for finding in document["findings"]:
        kind = (finding["identifier"] or {}).get("type")
        if "type" in match and kind != match["type"]:
            continue
        if "host" in match and finding["destination"]["host"] != match["host"]:
            continue
        out.append(finding["id"])
    return out


def test_second_audit_reports_exactly_the_new_leak_then_a_missing_one_as_resolved(lab: Any) -> None:
    lab.capture("monday.pcap", ["gaid_ads", "imei_appsflyer", "email_signup"])
    lab.capture("tuesday.pcap", ["gaid_ads", "imei_appsflyer", "email_signup", "imei_ads"])
    lab.capture("wednesday.pcap", ["gaid_ads", "imei_appsflyer", "imei_ads"])

    lab.write_config(["monday.pcap"])
    first = lab.run("audit", str(lab.config), "--format", "json")
    assert first.exit_code == 1, first.output  # a first audit has everything new, critical among it
    one = _summary(first.stdout)
    assert set(one) == {"run", "new", "open", "resolved", "baselined", "not_seen"}
    assert one["open"] == [] and one["resolved"] == [] and one["baselined"] == []
    monday_ids = set(one["new"])
    assert len(monday_ids) == 5  # 3 leaks + 2 tracker contacts

    lab.write_config(["tuesday.pcap"])
    second = lab.run("audit", str(lab.config), "--format", "json")
    assert second.exit_code == 1, second.output
    two = _summary(second.stdout)
    new_leak = _finding_ids(lab.root / "report.json", type="imei", host="googleads.g.doubleclick.net")
    assert len(new_leak) == 1
    assert two["new"] == new_leak  # exactly that finding, by fingerprint
    assert set(two["open"]) == monday_ids  # the unchanged findings are still open
    assert two["resolved"] == [] and two["run"] == one["run"] + 1

    with History(lab.history) as history:
        assert [run.id for run in history.runs()] == [two["run"], one["run"]]
        assert all(run.status == "violations" and run.exit_status == 1 for run in history.runs()), "found violations: not \"failed\""
        stored = history.finding(new_leak[0])
        assert stored is not None and stored.status == "open" and stored.first_run == two["run"]

    lab.write_config(["wednesday.pcap"])
    third = lab.run("audit", str(lab.config), "--format", "json")
    three = _summary(third.stdout)
    assert third.exit_code == 1
    assert len(three["resolved"]) == 1 and three["new"] == []
    with History(lab.history) as history:
        resolved = history.finding(three["resolved"][0])
        assert resolved is not None
        assert (resolved.id_type, resolved.host, resolved.status) == ("email", "api.example-kids.com", "resolved")
        assert [step["state"] for step in history.timeline(resolved.fingerprint)] == ["new", "open", "resolved"]
        assert len(history.runs()) == 3
        run = history.run(three["run"])
        assert run is not None
        assert run.inputs[0]["path"].endswith("wednesday.pcap") and len(run.inputs[0]["sha256"]) == 64
        assert run.signatures and all(len(s["sha256"]) == 64 for s in run.signatures)
        assert run.tool_version and run.hmac_key_id and run.stats["packets"] == 15
    for name in ("report.html", "report.json", "report.sarif"):
        assert (lab.root / name).stat().st_size > 0


def test_text_summary_names_new_open_and_resolved(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads", "email_signup"])
    lab.capture("b.pcap", ["gaid_ads", "imei_ads"])
    lab.write_config(["a.pcap"])
    lab.run("audit", str(lab.config))
    lab.write_config(["b.pcap"])
    result = lab.run("audit", str(lab.config))
    assert result.exit_code == 1
    text = result.stdout
    assert "new since run 1: 1" in text and "imei -> googleads.g.doubleclick.net" in text
    assert "still open: 2" in text
    assert "resolved since run 1: 1" in text and "email -> api.example-kids.com" in text
    assert "VIOLATIONS" in text and "FAILED" not in text


def test_baseline_then_new_leak_fails_ci(lab: Any) -> None:
    """The CI flow: audit, accept what is there as the baseline, audit again (passes), a new leak fails."""
    lab.capture("a.pcap", ["gaid_ads", "imei_appsflyer", "email_signup"])
    lab.capture("b.pcap", ["gaid_ads", "imei_appsflyer", "email_signup", "imei_ads"])
    lab.write_config(["a.pcap"])
    assert lab.run("audit", str(lab.config)).exit_code == 1
    created = lab.run("baseline", "create", "--config", str(lab.config), "--who", "alice", "--why", "lab devices, LAB-12")
    assert created.exit_code == 0, created.output

    again = lab.run("audit", str(lab.config), "--format", "json")
    assert again.exit_code == 0, again.output
    summary = _summary(again.stdout)
    assert summary["new"] == [] and summary["open"] == [] and len(summary["baselined"]) == 5

    lab.write_config(["b.pcap"])
    failing = lab.run("audit", str(lab.config), "--format", "json")
    assert failing.exit_code == 1
    summary = _summary(failing.stdout)
    assert summary["new"] == _finding_ids(lab.root / "report.json", type="imei", host="googleads.g.doubleclick.net")
    assert summary["open"] == [] and len(summary["baselined"]) == 5


def test_allowlisted_and_baselined_findings_do_not_fail_the_run(lab: Any) -> None:
    # critical (IMEI to AppsFlyer) goes in the baseline; high (e-mail to the kids' site) is allow-listed.
    lab.capture("only_imei.pcap", ["imei_appsflyer"])
    lab.capture("lab.pcap", ["imei_appsflyer", "email_signup"])
    (lab.root / "allow.yaml").write_text(
        "allow:\n  - host: api.example-kids.com\n    kind: first_party\n    reason: the child's own school account\n",
        encoding="utf-8",
    )
    made = lab.run("baseline", "create", str(lab.root / "only_imei.pcap"), "--inventory", str(lab.inventory),
                   "-o", str(lab.baseline), "--who", "bob", "--why", "vendor SDK, removal tracked")
    assert made.exit_code == 0, made.output

    lab.write_config(["lab.pcap"])  # without the allow-list: the e-mail leak fails the run
    assert lab.run("audit", str(lab.config)).exit_code == 1

    lab.write_config(["lab.pcap"], allowlist="allow.yaml")
    result = lab.run("audit", str(lab.config), "--format", "json")
    assert result.exit_code == 0, result.output
    summary = _summary(result.stdout)
    imei = _finding_ids(lab.root / "report.json", type="imei")
    email = _finding_ids(lab.root / "report.json", type="email")
    assert imei[0] in summary["baselined"]
    assert email[0] not in summary["new"] + summary["open"] + summary["baselined"]
    with History(lab.history) as history:
        stored = history.finding(email[0])
        assert stored is not None and stored.status == "allowlisted"
        run = history.run(summary["run"])
        assert run is not None and run.status == "passed" and run.baseline == str(lab.baseline)


def test_fail_on_threshold_and_override(lab: Any) -> None:
    # One high finding, no tracker contact: the sign-up goes to the tablet's own service (asked twice,
    # so the traffic makes it the tablet's first party: scanner/attribute/first_party.py), not a third party.
    lab.capture("a.pcap", ["email_signup", "email_signup"])
    lab.write_config(["a.pcap"])
    lab.config.write_text(lab.config.read_text().replace("fail_on: high", "fail_on: critical"))
    assert lab.run("audit", str(lab.config)).exit_code == 0
    assert lab.run("audit", str(lab.config), "--fail-on", "high").exit_code == 1
    assert lab.run("audit", str(lab.config), "--fail-on", "none").exit_code == 0


def test_summary_output_file_and_history_command(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads"])
    lab.config.write_text(
        "inventory: devices.yaml\ncaptures: a.pcap\nhistory: audit.sqlite\nfail_on: none\n"
        "outputs: {summary: out/summary.json, json: out/report.json}\n",
        encoding="utf-8",
    )
    (lab.root / "out").mkdir()
    result = lab.run("audit", str(lab.config), "--format", "json")
    assert result.exit_code == 0
    assert json.loads((lab.root / "out" / "summary.json").read_text()) == _summary(result.stdout)

    listing = lab.run("history", str(lab.config))
    assert listing.exit_code == 0 and "passed" in listing.stdout and "a.pcap" in listing.stdout
    runs = json.loads(lab.run("history", str(lab.history), "--format", "json").stdout)
    assert [r["id"] for r in runs] == [1] and runs[0]["findings"] == {"new": 2}
    fid = _summary(result.stdout)["new"][0]
    timeline = json.loads(lab.run("history", str(lab.history), "--finding", fid[:8], "--format", "json").stdout)
    assert timeline["finding"]["id"] == fid and [t["state"] for t in timeline["timeline"]] == ["new"]
    shown = lab.run("history", str(lab.history), "--run", "1")
    assert shown.exit_code == 0 and fid in shown.stdout and "sha256" in shown.stdout


def test_reports_are_replaced_atomically(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads"])
    lab.write_config(["a.pcap"], fail_on="none")
    lab.config.write_text(lab.config.read_text().replace("fail_on: high\n", ""))
    lab.run("audit", str(lab.config))
    lab.run("audit", str(lab.config))
    leftovers = [p.name for p in lab.root.iterdir() if p.name.endswith(".tmp")]
    assert leftovers == []
    assert (lab.root / "report.sarif").stat().st_mode & 0o444 == 0o444


def test_bad_config_is_one_line_and_exit_2(lab: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.audit.commands import register
    from scanner.cli import cli, main

    register(cli)
    lab.config.write_text("inventory: devices.yaml\ncaptures: [a.pcap]\nfail_on: loud\n", encoding="utf-8")
    with pytest.raises(SystemExit) as exited:
        main(["audit", str(lab.config)])
    assert exited.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{lab.config}:3:" in err[0] and "fail_on" in err[0]


def test_history_database_left_consistent_by_sqlite(lab: Any) -> None:
    lab.capture("a.pcap", ["gaid_ads"])
    lab.write_config(["a.pcap"], fail_on="none")
    lab.config.write_text(lab.config.read_text().replace("fail_on: high\n", ""))
    lab.run("audit", str(lab.config))
    db = sqlite3.connect(lab.history)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    db.close()


def test_a_device_absent_from_tonights_captures_leaves_its_findings_not_seen(lab: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.audit import conftest

    # Tonight only another device is captured, asking for a page with none of the tablet's identifiers.
    monkeypatch.setitem(conftest.LEAKS, "plain_page", conftest.Leak("www.example.org", "93.184.216.34", "/index.html"))
    lab.capture("monday.pcap", ["gaid_ads", "email_signup"])
    lab.capture("tuesday.pcap", ["plain_page"], device_ip="10.0.0.99", device_mac="02:00:00:00:00:99")
    lab.capture("wednesday.pcap", ["gaid_ads"])

    lab.write_config(["monday.pcap"])
    one = _summary(lab.run("audit", str(lab.config), "--format", "json").stdout)
    tablet = set(one["new"])
    assert tablet and one["not_seen"] == []

    lab.write_config(["tuesday.pcap"])
    second = lab.run("audit", str(lab.config), "--format", "json")
    two = _summary(second.stdout)
    assert two["resolved"] == [], "the tablet sent nothing tonight: nothing says its leaks stopped"
    assert set(two["not_seen"]) == tablet
    text = lab.run("audit", str(lab.config))  # a third run over the same capture, as text
    assert "not seen (their subject is absent from these captures, so not resolved): " in text.stdout

    lab.write_config(["wednesday.pcap"])
    three = _summary(lab.run("audit", str(lab.config), "--format", "json").stdout)
    gaid = [i for i in tablet if i in set(three["open"])]
    assert gaid and not set(three["new"]) & tablet, "back tonight: the tablet's leak is still open, not new"
    email_ids = tablet - set(three["open"])
    assert email_ids and set(three["resolved"]) == email_ids, "the tablet is here and its e-mail leak is gone: resolved"
    with History(lab.history) as history:
        assert history.run(two["run"]).states.get("not_seen") == len(tablet)  # type: ignore[union-attr]
        listing = lab.run("history", str(lab.history))
        assert "not seen" in listing.stdout and "violations" in listing.stdout and "failed" not in listing.stdout
