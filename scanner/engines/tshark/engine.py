"""The tshark engine: Wireshark's dissectors, driven through pyshark, for breadth and cross-checking.

``privscan scan --engine tshark`` runs the same pipeline as the native engine
on events built from tshark's dissection (frame.py, and one builder per protocol
in protocols/), so that an engineer can check a finding with the tool they already trust, and traffic
that privscan's own decoders do not know still gets scanned.

How a capture is read (one tshark process per capture, so that flows never
span captures and every event names the file its frame is in):

    file / stdin --open_source (decompress, sha256)--> tee --pipe--> tshark -r - (EK lines) --> events
                                                         \\--> read_frames (count packets, first/last ts)

- The capture is read once, by a feeder thread, through scanner.ingest: the
  same decompression (gzip, xz, bzip2, zstd, by magic number), the same
  sha256 and byte count of the stored file, and the same packet count, first
  and last timestamps, format, link types and truncation warnings as the
  native engine, because they come from the same reader.  The decompressed
  bytes go to tshark's standard input: tshark never has to know about
  compression (4.0 reads only gzip itself) or about stdin.  Counting in our
  reader is cheap next to tshark's dissection (about 2% of the run) and is
  the only way to know the packet count while tshark prints only the packets
  that match the display filter.
- pyshark starts tshark and streams its output (``_EkCapture``); what tshark is
  asked for (display filter, layers, preferences) is in options.py.  The
  EK lines of each read are parsed with ``json.loads`` and turned into events
  at once; nothing is kept per packet on this side.  tshark's own memory grows with the
  capture (it keeps per-frame state for the whole file, about 2.7 kB a packet in
  the benchmarks): split very large captures (``editcap -c``) or use the native
  engine.  tshark's ``-M`` session reset was measured and left out: it hardly
  lowers the peak (glib keeps the memory), is several times slower, and restarts
  frame numbers.
- tshark's complaints are not swallowed: a capture it could not read at all
  is an ``InputError`` (exit status 2) naming tshark's message; a capture it
  read only in part (cut short, damaged after some packets) keeps its events
  and gets tshark's message as a warning and a ``tshark_read_error`` anomaly.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, BinaryIO

from pyshark.capture.capture import Capture
from pyshark.tshark.output_parser.base_parser import BaseTsharkOutputParser
from pyshark.tshark.tshark import TSharkNotFoundException, get_process_path, get_tshark_version

from scanner.decode.keylog import KeyLog
from scanner.decode.protocols.base import Anomalies
from scanner.decode.protocols.doh import with_doh
from scanner.engines.base import EngineStats, ProgressCallback, archive_capture
from scanner.engines.tshark.frame import EventBuilder
from scanner.engines.tshark.options import DECODE_AS, DISPLAY_FILTER, PREFERENCES, command_options
from scanner.errors import InputError
from scanner.ingest import CaptureSource
from scanner.ingest.readers import read_frames
from scanner.ingest.sources import ByteStream, OpenedCapture, open_source
from scanner.model import Event
from scanner.results import CaptureInfo

INSTALL_HINT = (
    "tshark is not installed (needed by --engine tshark): apt-get install tshark (Debian/Ubuntu), "
    "dnf install wireshark-cli (Fedora/RHEL), brew install wireshark (macOS)"
)
MIN_TSHARK_VERSION = (3, 0)  # EK output with -J, and the "tls" protocol name (3.0 renamed ssl)
# Records between two progress callbacks.
PROGRESS_EVERY = 1 << 10
# Bytes handed to tshark per write; the pipe applies back-pressure when tshark is slower.
FEED_CHUNK = 1 << 20
MAX_STDERR_LINES = 200
# tshark's banner when run as root is not a complaint about the capture.
_STDERR_NOISE = ("Running as user",)


def locate_tshark(path: str | None = None) -> str:
    """The tshark executable pyshark would run; InputError with an install hint when there is none."""
    try:
        found = get_process_path(path)
    except TSharkNotFoundException:
        raise InputError(INSTALL_HINT) from None
    if not os.access(found, os.X_OK):
        raise InputError(INSTALL_HINT)
    return str(found)


@contextmanager
def tshark_keylog(keylog: KeyLog | None) -> Iterator[str | None]:
    """The key log file tshark reads (``-o tls.keylog_file:``): the one ``--keylog`` file as it is,
    or the union of several in a temporary file only its owner can read (mode 0600), deleted when
    tshark is done.  A capture's own Decryption Secrets Blocks tshark reads itself."""
    files = keylog.files if keylog is not None else []
    if not files:
        yield None
        return
    if len(files) == 1:
        yield files[0]
        return
    fd, path = tempfile.mkstemp(prefix="privscan-keylog-", suffix=".keys")  # created 0600
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            for name in files:
                with open(name, "rb") as part:
                    shutil.copyfileobj(part, out)
                out.write(b"\n")
        yield path
    finally:
        with suppress(FileNotFoundError):
            os.unlink(path)


