"""The audit configuration: one YAML file that says what a scheduled audit scans and where it writes.

The minimal form (issue 7), which must keep working as this file grows::

    inventory: devices.yaml
    captures: [/data/lab/*.pcapng]      # or: capture: {interface: eth1, duration: 10m, filter: "not port 22"}
    history: audit.sqlite
    baseline: privscan-baseline.yaml    # optional
    fail_on: high
    outputs: {html: report.html, json: report.json, sarif: report.sarif}

Every key::

    name: nightly-lab                   # the series of runs compared with each other (default: the config's path)
    inventory: devices.yaml
    subscribers: children.yaml          # child-profile subscriber list (IMSI/MSISDN with age)
    allowlist: allow.yaml               # accepted findings (scanner/policy/allowlist.py)
    signatures: signatures/             # signatures root: identifiers/, trackers/, policies/
    hmac_key_file: hmac.key             # the key of value HMACs: fingerprints depend on it
    engine: native                      # or tshark
    jobs: 2                             # processes decoding in parallel (--jobs)
    scheduler: tcp://10.0.0.5:8786      # or local:4: decode on a Dask cluster (--scheduler)
    keylog: [lab.keys, phone.keys]      # NSS key log files (SSLKEYLOGFILE) for TLS/QUIC decryption
    captures: [a.pcap, "/data/lab/*.pcapng", dir/]
    capture: {interface: eth1, duration: 10m, filter: "not port 22",
              output: "captures/audit-{started}.pcapng", backend: auto}
    history: audit.sqlite               # default: privscan-history.sqlite beside the config
    baseline: privscan-baseline.yaml
    fail_on: high                       # critical | high | medium | low | info | none
    outputs: {html: report.html, json: report.json, summary: audit-summary.json}
    show_values: false

Relative paths are relative to the directory of the config file, not to the
directory cron or systemd happens to start in.  Errors name the file and the
line (``ConfigError``, exit 2), through ``scanner.datafiles.load_yaml``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scanner.audit.capture import BACKENDS, parse_duration
from scanner.datafiles import LineDict, LineList, line_of, load_yaml
from scanner.engines import ENGINES
from scanner.errors import ConfigError, InputError
from scanner.model import SEVERITIES
from scanner.report.output import check_writable
from scanner.settings import Settings

FAIL_ON_CHOICES = (*reversed(SEVERITIES), "none")
SUMMARY_OUTPUT = "summary"  # outputs: {summary: FILE} writes the run's JSON summary
DEFAULT_HISTORY = "privscan-history.sqlite"
DEFAULT_CAPTURE_OUTPUT = "captures/audit-{started}.pcapng"

_PATH_KEYS = ("inventory", "subscribers", "allowlist", "signatures", "hmac_key_file", "history", "baseline")
_KEYS = frozenset(
    {*_PATH_KEYS, "name", "engine", "jobs", "scheduler", "captures", "capture", "fail_on", "outputs", "show_values", "keylog"}
)
_CAPTURE_KEYS = frozenset({"interface", "duration", "filter", "output", "backend"})


@dataclass(frozen=True, slots=True)
class LiveCapture:
    """The ``capture:`` form: record this long on this interface, then scan what was recorded."""

    interface: str
    duration: float  # seconds
    filter: str | None
    output: str  # a path template; ``{started}`` becomes the run's UTC start (20260101T020000Z)
    backend: str = "auto"

    def output_path(self, started: str) -> Path:
        return Path(self.output.replace("{started}", started))


@dataclass(frozen=True, slots=True)
class AuditConfig:
    path: Path
    name: str
    history: Path
    captures: tuple[str, ...] = ()  # absolute paths, directories or globs
    capture: LiveCapture | None = None
    inventory: Path | None = None
    subscribers: Path | None = None
    allowlist: Path | None = None
    signatures: Path | None = None
    hmac_key_file: Path | None = None
    baseline: Path | None = None
    engine: str = "native"
    jobs: int = 1
    scheduler: str | None = None
    fail_on: str = "high"
    outputs: tuple[tuple[str, Path], ...] = ()  # (format name or "summary", path)
    show_values: bool = False
    keylogs: tuple[Path, ...] = ()  # NSS key log files

    def scan_settings(self, runtime: Settings | None = None) -> Any:
        """The pipeline's ScanSettings for this audit (``runtime``: the command line's settings)."""
        from scanner.pipeline import ScanSettings

        return ScanSettings(
            inventory=_str(self.inventory),
            subscribers=_str(self.subscribers),
            allowlist=_str(self.allowlist),
            signatures=_str(self.signatures),
            engine=self.engine,
            show_values=self.show_values,
            hmac_key_file=_str(self.hmac_key_file),
            runtime=runtime or Settings(),
            jobs=self.jobs,
            scheduler=self.scheduler,
            keylogs=tuple(str(p) for p in self.keylogs),
        )


def _str(path: Path | None) -> str | None:
    return None if path is None else str(path)


def load_config(path: str | os.PathLike[str]) -> AuditConfig:
    """Read and validate an audit config; ``ConfigError`` with file:line on any mistake."""
    path = Path(path)
    document = load_yaml(path)
    if not isinstance(document, LineDict):
        raise ConfigError(path, line_of(document), "an audit config is a mapping (inventory:, captures:, history:, ...)")
    base = path.resolve().parent
    unknown = sorted(set(document) - _KEYS, key=str)
    if unknown:
        raise ConfigError(path, line_of(document, unknown[0]), f"unknown key {unknown[0]!r}; known keys: {', '.join(sorted(_KEYS))}")

    def where(key: str) -> int | None:
        return line_of(document, key)

    def a_path(key: str) -> Path | None:
        value = document.get(key)
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(path, where(key), f"{key!r} must be a path")
        return _resolve(base, value)

    paths = {key: a_path(key) for key in _PATH_KEYS}
    for key in ("inventory", "subscribers", "allowlist", "hmac_key_file"):
        found = paths[key]
        if found is not None and not found.is_file():
            raise ConfigError(path, where(key), f"{key}: no such file: {found}")
    if paths["signatures"] is not None and not paths["signatures"].is_dir():
        raise ConfigError(path, where("signatures"), f"signatures: no such directory: {paths['signatures']}")

    captures, capture = _captures(path, document, base)
    history = paths["history"] or base / DEFAULT_HISTORY
    if not history.parent.is_dir():
        raise ConfigError(path, where("history"), f"history: no such directory: {history.parent}")

    name = document.get("name", str(path.resolve()))
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(path, where("name"), "'name' must be a non-empty string")

    engine = document.get("engine", "native")
    if engine not in ENGINES:
        raise ConfigError(path, where("engine"), f"'engine' must be one of {', '.join(ENGINES)}")

    jobs = document.get("jobs", 1)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1:
        raise ConfigError(path, where("jobs"), "'jobs' must be a whole number of processes, 1 or more")
    scheduler = document.get("scheduler")
    if scheduler is not None and (not isinstance(scheduler, str) or not scheduler.strip()):
        raise ConfigError(path, where("scheduler"), "'scheduler' must be a Dask scheduler address or local:N")

    fail_on = document.get("fail_on", "high")
    if not isinstance(fail_on, str) or fail_on.lower() not in FAIL_ON_CHOICES:
        raise ConfigError(path, where("fail_on"), f"'fail_on' must be one of {', '.join(FAIL_ON_CHOICES)}")

    show_values = document.get("show_values", False)
    if not isinstance(show_values, bool):
        raise ConfigError(path, where("show_values"), "'show_values' must be true or false")

    return AuditConfig(
        path=path,
        name=name.strip(),
        history=history,
        captures=captures,
        capture=capture,
        inventory=paths["inventory"],
        subscribers=paths["subscribers"],
        allowlist=paths["allowlist"],
        signatures=paths["signatures"],
        hmac_key_file=paths["hmac_key_file"],
        baseline=paths["baseline"],
        engine=engine,
        jobs=jobs,
        scheduler=scheduler.strip() if scheduler else None,
        fail_on=fail_on.lower(),
        outputs=_outputs(path, document, base),
        show_values=show_values,
        keylogs=_keylogs(path, document, base),
    )


def _keylogs(path: Path, document: LineDict, base: Path) -> tuple[Path, ...]:
    """``keylog:`` one NSS key log file or a list of them; each must exist when the config is read."""
    value = document.get("keylog")
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        raise ConfigError(path, line_of(document, "keylog"), "'keylog' must be a key log file or a list of them")
    found = []
    for index, item in enumerate(items):
        item_line = items.line_of(index) if isinstance(items, LineList) else line_of(document, "keylog")
        if not isinstance(item, str) or not item.strip():
            raise ConfigError(path, item_line, "each keylog must be a path")
        resolved = _resolve(base, item)
        if not resolved.is_file():
            raise ConfigError(path, item_line, f"keylog: no such file: {resolved}")
        found.append(resolved)
    return tuple(found)


def _resolve(base: Path, value: str) -> Path:
    expanded = Path(os.path.expanduser(value.strip()))
    return expanded if expanded.is_absolute() else base / expanded


def _captures(path: Path, document: LineDict, base: Path) -> tuple[tuple[str, ...], LiveCapture | None]:
    has_files = "captures" in document
    has_live = "capture" in document
    if has_files and has_live:
        raise ConfigError(path, line_of(document, "capture"), "give either 'captures' (files) or 'capture' (a live capture), not both")
    if not has_files and not has_live:
        raise ConfigError(path, document.line, "say what to scan: 'captures: [FILES or GLOBS]' or 'capture: {interface: IF, duration: 10m}'")
    if has_files:
        value = document["captures"]
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items:
            raise ConfigError(path, line_of(document, "captures"), "'captures' must be a path, a glob or a list of them")
        resolved = []
        for index, item in enumerate(items):
            if not isinstance(item, str) or not item.strip():
                item_line = items.line_of(index) if isinstance(items, LineList) else line_of(document, "captures")
                raise ConfigError(path, item_line, "each capture must be a path or a glob")
            resolved.append(str(_resolve(base, item)))
        return tuple(resolved), None
    live = document["capture"]
    if not isinstance(live, LineDict):
        raise ConfigError(path, line_of(document, "capture"), "'capture' must be a mapping: {interface: IF, duration: 10m, filter: BPF}")
    unknown = sorted(set(live) - _CAPTURE_KEYS, key=str)
    if unknown:
        raise ConfigError(path, line_of(live, unknown[0]), f"capture: unknown key {unknown[0]!r}; known: {', '.join(sorted(_CAPTURE_KEYS))}")
    interface = live.get("interface")
    if not isinstance(interface, str) or not interface.strip():
        raise ConfigError(path, live.line, "capture: 'interface' is required (the interface the test devices' traffic crosses)")
    if "duration" not in live:
        raise ConfigError(path, live.line, "capture: 'duration' is required (30s, 10m, 1h)")
    try:
        duration = parse_duration(live["duration"])
    except ValueError as exc:
        raise ConfigError(path, line_of(live, "duration"), f"capture: {exc}") from None
    bpf = live.get("filter")
    if bpf is not None and not isinstance(bpf, str):
        raise ConfigError(path, line_of(live, "filter"), "capture: 'filter' must be a BPF expression in quotes")
    output = live.get("output", DEFAULT_CAPTURE_OUTPUT)
    if not isinstance(output, str) or not output.strip():
        raise ConfigError(path, line_of(live, "output"), "capture: 'output' must be a path")
    backend = live.get("backend", "auto")
    if backend not in BACKENDS:
        raise ConfigError(path, line_of(live, "backend"), f"capture: 'backend' must be one of {', '.join(BACKENDS)}")
    return (), LiveCapture(interface.strip(), duration, bpf or None, str(_resolve(base, output)), backend)


def _outputs(path: Path, document: LineDict, base: Path) -> tuple[tuple[str, Path], ...]:
    value = document.get("outputs")
    if value is None:
        return ()
    if not isinstance(value, LineDict):
        raise ConfigError(path, line_of(document, "outputs"), "'outputs' must map a format to a file: {html: report.html}")
    from scanner.report.formats import available_formats

    known = available_formats()
    outputs = []
    for name, target in value.items():
        if not isinstance(name, str) or (name.lower() not in known and name.lower() != SUMMARY_OUTPUT):
            raise ConfigError(
                path, line_of(value, name), f"outputs: unknown format {name!r}; choose from {', '.join([*known, SUMMARY_OUTPUT])}"
            )
        if not isinstance(target, str) or not target.strip():
            raise ConfigError(path, line_of(value, name), f"outputs: {name} must name a file")
        resolved = _resolve(base, target)
        try:
            check_writable(resolved)  # when the config is read: before a night's capture and scan
        except InputError as exc:
            raise ConfigError(path, line_of(value, name), f"outputs: {exc}") from None
        outputs.append((name.lower(), resolved))
    return tuple(outputs)


__all__ = ["DEFAULT_HISTORY", "FAIL_ON_CHOICES", "SUMMARY_OUTPUT", "AuditConfig", "LiveCapture", "load_config"]
