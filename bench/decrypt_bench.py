#!/usr/bin/env python3
"""TLS decryption throughput: privscan's native engine next to tshark, same capture, same key log.

    python bench/decrypt_bench.py [--megabytes 16] [--runs 3] [--capture CAP --keylog KEYS]

Without ``--capture`` it records one (as root: ``dumpcap -i lo``) into bench/data/ (not
committed): curl uploads ``--megabytes`` MB in one HTTP/1.1 POST over each of TLS 1.2
AES-128-GCM, TLS 1.2 AES-128-CBC-SHA (encrypt-then-MAC), TLS 1.3 AES-128-GCM and TLS 1.3
ChaCha20-Poly1305, to ``openssl s_server``, with SSLKEYLOGFILE set.  Real stacks, as in
captures/tls/make_tls_captures.py.

It then runs, each ``--runs`` times, interleaved, and prints the median wall time and the
throughput in MB/s of TLS payload (the TCP payload bytes of the capture's client directions):

  privscan events --keylog        decrypts every record, HTTP decoder on the plaintext
  privscan events (no key log)    the fast lane: encrypted bulk skipped after the ClientHello
  tshark -o tls.keylog_file       Wireshark's decryption, printing each HTTP request's URI

Absolute figures vary between machines: compare the tools within one run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "bench" / "data"
PRIVSCAN = [sys.executable, "-m", "scanner"]
PORT = 9501
SUITES = (  # (curl options, name)
    (["--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-GCM-SHA256"], "TLS 1.2 AES-128-GCM"),
    (["--tls-max", "1.2", "--ciphers", "ECDHE-RSA-AES128-SHA"], "TLS 1.2 AES-128-CBC-SHA"),
    (["--tlsv1.3", "--tls13-ciphers", "TLS_AES_128_GCM_SHA256"], "TLS 1.3 AES-128-GCM"),
    (["--tlsv1.3", "--tls13-ciphers", "TLS_CHACHA20_POLY1305_SHA256"], "TLS 1.3 ChaCha20-Poly1305"),
)


def record(megabytes: int) -> tuple[Path, Path]:
    """Record the uploads; returns (capture, key log)."""
    for tool in ("openssl", "curl", "dumpcap"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is needed to record the bench capture (or give --capture and --keylog)")
    DATA.mkdir(exist_ok=True)
    capture = DATA / f"decrypt_{megabytes}mb.pcapng"
    keylog = DATA / f"decrypt_{megabytes}mb.keys"
    if capture.exists() and keylog.exists():
        return capture, keylog
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        cert, key = tmp / "cert.pem", tmp / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                        "-days", "30", "-subj", "/CN=bench.test"], check=True, capture_output=True)
        body = tmp / "body"
        body.write_bytes(os.urandom(megabytes * 1_000_000))
        keys = tmp / "keys"
        keys.touch()
        dump = subprocess.Popen(["dumpcap", "-q", "-i", "lo", "-s", "0", "-f", f"tcp port {PORT}", "-w", str(tmp / "cap.pcapng")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2)
        server = subprocess.Popen(["openssl", "s_server", "-accept", f"127.0.0.1:{PORT}", "-cert", str(cert), "-key", str(key),
                                   "-cipher", "ALL"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        try:
            for options, _name in SUITES:
                # No answer comes (s_server only reads): -m ends each upload once it is sent.
                subprocess.run(["curl", "-sk", "-m", "8", "-H", "Expect:", "--resolve", f"bench.test:{PORT}:127.0.0.1", *options,
                                "--data-binary", f"@{body}", f"https://bench.test:{PORT}/upload?adid=bench"],
                               env={**os.environ, "SSLKEYLOGFILE": str(keys)}, check=False, capture_output=True)
        finally:
            server.terminate()
            server.wait(timeout=5)
            time.sleep(1)
            dump.terminate()
            dump.wait(timeout=10)
        shutil.copyfile(tmp / "cap.pcapng", capture)
        shutil.copyfile(keys, keylog)
    return capture, keylog


def client_payload_bytes(capture: Path) -> int:
    """TCP payload bytes towards the server port(s) of the TLS connections (tshark counts them)."""
    out = subprocess.run(["tshark", "-r", str(capture), "-Y", "tcp.len > 0 and tls and tcp.srcport > tcp.dstport",
                          "-T", "fields", "-e", "tcp.len"], check=True, capture_output=True, text=True).stdout
    return sum(int(line) for line in out.split() if line.isdigit())


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(command)} failed: {done.stderr[-400:]}")
    return elapsed, done.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--megabytes", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--capture", type=Path)
    parser.add_argument("--keylog", type=Path)
    args = parser.parse_args()
    if args.capture is not None:
        if args.keylog is None:
            raise SystemExit("--capture needs --keylog")
        capture, keylog = args.capture, args.keylog
    else:
        capture, keylog = record(args.megabytes)
    payload = client_payload_bytes(capture)
    commands = {
        "privscan events --keylog": [*PRIVSCAN, "events", str(capture), "--keylog", str(keylog)],
        "privscan events (no keys)": [*PRIVSCAN, "events", str(capture)],
        # http.desegment_body off: a request is shown at its headers, as privscan's decoder
        # reports it even when the upload was cut; every record is still decrypted to get there.
        "tshark -o tls.keylog_file": ["tshark", "-r", str(capture), "-o", f"tls.keylog_file:{keylog}",
                                      "-o", "http.desegment_body:FALSE", "-Y", "http.request",
                                      "-T", "fields", "-e", "http.request.uri"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    requests: dict[str, int] = {}
    for _ in range(args.runs):
        for name, command in commands.items():  # interleaved: machine noise hits every tool alike
            elapsed, out = timed(command)
            times[name].append(elapsed)
            requests[name] = sum(1 for line in out.splitlines() if '"type":"http"' in line or line.startswith("/"))
    print(f"capture {capture.name}: {payload / 1e6:.1f} MB of TLS payload from clients, {args.runs} runs (median)")
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:28s} {median:7.2f} s  {payload / 1e6 / median:7.1f} MB/s  ({requests[name]} HTTP requests seen)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
