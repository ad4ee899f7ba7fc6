"""HAR and mitmproxy flow files as inputs: recognition by content, the events they give, damage.

The files made by mitmproxy itself (captures/inputs/, see make_archives.py) are the reference;
the HAR shapes of other tools are written here from the HAR 1.2 spec with the custom fields and
habits of each writer (Chrome: pseudo-header fields among the headers, IPv6 server addresses in
brackets, ``_resourceType``; Firefox: ``params`` for forms; HTTP Toolkit and Charles: a client
address field, base64 bodies), since those tools do not run here.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from scanner.decode.protocols.base import Anomalies
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource, expand_inputs
from scanner.ingest.archives import archive_format, sniff_archive
from scanner.ingest.mitmproxy_flows import TnetstringError, parse_tnetstring
from scanner.model import HttpRequest, WebSocketMessage

REPO = Path(__file__).resolve().parents[2]
INPUTS = REPO / "captures" / "inputs"
HAR_FILE = INPUTS / "mitmproxy.har"
FLOWS_FILE = INPUTS / "mitmproxy.flows"
DEMO = REPO / "captures" / "demo.pcap"
GAID = "38400000-8cf0-11bd-b23e-10b96e40000d"


def _requests(*paths: Path) -> tuple[list[HttpRequest], NativeEngine]:
    engine = NativeEngine()
    events = list(engine.events([CaptureSource(str(p)) for p in paths]))
    return [e for e in events if isinstance(e, HttpRequest)], engine


def _har(entries: list[dict[str, Any]], creator: str = "test") -> dict[str, Any]:
    return {"log": {"version": "1.2", "creator": {"name": creator, "version": "1"}, "entries": entries}}


def _write(tmp_path: Path, name: str, data: dict[str, Any]) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, indent=2))
    return path


# --------------------------------------------------------------------------- recognition


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b'{"log": {"version": "1.2"', "har"),
        (b'\xef\xbb\xbf\n  {\n  "log" : {', "har"),  # a BOM and white space (Charles, Windows tools)
        (b"2609:9:websocket;0:~8:response;", "mitmproxy"),
        (b'{"logs": []}', None),
        (b'[{"log": 1}]', None),
        (b"\xd4\xc3\xb2\xa1\x02\x00", None),  # a pcap
        (b"12:hello world!,", None),  # a tnetstring, but not a dict with a field name first
    ],
)
def test_archives_are_recognised_by_content(head: bytes, kind: str | None) -> None:
    assert archive_format(head) == kind


def test_a_har_with_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "windows.har"
    path.write_bytes(b"\xef\xbb\xbf" + HAR_FILE.read_bytes())
    requests, engine = _requests(path)
    assert len(requests) == 6 and engine.stats.captures[0].warnings == []


def test_compressed_archives_are_recognised(tmp_path: Path) -> None:
    path = tmp_path / "session.bin"
    path.write_bytes(gzip.compress(HAR_FILE.read_bytes()))
    assert sniff_archive(CaptureSource(str(path))) == "har"
    requests, engine = _requests(path)
    assert len(requests) == 6 and engine.stats.captures[0].format == "har+gzip"


def test_archives_in_a_directory_are_found(tmp_path: Path) -> None:
    (tmp_path / "a.data").write_bytes(FLOWS_FILE.read_bytes())
    (tmp_path / "notes.txt").write_text("not an input")
    assert [Path(s.path).name for s in expand_inputs([str(tmp_path)])] == ["a.data"]


# --------------------------------------------------------------------------- mitmproxy's own files


def test_mitmproxy_flow_file() -> None:
    requests, engine = _requests(FLOWS_FILE)
    assert [(r.frame, r.method, r.host, r.uri) for r in requests] == [
        (1, "GET", "tracker.adnetwork.example:8443", f"/v1/collect?adid={GAID}&ev=open"),
        (2, "GET", "api.kidsapp.example:8443", "/api/profile"),
        (3, "POST", "tracker.adnetwork.example:8443", "/v1/event"),
        (4, "POST", "api.kidsapp.example:8443", "/api/register"),
        (5, "GET", "tracker.adnetwork.example:8080", "/pixel.gif?msisdn=4917139200042"),
        (6, "GET", "tracker.adnetwork.example:8443", "/v1/stream"),  # the WebSocket's Upgrade
    ]
    # The client's address and port as mitmproxy saw them: the subject.
    assert {r.flow.src for r in requests} == {"127.0.12.5"} and all(r.flow.sport for r in requests)
    assert [r.decrypted for r in requests] == ["mitmproxy"] * 4 + [None, "mitmproxy"]  # plain http 5th
    assert dict(requests[1].headers)["x-device-imei"] == "356938035643809"
    assert requests[2].body == b'{"gaid":"38400000-8cf0-11bd-b23e-10b96e40000d","msisdn":"4917139200042"}'
    assert requests[0].ts == pytest.approx(1796688047.3512163)
    info = engine.stats.captures[0]
    assert (info.format, info.packets, info.warnings) == ("mitmproxy", 6, [])
    assert info.sha256 and info.bytes == FLOWS_FILE.stat().st_size


def test_mitmproxy_har_file() -> None:
    requests, engine = _requests(HAR_FILE)
    flows, _ = _requests(FLOWS_FILE)
    # The same six requests as the flow file, but HAR has no field for the client's address.
    assert [(r.method, r.host, r.uri, r.body, r.version) for r in requests] == [
        (r.method, r.host, r.uri, r.body, r.version) for r in flows
    ]
    assert {r.flow.src for r in requests} == {"unknown"}
    assert {r.flow.dst for r in requests} == {"127.0.12.3"}  # serverIPAddress
    assert [r.frame for r in requests] == [1, 2, 3, 4, 5, 6]
    assert engine.stats.captures[0].format == "har"


@pytest.mark.parametrize("path", [FLOWS_FILE, HAR_FILE], ids=["flows", "har"])
def test_websocket_messages_the_client_sent(path: Path) -> None:
    engine = NativeEngine()
    events = list(engine.events([CaptureSource(str(path))]))
    messages = [e for e in events if isinstance(e, WebSocketMessage)]
    # The text and the binary message the client sent; the server's two "ok" are not read.
    assert [(m.frame, m.opcode, m.payload, m.host, m.uri) for m in messages] == [
        (6, "text", f'{{"event":"open","gaid":"{GAID}"}}'.encode(), "tracker.adnetwork.example:8443", "/v1/stream"),
        (6, "binary", b"imei=356938035643809", "tracker.adnetwork.example:8443", "/v1/stream"),
    ]
    assert messages[0].ts < messages[1].ts and messages[0].decrypted in ("HAR", "mitmproxy")


# --------------------------------------------------------------------------- other tools' HAR shapes


CHROME_ENTRY = {
    "_initiator": {"type": "script"},
    "_priority": "High",
    "_resourceType": "xhr",
    "cache": {},
    "connection": "381",
    "pageref": "page_1",
    "request": {
        "method": "POST",
        "url": "https://ads.tracker.example/v2/event?sdk=5",
        "httpVersion": "h3",
        "headers": [
            {"name": ":authority", "value": "ads.tracker.example"},
            {"name": ":method", "value": "POST"},
            {"name": ":path", "value": "/v2/event?sdk=5"},
            {"name": "content-type", "value": "application/json"},
            {"name": "user-agent", "value": "Mozilla/5.0 (Linux; Android 14) Chrome/126.0"},
        ],
        "queryString": [{"name": "sdk", "value": "5"}],
        "cookies": [{"name": "uid", "value": "u-123"}],
        "headersSize": -1,
        "bodySize": 50,
        "postData": {"mimeType": "application/json", "text": json.dumps({"advertising_id": GAID})},
    },
    "response": {"status": 204, "content": {"size": 0, "mimeType": "x-unknown", "text": "A" * 5000}},
    "serverIPAddress": "[2001:db8::7]",
    "startedDateTime": "2026-03-01T10:00:00.123Z",
    "time": 41.5,
    "timings": {"send": 0.1, "wait": 40, "receive": 1.4},
}

FIREFOX_ENTRY = {
    "pageref": "page_1",
    "startedDateTime": "2026-03-01T11:00:00.000+01:00",
    "request": {
        "bodySize": 40,
        "method": "POST",
        "url": "http://collect.example.net/form",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": "Host", "value": "collect.example.net"}],
        "cookies": [],
        "queryString": [],
        "headersSize": 300,
        "postData": {
            "mimeType": "application/x-www-form-urlencoded",
            "params": [{"name": "email", "value": "kid@example.org"}, {"name": "imei", "value": "356938035643809"}],
        },
    },
    "response": {"status": 200, "content": {"mimeType": "text/html", "size": 3}},
    "serverIPAddress": "192.0.2.80",
    "connection": "80",
    "timings": {},
}

HTTP_TOOLKIT_ENTRY = {
    "_clientAddress": "10.20.0.7",
    "startedDateTime": "2026-03-01T12:00:00.000Z",
    "time": 12,
    "request": {
        "method": "PUT",
        "url": "https://api.kidsapp.example/v1/profile",
        "httpVersion": "HTTP/2.0",
        "headers": [{"name": "content-type", "value": "application/octet-stream"}],
        "cookies": [],
        "queryString": [],
        "headersSize": -1,
        "bodySize": 16,
        "postData": {"mimeType": "application/octet-stream", "text": "aW1laT0zNTY5MzgwMzU2NDM4MDk=", "encoding": "base64"},
    },
    "response": {"status": 200, "content": {"size": 0, "mimeType": "text/plain"}},
}

CHARLES_ENTRY = {
    "_clientIPAddress": "10.20.0.8",
    "startedDateTime": "2026-03-01T13:00:00.000+00:00",
    "request": {
        "method": "GET",
        "url": "https://t.tracker.example:8443/p?u=abc",
        "httpVersion": "HTTP/1.1",
        "headers": [{"name": "Cookie", "value": "sid=1; uid=2"}],
        "cookies": [{"name": "sid", "value": "1"}, {"name": "uid", "value": "2"}],
    },
    "response": {"status": 200},
}


def test_har_shapes_of_other_tools(tmp_path: Path) -> None:
    path = _write(tmp_path, "tools.har", _har([CHROME_ENTRY, FIREFOX_ENTRY, HTTP_TOOLKIT_ENTRY, CHARLES_ENTRY]))
    requests, engine = _requests(path)
    chrome, firefox, toolkit, charles = requests
    assert (chrome.method, chrome.host, chrome.uri, chrome.version) == ("POST", "ads.tracker.example", "/v2/event?sdk=5", "HTTP/3")
    assert (chrome.flow.proto, chrome.flow.dst, chrome.flow.dport) == ("udp", "2001:db8::7", 443)
    assert chrome.body == json.dumps({"advertising_id": GAID}).encode()
    assert dict(chrome.headers)["cookie"] == "uid=u-123"  # from cookies[]: no Cookie header recorded
    assert chrome.ts == pytest.approx(1772359200.123) and chrome.decrypted == "HAR"
    assert firefox.body == b"email=kid%40example.org&imei=356938035643809"  # params rebuilt as a form
    assert firefox.decrypted is None and firefox.ts == pytest.approx(1772359200.0)
    assert (toolkit.flow.src, toolkit.body, toolkit.method) == ("10.20.0.7", b"imei=356938035643809", "PUT")
    assert (charles.flow.src, charles.host, charles.flow.dport) == ("10.20.0.8", "t.tracker.example:8443", 8443)
    assert dict(charles.headers)["cookie"] == "sid=1; uid=2"
    assert [r.frame for r in requests] == [1, 2, 3, 4]
    assert engine.stats.captures[0].warnings == []


def test_damaged_har_entries_are_counted(tmp_path: Path) -> None:
    entries: list[Any] = [
        CHARLES_ENTRY,
        {"request": {"url": "https://x.example/"}, "startedDateTime": "2026-03-01T13:00:00Z"},  # no method
        {"request": {"method": "GET", "url": "https://x.example/"}, "startedDateTime": "yesterday"},
        {"request": {"method": "GET", "url": "https://x.example/", "headers": "oops"}, "startedDateTime": "2026-03-01T13:00:00Z"},
        "not an entry",
        FIREFOX_ENTRY,
    ]
    requests, engine = _requests(_write(tmp_path, "damaged.har", _har(entries)))
    assert [r.frame for r in requests] == [1, 6]
    info = engine.stats.captures[0]
    assert info.packets == 6
    assert info.warnings == ["4 damaged HAR entries skipped (no method or URL, or fields of the wrong type)"]


def test_har_cut_short_keeps_the_entries_before(tmp_path: Path) -> None:
    text = json.dumps(_har([CHARLES_ENTRY, FIREFOX_ENTRY, HTTP_TOOLKIT_ENTRY]))
    path = tmp_path / "cut.har"
    path.write_text(text[: text.index('"_clientAddress"') + 10])
    requests, engine = _requests(path)
    assert [r.frame for r in requests] == [1, 2]
    [warning] = engine.stats.captures[0].warnings
    assert warning == "damaged: HAR file cut short or not valid JSON after entry 2"
    assert "10.20" not in warning  # the parser's excerpt of the text is not repeated


def test_har_responses_are_not_built(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from scanner.ingest import har

    built: list[Any] = []
    original = har._entry_event
    monkeypatch.setattr(har, "_entry_event", lambda entry, *a: built.append(entry) or original(entry, *a))
    _requests(_write(tmp_path, "chrome.har", _har([CHROME_ENTRY])))
    assert built[0]["response"] is None and built[0]["timings"] is None
    assert built[0]["request"]["method"] == "POST"


# --------------------------------------------------------------------------- tnetstrings and damaged flows


@pytest.mark.parametrize(
    ("data", "value"),
    [
        (b"5:hello,", b"hello"),
        (b"3:caf;", "caf"),
        (b"2:42#", 42),
        (b"3:1.5^", 1.5),
        (b"4:true!", True),
        (b"0:~", None),
        (b"8:1:1#1:2#]", [1, 2]),
        (b"11:1:a;4:true!}", {"a": True}),
    ],
)
def test_tnetstrings(data: bytes, value: Any) -> None:
    assert parse_tnetstring(data) == value


@pytest.mark.parametrize("data", [b"5:hell,", b"x:1,", b"3:abc?", b"0:~extra", b"4:1:a;}", b"1:xy~"])
def test_bad_tnetstrings(data: bytes) -> None:
    with pytest.raises(TnetstringError):
        parse_tnetstring(data)


def test_damaged_and_cut_flow_files(tmp_path: Path) -> None:
    good = FLOWS_FILE.read_bytes()
    first_length = int(good[: good.index(b":")])
    first = good[: good.index(b":") + 1 + first_length + 1]
    cut = tmp_path / "cut.flows"
    cut.write_bytes(good[: len(first) + 300])
    requests, engine = _requests(cut)
    assert [r.frame for r in requests] == [1]
    assert engine.stats.captures[0].warnings == ["damaged: mitmproxy flow file cut short inside a flow"]
    garbled = tmp_path / "garbled.flows"
    # A well-formed dict that is no flow (skipped, counted), a good flow, then bytes that are no tnetstring.
    garbled.write_bytes(first + b"8:1:a;1:b;}" + first + b"xyz")
    requests, engine = _requests(garbled)
    assert [r.frame for r in requests] == [1, 3]
    assert engine.stats.captures[0].warnings == [
        "damaged: mitmproxy flow file ends inside a flow's length",
        "1 mitmproxy flows skipped (no request)",
    ]


# --------------------------------------------------------------------------- mixed with captures


def _privscan(*args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "archives-test"}
    return subprocess.run([sys.executable, "-m", "scanner", *args], capture_output=True, env=env, cwd=REPO, timeout=120)


def test_har_and_flows_mixed_with_a_pcap_in_one_scan(tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = _privscan("scan", str(DEMO), str(HAR_FILE), str(FLOWS_FILE), "--format", "json", "-o", str(out))
    assert result.returncode in (0, 1), result.stderr.decode()
    report = json.loads(out.read_text())
    assert [(c["path"].rsplit("/", 1)[-1], c["format"]) for c in report["captures"]] == [
        ("demo.pcap", "pcap"),
        ("mitmproxy.har", "har"),
        ("mitmproxy.flows", "mitmproxy"),
    ]
    from_archives = {
        (f["subject"], f["identifier"]["type"], f["destination"]["host"], f["channel"]["decrypted"])
        for f in report["findings"]
        if f["identifier"] and f["evidence"][0]["capture"].endswith(("mitmproxy.har", "mitmproxy.flows"))
    }
    for subject in ("127.0.12.5", "unknown"):
        assert (subject, "gaid", "tracker.adnetwork.example", True) in from_archives
        assert (subject, "imei", "api.kidsapp.example", True) in from_archives
        assert (subject, "email", "api.kidsapp.example", True) in from_archives
    # The demo capture's own findings are still there.
    assert any(f["evidence"][0]["capture"].endswith("demo.pcap") for f in report["findings"])


def test_something_that_is_no_capture_and_no_archive_is_one_line_exit_2(tmp_path: Path) -> None:
    path = _write(tmp_path, "other.json", {"logs": []})
    result = _privscan("scan", str(path))
    assert result.returncode == 2
    lines = result.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("privscan: error: ") and "Traceback" not in lines[0]


def test_archive_anomalies_reach_the_engine_stats(tmp_path: Path) -> None:
    entry = {**CHARLES_ENTRY, "request": {**CHARLES_ENTRY["request"], "headers": [{"name": "Content-Encoding", "value": "gzip"}], "postData": {"text": "not gzip"}}}
    _, engine = _requests(_write(tmp_path, "enc.har", _har([entry])))
    assert engine.stats.anomalies == {"har_content_encoding_error": 1}
    assert isinstance(engine.anomalies, Anomalies)


@pytest.mark.tshark
def test_the_tshark_engine_reads_archives_as_the_native_one_does() -> None:
    if shutil.which("tshark") is None:
        pytest.skip("tshark is not installed")
    from scanner.engines.tshark import TsharkEngine

    sources = [CaptureSource(str(HAR_FILE)), CaptureSource(str(FLOWS_FILE))]
    native = list(NativeEngine().events(sources))
    tshark = TsharkEngine()
    assert list(tshark.events(sources)) == native
    assert [(i.format, i.packets) for i in tshark.stats.captures] == [("har", 6), ("mitmproxy", 6)]


def test_a_fifo_is_not_sniffed(tmp_path: Path) -> None:
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    # Opening a FIFO with no writer would block, and reading its head would take it from the
    # capture reader: sniffing leaves FIFOs alone.
    assert sniff_archive(CaptureSource(str(fifo))) is None


def test_archives_give_the_same_report_with_jobs(tmp_path: Path) -> None:
    """--jobs 2 with one archive splits it into flow shards: only the first shard reads it (an
    archive has no frames to split); with several inputs each goes to a worker whole."""
    for inputs in ([str(HAR_FILE)], [str(DEMO), str(HAR_FILE), str(FLOWS_FILE)]):
        reports = []
        for jobs in ("1", "2"):
            out = tmp_path / f"report-{jobs}.json"
            result = _privscan("scan", *inputs, "--jobs", jobs, "--format", "json", "-o", str(out))
            assert result.returncode in (0, 1), result.stderr.decode()
            report = json.loads(out.read_text())
            report["stats"].pop("elapsed_s", None)
            reports.append(report)
        assert reports[0] == reports[1]
