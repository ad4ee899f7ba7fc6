#!/usr/bin/env python3
"""Throughput and peak memory of privscan and tshark on the same captures, in one run.

    python bench/run_bench.py [CAPTURE ...] [--runs 3] [--packets 100000] [--no-tshark-engine]

Without captures it writes two with ../shared/bench/make_bench.py (Ethernet and
GTP-U, --packets each, seed 1) into bench/data/ (not committed).  For every
capture it runs the tools in turn, --runs rounds (interleaved, so that a change
in the machine's load weighs on all tools alike), and prints the median wall time as
packets/s and MB/s, the median CPU time (user + system, from wait4: steadier than
wall time on a shared machine), each as a multiple of tshark -T fields' throughput,
and the peak RSS (per process):

  privscan events            the native engine: ingest + decode + events (JSON Lines to /dev/null)
  privscan scan              the whole pipeline: + detection, attribution, graph, policy, JSON report
  privscan scan --jobs 2     the same with the capture split into two flow shards (run/sharded.py)
  privscan events --engine tshark   events from tshark's dissection through pyshark
  tshark -T fields           dns.qry.name, TLS SNI, http.host, http.request.uri (the issue's reference)

Absolute figures vary between machines: compare tools within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PRIVSCAN = [sys.executable, "-m", "scanner"]
TSHARK_FIELDS = ["-T", "fields", "-e", "dns.qry.name", "-e", "tls.handshake.extensions_server_name",
                 "-e", "http.host", "-e", "http.request.uri"]


def count_packets(path: Path) -> int:
    sys.path.insert(0, str(REPO))
    from scanner.ingest import CaptureSource, open_capture

    with open_capture(CaptureSource(str(path))) as capture:
        return sum(1 for _ in capture.frames)


def run(command: list[str]) -> tuple[float, float, int, int]:
    """Wall seconds, CPU seconds, peak RSS in KiB, exit status of one command (stdout to /dev/null)."""
    start = time.perf_counter()
    with open(os.devnull, "wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        err = process.stderr.read() if process.stderr else b""
    elapsed = time.perf_counter() - start
    code = process.returncode
    if code not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed ({code}): {err.decode(errors='replace')[-400:]}")
    return elapsed, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code


def make_captures(packets: int) -> list[Path]:
    generator = REPO.parent / "shared" / "bench" / "make_bench.py"
    if not generator.exists():
        raise SystemExit(f"no captures given and {generator} is absent")
    out = REPO / "bench" / "data"
    out.mkdir(exist_ok=True)
    paths = []
    for linktype in ("ether", "gtp"):
        path = out / f"bench_{packets}_{linktype}.pcap"
        if not path.exists():
            print(f"writing {path} ...", file=sys.stderr)
            subprocess.run([sys.executable, str(generator), "bench", "--packets", str(packets), "--seed", "1",
                            "--linktype", linktype, "--out", str(path)], check=True)
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("captures", nargs="*", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--packets", type=int, default=100_000, help="size of generated captures")
    parser.add_argument("--no-tshark-engine", action="store_true", help="skip privscan --engine tshark (slow)")
    args = parser.parse_args()
    captures = args.captures or make_captures(args.packets)
    env_key = {"PRIVSCAN_HMAC_KEY": "bench"}
    os.environ.update(env_key)
    tools: list[tuple[str, list[str]]] = [
        ("privscan events (native)", [*PRIVSCAN, "events"]),
        ("privscan scan (native, json)", [*PRIVSCAN, "scan", "-q", "--fail-on", "none", "--format", "json"]),
        ("privscan scan --jobs 2", [*PRIVSCAN, "scan", "-q", "--fail-on", "none", "--format", "json", "--jobs", "2"]),
    ]
    tshark = shutil.which("tshark")
    if tshark and not args.no_tshark_engine:
        tools.append(("privscan events (tshark engine)", [*PRIVSCAN, "events", "--engine", "tshark"]))
    if tshark:
        tools.append(("tshark -T fields", [tshark, "-r", "{}", *TSHARK_FIELDS]))
    print(f"{'capture':<22} {'tool':<32} {'packets/s':>10} {'MB/s':>6} {'wall s':>7} {'CPU s':>7} "
          f"{'x tshark (wall/CPU)':>20} {'peak RSS':>9}")
    for capture in captures:
        packets = count_packets(capture)
        size_mb = capture.stat().st_size / 1e6
        commands = []
        for _name, template in tools:
            command = [part.replace("{}", str(capture)) for part in template]
            if "{}" not in template:
                command.append(str(capture))
            commands.append(command)
        walls: list[list[float]] = [[] for _ in tools]
        cpus: list[list[float]] = [[] for _ in tools]
        peaks: list[list[int]] = [[] for _ in tools]
        for _ in range(args.runs):
            for index, command in enumerate(commands):
                elapsed, cpu, peak, _ = run(command)
                walls[index].append(elapsed)
                cpus[index].append(cpu)
                peaks[index].append(peak)
        wall = [statistics.median(times) for times in walls]
        cpu = [statistics.median(times) for times in cpus]
        reference = len(tools) - 1 if tools[-1][0].startswith("tshark") else None
        for index, (name, _template) in enumerate(tools):
            ratio = f"{wall[reference] / wall[index]:.2f} / {cpu[reference] / cpu[index]:.2f}" if reference is not None else "-"
            print(f"{capture.name:<22} {name:<32} {packets / wall[index]:>10,.0f} {size_mb / wall[index]:>6.1f} "
                  f"{wall[index]:>7.2f} {cpu[index]:>7.2f} {ratio:>20} {max(peaks[index]) / 1024:>5.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
