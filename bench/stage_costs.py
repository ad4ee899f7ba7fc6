#!/usr/bin/env python3
"""Cost of each pipeline stage on one capture, in one process: read, decode, detect, attribute.

    python bench/stage_costs.py CAPTURE [--inventory FILE] [--shards N]

Prints CPU seconds (this process's, so that a busy machine changes them less than wall
time) and packets/s for: reading frames only; reading and choosing each frame's flow shard
(what every --jobs/Dask shard worker pays for the frames it skips); decoding to events;
decoding one shard of N; pickling and unpickling the events (what crosses from a worker to
the parent); detection (Detector.observe on every event); the parent's whole share of a
scan on decoded events (detection, attribution, aggregation, graph, policy: the stage that
stays in one process however many workers decode, so its events/s is the ceiling of a
cluster); and the whole pipeline serially.  docs/scaling.md builds its model from these.
"""

from __future__ import annotations

import argparse
import os
import pickle
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.decode.sharding import shard_of
from scanner.detect.engine import Detector
from scanner.detect.signatures import load_identifier_signatures
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource, open_capture
from scanner.pipeline import ScanPipeline, ScanSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("capture", type=Path)
    parser.add_argument("--inventory")
    parser.add_argument("--shards", type=int, default=2, help="the N of the 'one shard of N' line")
    args = parser.parse_args()
    clock = time.process_time
    os.environ.setdefault("PRIVSCAN_HMAC_KEY", "bench")
    source = CaptureSource(str(args.capture))

    start = clock()
    with open_capture(source) as capture:
        packets = sum(1 for _ in capture.frames)
    read = clock() - start

    start = clock()
    with open_capture(source, hashing=False) as capture:
        owned = sum(1 for _ts, linktype, data, _ in capture.frames if shard_of(linktype, data, args.shards) == 0)
    read_shard = clock() - start

    start = clock()
    events = list(NativeEngine().events([source]))
    decode = clock() - start

    start = clock()
    shard_events = sum(1 for _ in NativeEngine(shard=0, shards=args.shards).keyed_events([source]))
    decode_shard = clock() - start

    start = clock()
    for index in range(0, len(events), 512):
        pickle.loads(pickle.dumps(events[index : index + 512], protocol=pickle.HIGHEST_PROTOCOL))
    ipc = clock() - start

    inventory = None
    if args.inventory:
        from scanner.knowledge.inventory import load_inventory

        inventory = load_inventory(args.inventory)
    root = Path(__file__).resolve().parent.parent / "signatures"
    detector = Detector(load_identifier_signatures(root), inventory)
    start = clock()
    observations = sum(len(detector.observe(event).observations) for event in events)
    detect = clock() - start

    parent = ScanPipeline(ScanSettings(inventory=args.inventory))
    decoded = NativeEngine()
    start = clock()
    for event in events:
        parent.consume(event)
    parent.result(decoded.stats, decoded.name)
    parent_share = clock() - start

    pipeline = ScanPipeline(ScanSettings(inventory=args.inventory))
    engine = NativeEngine()
    start = clock()
    for event in engine.events([source]):
        pipeline.consume(event)
    result = pipeline.result(engine.stats, engine.name)
    whole = clock() - start

    print(f"{args.capture.name}: {packets:,} packets, {len(events):,} events, {observations:,} observations, "
          f"{len(result.findings):,} findings; shard 0 of {args.shards}: {owned:,} packets, {shard_events:,} events")
    for name, seconds in [
        ("read frames", read),
        ("read + choose shards", read_shard),
        ("decode to events", decode),
        (f"decode shard 0 of {args.shards}", decode_shard),
        ("pickle + unpickle events", ipc),
        ("detect (on decoded events)", detect),
        ("parent: detect+attribute+policy", parent_share),
        ("whole pipeline", whole),
    ]:
        print(f"  {name:<32} {seconds:7.2f} s CPU  {packets / seconds:>12,.0f} packets/s"
              f"  {len(events) / seconds:>10,.0f} events/s")


if __name__ == "__main__":
    main()