class TsharkEngine:
    """Events from tshark's dissection (pyshark), the same types as the native engine's."""

    name = "tshark"

    def __init__(
        self,
        progress: ProgressCallback | None = None,
        tshark_path: str | None = None,
        *,
        strict: bool = False,
        keylog: KeyLog | None = None,
    ) -> None:
        self.stats = EngineStats()
        self.keylog = keylog
        self.preferences = PREFERENCES
        self.anomalies = Anomalies()
        self.progress = progress
        # Strict (tests, PRIVSCAN_STRICT=1 via scanner.settings): a builder bug fails loudly instead of being counted.
        self.strict = strict
        self.tshark_path = locate_tshark(tshark_path)
        try:
            self.tshark_version = get_tshark_version(self.tshark_path)
        except Exception as exc:  # a broken install: not runnable, or an unparsable version
            raise InputError(f"cannot run {self.tshark_path}: {exc}") from None
        if (self.tshark_version.major, self.tshark_version.minor) < MIN_TSHARK_VERSION:
            raise InputError(
                f"tshark {self.tshark_version} is too old for --engine tshark (3.0 or later is needed)"
            )
        self.options = command_options()

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        builder = EventBuilder(self.anomalies, self.stats.counters)
        with tshark_keylog(self.keylog) as keylog_file:
            self.preferences = {**PREFERENCES, "tls.keylog_file": keylog_file} if keylog_file else PREFERENCES
            try:
                for source in sources:
                    archive = archive_capture(source, self.stats, self.anomalies)
                    # A HAR or mitmproxy file: its requests, read as the native engine reads them.
                    yield from with_doh(archive if archive is not None else self._capture(source, builder))
            finally:
                self.stats.anomalies = dict(self.anomalies.counts)

    # ------------------------------------------------------------------ one capture

    def _capture(self, source: CaptureSource, builder: EventBuilder) -> Iterator[Event]:
        stats = self.stats
        info = CaptureInfo(path=source.path)
        opened = open_source(source)
        if opened.compression:
            info.format = opened.compression
        read_fd, write_fd = os.pipe()
        sink = open(write_fd, "wb", buffering=FEED_CHUNK)
        tee = _Tee(opened.stream, sink)
        try:
            frames = read_frames(tee, info)  # reads the magic: InputError for what is not a capture
        except BaseException:
            sink.close()
            os.close(read_fd)
            opened.close()
            raise
        stats.captures.append(info)
        feeder = _Feeder(frames, tee, info, opened)
        capture = _EkCapture(
            preferences=self.preferences,
            tshark_path=self.tshark_path,
            version=self.tshark_version,
            input_fd=read_fd,
            options=self.options,
        )
        feeder.start()
        records = 0
        produced = 0
        # stats.flows: the distinct flows of the frames tshark printed (tshark does not say how
        # many it saw in all); kept as hashes, not tuples, so a long capture stays small.
        flows: set[int] = set()
        finished = False
        try:
            for record in _records(capture):
                records += 1
                layers = record.get("layers") if isinstance(record, dict) else None
                if not isinstance(layers, dict):
                    self.anomalies.add("tshark_record_malformed")
                    continue
                try:
                    out = builder.frame_events(info.path, layers)
                except Exception as exc:
                    if self.strict:
                        raise
                    # A builder bug must not end an audit: count it like any oddity.
                    self.anomalies.add(f"internal_error_{type(exc).__name__}")
                    continue
                if out:
                    produced += len(out)
                    for event in out:
                        flow = event.flow
                        flows.add(hash((flow.proto, *sorted(((flow.src, flow.sport), (flow.dst, flow.dport))))))
                    yield from out
                if self.progress is not None and not records % PROGRESS_EVERY:
                    self.progress(info.path, opened.counter.bytes_read)
            finished = True
        finally:
            if not finished:
                feeder.abort()  # the consumer left: do not read the rest of a large file
            capture.close()
            capture.close_input()  # when tshark never started: the feeder must see a broken pipe
            feeder.join()
            stats.packets += info.packets
            stats.events += produced
            stats.flows += len(flows)
            if self.progress is not None:
                self.progress(info.path, opened.counter.bytes_read)
        if feeder.error is not None:
            raise feeder.error
        self._tshark_outcome(info, capture, records)

    def _tshark_outcome(self, info: CaptureInfo, capture: _EkCapture, records: int) -> None:
        """Turn tshark's exit status and messages into an error or a warning: never silence."""
        lines = [line for line in capture.stderr_lines if line.strip() and not line.startswith(_STDERR_NOISE)]
        message = " ".join(line.strip() for line in lines)
        message = message.removeprefix("tshark: ").replace("The standard input", "The capture")
        status = capture.returncode
        if status in (0, None) and not message:
            return
        if records == 0 and info.packets > 0 and status not in (0, None):
            # Not even the first frame (the display filter always lets it through): tshark
            # could not read this capture at all, so nothing was scanned.
            raise InputError(f"tshark cannot read {info.path}: {message or f'exit status {status}'}")
        self.anomalies.add("tshark_read_error")
        info.warnings.append(f"tshark: {message or f'exit status {status}'}")


