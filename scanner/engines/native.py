"""The native engine: privscan's own readers and decoders (the default).

Captures are read in order, each with a decoder of its own: flows (and QUIC
handshakes in flight) do not span captures, so an event always names the
capture its frame is in, and a capture decodes the same alone, after another,
or in another process (run/parallel.py relies on it).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from scanner.decode.keylog import KeyLog
from scanner.decode.packets import PacketDecoder
from scanner.decode.protocols.base import Anomalies, DecoderBug
from scanner.decode.sharding import EventKey, shard_of
from scanner.engines.base import EngineStats, ProgressCallback, archive_capture
from scanner.ingest import CaptureSource, open_capture
from scanner.ingest.archives import sniff_archive
from scanner.model import Event

# Frames between two progress callbacks: often enough for a bar, rare enough to cost nothing.
PROGRESS_EVERY = 1 << 14


class NativeEngine:
    """Decodes captures in this process.  With ``shards`` above 1 it decodes only the frames of
    flow shard ``shard`` (scanner/decode/sharding.py) and keys each event with its place in the
    serial order, so that run/sharded.py can merge the shards of a capture into exactly the
    events, and the order, of one serial decode."""

    name = "native"

    def __init__(
        self,
        progress: ProgressCallback | None = None,
        *,
        strict: bool = False,
        shard: int = 0,
        shards: int = 1,
        keylog: KeyLog | None = None,
        digest: bool = True,
    ) -> None:
        self.stats = EngineStats()
        self.keylog = keylog
        self.anomalies = Anomalies()
        self.progress = progress
        self.shard = shard
        self.shards = shards
        # Strict (tests, PRIVSCAN_STRICT=1 via scanner.settings): a decoder bug fails loudly instead of being counted.
        self.strict = strict
        # Whether captures get their sha256 (CaptureInfo.sha256): a report names it; `privscan
        # events` does not, and hashing costs it about 5% of its time.
        self.digest = digest

    def events(self, sources: Sequence[CaptureSource]) -> Iterator[Event]:
        for _key, event in self.keyed_events(sources):
            yield event

    def keyed_events(self, sources: Sequence[CaptureSource]) -> Iterator[tuple[EventKey, Event]]:
        """Events with their merge keys (see scanner/decode/sharding.py), capture by capture."""
        for source in sources:
            if self.shard == 0:
                archive = archive_capture(source, self.stats, self.anomalies)
            elif sniff_archive(source) is not None:
                continue  # an archive is read whole by the first shard: its requests have no frames to split
            else:
                archive = None
            if archive is not None:  # a HAR or mitmproxy file: requests, no packets to decode
                # Keyed like a frame's events: the entry's index, then the place among its events
                # (a WebSocket's messages share their Upgrade's entry).
                last_frame, seq = 0, 0
                for event in archive:
                    seq = seq + 1 if event.frame == last_frame else 0
                    last_frame = event.frame
                    yield (event.frame, 0, 0, seq), event
                continue
            decoder = PacketDecoder(self.anomalies, self.keylog)
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
            *decoder.decryption.counters().items(),
        ):
            stats.counters[name] = stats.counters.get(name, 0) + value

    def _capture(self, source: CaptureSource, decoder: PacketDecoder) -> Iterator[tuple[EventKey, Event]]:
        stats = self.stats
        progress = self.progress
        shard, shards = self.shard, self.shards
        # One shard of several: the others read the same file; only the first hashes it and
        # counts its packets, so that merged figures are those of one reader.
        primary = shard == 0
        decryption = decoder.decryption
        # Every shard reads the capture's DSBs: the secrets are for whichever shard has the flow.
        secrets = lambda kind, data: decryption.add_secrets_block(kind, data, f"{source.path} (DSB)")  # noqa: E731
        with open_capture(source, hashing=primary and self.digest, secrets=secrets) as capture:
            info = capture.info
            if primary:
                stats.captures.append(info)
            decoder.capture = info.path
            decode = decoder.decode_frame
            tick = decoder.tick
            index = 0
            ts = 0.0
            produced = 0
            try:
                for ts, linktype, data, _wirelen in capture.frames:
                    index += 1
                    if index == 1:
                        info.first_ts = ts
                    if shards == 1 or shard_of(linktype, data, shards) == shard:
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
                            out = None
                        if out:
                            produced += len(out)
                            for seq, event in enumerate(out):
                                yield (index, 0, 0, seq), event
                    swept = tick(ts)
                    if swept:
                        produced += len(swept)
                        for seq, (created, event) in enumerate(swept):
                            yield (index, 1, created, seq), event
                    if progress is not None and not index % PROGRESS_EVERY:
                        progress(info.path, capture.bytes_read())
                # Flows do not span captures: an event always names the file its frame is in.
                flushed = decoder.sweep_ordered(ts, everything=True)
                if flushed:
                    produced += len(flushed)
                    for seq, (created, event) in enumerate(flushed):
                        yield (index + 1, 1, created, seq), event
            finally:
                # Malformed key log lines of the capture's own DSBs (never the secrets).
                info.warnings.extend(decryption.warnings())
                info.packets = index
                if index:
                    info.last_ts = ts
                if primary:
                    stats.packets += index
                stats.events += produced
                if progress is not None:
                    progress(info.path, capture.bytes_read())
