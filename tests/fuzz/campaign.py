"""privscan's standing fuzz campaign (issue 15): mutated captures and generated protocol traffic.

Two sources of cases, chosen in turn by a seeded random generator:

- mutation of a corpus (the public captures of ../shared/captures/real and the
  project's own captures/): bit flips, field values at their limits (0, 0x7f..,
  0x80.., 0xff..), insertions and deletions, records cut short, record and block
  lengths made wrong, damaged file headers, splices of two files, and the result
  wrapped in gzip, xz, bzip2 or zstd, then cut or flipped;
- generation, for each protocol decoder the registry holds (scanner/decode/
  protocols: DATAGRAM_DECODERS and STREAM_DECODERS, so a decoder added later is
  fuzzed without an edit here): a message built with scapy's layer for it where
  scapy has one, randomised with scapy's ``fuzz`` and mutated, sent on the
  decoder's port over UDP, TCP or SCTP.

Each case is read in-process by a strict engine (``PRIVSCAN_STRICT=1`` on the
command line: a decoder bug raises instead of being counted) through the native engine and the ``events`` writer; every ``--scan-every``-th case
also through the whole ``scan`` pipeline and a JSON report; every
``--subprocess-every``-th case through the command line in a process of its own,
whose exit status (0, 1 or 2 allowed) and peak memory (``--rss-mib``) are
checked.  A case is a finding when it raises anything but privscan's own
errors, runs past ``--case-seconds``, leaves an ``internal_error_*`` count, or
goes over the memory bound.  A finding is minimised (records, then bytes, are
dropped while it still fails) and kept in tests/fuzz/repro/ with a JSON note;
tests/fuzz/test_fuzz.py replays every kept reproducer in ``make test``.

    python -m fuzz [--seed 1] [--budget 600] [--cases N] [--out tests/fuzz/repro]   (PYTHONPATH=tests)
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import hashlib
import io
import json
import lzma
import os
import random
import re
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("PRIVSCAN_SHARED", REPO.parent / "shared"))
REPRO_DIR = Path(__file__).resolve().parent / "repro"
MAX_CORPUS_FILE = 400_000  # bytes: larger captures cost time per case without new shapes
STRICT = {"PRIVSCAN_STRICT": "1"}  # the command line's way to ask for a strict engine

from fuzz.resource_cases import PCAP_HEADER, ipv4, record, tcp  # noqa: E402

# ------------------------------------------------------------------ the corpus


def corpus() -> list[tuple[str, bytes]]:
    """(name, bytes) of every readable capture small enough, public ones first."""
    files = sorted((SHARED / "captures" / "real").glob("*.pcap*")) + sorted((REPO / "captures").glob("*.pcap*"))
    return [(f.name, f.read_bytes()) for f in files if f.is_file() and 0 < f.stat().st_size <= MAX_CORPUS_FILE]


def records(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each record (pcap) or block (pcapng), as far as the lengths hold."""
    spans: list[tuple[int, int]] = []
    if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = "<" if data[:4] in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1") else ">"
        position = 24
        while position + 16 <= len(data):
            (caplen,) = struct.unpack_from(endian + "I", data, position + 8)
            end = position + 16 + caplen
            if end > len(data):
                break
            spans.append((position, end))
            position = end
    elif data[:4] == b"\x0a\x0d\x0d\x0a":
        position, endian = 0, "<"
        while position + 12 <= len(data):
            if data[position : position + 4] == b"\x0a\x0d\x0d\x0a":
                endian = "<" if data[position + 8 : position + 12] == b"\x4d\x3c\x2b\x1a" else ">"
            (length,) = struct.unpack_from(endian + "I", data, position + 4)
            if length < 12 or position + length > len(data):
                break
            spans.append((position, position + length))
            position += length
    return spans


# ------------------------------------------------------------------ mutations

LIMITS = [b"\x00", b"\xff", b"\x7f", b"\x80", b"\x00\x00", b"\xff\xff", b"\x7f\xff", b"\x80\x00",
          b"\x00\x00\x00\x00", b"\xff\xff\xff\xff", b"\x7f\xff\xff\xff", b"\x80\x00\x00\x00", b"\x00\x00\x00\x01"]