def _records(capture: _EkCapture) -> Iterator[Any]:
    for batch in capture:
        yield from batch


class _Tee:
    """A read-only stream that hands every byte it reads to tshark's standard input too."""

    def __init__(self, stream: ByteStream, sink: BinaryIO) -> None:
        self._stream = stream
        self._sink: BinaryIO | None = sink
        self.aborted = False

    def read(self, size: int = -1, /) -> bytes:
        if self.aborted:
            return b""
        data = self._stream.read(size)
        if data and self._sink is not None:
            try:
                self._sink.write(data)
            except (BrokenPipeError, OSError, ValueError):
                # tshark stopped reading (it gave up on the capture, or was stopped):
                # keep reading for the count and the digest; tshark's exit says why.
                self.close_sink()
        return data

    def close_sink(self) -> None:
        sink, self._sink = self._sink, None
        if sink is not None:
            try:
                sink.close()
            except OSError:
                pass

    def close(self) -> None:
        self.close_sink()


class _Feeder(threading.Thread):
    """Reads the capture once: feeds tshark, counts packets, hashes the stored file."""

    def __init__(self, frames: Iterator[Any], tee: _Tee, info: CaptureInfo, opened: OpenedCapture) -> None:
        super().__init__(name=f"privscan-tshark-feed:{info.path}", daemon=True)
        self._frames = frames
        self._tee = tee
        self._info = info
        self._opened = opened
        self.error: BaseException | None = None

    def abort(self) -> None:
        self._tee.aborted = True

    def run(self) -> None:
        info = self._info
        count = 0
        ts = 0.0
        try:
            for ts, *_ in self._frames:
                count += 1
                if count == 1:
                    info.first_ts = ts
        except InputError as exc:  # e.g. a pcap header cut short: the native engine stops there too
            self.error = exc
        except Exception as exc:  # a reader bug must not hang the scan; report it
            self.error = exc
        info.packets = count
        if count:
            info.last_ts = ts
        try:
            # The reader stops at a damaged record: hand tshark the rest anyway (it may read
            # further, and says so), and hash the rest, as sha256sum would.
            while self._tee.read(FEED_CHUNK):
                pass
        except Exception:  # a damaged compressed stream: the reader already warned about it
            pass
        self._tee.close_sink()
        counter = self._opened.counter
        if not self._tee.aborted:
            try:
                while counter.read(FEED_CHUNK):
                    pass
            except OSError:
                pass
        info.sha256 = counter.sha256.hexdigest()
        info.bytes = counter.bytes_read
        compression = self._opened.compression
        if compression and info.format and not info.format.endswith(compression):
            info.format = f"{info.format}+{compression}"
        try:
            self._opened.close()
        except OSError:
            pass


class _EkLines(BaseTsharkOutputParser):
    """pyshark output parser for EK: every complete line read so far, parsed as plain dicts.

    pyshark's own EK parser builds layer objects and first runs ``tshark -G
    elastic-mapping`` to type every field; the event builders want the dicts.  And
    pyshark runs its event loop once per "packet" it returns: handing it a batch (all
    the lines of one 64 kB read) instead of one record costs one loop turn per read,
    not per record (at one per record the loop took a quarter of the engine's time).
    """

    DEFAULT_BATCH_SIZE = 1 << 16

    def _extract_packet_from_data(self, data: bytes, got_first_packet: bool = True) -> tuple[bytes | None, bytes]:
        end = data.rfind(b"\n")
        if end < 0:
            return None, data
        return data[: end + 1], data[end + 1 :]

    def _parse_single_packet(self, packet: bytes) -> list[Any]:
        records: list[Any] = []
        for line in packet.split(b"\n"):
            # tshark interleaves {"index": ...} lines meant for Elasticsearch's bulk API.
            if not line.strip() or line.startswith(b'{"index"'):
                continue
            try:
                records.append(json.loads(line, object_pairs_hook=merge_duplicate_keys))
            except ValueError:
                records.append(None)
        return records


