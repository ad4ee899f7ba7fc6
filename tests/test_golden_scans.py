"""Golden reports of the demo captures: the whole pipeline's output, reviewed as a diff.

Refresh after an intended change with one flag, then read the diff:

    PRIVSCAN_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden_scans.py
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import RenderOptions, get_format

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
UPDATE = os.environ.get("PRIVSCAN_UPDATE_GOLDEN") == "1"

SCANS = {
    "demo": ("captures/demo.pcap", {"inventory": "captures/demo.inventory.yaml"}),
    "demo_gtp": ("captures/demo_gtp.pcap", {"subscribers": "captures/demo_gtp.subscribers.yaml"}),
    "demo_gtp_inventory": ("captures/demo_gtp.pcap", {"inventory": "captures/demo_gtp.inventory.yaml"}),
}
FORMATS = {"json": "json", "table": "txt", "sarif": "sarif"}


@pytest.mark.parametrize("name", sorted(SCANS))
def test_golden_scan(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)  # reports name captures as given: relative, the same on every machine
    monkeypatch.setenv("PRIVSCAN_HMAC_KEY", "golden-test-key-0123")
    capture, options = SCANS[name]
    result = run_scan(expand_inputs([capture]), ScanSettings(**options))
    for fmt, extension in FORMATS.items():
        rendered = get_format(fmt)(RenderOptions(stable=True, width=120, color=False)).render(result)
        text = rendered if isinstance(rendered, str) else rendered.decode()
        # Blank the signature files' hashes (like timestamps in mitmproxy's golden tests): they
        # change with every edit of signatures/, and the findings below them are what is reviewed.
        for signature in result.signatures:
            text = text.replace(signature.sha256, "<signature-sha256>")
        path = GOLDEN / f"scan_{name}.{extension}"
        if UPDATE:
            path.write_text(text, encoding="utf-8")
            continue
        assert path.exists(), f"{path} missing: run with PRIVSCAN_UPDATE_GOLDEN=1 and review it"
        assert text == path.read_text(encoding="utf-8"), f"{path.name} differs: review, then refresh with PRIVSCAN_UPDATE_GOLDEN=1"
