"""Where captures come from (files, directories, globs, standard input) and what a user sees
when an input is bad: through ``privscan events`` in a subprocess, as a user runs it.

docs/cli.md: bad usage or unreadable input is one clear line on stderr and exit status 2,
never a traceback; a truncated capture is not an error but a warning, and the scan goes on.
"""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.ingest import CaptureSource, expand_inputs


def pcap_with(writers, frame: bytes, count: int = 1) -> bytes:
    return writers.pcap([(1_700_000_000 + i, 0, frame, None) for i in range(count)])


@pytest.fixture
def capture_dir(tmp_path: Path, writers, dns_query_frame: bytes) -> Path:
    """A directory as capture tools leave it: rotated files, a compressed one, notes, a
    hidden file and a sub-directory."""
    root = tmp_path / "caps"
    (root / "sub").mkdir(parents=True)
    pcap = pcap_with(writers, dns_query_frame)
    (root / "b_0002.pcap").write_bytes(pcap)
    (root / "b_0001.pcap").write_bytes(pcap)
    (root / "a.cap.gz").write_bytes(gzip.compress(pcap))  # any name: recognised by its magic
    (root / "sub" / "c.pcapng").write_bytes(
        writers.shb("<") + writers.idb("<", 1) + writers.epb("<", 0, 0, dns_query_frame)
    )
    (root / "README.txt").write_text("captures of the lab, 2024-05\n")
    (root / "capture.pcap.sha256").write_text("0" * 64 + "  b_0001.pcap\n")
    (root / ".b_0003.pcap.part").write_bytes(pcap)  # hidden: a capture still being written
    return root


def test_directory_is_expanded_in_name_order_and_skips_non_captures(capture_dir: Path) -> None:
    sources = expand_inputs([str(capture_dir)])
    assert [Path(s.path).relative_to(capture_dir).as_posix() for s in sources] == [
        "a.cap.gz",
        "b_0001.pcap",
        "b_0002.pcap",
        "sub/c.pcapng",
    ]


def test_glob_is_expanded_by_privscan_itself(capture_dir: Path) -> None:
    # Quoted on a command line, or on Windows, the shell does not expand it.
    sources = expand_inputs([str(capture_dir / "b_*.pcap")])
    assert [Path(s.path).name for s in sources] == ["b_0001.pcap", "b_0002.pcap"]
    recursive = expand_inputs([str(capture_dir / "**" / "*.pcapng")])
    assert [Path(s.path).name for s in recursive] == ["c.pcapng"]


def test_stdin_dash_and_files_keep_command_line_order(capture_dir: Path) -> None:
    file = str(capture_dir / "b_0002.pcap")
    assert expand_inputs([file, "-"]) == [CaptureSource(file), CaptureSource("-")]


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda root: str(root / "missing.pcap"), "no such file or directory", id="missing"),
        pytest.param(lambda root: str(root / "nothing-*.pcap"), "no capture matches", id="glob-no-match"),
        pytest.param(lambda root: str(root / "empty-dir"), "no capture", id="empty-directory"),
    ],
)
def test_inputs_that_name_no_capture_are_input_errors(tmp_path: Path, make, message: str) -> None:
    (tmp_path / "empty-dir").mkdir()
    (tmp_path / "empty-dir" / "notes.txt").write_text("not a capture")
    with pytest.raises(InputError, match=message):
        expand_inputs([make(tmp_path)])


# ----------------------------------------------------------------------------- the command line


def event_lines(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines()]


def test_events_of_a_directory_name_each_capture(privscan, capture_dir: Path) -> None:
    result = privscan(["events", str(capture_dir)])
    assert result.returncode == 0, result.stderr
    events = event_lines(result.stdout)
    assert [Path(e["capture"]).name for e in events] == ["a.cap.gz", "b_0001.pcap", "b_0002.pcap", "c.pcapng"]
    assert {e["query"] for e in events} == {"example.org"}
    assert result.stderr == ""


def test_events_from_standard_input(privscan, writers, dns_query_frame: bytes) -> None:
    # `tcpdump -w - | privscan events -`: the capture arrives on a pipe, compressed or not.
    pcap = pcap_with(writers, dns_query_frame, count=3)
    for stdin in (pcap, gzip.compress(pcap)):
        result = privscan(["events", "-"], stdin=stdin)
        assert result.returncode == 0, result.stderr
        events = event_lines(result.stdout)
        assert [(e["capture"], e["frame"], e["type"], e["query"]) for e in events] == [
            ("-", frame, "dns", "example.org") for frame in (1, 2, 3)
        ]
        assert events[0]["flow"] == {"proto": "udp", "src": "10.0.0.1", "sport": 40000, "dst": "10.0.0.2", "dport": 53}


def test_events_from_a_file_piped_into_stdin(privscan, tmp_path: Path, writers, dns_query_frame: bytes) -> None:
    path = tmp_path / "x.pcap"
    path.write_bytes(pcap_with(writers, dns_query_frame))
    with path.open("rb") as handle:
        result = privscan(["events", "-"], stdin=handle.read())
    assert [e["query"] for e in event_lines(result.stdout)] == ["example.org"]


