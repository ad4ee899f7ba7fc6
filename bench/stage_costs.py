#!/usr/bin/env python3
"""Cost of each pipeline stage on one capture, in one process: read, decode, detect, attribute.

    python bench/stage_costs.py CAPTURE [--inventory FILE]

Prints seconds and packets/s for: reading frames only; + decoding to events;
+ detection (Detector.observe on every event); + the whole pipeline
(attribution, aggregation, graph, policy).  Detection must cost less than the
decoding it follows (issue 3): compare the "detect" line with the "decode" one.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scanner.detect.engine import Detector
from scanner.detect.signatures import load_identifier_signatures
from scanner.engines.native import NativeEngine
from scanner.ingest import CaptureSource, open_capture
from scanner.pipeline import ScanPipeline, ScanSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("capture", type=Path)
    parser.add_argument("--inventory")
    args = parser.parse_args()
    os.environ.setdefault("PRIVSCAN_HMAC_KEY", "bench")
    source = CaptureSource(str(args.capture))

    start = time.perf_counter()
    with open_capture(source) as capture:
        packets = sum(1 for _ in capture.frames)
    read = time.perf_counter() - start

    start = time.perf_counter()
    events = list(NativeEngine().events([source]))
    decode = time.perf_counter() - start

    inventory = None
    if args.inventory:
        from scanner.knowledge.inventory import load_inventory

        inventory = load_inventory(args.inventory)
    root = Path(__file__).resolve().parent.parent / "signatures"
    detector = Detector(load_identifier_signatures(root), inventory)
    start = time.perf_counter()
    observations = sum(len(detector.observe(event).observations) for event in events)
    detect = time.perf_counter() - start

    pipeline = ScanPipeline(ScanSettings(inventory=args.inventory))
    engine = NativeEngine()
    start = time.perf_counter()
    for event in engine.events([source]):
        pipeline.consume(event)
    result = pipeline.result(engine.stats, engine.name)
    whole = time.perf_counter() - start

    print(f"{args.capture.name}: {packets:,} packets, {len(events):,} events, {observations:,} observations, "
          f"{len(result.findings):,} findings")
    for name, seconds in [("read frames", read), ("decode to events", decode), ("detect (on decoded events)", detect),
                          ("whole pipeline", whole)]:
        print(f"  {name:<28} {seconds:7.2f} s  {packets / seconds:>12,.0f} packets/s")


if __name__ == "__main__":
    main()
