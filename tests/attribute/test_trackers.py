"""Tracker signatures: every file loads and follows the schema, names are unique and
owned by the right company, and broken files fail with the file and line."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

from scanner.attribute.trackers import (
    CATEGORIES,
    TRACKER_CATEGORIES,
    TrackerDatabase,
    parse_tracker_file,
)
from scanner.datafiles import default_signatures_root
from scanner.errors import PrivscanError, SignatureError
from scanner.knowledge.psl import is_public_suffix

TRACKERS_DIR = default_signatures_root() / "trackers"
TRACKER_FILES = sorted(TRACKERS_DIR.glob("*.yaml"))


@pytest.fixture(scope="module")
def db() -> TrackerDatabase:
    return TrackerDatabase.load()


# ---------------------------------------------------------------------- the shipped data


def test_default_root_is_the_repository_signatures_dir() -> None:
    assert default_signatures_root() == Path(__file__).resolve().parents[2] / "signatures"
    assert len(TRACKER_FILES) >= 75


@pytest.mark.parametrize("path", TRACKER_FILES, ids=lambda p: p.name)
def test_file_follows_schema(path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads((TRACKERS_DIR / "schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    entries = parse_tracker_file(path)
    assert entries, "a company file lists at least one name"
    organisation = entries[0].organisation
    assert organisation.licence == "CC0-1.0"
    assert all(s.startswith("https://") for s in organisation.sources)
    assert path.read_text().startswith("#"), "a file starts with a comment on what the company does"


def test_every_company_loads(db: TrackerDatabase) -> None:
    assert len(db.organisations) == len(TRACKER_FILES) >= 75
    assert len(db) >= 400
    assert len(db.files) == len(TRACKER_FILES)
    assert all(len(f.sha256) == 64 for f in db.files)
    names = [o.name for o in db.organisations]
    assert len(names) == len(set(names)), "one file per company"


def test_no_name_in_two_entries() -> None:
    # The loader refuses duplicates; this says which ones if it ever stops doing so.
    counts = Counter(e.matched for path in TRACKER_FILES for e in parse_tracker_file(path))
    assert [name for name, n in counts.items() if n > 1] == []


def test_no_entry_is_a_public_suffix(db: TrackerDatabase) -> None:
    # cloudfront.net, googleapis.com, appspot.com ...: customers own the names under them.
    assert [e.matched for e in db.entries() if is_public_suffix(e.matched)] == []


def test_tracker_flag_follows_categories(db: TrackerDatabase) -> None:
    for entry in db.entries():
        assert set(entry.categories) <= set(CATEGORIES)
        assert entry.tracker == bool(set(entry.categories) & TRACKER_CATEGORIES)
        assert entry.category == entry.categories[0]
    assert "crash_reporting" not in TRACKER_CATEGORIES


def test_load_is_fast() -> None:
    timings = []
    for _ in range(5):
        start = time.perf_counter()
        TrackerDatabase.load()
        timings.append(time.perf_counter() - start)
    assert min(timings) < 0.1, f"loading every tracker file took {min(timings) * 1000:.0f} ms"


# ---------------------------------------------------------------------- host -> owner

HOSTS = [
    # host, org, tracker, primary category
    ("www.google.com", "Google", False, "first_party_service"),
    ("google.com", "Google", False, "first_party_service"),
    ("mail.google.com", "Google", False, "first_party_service"),
    ("adservice.google.com", "Google", True, "advertising"),
    ("googleads.g.doubleclick.net", "Google", True, "advertising"),
    ("pagead2.googlesyndication.com", "Google", True, "advertising"),
    ("www.googleadservices.com", "Google", True, "advertising"),
    ("app-measurement.com", "Google", True, "analytics"),
    ("www.google-analytics.com", "Google", True, "analytics"),
    ("region1.analytics.google.com", "Google", True, "analytics"),
    ("www.googletagmanager.com", "Google", True, "analytics"),
    ("firebaselogging-pa.googleapis.com", "Google", True, "analytics"),
    ("firebase-settings.crashlytics.com", "Google", False, "crash_reporting"),
    ("crashlyticsreports-pa.googleapis.com", "Google", False, "crash_reporting"),
    ("graph.facebook.com", "Meta", True, "social"),
    ("www.facebook.com", "Meta", True, "social"),
    ("connect.facebook.net", "Meta", True, "social"),
    ("scontent.xx.fbcdn.net", "Meta", False, "cdn"),
    ("i.instagram.com", "Meta", True, "social"),
    ("t.appsflyer.com", "AppsFlyer", True, "attribution"),
    ("api2.branch.io", "Branch", True, "attribution"),
    ("app.adjust.com", "Adjust", True, "attribution"),
    ("api.mixpanel.com", "Mixpanel", True, "analytics"),
    ("api.amplitude.com", "Amplitude", True, "analytics"),
    ("ads.tiktok.com", "ByteDance", True, "advertising"),
    ("analytics.tiktok.com", "ByteDance", True, "advertising"),
    ("log.byteoversea.com", "ByteDance", True, "analytics"),
    ("api16-normal-c-useast1a.tiktokv.com", "ByteDance", True, "social"),
    ("sf16-scmcdn-sg.ibytedtos.com", "ByteDance", False, "cdn"),
    ("api16-access-sg.pangle.io", "ByteDance", True, "advertising"),
    ("ib.adnxs.com", "Xandr", True, "advertising"),
    ("net.rayjump.com", "Mintegral", True, "advertising"),
    ("configure.mtgglobals.com", "Mintegral", True, "advertising"),
    ("mads.amazon-adsystem.com", "Amazon", True, "advertising"),
    ("mobileanalytics.us-east-1.amazonaws.com", "Amazon", True, "analytics"),
    ("sb.scorecardresearch.com", "comScore", True, "analytics"),
    ("secure-dcr.imrworldwide.com", "Nielsen", True, "analytics"),
    ("bidder.mathtag.com", "MediaMath", True, "advertising"),
    ("ping.chartbeat.net", "Chartbeat", True, "analytics"),
    ("beacon.krxd.net", "Salesforce", True, "advertising"),
    ("log.outbrain.com", "Outbrain", True, "advertising"),
    ("pixel.quantserve.com", "Quantcast", True, "advertising"),
    ("ms.applovin.com", "AppLovin", True, "advertising"),
    ("auction.unityads.unity3d.com", "Unity", True, "advertising"),
    ("outcome-ssp.supersonicads.com", "ironSource", True, "advertising"),
    ("bat.bing.com", "Microsoft", True, "advertising"),
    ("www.bing.com", "Microsoft", False, "first_party_service"),
    ("www.clarity.ms", "Microsoft", True, "session_replay"),
    ("in.appcenter.ms", "Microsoft", True, "analytics"),
    ("static.ads-twitter.com", "X (Twitter)", True, "advertising"),
    ("tr.snapchat.com", "Snap", True, "advertising"),
    ("appmetrica.yandex.net", "Yandex", True, "analytics"),
    ("report.appmetrica.yandex.net", "Yandex", True, "analytics"),
    ("mc.yandex.ru", "Yandex", True, "analytics"),
    ("an.yandex.ru", "Yandex", True, "advertising"),
    ("yandex.ru", "Yandex", False, "first_party_service"),
    ("sdk.iad-01.braze.com", "Braze", True, "customer_engagement"),
    ("api.onesignal.com", "OneSignal", True, "customer_engagement"),
    ("match.adsrvr.org", "The Trade Desk", True, "advertising"),
    ("fastlane.rubiconproject.com", "Magnite", True, "advertising"),
    ("htlb.casalemedia.com", "Index Exchange", True, "advertising"),
    ("consent.cmp.oath.com", "Yahoo", False, "consent"),
    ("ads.yahoo.com", "Yahoo", True, "advertising"),
    ("www.yahoo.com", "Yahoo", False, "first_party_service"),
    ("data.flurry.com", "Flurry", True, "analytics"),
    ("o123.ingest.sentry.io", "Sentry", False, "crash_reporting"),
    ("mi.gdt.qq.com", "Tencent", True, "advertising"),
    ("api.ad.xiaomi.com", "Xiaomi", True, "advertising"),
    ("bam.nr-data.net", "New Relic", False, "crash_reporting"),
    ("script.hotjar.com", "Hotjar", True, "session_replay"),
    ("cdn.cookielaw.org", "OneTrust", False, "consent"),
    ("dpm.demdex.net", "Adobe", True, "advertising"),
    ("ads.superawesome.tv", "SuperAwesome", True, "advertising"),
]


@pytest.mark.parametrize(("host", "org", "tracker", "category"), HOSTS, ids=[h[0] for h in HOSTS])
def test_host_owner(db: TrackerDatabase, host: str, org: str, tracker: bool, category: str) -> None:
    match = db.match(host)
    assert match is not None, f"{host} is not in any tracker file"
    assert (match.org, match.tracker, match.category) == (org, tracker, category)
    assert Path(match.source).parent == TRACKERS_DIR


@pytest.mark.parametrize(
    "host",
    ["api.kinderspiele-welt.de", "api.duolingo.com", "apis.roblox.com", "example.com", "localhost", "com"],
)
def test_unknown_hosts_do_not_match(db: TrackerDatabase, host: str) -> None:
    assert db.match(host) is None


def test_parent_company(db: TrackerDatabase) -> None:
    assert db.match("ib.adnxs.com").parent == "Microsoft"  # type: ignore[union-attr]
    assert db.match("app.adjust.com").parent == "AppLovin"  # type: ignore[union-attr]
    assert db.match("googleads.g.doubleclick.net").parent == "Alphabet"  # type: ignore[union-attr]


def test_domain_entries_match_only_at_a_label_boundary(db: TrackerDatabase) -> None:
    assert db.match("xdoubleclick.net") is None
    assert db.match("doubleclick.net.example.com") is None
    assert db.match("a.b.c.doubleclick.net").matched == "doubleclick.net"  # type: ignore[union-attr]


def test_host_entries_match_only_that_name(db: TrackerDatabase) -> None:
    match = db.match("adservice.google.com")
    assert match is not None and match.kind == "host" and match.tracker
    below = db.match("x.adservice.google.com")
    assert below is not None and below.matched == "google.com" and not below.tracker


def test_longest_domain_suffix_wins(db: TrackerDatabase) -> None:
    assert db.match("region1.analytics.google.com").matched == "analytics.google.com"  # type: ignore[union-attr]
    assert db.match("maps.google.com").matched == "google.com"  # type: ignore[union-attr]


# ---------------------------------------------------------------------- broken files

GOOD = """\
# Example company
organisation: Example Ads
parent: Example Group
country: NO
website: https://example.com/
licence: CC0-1.0
sources:
  - https://example.com/sdk