def bad_inputs(root: Path, writers, frame: bytes) -> dict[str, str]:
    """Each bad input the user may give, as the argument to pass."""
    (root / "no-captures").mkdir()
    (root / "no-captures" / "notes.txt").write_text("nothing to see\n")
    (root / "empty-dir").mkdir()
    (root / "notes.txt").write_text("this is a text file, not a capture\n")
    (root / "empty.pcap").write_bytes(b"")
    (root / "short.pcap").write_bytes(pcap_with(writers, frame)[:10])
    stored = gzip.compress(pcap_with(writers, frame))
    (root / "cut-header.pcap.gz").write_bytes(stored[:12])  # nothing can be decompressed
    return {
        "missing": str(root / "missing.pcap"),
        "glob-no-match": str(root / "*.nomatch"),
        "directory-without-captures": str(root / "no-captures"),
        "empty-directory": str(root / "empty-dir"),
        "text-file": str(root / "notes.txt"),
        "empty-file": str(root / "empty.pcap"),
        "shorter-than-a-header": str(root / "short.pcap"),
        "gzip-cut-in-its-header": str(root / "cut-header.pcap.gz"),
    }


BAD_INPUT_NAMES = [
    "missing",
    "glob-no-match",
    "directory-without-captures",
    "empty-directory",
    "text-file",
    "empty-file",
    "shorter-than-a-header",
    "gzip-cut-in-its-header",
]


@pytest.mark.parametrize("name", BAD_INPUT_NAMES)
def test_bad_input_is_one_line_on_stderr_and_exit_2(privscan, tmp_path: Path, writers, dns_query_frame, name) -> None:
    argument = bad_inputs(tmp_path, writers, dns_query_frame)[name]
    result = privscan(["events", argument])
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert len(result.stderr_lines) == 1, result.stderr
    assert result.stderr_lines[0].startswith("privscan: ")
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


def test_unreadable_file_is_one_line_and_exit_2(privscan, tmp_path: Path, writers, dns_query_frame) -> None:
    if os.geteuid() == 0:
        pytest.skip("running as root: chmod 000 does not deny root, so the file stays readable")
    path = tmp_path / "secret.pcap"
    path.write_bytes(pcap_with(writers, dns_query_frame))
    path.chmod(0)
    try:
        result = privscan(["events", str(path)])
    finally:
        path.chmod(0o600)
    assert result.returncode == 2
    assert result.stderr_lines == [f"privscan: error: permission denied: {path}"]


def test_bad_input_after_good_ones_still_exits_2(privscan, tmp_path: Path, writers, dns_query_frame) -> None:
    good = tmp_path / "good.pcap"
    good.write_bytes(pcap_with(writers, dns_query_frame))
    bad = tmp_path / "bad.pcap"
    bad.write_text("text\n")
    result = privscan(["events", str(good), str(bad)])
    assert result.returncode == 2
    assert len(result.stderr_lines) == 1 and result.stderr_lines[0].startswith("privscan: error: ")
    assert str(bad) in result.stderr


def test_capture_cut_mid_record_is_a_warning_naming_file_and_offset(privscan, tmp_path: Path, writers) -> None:
    frame = bytes.fromhex("ffffffffffff0200000000010806") + bytes(28)  # an ARP-sized frame
    whole = pcap_with(writers, frame, count=4)
    path = tmp_path / "cut.pcap"
    last = 24 + 3 * (16 + len(frame))
    path.write_bytes(whole[: last + 16 + 5])
    result = privscan(["events", str(path)])
    assert result.returncode == 0
    assert result.stderr_lines == [
        f"privscan: warning: {path}: truncated: record at offset {last} cut short (5 of {len(frame)} bytes)"
    ]


def test_gzip_cut_mid_stream_is_a_warning_and_the_frames_before_are_scanned(
    privscan, tmp_path: Path, writers, dns_query_frame: bytes
) -> None:
    """A truncated compressed capture is a truncated capture (docs/cli.md: a warning, exit 0).

    Only a gzip cut before any frame can be decompressed is unreadable input (exit 2, above).
    """
    # Frames that do not compress to nothing, so that the cut falls among them.
    padding = [os.urandom(200) for _ in range(400)]
    frames = [(1_700_000_000, i, dns_query_frame + pad, None) for i, pad in enumerate(padding)]
    stored = gzip.compress(writers.pcap(frames))
    path = tmp_path / "cut.pcap.gz"
    path.write_bytes(stored[: len(stored) // 2])
    result = privscan(["events", str(path)])
    assert result.returncode == 0
    events = event_lines(result.stdout)
    assert 100 < len(events) < 400
    assert [e["frame"] for e in events] == list(range(1, len(events) + 1))
    assert len(result.stderr_lines) == 1
    line = result.stderr_lines[0]
    assert line.startswith(f"privscan: warning: {path}: truncated: compressed stream damaged") and "offset" in line