def bit_flips(rng: random.Random, data: bytearray) -> str:
    n = rng.choice((1, 1, 2, 4, 16))
    for _ in range(n):
        position = rng.randrange(len(data))
        data[position] ^= 1 << rng.randrange(8)
    return f"flip{n}"


def limit_values(rng: random.Random, data: bytearray) -> str:
    value = rng.choice(LIMITS)
    position = rng.randrange(max(1, len(data) - len(value)))
    data[position : position + len(value)] = value
    return f"limit@{position}"


def insert(rng: random.Random, data: bytearray) -> str:
    position = rng.randrange(len(data) + 1)
    data[position:position] = rng.randbytes(rng.choice((1, 4, 16, 300)))
    return f"insert@{position}"


def delete(rng: random.Random, data: bytearray) -> str:
    position = rng.randrange(len(data))
    del data[position : position + rng.choice((1, 4, 16, 300))]
    return f"delete@{position}"


def cut(rng: random.Random, data: bytearray) -> str:
    spans = records(bytes(data))
    at = rng.choice(spans)[0] + rng.randrange(1, 24) if spans and rng.random() < 0.7 else rng.randrange(len(data))
    del data[at:]
    return f"cut@{at}"


def bad_length(rng: random.Random, data: bytearray) -> str:
    spans = records(bytes(data))
    if not spans:
        return limit_values(rng, data)
    start, _ = rng.choice(spans)
    pcapng = data[:4] == b"\x0a\x0d\x0d\x0a"
    where = start + (4 if pcapng else rng.choice((8, 12)))  # block length; pcap caplen or wirelen
    if pcapng and rng.random() < 0.3:
        where = rng.choice(spans)[1] - 4  # the trailing copy of the block length
    data[where : where + 4] = rng.choice([*LIMITS[8:], struct.pack("<I", rng.randrange(1 << 32))])
    return f"length@{where}"


def damaged_header(rng: random.Random, data: bytearray) -> str:
    span = 28 if data[:4] == b"\x0a\x0d\x0d\x0a" else 24
    for _ in range(rng.choice((1, 2, 4))):
        data[rng.randrange(min(span, len(data)))] = rng.randrange(256)
    return "header"


MUTATIONS: list[Callable[[random.Random, bytearray], str]] = [
    bit_flips, bit_flips, limit_values, limit_values, insert, delete, cut, bad_length, bad_length, damaged_header,
]


def splice(rng: random.Random, first: bytes, second: bytes) -> bytes:
    """The start of one capture followed by records of another."""
    a, b = records(first), records(second)
    head = first[: rng.choice(a)[1]] if a else first[: rng.randrange(len(first))]
    tail = second[rng.choice(b)[0] :] if b else second[rng.randrange(len(second)) :]
    return head + tail[:MAX_CORPUS_FILE]


