"""The native engine: privscan's own readers and decoders (the default).

Captures are read in order, each with a decoder of its own: flows (and QUIC
handshakes in flight) do not span captures, so an event always names the
capture its frame is in, and a capture decodes the same alone, after another,
or in another process (run/parallel.py relies on it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from scanner.decode.packets import PacketDecoder
from scanner.decode.protocols.base import Anomalies, DecoderBug
from scanner.engines.base import EngineStats, ProgressCallback
from scanner.ingest import CaptureSource, open_capture
from scanner.model import Event

# Frames between two progress callbacks: often enough for a bar, rare enough to cost nothing.
PROGRESS_EVERY = 1 << 14


class NativeEngine:
    name = "native"

    def __init__(self, progress: ProgressCallback | None = None, *, strict: bool = False) -> None:
        self.stats = EngineStats()
        self.anomalies = Anomalies()
        self.progress = progress
        # Strict (tests, PRIVSCAN_STRICT=1 via scanner.settings): a decoder bug fails loudly instead of being counted.
        self.strict = strict

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        for source in sources:
            decoder = PacketDecoder(self.anomalies)
            try:
                yield from self._capture(source, decoder)
            finally:
                self._collect(decoder)

    def _collect(self, decoder: PacketDecoder) -> None:
        stats = self.stats
        stats.flows += decoder.tcp_flows + decoder.udp_flow_count
        stats.anomalies = dict(self.anomalies.counts)
        for name, value in (
            ("frames_skipped_encrypted", decoder.frames_skipped_encrypted),
            ("frames_non_ip", decoder.frames_non_ip),
            ("frames_unsupported_link", decoder.frames_unsupported_link),
            ("frames_tunnelled", decoder.tunnelled_frames),
            ("tcp_retransmitted_segments", decoder.tcp.retransmitted_segments),
            ("ip_datagrams_reassembled", decoder.frags.reassembled),
        ):
            stats.counters[name] = stats.counters.get(name, 0) + value

    def _capture(self, source: CaptureSource, decoder: PacketDecoder) -> Iterator[Event]:
        stats = self.stats
        progress = self.progress
        with open_capture(source) as capture:
            info = capture.info
            stats.captures.append(info)
            decoder.capture = info.path
            decode = decoder.decode
            index = 0
            ts = 0.0
            produced = 0
            try:
                for ts, linktype, data, _wirelen in capture.frames:
                    index += 1
                    if index == 1:
                        info.first_ts = ts
                    try:
                        out = decode(ts, linktype, data, index)
                    except Exception as exc:
                        if self.strict:
                            raise
                        # A decoder bug must not end an audit: count it like any oddity, by name.
                        if isinstance(exc, DecoderBug):
                            self.anomalies.add(f"internal_error_{exc.decoder}_{type(exc.error).__name__}")
                        else:
                            self.anomalies.add(f"internal_error_{type(exc).__name__}")
                        continue
                    if out:
                        produced += len(out)
                        yield from out
                    if progress is not None and not index % PROGRESS_EVERY:
                        progress(info.path, capture.bytes_read())
                # Flows do not span captures: an event always names the file its frame is in.
                flushed = decoder.sweep(ts, everything=True)
                if flushed:
                    produced += len(flushed)
                    yield from flushed
            finally:
                info.packets = index
                if index:
                    info.last_ts = ts
                stats.packets += index
                stats.events += produced
                if progress is not None:
                    progress(info.path, capture.bytes_read())