def merge_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose repeated keys become one list, in order.

    tshark's EK writer prints a field that occurs at two depths of a layer's tree
    (dhcp.hw.mac_addr in the header and again in option 61) as two equal keys;
    ``json.loads`` would keep only the last.  Nearly every object has no repeat,
    and ``dict(pairs)`` tells so at C speed.
    """
    merged = dict(pairs)
    if len(merged) == len(pairs):
        return merged
    merged = {}
    for key, value in pairs:
        if key in merged:
            previous = merged[key]
            merged[key] = [
                *(previous if isinstance(previous, list) else [previous]),
                *(value if isinstance(value, list) else [value]),
            ]
        else:
            merged[key] = value
    return merged


class _EkCapture(Capture):
    """pyshark's Capture, reading tshark's standard input and keeping what tshark said.

    The overrides are pyshark 0.6's extension points: the parameters, the output
    parser, the process (its stdin, and no per-packet flush), stderr handling
    (pyshark keeps only the last line) and the clean-up (pyshark kills a tshark
    that has not exited yet when the output ends, which loses its exit status and
    final messages).  pyshark still runs the process, its event loop and the
    stream reading.
    """

    def __init__(
        self, *, preferences: dict[str, str], tshark_path: str, version: Any, input_fd: int, options: list[str]
    ) -> None:
        self._known_version = version
        super().__init__(
            display_filter=DISPLAY_FILTER,
            tshark_path=tshark_path,
            override_prefs=preferences,
            decode_as=DECODE_AS or None,
            use_ek=True,
            include_raw=True,  # -x: the bytes of every field (exact HTTP bodies and header lines)
            custom_parameters=options,
        )
        self._input_fd = input_fd
        self.stderr_lines: list[str] = []
        self.returncode: int | None = None

    def _get_tshark_version(self) -> Any:
        # pyshark would run ``tshark -v`` once per capture; the engine asked once.
        return self._known_version

    def get_parameters(self, packet_count: int | None = None) -> list[str]:
        return [*super().get_parameters(packet_count=packet_count), "-r", "-"]

    async def _get_tshark_process(self, packet_count: int | None = None, stdin: Any = None) -> Any:
        # pyshark's own version of this method, but reading our pipe and without ``-l``: tshark
        # flushing after every packet costs one event-loop turn per packet on this side; a file
        # is read for throughput, not latency.
        parameters = [self._get_tshark_path(), "-n", "-T", "ek", *self.get_parameters(packet_count=packet_count)]
        try:
            process = await asyncio.create_subprocess_exec(
                *parameters, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=self._input_fd
            )
        finally:
            # tshark holds its own copy of the pipe's read end.  Ours must go, or a tshark
            # that exits early would leave the feeder blocked on a pipe nobody reads.
            self.close_input()
        self._create_stderr_handling_task(process.stderr)
        self._created_new_process(parameters, process)
        return process

    def close_input(self) -> None:
        if self._input_fd >= 0:
            os.close(self._input_fd)
            self._input_fd = -1

    def _setup_tshark_output_parser(self) -> BaseTsharkOutputParser:
        return _EkLines()

    async def _handle_process_stderr_forever(self, stderr: Any) -> None:
        while True:
            line = await stderr.readline()
            if not line:
                break
            if len(self.stderr_lines) < MAX_STDERR_LINES:
                self.stderr_lines.append(line.decode("utf-8", "replace").rstrip())

    async def _cleanup_subprocess(self, process: Any) -> None:
        if process.returncode is None:
            if self._eof_reached:
                # The output ended: tshark is exiting; wait for its status and last words.
                try:
                    await asyncio.wait_for(process.wait(), 60)
                except TimeoutError:
                    process.kill()
                    await process.wait()
            else:
                try:
                    process.kill()
                except ProcessLookupError:
                    pass
                await process.wait()
        if self.returncode is None:
            self.returncode = process.returncode
