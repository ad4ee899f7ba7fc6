"""Time and peak memory of privscan on the resource attacks of issue 15 (a benchmark, not a test).

The cases (flow floods, fragment floods, decompression bombs of every coding in
HTTP bodies and capture wrappers, nested JSON, DNS pointer loops, huge pcapng
blocks, many interfaces and sections, endless standard input) are written by
``tests/fuzz/resource_cases.py``; each is scanned by ``privscan scan`` in a
process of its own, whose peak resident memory comes from ``wait4`` (the
kernel's ``ru_maxrss``), and the table says whether it stayed under the bound
of docs/reliability.md.

    .venv/bin/python bench/resources.py [--scale 1.0] [--bound-mib 300] [--keep DIR] [CASE ...]

``--scale 0.1`` writes every case at a tenth of its size (a quick look); the
figures in docs/reliability.md are at scale 1.  ``--source DIR`` runs another
checkout's privscan (``git archive main | tar -x -C DIR``) on the same files,
to measure before and after a change in one run.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from fuzz.resource_cases import CASES, endless_stream, suffix  # noqa: E402


def run(argv: list[str], env: dict[str, str], stdin: bytes | None = None, feed: object = None,
        timeout: float = 600) -> tuple[int, float, float, str]:
    """(exit status, wall seconds, peak RSS MiB, last stderr line) of one privscan run."""
    started = time.monotonic()
    process = subprocess.Popen(argv, stdin=subprocess.PIPE if feed is not None else subprocess.DEVNULL,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    if feed is not None:
        assert process.stdin is not None
        try:
            for chunk in feed:  # type: ignore[attr-defined]
                process.stdin.write(chunk)
            process.stdin.close()
        except BrokenPipeError:
            pass
    assert process.stderr is not None
    err = process.stderr.read().decode(errors="replace")
    deadline = started + timeout
    while True:
        pid, status, usage = os.wait4(process.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            process.kill()
            pid, status, usage = os.wait4(process.pid, 0)
            err += "\nTIMEOUT"
            break
        time.sleep(0.02)
    process.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in err.strip().splitlines() if line]
    last = lines[-1] if lines else ""
    if "Traceback" in err:
        last = "TRACEBACK " + last
    return process.returncode, time.monotonic() - started, usage.ru_maxrss / 1024, last


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cases", nargs="*", help=f"default: all ({', '.join([*CASES, 'endless_stdin'])})")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--bound-mib", type=float, default=300.0)
    parser.add_argument("--keep", type=Path, help="write the cases here and keep them (default: a temporary directory)")
    parser.add_argument("--source", type=Path, default=REPO, help="checkout whose privscan runs (before/after)")
    parser.add_argument("--stdin-seconds", type=float, default=600.0, help="capture seconds of the endless stdin case")
    args = parser.parse_args()
    names = args.cases or [*CASES, "endless_stdin"]
    env = {**os.environ, "PRIVSCAN_HMAC_KEY": "resources-bench-key-0123"}
    # The editable install's import hook would load this checkout's scanner whatever
    # PYTHONPATH says: drop it, then put --source first.
    launcher = (
        "import sys; sys.meta_path = [f for f in sys.meta_path if not getattr(f, '__module__', '').startswith('__editable__')]; "
        f"sys.path.insert(0, {str(args.source)!r}); sys.argv[0] = 'privscan'; from scanner.cli import main; main()"
    )
    scan = [sys.executable, "-c", launcher, "scan", "-q", "--fail-on", "none", "--format", "json", "-o", "/dev/null"]
    with tempfile.TemporaryDirectory(prefix="privscan-resources-") as scratch:
        out = args.keep or Path(scratch)
        out.mkdir(parents=True, exist_ok=True)
        print(f"privscan from {args.source}, scale {args.scale}, bound {args.bound_mib:.0f} MiB")
        print(f"{'case':24} {'input MB':>9} {'status':>6} {'seconds':>8} {'peak MiB':>9}  ok  last stderr line")
        for name in names:
            if name == "endless_stdin":
                what, size = f"standard input, {args.stdin_seconds:.0f} s of SYNs at 1,000/s", 0.0
                status, seconds, peak, last = run([*scan, "-"], env, feed=endless_stream(args.stdin_seconds))
            else:
                what, make = CASES[name]
                path = out / f"{name}{suffix(name)}"
                if not path.exists():
                    make(path, args.scale)
                size = path.stat().st_size / 1e6
                status, seconds, peak, last = run([*scan, str(path)], env)
            ok = "yes" if status in (0, 1, 2) and peak < args.bound_mib and not last.startswith(("TIMEOUT", "TRACEBACK")) else "NO"
            print(f"{name:24} {size:9.1f} {status:6} {seconds:8.1f} {peak:9.0f}  {ok:3} {last[:90]}", flush=True)
            del what


if __name__ == "__main__":
    main()
