"""--scheduler: decoding on a Dask distributed cluster gives the local report, byte for byte.

Two kinds of cluster, both on 127.0.0.1 and stopped by the tests: a LocalCluster (``local:N``)
and a scheduler plus workers started as separate processes, as on a real deployment.  A worker
that dies in the middle of a task, and a worker that cannot read the capture, are tested too.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from scanner.errors import InputError
from scanner.ingest import expand_inputs
from scanner.pipeline import ScanSettings, run_scan
from scanner.report.formats import RenderOptions, get_format

distributed = pytest.importorskip("distributed", reason="Dask distributed is not installed (make setup installs it)")

REPO = Path(__file__).resolve().parents[2]
CAPTURES = REPO / "captures"
INPUTS = [str(CAPTURES / "labelled_encodings.pcap"), str(CAPTURES / "demo_gtp.pcap")]
INVENTORY = str(CAPTURES / "labelled_encodings.inventory.yaml")
START_TIMEOUT_S = 60


def json_report(paths: list[str], **settings: object) -> str:
    result = run_scan(expand_inputs(paths), ScanSettings(inventory=INVENTORY, **settings))  # type: ignore[arg-type]
    rendered = get_format("json")(RenderOptions(stable=True)).render(result)
    assert isinstance(rendered, str)
    return rendered


@pytest.fixture(scope="module")
def local_report() -> str:
    os.environ.setdefault("PRIVSCAN_HMAC_KEY", "dask-tests")
    report = json_report(INPUTS)
    assert '"findings": []' not in report
    return report


def test_a_local_cluster_gives_the_local_report(local_report: str) -> None:
    assert json_report(INPUTS, scheduler="local:2") == local_report  # one task per capture
    one = [INPUTS[0]]
    assert json_report(one, scheduler="local:3") == json_report(one)  # one capture in three flow shards


class Cluster:
    """A scheduler and workers as separate processes on 127.0.0.1, as `dask scheduler` / `dask worker` run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.scheduler_file = directory / "scheduler.json"
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []

    def _start(self, name: str, args: list[str], **kwargs: object) -> subprocess.Popen[bytes]:
        log = self.directory / f"{name}.log"
        self.logs.append(log)
        process = subprocess.Popen(args, stdout=log.open("wb"), stderr=subprocess.STDOUT, **kwargs)  # type: ignore[call-overload]
        self.processes.append(process)
        return process

    def start_scheduler(self) -> str:
        self._start("scheduler", [
            sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
            "--no-dashboard", "--scheduler-file", str(self.scheduler_file),
        ])
        deadline = time.monotonic() + START_TIMEOUT_S
        while not self.scheduler_file.exists():
            if time.monotonic() > deadline:
                raise AssertionError(f"the scheduler did not start: {self.logs[0].read_text()[-2000:]}")
            time.sleep(0.1)
        import json

        address = json.loads(self.scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:")
        return str(address)

    def start_worker(self, name: str, *extra: str, env: dict[str, str] | None = None, hide: Path | None = None) -> None:
        """A worker process; with ``hide``, one that sees an empty directory there (its own mount
        namespace), as a machine without the storage a capture is on would."""
        command = [
            sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(self.scheduler_file),
            "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1", "--name", name, *extra,
        ]
        if hide is not None:
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount -t tmpfs privscan-test "$0" && exec "$@"', str(hide), *command]
        self._start(name, command, env={**os.environ, **(env or {})}, cwd=str(self.directory))

    def wait_for_workers(self, address: str, count: int) -> None:
        from distributed import Client

        with Client(address, timeout=START_TIMEOUT_S) as client:
            client.wait_for_workers(count, timeout=START_TIMEOUT_S)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.mark.timeout(240)
def test_a_scheduler_and_two_worker_processes_give_the_local_report(cluster: Cluster, local_report: str) -> None:
    address = cluster.start_scheduler()
    cluster.start_worker("w1")
    cluster.start_worker("w2")
    cluster.wait_for_workers(address, 2)
    assert json_report(INPUTS, scheduler=address) == local_report
    assert json_report([INPUTS[0]], scheduler=address) == json_report([INPUTS[0]])  # two flow shards


@pytest.mark.timeout(240)
def test_a_worker_that_dies_mid_task_is_replaced_and_the_report_is_the_same(
    cluster: Cluster, local_report: str, tmp_path: Path
) -> None:
    marker = tmp_path / "died"
    address = cluster.start_scheduler()
    cluster.start_worker(
        "doomed", "--preload", str(Path(__file__).with_name("dask_die_once_preload.py")),
        env={"PRIVSCAN_TEST_DIE_MARKER": str(marker), "PYTHONPATH": str(REPO)},
    )
    cluster.start_worker("steady")
    cluster.wait_for_workers(address, 2)
    one = [INPUTS[0]]  # split into two shards: each worker gets one, so the doomed one gets work
    assert json_report(one, scheduler=address) == json_report(one)
    assert marker.exists(), "the doomed worker never ran a task: nothing was tested"


@pytest.mark.timeout(240)
@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a worker its own mount namespace (unshare)")
def test_a_capture_a_worker_cannot_read_is_one_error_naming_the_worker_and_the_path(
    cluster: Cluster, tmp_path: Path
) -> None:
    storage = tmp_path / "storage"
    storage.mkdir()
    capture = storage / "lab.pcap"
    capture.write_bytes((CAPTURES / "demo.pcap").read_bytes())
    address = cluster.start_scheduler()
    cluster.start_worker("outsider", hide=storage)  # this machine does not mount the storage
    cluster.wait_for_workers(address, 1)
    with pytest.raises(InputError) as caught:
        json_report([str(capture)], scheduler=address)
    message = str(caught.value)
    assert "\n" not in message
    assert "worker tcp://127.0.0.1:" in message and str(capture) in message and "no such file" in message


def test_the_command_line_says_in_one_line_when_no_scheduler_answers() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scanner", "scan", "-q", str(CAPTURES / "demo.pcap"), "--scheduler", "tcp://127.0.0.1:9"],
        capture_output=True, text=True, env={**os.environ, "PRIVSCAN_HMAC_KEY": "dask-tests"}, timeout=120,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in lines[0]


def test_a_malformed_local_cluster_size_is_a_usage_error() -> None:
    with pytest.raises(InputError, match="local:N"):
        json_report(INPUTS, scheduler="local:many")