def wrap(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Compress with one of the codings the reader accepts, then maybe cut or flip it."""
    coding = rng.choice(("gzip", "xz", "bzip2", "zstd"))
    if coding == "gzip":
        packed = gzip.compress(data, 1)
    elif coding == "xz":
        packed = lzma.compress(data, preset=0)
    elif coding == "bzip2":
        packed = bz2.compress(data, 1)
    else:
        import zstandard

        packed = zstandard.ZstdCompressor(level=1).compress(data)
    damage = rng.choice(("whole", "cut", "flip"))
    if damage == "cut":
        packed = packed[: rng.randrange(1, len(packed))]
    elif damage == "flip":
        flipped = bytearray(packed)
        flipped[rng.randrange(len(flipped))] ^= 1 << rng.randrange(8)
        packed = bytes(flipped)
    return packed, f"{coding}-{damage}"


# ------------------------------------------------------------------ generation (scapy, per decoder)


def _scapy_layers() -> dict[str, Callable[[random.Random], Any]]:
    """Messages for the decoders scapy knows.  Names are the registry's; one that scapy has no
    layer for gets random bytes after a mutated copy of another decoder's message."""
    from scapy.layers.dhcp import BOOTP, DHCP
    from scapy.layers.dhcp6 import DHCP6_Solicit, DHCP6OptClientId
    from scapy.layers.dns import DNS, DNSQR, DNSRR
    from scapy.layers.llmnr import LLMNRQuery
    from scapy.layers.netbios import NBNSHeader, NBNSQueryRequest
    from scapy.layers.radius import Radius, RadiusAttribute

    def dns(rng: random.Random) -> Any:
        return DNS(id=rng.randrange(65536), qr=1, qd=DNSQR(qname="ads.example."),
                   an=DNSRR(rrname="ads.example.", type="A", rdata="203.0.113.10"))

    layers: dict[str, Callable[[random.Random], Any]] = {
        "dns": dns,
        "mdns": dns,
        "dns-tcp": dns,
        "llmnr": lambda rng: LLMNRQuery(qd=DNSQR(qname="kids-tablet")),
        "nbns": lambda rng: NBNSHeader() / NBNSQueryRequest(QUESTION_NAME="KIDS-TABLET"),
        "dhcp": lambda rng: BOOTP(chaddr=rng.randbytes(6)) / DHCP(options=[("message-type", "request"), ("hostname", b"emma-ipad"), "end"]),
        "dhcpv6": lambda rng: DHCP6_Solicit() / DHCP6OptClientId(),
        "radius": lambda rng: Radius(code=4, attributes=[RadiusAttribute(type=1, value=b"001010123456789"),
                                                           RadiusAttribute(type=31, value=b"33612345678")]),
    }
    try:
        from scapy.contrib.gtp import GTPCreatePDPContextRequest, GTPHeader

        layers["gtpc"] = layers["gtpc-tcp"] = lambda rng: GTPHeader(gtp_type=16) / GTPCreatePDPContextRequest()
    except ImportError:
        pass
    try:
        from scapy.contrib.diameter import DiamReq

        layers["diameter"] = layers["diameter-tcp"] = lambda rng: DiamReq("CCR", drHbHId=1, drEtEId=1)
    except ImportError:
        pass
    try:
        from scapy.layers.http import HTTP, HTTPRequest

        layers["http"] = lambda rng: HTTP() / HTTPRequest(Host=b"ads.example", Path=b"/a?gaid=38400000-8cf0-11bd-b23e-10b96e40000d")
    except ImportError:
        pass
    try:
        from scapy.layers.tls.handshake import TLSClientHello
        from scapy.layers.tls.record import TLS

        layers["tls"] = lambda rng: TLS(msg=[TLSClientHello()])
    except ImportError:
        pass
    return layers


_LAYERS: dict[str, Callable[[random.Random], Any]] | None = None


def generated(rng: random.Random) -> tuple[bytes, str]:
    """A small pcap of one decoder's messages (randomised by scapy, then mutated)."""
    global _LAYERS
    from scapy.packet import fuzz as scapy_fuzz

    from scanner.decode.protocols import DATAGRAM_DECODERS, STREAM_DECODERS

    if _LAYERS is None:
        _LAYERS = _scapy_layers()
    decoders: list[tuple[str, str, int]] = []
    for name, cls in DATAGRAM_DECODERS.items():
        decoders += [(name, "udp", port) for port in sorted(cls.udp_ports)[:1]]
        decoders += [(name, "sctp", ppid) for ppid in sorted(cls.sctp_ppids)[:1]]
    for name, cls in STREAM_DECODERS.items():
        decoders.append((name, "tcp", min(cls.tcp_ports) if cls.tcp_ports else rng.choice((80, 443, 8080, 5000))))
    name, transport, port = rng.choice(decoders)
    messages = []
    for _ in range(rng.choice((1, 2, 5))):
        make = _LAYERS.get(name)
        try:
            message = bytes(scapy_fuzz(make(rng)) if make and rng.random() < 0.5 else make(rng)) if make else rng.randbytes(rng.randrange(1, 600))
        except Exception:  # scapy could not build this randomisation: plain bytes instead
            message = rng.randbytes(rng.randrange(1, 600))
        mutable = bytearray(message or b"\x00")
        if rng.random() < 0.7:
            rng.choice(MUTATIONS[:6])(rng, mutable)
        messages.append(bytes(mutable))
    client, server = 0x0A140007, 0xCB00710A
    frames = []
    if transport == "udp":
        for message in messages:
            frames.append(ipv4(client, server, 17, struct.pack("!HHHH", 40000, port, 8 + len(message), 0) + message))
    elif transport == "sctp":
        for n, message in enumerate(messages):
            chunk = struct.pack("!BBHIHHI", 0, 3, 16 + len(message), n, 0, n, port) + message + bytes(-len(message) % 4)
            frames.append(ipv4(client, server, 132, struct.pack("!HHII", 40000, 3868, 1, 0) + chunk))
    else:
        stream = b"".join(messages)
        if name == "http2":
            stream = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + stream
        seq = 1000
        frames.append(tcp(client, 40000, server, port, seq, 0x02))
        seq += 1
        pieces = [stream[i : i + rng.choice((1, 7, 100, 1400))] for i in range(0, len(stream), 1400)] or [b""]
        order = list(range(len(pieces)))
        if rng.random() < 0.2:
            rng.shuffle(order)  # out of order delivery
        offsets = [sum(len(p) for p in pieces[:i]) for i in range(len(pieces))]
        for i in order:
            frames.append(tcp(client, 40000, server, port, seq + offsets[i], 0x18, pieces[i]))
        frames.append(tcp(client, 40000, server, port, seq + len(stream), 0x11))
    data = PCAP_HEADER + b"".join(record(1_700_000_000.0 + n * 0.001, frame) for n, frame in enumerate(frames))
    return data, f"gen:{name}/{transport}:{port}"


# ------------------------------------------------------------------ running a case


class CaseTimeout(Exception):
    pass


@dataclass
class Outcome:
    failure: str | None  # None: the case passed
    detail: str = ""


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout()


def run_in_process(path: Path, scan: bool, seconds: float) -> Outcome:
    """events (and scan) of one file, strict; privscan's own errors are fine (exit 2)."""
    from scanner.engines.native import NativeEngine
    from scanner.errors import PrivscanError
    from scanner.ingest import expand_inputs
    from scanner.report.events import write_event_lines

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        sources = expand_inputs([str(path)])
        engine = NativeEngine(strict=True)
        write_event_lines(engine.events(sources), io.StringIO(), "jsonl")
        bugs = sorted(name for name in engine.stats.anomalies if name.startswith("internal_error"))
        if bugs:
            return Outcome("internal_error", ", ".join(bugs))
        if scan:
            from scanner.pipeline import ScanSettings, run_scan
            from scanner.report.formats import RenderOptions, get_format
            from scanner.settings import Settings

            result = run_scan(sources, ScanSettings(runtime=Settings(strict=True)))
            get_format("json")(RenderOptions()).render(result)
        return Outcome(None)
    except CaseTimeout:
        return Outcome("hang", f"more than {seconds:g} s")
    except PrivscanError:
        return Outcome(None)
    except RecursionError as exc:
        return Outcome("crash", f"RecursionError: {exc}")
    except Exception as exc:
        frames = traceback.extract_tb(exc.__traceback__)
        where = next((f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames) if "/scanner/" in f.filename), "?")
        return Outcome("crash", f"{type(exc).__name__} at {where}: {str(exc)[:200]}")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# Linux counts a process's resident memory from before its exec in its peak (ru_maxrss): a command
