"""Live capture of the test devices' traffic into a file: ``privscan capture`` and the audit's ``capture:`` form.

    privscan capture --interface eth1 --duration 10m [--filter "not port 22"] -o lab.pcapng

Why a capture command of our own: a scheduled audit of a lab of test phones
must record before it scans, with one tool and one set of error messages, on
machines where Wireshark's dumpcap may or may not be installed.

Two back ends, the first one found wins (``--backend`` forces one):

- dumpcap (Wireshark's capture engine; pcapng, kernel BPF, ring buffers, and
  the privilege separation a capture should have): ``dumpcap -i IF -a
  duration:N [-f BPF] -w FILE``.
- scapy's ``AsyncSniffer`` writing through ``PcapWriter`` (always there: scapy
  is a dependency).  A BPF filter is compiled by libpcap or tcpdump (scapy's
  way); without either, filtering fails with a clear message.

A missing interface or a missing privilege is the user's to fix: one line on
stderr (``InputError``, exit 2), never a traceback.  Durations are written as
``30s``, ``10m``, ``1h``, ``1h30m``, ``500ms`` or a plain number of seconds.
"""

from __future__ import annotations

import math
import os
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from scanner.errors import InputError

BACKENDS = ("auto", "dumpcap", "scapy")

_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|sec|min|s|m|h|d)?", re.IGNORECASE)


def parse_duration(text: object) -> float:
    """Seconds in ``10m``, ``30s``, ``1h30m``, ``500ms``, ``90`` (seconds).  ``ValueError`` when it is
    none, whatever the type: an audit config may hold a list or a map here (issue 15)."""
    if isinstance(text, bool) or not isinstance(text, (str, int, float)):
        kind = "nothing" if text is None else f"a {type(text).__name__}"
        raise ValueError(f"a duration is written 30s, 10m, 1h, 1h30m or 500ms, not {kind}")
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        spec = text.strip().replace(" ", "")
        if not spec:
            raise ValueError("empty duration")
        seconds = 0.0
        position = 0
        while position < len(spec):
            match = _DURATION_PART.match(spec, position)
            if match is None or match.end() == position:
                raise ValueError(f"not a duration: {_short(text)} (write it as 30s, 10m, 1h, 1h30m or 500ms)")
            unit = (match.group(2) or "s").lower()
            # A bare number is only seconds when it is the whole spec: "1h30" is ambiguous.
            if match.group(2) is None and (position > 0 or match.end() != len(spec)):
                raise ValueError(f"not a duration: {_short(text)} (give every part a unit: 1h30m)")
            seconds += float(match.group(1)) * _UNIT_SECONDS[unit]
            position = match.end()
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a duration must be positive: {_short(text)}")
    return seconds


def _short(text: str | int | float) -> str:
    """A duration as an error message quotes it: a few dozen characters at most."""
    shown = repr(text)
    return shown if len(shown) <= 40 else shown[:37] + "..."


def format_duration(seconds: float) -> str:
    """``600`` -> ``10m``: how the messages show a duration back to the user."""
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


@dataclass(frozen=True, slots=True)
class CaptureRun:
    """What a finished capture wrote."""

    path: Path
    backend: str
    interface: str
    seconds: float
    packets: int | None  # None when the back end did not say


def interface_exists(name: str) -> bool:
    """Whether the kernel knows a network interface of that name (``any`` included on Linux)."""
    if name == "any":
        return Path("/sys/class/net").is_dir()
    sys_net = Path("/sys/class/net")
    if sys_net.is_dir():
        # Interface names cannot contain "/": refuse one rather than look up a path outside sys_net.
        return "/" not in name and (sys_net / name).exists()
    try:  # not Linux: ask scapy, which asks libpcap
        from scapy.interfaces import get_if_list

        return name in get_if_list()
    except Exception:
        return True  # cannot tell: let the back end say


