"""Tracker lists the user supplies (--trackers FORMAT:FILE, issue 13): one test per format from a small
file written here, the errors (file and line, exit 2), precedence over the built-in database, and a
public capture scanned with a hosts file that names a tracker the built-in database does not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.attribute.destinations import DestinationResolver
from scanner.attribute.tracker_lists import load_tracker_list, parse_spec
from scanner.attribute.trackers import TrackerDatabase
from scanner.cli import main
from scanner.errors import ConfigError, InputError
from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "captures" / "real"


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _by_name(tmp_path: Path, fmt: str, name: str, text: str) -> dict[str, object]:
    found = load_tracker_list(fmt, _write(tmp_path, name, text))
    return {e.matched: e for e in found.entries}


def test_hosts_file(tmp_path: Path) -> None:
    entries = _by_name(tmp_path, "hosts", "hosts", (
        "# a blocklist\n127.0.0.1 localhost\n0.0.0.0 ads.trackerco.net  metrics.trackerco.net # two\n"
        ":: ipv6.trackerco.net\nbare.trackerco.net\n\n0.0.0.0 0.0.0.0\n"))
    assert sorted(entries) == ["ads.trackerco.net", "bare.trackerco.net", "ipv6.trackerco.net", "metrics.trackerco.net"]
    entry = entries["ads.trackerco.net"]
    assert entry.tracker and entry.categories == () and entry.org == "trackerco.net"  # type: ignore[attr-defined]
    assert entry.line == 3 and entry.list_name == f"hosts:{tmp_path / 'hosts'}"  # type: ignore[attr-defined]


def test_adblock_plus_domain_rules(tmp_path: Path) -> None:
    found = load_tracker_list("abp", _write(tmp_path, "list.txt", (
        "[Adblock Plus 2.0]\n! Title: Kids list\n||ads.example.com^\n||track.example.net^$third-party,script\n"
        "||only-on.example.org^$domain=news.example\n||example.com/ads/banner.js\n##.ad-banner\n"
        "||cdn.example.net^\n@@||cdn.example.net^\n||pixel.example.io^|\n/banner/*\n||px.example.com^$redirect=noop\n")))
    names = {e.matched: e for e in found.entries}
    assert sorted(names) == ["ads.example.com", "pixel.example.io", "track.example.net"]
    assert names["ads.example.com"].note == "from Kids list"
    assert found.skipped == 4, "site-limited, path, pattern and redirect rules are not host rules"


def test_disconnect_services_json(tmp_path: Path) -> None:
    document = {"license": "CC BY-NC-SA 4.0", "categories": {
        "Advertising": [{"AdCo": {"https://adco.example/": ["adco.example", "adco-cdn.example"], "performance": "true"}}],
        "Analytics": [{"Stats Inc": {"https://stats.example/": ["stats.example"]}}],
        "Content": [{"Videos": {"https://videos.example/": ["videos.example"]}}],
    }}
    entries = _by_name(tmp_path, "disconnect", "services.json", json.dumps(document))
    adco = entries["adco-cdn.example"]
    assert (adco.org, adco.category, adco.tracker, adco.note) == ("AdCo", "advertising", True, "Disconnect: Advertising")  # type: ignore[attr-defined]
    assert adco.organisation.website == "https://adco.example/"  # type: ignore[attr-defined]
    assert entries["stats.example"].category == "analytics"  # type: ignore[attr-defined]
    assert entries["videos.example"].tracker is False, "Content is embedded content, not a tracker"  # type: ignore[attr-defined]


def test_duckduckgo_tds_and_tracker_radar(tmp_path: Path) -> None:
    tds = {"trackers": {
        "adnet.example": {"domain": "adnet.example", "owner": {"name": "AdNet LLC", "displayName": "AdNet"},
                          "categories": ["Advertising", "Analytics"], "default": "block"},
        "cdn.example": {"domain": "cdn.example", "owner": {"name": "Cdn Co"}, "categories": ["CDN"], "default": "ignore"},
    }, "entities": {"AdNet LLC": {"displayName": "AdNet Group", "domains": ["adnet.example"]}}, "domains": {}}
    entries = _by_name(tmp_path, "ddg", "tds.json", json.dumps(tds))
    adnet = entries["adnet.example"]
    assert (adnet.org, adnet.parent, adnet.categories, adnet.tracker) == ("AdNet", "AdNet Group", ("advertising", "analytics"), True)  # type: ignore[attr-defined]
    assert entries["cdn.example"].tracker is False  # type: ignore[attr-defined]
    radar = {"domain": "sdk.example", "owner": {"name": "Sdk Inc", "displayName": "Sdk"}, "categories": ["Session Replay"]}
    entries = _by_name(tmp_path, "ddg", "sdk.example.json", json.dumps(radar))
    assert entries["sdk.example"].category == "session_replay"  # type: ignore[attr-defined]


def test_exodus_trackers(tmp_path: Path) -> None:
    document = {"trackers": {
        "1": {"id": 1, "name": "Adjust", "website": "https://www.adjust.com", "categories": ["Analytics"],
              "network_signature": "adjust\\.com|adjust\\.io", "code_signature": "com.adjust.sdk"},
        "2": {"id": 2, "name": "Crashy", "categories": ["Crash reporting"], "network_signature": "\\.crashy\\.example"},
        "3": {"id": 3, "name": "Wild", "categories": ["Advertisement"], "network_signature": "ads[0-9]+\\.wild\\.example|wild\\.example"},
        "4": {"id": 4, "name": "NoNet", "categories": [], "network_signature": ""},
    }}
    found = load_tracker_list("exodus", _write(tmp_path, "exodus.json", json.dumps(document)))
    names = {e.matched: e for e in found.entries}
    assert sorted(names) == ["adjust.com", "adjust.io", "crashy.example", "wild.example"]
    assert names["adjust.io"].org == "Adjust" and names["adjust.io"].category == "analytics"
    assert names["crashy.example"].tracker is False, "crash reporting alone is not a tracker"
    assert found.skipped == 1, "a pattern with a character class is not one host name"


@pytest.mark.parametrize(("fmt", "text", "line", "message"), [
    ("hosts", "0.0.0.0 ok.example\nthis is not a hosts line\n", 2, "not a hosts line"),
    ("hosts", "0.0.0.0 ok.example\n10.0.0.1\n", 2, "no host name"),
    ("ddg", '{"trackers": {\n"a.example": [1, 2\n}', 3, "invalid JSON"),
    ("disconnect", '{"categories": []}', None, "must be a JSON object"),
    ("exodus", '{"trackers": {"1": {"network_signature": "a.example"}}}', None, "'name'"),
    ("abp", "! only comments\n", None, "no host names found"),
])
def test_errors_name_the_file_and_line(tmp_path: Path, fmt: str, text: str, line: int | None, message: str) -> None:
    path = _write(tmp_path, "list", text)
    with pytest.raises(ConfigError, match=message) as caught:
        load_tracker_list(fmt, path)
    assert (caught.value.file, caught.value.line) == (str(path), line)


def test_binary_file_and_bad_spec(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "list.bin"
    path.write_bytes(b"0.0.0.0 a.example\n\xff\xfe\x00garbage")
    with pytest.raises(ConfigError, match="not UTF-8") as caught:
        load_tracker_list("hosts", path)
    assert caught.value.line == 2
    with pytest.raises(InputError, match="FORMAT:FILE"):
        parse_spec("csv:list.csv")
    with pytest.raises(SystemExit) as exited:
        main(["scan", str(path), "--trackers", f"hosts:{path}", "-q"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:2" in err


def test_builtin_entries_win_and_longer_list_names_match_first(tmp_path: Path) -> None:
    builtin = TrackerDatabase.load()
    hosts = _write(tmp_path, "hosts", "0.0.0.0 doubleclick.net\n0.0.0.0 ads.newcomer.example\n0.0.0.0 geo.yahoo.com\n")
    combined = builtin.with_imported(load_tracker_list("hosts", hosts).entries)
    match = combined.match("doubleclick.net")
    assert match is not None and match.org == "Google" and match.list_name is None, "the reviewed built-in entry wins"
    match = combined.match("x.ads.newcomer.example")
    assert match is not None and match.tracker and match.list_name == f"hosts:{hosts}"
    destination = DestinationResolver(combined).resolve("x.ads.newcomer.example", "192.0.2.1", 443)
    assert destination.tracker and destination.tracker_list == f"hosts:{hosts}" and destination.unknown is False
    assert destination.to_record()["list"] == f"hosts:{hosts}"
    assert builtin.match("x.ads.newcomer.example") is None


@pytest.mark.skipif(not (REAL / "ndpi__1kxun.pcap").is_file(), reason="../shared/captures/real is not here")
def test_public_capture_with_a_hosts_file_finds_a_tracker_outside_the_database(tmp_path: Path) -> None:
    # api.magicansoft.com (an ad SDK host the 1kxun app calls) is in no built-in file.
    assert TrackerDatabase.load().match("api.magicansoft.com") is None
    capture = str(REAL / "ndpi__1kxun.pcap")
    before = run_scan(expand_inputs([capture]), ScanSettings(assume_minor=True))
    assert not [f for f in before.findings if f.destination.host == "api.magicansoft.com"]
    hosts = _write(tmp_path, "extra.hosts", "0.0.0.0 magicansoft.com\n")
    after = run_scan(expand_inputs([capture]), ScanSettings(assume_minor=True, trackers=(f"hosts:{hosts}",)))
    found = [f for f in after.findings if f.destination.host == "api.magicansoft.com"]
    assert found, "the hosts file's tracker is contacted by the minor's device"
    assert all(f.destination.tracker and f.destination.org == "magicansoft.com" and f.destination.party == "third"
               and f.destination.tracker_list == f"hosts:{hosts}" for f in found)
    assert any(s.path == f"hosts:{hosts}" for s in after.signatures), "the report names the list it used"