domains:
  - domain: example-ads.com
    categories: [advertising]
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(text)
    return path


def load_error(tmp_path: Path, text: str) -> SignatureError:
    write(tmp_path / "trackers", "bad.yaml", text)
    with pytest.raises(SignatureError) as caught:
        TrackerDatabase.load(tmp_path)
    return caught.value


def test_a_good_file_in_another_root(tmp_path: Path) -> None:
    write(tmp_path / "trackers", "example.yaml", GOOD)
    write(tmp_path / "trackers", "README.md", "not a signature file")
    db = TrackerDatabase.load(tmp_path)
    match = db.match("cdn.example-ads.com")
    assert match is not None and match.org == "Example Ads" and match.tracker
    assert match.organisation.country == "NO", "YAML 1.1 would read NO as false; the loader keeps the text"
    assert match.line == 10


def test_bad_yaml_names_file_and_line(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("parent: Example Group", "parent: [Example Group"))
    assert error.file.endswith("bad.yaml") and error.line is not None and error.line >= 3
    assert "invalid YAML" in str(error)
    assert str(error).startswith(f"{error.file}:{error.line}: ")
    assert isinstance(error, PrivscanError) and error.exit_code == 2


def test_unknown_category(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("[advertising]", "[advertising, tracking]"))
    assert error.line == 11 and "unknown category 'tracking'" in error.message