def choose_backend(backend: str = "auto") -> str:
    if backend not in BACKENDS:
        raise InputError(f"unknown capture backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if backend == "auto":
        return "dumpcap" if shutil.which("dumpcap") else "scapy"
    if backend == "dumpcap" and not shutil.which("dumpcap"):
        raise InputError("dumpcap is not installed (Debian: apt-get install wireshark-common or tshark)")
    return backend


def record(
    interface: str,
    duration: float,
    output: str | os.PathLike[str],
    bpf: str | None = None,
    backend: str = "auto",
    on_started: Callable[[str], None] | None = None,
) -> CaptureRun:
    """Capture ``interface`` for ``duration`` seconds into ``output`` (pcapng, or pcap when it ends in .pcap).

    ``on_started(backend)`` is called once the capture is really running (the
    socket is open and the filter attached), so a caller can start the traffic.
    """
    if not interface_exists(interface):
        raise InputError(f"no such network interface: {interface}")
    if duration <= 0:
        raise InputError("the capture duration must be positive")
    path = Path(output)
    if not path.parent.is_dir():
        raise InputError(f"no such directory for the capture file: {path.parent}")
    chosen = choose_backend(backend)
    if chosen == "dumpcap":
        return _record_dumpcap(interface, duration, path, bpf, on_started)
    return _record_scapy(interface, duration, path, bpf, on_started)


# --------------------------------------------------------------------------- dumpcap

# dumpcap's phrases for the errors a user must fix, and the one line we say instead.
_DUMPCAP_ERRORS = (
    (re.compile(r"permission|not permitted|Operation not permitted", re.IGNORECASE),
     "permission denied capturing on {iface}: run as root, or give dumpcap CAP_NET_RAW and CAP_NET_ADMIN "
     "(setcap cap_net_raw,cap_net_admin+eip $(command -v dumpcap))"),
    (re.compile(r"no such device|There is no device|doesn't exist|No such device exists", re.IGNORECASE),
     "no such network interface: {iface}"),
    (re.compile(r"Invalid capture filter|syntax error|can't parse filter", re.IGNORECASE),
     "invalid capture filter {bpf!r} for {iface}"),
)
_DUMPCAP_PACKETS = re.compile(r"Packets(?: captured)?:\s*(\d+)")


def _record_dumpcap(
    interface: str, duration: float, path: Path, bpf: str | None, on_started: Callable[[str], None] | None
) -> CaptureRun:
    dumpcap = shutil.which("dumpcap")
    assert dumpcap is not None
    # dumpcap's autostop takes whole seconds: round up so a capture is never shorter than asked.
    seconds = max(1, math.ceil(duration))
    command = [dumpcap, "-i", interface, "-a", f"duration:{seconds}", "-w", str(path)]
    if path.suffix.lower() == ".pcap":
        command.append("-P")  # classic pcap, as the file name says
    if bpf:
        command += ["-f", bpf]
    try:
        process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, errors="replace"
        )
    except OSError as exc:
        raise InputError(f"cannot run dumpcap: {exc.strerror or exc}") from None
    lines: list[str] = []
    started = threading.Event()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.append(line.rstrip("\n"))
            # dumpcap says "Capturing on" before it has opened the device (it may still fail for want of
            # permission); "File:" comes once the device is open and the file created.
            if line.startswith("File:") and not started.is_set():
                started.set()
                if on_started is not None:
                    on_started("dumpcap")

    reader = threading.Thread(target=read_stderr, name="dumpcap-stderr", daemon=True)
    reader.start()
    began = time.monotonic()
    try:
        status = process.wait()
    except BaseException:
        # Interrupted (^C, SIGTERM): stop dumpcap cleanly so the file it wrote stays readable.
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
        raise
    reader.join(timeout=5)
    elapsed = time.monotonic() - began
    if status != 0:
        raise InputError(_dumpcap_message(lines, interface, bpf, status))
    packets = None
    for line in lines:
        match = _DUMPCAP_PACKETS.search(line)
        if match:
            packets = int(match.group(1))
    return CaptureRun(path, "dumpcap", interface, elapsed, packets)


def _dumpcap_message(lines: list[str], interface: str, bpf: str | None, status: int) -> str:
    text = " ".join(lines)
    for pattern, message in _DUMPCAP_ERRORS:
        if pattern.search(text):
            return message.format(iface=interface, bpf=bpf or "")
    # Unknown failure: dumpcap's own first error line, which is usually the clearest.
    meaningful = [line.strip() for line in lines if line.strip() and not line.startswith(("Capturing on", "File:", "Running as"))]
    detail = meaningful[0] if meaningful else f"exit status {status}"
    return f"dumpcap failed on {interface}: {detail}"


# --------------------------------------------------------------------------- scapy

LINKTYPE_ETHERNET = 1


def _record_scapy(
    interface: str, duration: float, path: Path, bpf: str | None, on_started: Callable[[str], None] | None
) -> CaptureRun:
    import logging

    logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
    from scapy.packet import Packet
    from scapy.sendrecv import AsyncSniffer
    from scapy.utils import PcapNgWriter, PcapWriter

    # The file's name says its format, as with dumpcap.
    writer: PcapWriter | PcapNgWriter = PcapWriter(str(path), sync=True) if path.suffix.lower() == ".pcap" else PcapNgWriter(str(path))
    packets = 0
    started = threading.Event()

    def write(packet: Packet) -> None:
        nonlocal packets
        writer.write(packet)
        packets += 1

    def ready() -> None:
        started.set()
        if on_started is not None:
            on_started("scapy")

    sniffer = AsyncSniffer(iface=interface, filter=bpf or None, prn=write, store=False, started_callback=ready)
    began = time.monotonic()
    try:
        sniffer.start()
        deadline = began + duration
        # Wait for the socket first: an error opening it ends the thread before it starts.
        while not started.is_set() and sniffer.thread is not None and sniffer.thread.is_alive():
            started.wait(0.05)
        if not started.is_set():
            _raise_scapy_error(sniffer.exception, interface, bpf)
        while time.monotonic() < deadline and sniffer.thread is not None and sniffer.thread.is_alive():
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    finally:
        if sniffer.running:
            try:
                sniffer.stop(join=True)
            except Exception:
                pass
        if packets == 0:
            # No packet, no header written yet: write an empty but valid capture.
            writer.linktype = LINKTYPE_ETHERNET
            writer.write_header(None)
        writer.close()
    if sniffer.exception is not None:
        _raise_scapy_error(sniffer.exception, interface, bpf)
    return CaptureRun(path, "scapy", interface, time.monotonic() - began, packets)


def _raise_scapy_error(exception: BaseException | None, interface: str, bpf: str | None) -> None:
    if exception is None:
        raise InputError(f"the capture on {interface} did not start")
    text = str(exception)
    if isinstance(exception, PermissionError) or "Operation not permitted" in text:
        raise InputError(f"permission denied capturing on {interface}: run as root or with CAP_NET_RAW") from None
    if "No such device" in text or isinstance(exception, FileNotFoundError):
        raise InputError(f"no such network interface: {interface}") from None
    if bpf and ("filter" in text.lower() or "tcpdump" in text.lower()):
        raise InputError(
            f"cannot compile the capture filter {bpf!r}: {text.strip() or type(exception).__name__} "
            "(scapy needs libpcap or tcpdump for filters; or install dumpcap)"
        ) from None
    raise InputError(f"capture on {interface} failed: {text.strip() or type(exception).__name__}") from None


__all__ = ["BACKENDS", "CaptureRun", "choose_backend", "format_duration", "interface_exists", "parse_duration", "record"]
