"""The tshark engine (``--engine tshark``): Wireshark's dissectors, through pyshark.

- engine.py: runs tshark on each capture and streams its EK output (``TsharkEngine``);
- options.py: what tshark is asked for (display filter, ``-J`` layers, preferences);
- ek.py: reading EK layers and fields;
- frame.py: one EK record in, events out (flow, tunnel, then the protocol builders);
- builder.py: how a protocol's builder plugs in (``LayerBuilder``, registered by declaration);
- protocols/: one builder per protocol, each with its display-filter fragment and layers.
"""

from __future__ import annotations

from scanner.engines.tshark.engine import (
    INSTALL_HINT,
    MIN_TSHARK_VERSION,
    TsharkEngine,
    locate_tshark,
    merge_duplicate_keys,
)

__all__ = ["INSTALL_HINT", "MIN_TSHARK_VERSION", "TsharkEngine", "locate_tshark", "merge_duplicate_keys"]