# started straight from a test process of 300 MiB "peaks" at 300 MiB.  So a small launcher starts
# it (its own memory, not the caller's, is what the command inherits) and reports its real peak.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.close(int(sys.argv[1]))\n"
    "    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "os.write(int(sys.argv[1]), str(usage.ru_maxrss).encode())\n"
    "sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)\n"
)


def run_in_subprocess(path: Path, seconds: float, rss_mib: float) -> Outcome:
    """The command line in its own process: exit status and peak memory."""
    argv = ["-m", "scanner", "scan", "-q", "--fail-on", "none", "--format", "json", "-o", os.devnull, str(path)]
    started = time.monotonic()
    env = {"PRIVSCAN_HMAC_KEY": "privscan-fuzz-campaign-key", **os.environ, **STRICT}
    peak_read, peak_write = os.pipe()
    process = subprocess.Popen(
        [sys.executable, "-c", _LAUNCHER, str(peak_write), *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        cwd=REPO, env=env, pass_fds=(peak_write,), start_new_session=True,
    )
    os.close(peak_write)
    while True:
        pid, status, _usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - started > seconds:
            os.killpg(process.pid, signal.SIGKILL)
            os.wait4(process.pid, 0)
            os.close(peak_read)
            return Outcome("hang", f"command line ran past {seconds:g} s")
        time.sleep(0.01)
    with os.fdopen(peak_read, "rb") as reported:
        peak_kib = int(reported.read() or b"0")
    assert process.stderr is not None
    err = process.stderr.read().decode(errors="replace")
    process.stderr.close()
    code = os.waitstatus_to_exitcode(status)
    peak = peak_kib / 1024
    if code not in (0, 1, 2) or "Traceback" in err:
        return Outcome("exit_status", f"exit {code}: {err.strip().splitlines()[-1:] if err.strip() else ''}")
    if peak > rss_mib:
        return Outcome("memory", f"peak {peak:.0f} MiB > {rss_mib:g} MiB")
    return Outcome(None)


# ------------------------------------------------------------------ the campaign


@dataclass
class Report:
    seed: int
    cases: int = 0
    scans: int = 0
    subprocesses: int = 0
    by_kind: dict[str, int] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0


def cases(rng: random.Random, files: list[tuple[str, bytes]]) -> Iterator[tuple[bytes, str, str]]:
    """Endless (data, suffix, description) cases."""
    while True:
        roll = rng.random()
        if roll < 0.3 or not files:
            data, what = generated(rng)
            yield data, ".pcap", what
            continue
        name, original = rng.choice(files)
        if roll < 0.38 and len(files) > 1:
            other_name, other = rng.choice(files)
            data, what = splice(rng, original, other), f"splice:{name}+{other_name}"
        else:
            mutable = bytearray(original)
            steps = [rng.choice(MUTATIONS)(rng, mutable) for _ in range(rng.choice((1, 1, 2, 3))) if mutable]
            data, what = bytes(mutable), f"{name}:{'+'.join(steps)}"
        if data and rng.random() < 0.12:
            data, coding = wrap(rng, data)
            yield data, ".pcap.cmp", f"{what}+{coding}"
        else:
            yield data, ".pcap", what


def minimise(data: bytes, fails: Callable[[bytes], bool], budget: float) -> bytes:
    """Drop records (halves, then quarters, ...), then cut the tail, while the case still fails."""
    deadline = time.monotonic() + budget
    spans = records(data)
    if spans:
        head, body = data[: spans[0][0]], [data[s:e] for s, e in spans]
        tail = data[spans[-1][1] :]
        chunk = max(1, len(body) // 2)
        while chunk >= 1 and time.monotonic() < deadline:
            index, changed = 0, False
            while index < len(body) and time.monotonic() < deadline:
                trial = body[:index] + body[index + chunk :]
                if trial and fails(head + b"".join(trial) + tail):
                    body, changed = trial, True
                else:
                    index += chunk
            if not changed:
                chunk //= 2
        data = head + b"".join(body) + tail
    size = len(data)
    while size > 24 and time.monotonic() < deadline:
        step = max(1, size // 8)
        if fails(data[: size - step]):
            size -= step
            data = data[:size]
        elif step == 1:
            break
        else:
            size = len(data)
            if not fails(data[: size - 1]):
                break
    return data


def keep(data: bytes, suffix: str, what: str, outcome: Outcome, seed: int, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256(data).hexdigest()[:12]
    path = out / f"{outcome.failure}-{digest}{'.pcap' if suffix == '.pcap' else '.bin'}"
    path.write_bytes(data)
    note = {"failure": outcome.failure, "detail": outcome.detail, "case": what, "seed": seed, "bytes": len(data)}
    path.with_suffix(".json").write_text(json.dumps(note, indent=2) + "\n", encoding="utf-8")
    return path


def campaign(seed: int, budget: float, max_cases: int | None, out: Path, *, scan_every: int = 10,
             subprocess_every: int = 500, case_seconds: float = 20.0, rss_mib: float = 300.0,
             minimise_seconds: float = 60.0, log: Callable[[str], None] = print) -> Report:
    rng = random.Random(seed)
    files = corpus()
    report = Report(seed)
    started = time.monotonic()
    scratch = Path(tempfile.mkdtemp(prefix="privscan-fuzz-"))
    seen: set[tuple[str, str]] = set()
    try:
        for data, suffix, what in cases(rng, files):
            elapsed = time.monotonic() - started
            if elapsed > budget or (max_cases is not None and report.cases >= max_cases):
                break
            report.cases += 1
            if report.cases % 1000 == 0:
                log(f"{report.cases} cases, {len(report.findings)} findings, {elapsed:.0f} s")
            kind = "splice" if what.startswith("splice") else ("generated" if what.startswith("gen:") else "mutated")
            kind += "+compressed" if suffix == ".pcap.cmp" else ""
            report.by_kind[kind] = report.by_kind.get(kind, 0) + 1
            path = scratch / f"case{suffix}"
            path.write_bytes(data)
            scan = report.cases % scan_every == 0
            report.scans += scan
            outcome = run_in_process(path, scan, case_seconds)
            if outcome.failure is None and resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 > rss_mib * 2:
                outcome = Outcome("memory", "the fuzzing process itself grew past twice the bound")
            if outcome.failure is None and report.cases % subprocess_every == 0:
                report.subprocesses += 1
                outcome = run_in_subprocess(path, case_seconds * 3, rss_mib)
            if outcome.failure is None:
                continue
            signature = (outcome.failure, re.sub(r"\d+", "#", outcome.detail)[:120])  # one per bug, not per offset
            log(f"FOUND {outcome.failure}: {outcome.detail} ({what})")
            if signature in seen:
                continue
            seen.add(signature)
            failure = outcome.failure

            def fails(trial: bytes, failure: str = failure, case_path: Path = path) -> bool:
                case_path.write_bytes(trial)
                if failure in ("exit_status", "memory"):
                    return run_in_subprocess(case_path, case_seconds * 3, rss_mib).failure == failure
                return run_in_process(case_path, True, case_seconds).failure == failure

            small = minimise(data, fails, minimise_seconds) if failure != "memory" else data
            kept = keep(small, suffix, what, outcome, seed, out)
            report.findings.append({"failure": failure, "detail": outcome.detail, "case": what, "kept": str(kept)})
    finally:
        report.seconds = time.monotonic() - started
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
    return report


def main() -> None:
    os.environ.setdefault("PRIVSCAN_HMAC_KEY", "privscan-fuzz-campaign-key")
    parser = argparse.ArgumentParser(prog="python -m fuzz", description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--budget", type=float, default=600.0, help="seconds (default 600)")
    parser.add_argument("--cases", type=int, help="stop after this many cases")
    parser.add_argument("--out", type=Path, default=REPRO_DIR, help="where reproducers are kept")
    parser.add_argument("--scan-every", type=int, default=10)
    parser.add_argument("--subprocess-every", type=int, default=500)
    parser.add_argument("--case-seconds", type=float, default=20.0)
    parser.add_argument("--rss-mib", type=float, default=300.0)
    parser.add_argument("--json", type=Path, help="write the campaign's report here")
    args = parser.parse_args()
    report = campaign(args.seed, args.budget, args.cases, args.out, scan_every=args.scan_every,
                      subprocess_every=args.subprocess_every, case_seconds=args.case_seconds, rss_mib=args.rss_mib)
    summary = {"seed": report.seed, "cases": report.cases, "scans": report.scans, "subprocesses": report.subprocesses,
               "by_kind": report.by_kind, "seconds": round(report.seconds, 1), "findings": report.findings}
    text = json.dumps(summary, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")
    sys.exit(1 if report.findings else 0)