def test_missing_organisation(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("organisation: Example Ads\n", ""))
    assert error.line == 2 and "'organisation'" in error.message


def test_unknown_key(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("licence:", "license:"))
    assert error.line == 6 and "unknown key 'license'" in error.message


def test_key_given_twice(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD + "parent: Other\n")
    assert error.line == 12 and "given twice" in error.message


@pytest.mark.parametrize(
    "name",
    [
        "https://example-ads.com",
        "*.example-ads.com",
        "Example-Ads.com",
        "example-ads.com.",
        "example-ads.com:80",
        "com",
    ],
)
def test_malformed_names(tmp_path: Path, name: str) -> None:
    error = load_error(tmp_path, GOOD.replace("domain: example-ads.com", f"domain: '{name}'"))
    assert error.line == 10 and "not a lower-case DNS name" in error.message


def test_empty_categories(tmp_path: Path) -> None:
    error = load_error(tmp_path, GOOD.replace("[advertising]", "[]"))
    assert error.line == 11 and "non-empty list" in error.message


def test_name_twice_in_one_file(tmp_path: Path) -> None:
    text = GOOD + "hosts:\n  - host: example-ads.com\n    categories: [cdn]\n"
    error = load_error(tmp_path, text)
    assert error.line == 13 and "first at line 10" in error.message


def test_duplicate_domain_across_files(tmp_path: Path) -> None:
    write(tmp_path / "trackers", "a.yaml", GOOD)
    write(tmp_path / "trackers", "b.yaml", GOOD.replace("Example Ads", "Other Ads"))
    with pytest.raises(SignatureError) as caught:
        TrackerDatabase.load(tmp_path)
    error = caught.value
    assert error.file.endswith("b.yaml") and error.line == 10
    assert "a.yaml:10" in error.message and "Example Ads" in error.message


def test_empty_file_and_wrong_shape(tmp_path: Path) -> None:
    assert load_error(tmp_path, "").line == 1
    assert "must be a mapping" in load_error(tmp_path, "- just a list\n").message


def test_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "trackers").mkdir()
    (tmp_path / "trackers" / "latin1.yaml").write_bytes(GOOD.replace("Example Ads", "Exämple").encode("latin-1"))
    with pytest.raises(SignatureError, match="not UTF-8"):
        TrackerDatabase.load(tmp_path)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(SignatureError, match="not found"):
        TrackerDatabase.load(tmp_path / "nowhere")


def test_bad_country_and_url(tmp_path: Path) -> None:
    assert "ISO 3166" in load_error(tmp_path, GOOD.replace("country: NO", "country: Norway")).message
    assert "http(s) URL" in load_error(tmp_path, GOOD.replace("https://example.com/sdk", "example.com/sdk")).message
