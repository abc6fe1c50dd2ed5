"""Which processes a command runs: the stream-processing worker, ingest processes in front of it, or ingest alone.

- `ota-stream worker`, WORKER_ROLE=all (the default): INGEST_PROCESSES ingest processes on SERVER_PORT, and the
  Faust worker behind them on a unix socket in DATA_DIR. With INGEST_PROCESSES=0 the Faust worker serves
  SERVER_PORT itself, ingest included, in one process.
- `ota-stream worker`, WORKER_ROLE=process: the Faust worker alone on SERVER_PORT, without ingest routes.
- `ota-stream ingest`: INGEST_PROCESSES (at least one) ingest processes alone on SERVER_PORT.

Child processes die with their parent (PR_SET_PDEATHSIG), even when it is killed with SIGKILL, and are stopped
with SIGTERM when it exits, so that no ingest process outlives the worker it fronts. The other way round, an ingest
process in front of a worker that exits is started again (`Fronts`): the port they share is the worker's only way
in, /health included, and nothing else would notice.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

log = logging.getLogger(__name__)

STOP_TIMEOUT_SECONDS = 40.0
WATCH_INTERVAL_SECONDS = 0.5
RESTART_SPACING_SECONDS = 5.0
_PR_SET_PDEATHSIG = 1
_MAX_SOCKET_PATH = 100  # sun_path holds 108 bytes on Linux


def worker_socket(data_dir: Path) -> Path:
    """Where the Faust worker's web server listens when ingest processes front it: in DATA_DIR."""
    path = (data_dir / "worker.sock").resolve()
    if len(str(path)) > _MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:16]
        path = Path(tempfile.gettempdir()) / f"ota-stream-{digest}.sock"
    return path


def _die_with_parent() -> None:
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def start_ingest_processes(data_dir: Path, count: int, socket: Path | None) -> list[subprocess.Popen[bytes]]:
    """Start `count` ingest processes on SERVER_PORT, passing non-ingest requests to `socket` if given."""
    env = _ingest_environment(data_dir, count)
    return [_start_ingest_process(env, socket) for _ in range(count)]


def _ingest_environment(data_dir: Path, count: int) -> dict[str, str]:
    env = dict(os.environ)
    if count > 1:  # one /metrics for all of them: prometheus_client's multiprocess mode
        shared = data_dir / "prometheus-ingest"
        shutil.rmtree(shared, ignore_errors=True)
        shared.mkdir(parents=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(shared.resolve())
    return env


def _start_ingest_process(env: dict[str, str], socket: Path | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "ota_stream.web.front"]
    if socket is not None:
        command.append(str(socket))
    return subprocess.Popen(command, env=env, preexec_fn=_die_with_parent)


class Fronts:
    """The ingest processes in front of a worker, each started again if it fails while the worker runs.

    A process that ends with status 0 was stopped on purpose (SIGTERM, as when the worker stops) and is left alone;
    one that crashes or is killed is replaced, at most once per RESTART_SPACING_SECONDS so that a process failing
    at start does not spin. A thread watches them; PR_SET_PDEATHSIG follows the thread that started a process, so
    a replacement lives as long as the watcher, which runs until `stop`.
    """

    def __init__(self, data_dir: Path, count: int, socket: Path) -> None:
        self._env = _ingest_environment(data_dir, count)
        self._socket = socket
        self.processes = [_start_ingest_process(self._env, socket) for _ in range(count)]
        self._started = [time.monotonic()] * count
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, name="ingest-processes", daemon=True)
        self._watcher.start()

    def _watch(self) -> None:
        while not self._stopping.wait(WATCH_INTERVAL_SECONDS):
            for index, process in enumerate(self.processes):
                status = process.poll()
                if not status or time.monotonic() - self._started[index] < RESTART_SPACING_SECONDS:
                    continue  # running (None), stopped on purpose (0), or replaced a moment ago
                log.error("ingest process %d ended with status %d; starting another", process.pid, status)
                self.processes[index] = _start_ingest_process(self._env, self._socket)
                self._started[index] = time.monotonic()

    def stop(self) -> None:
        self._stopping.set()
        self._watcher.join()
        terminate(self.processes)


def terminate(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def supervise(processes: list[subprocess.Popen[bytes]]) -> int:
    """Wait until SIGTERM or SIGINT, or until a process exits (then stop the others); returns an exit status."""
    stopping = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        while not stopping and all(process.poll() is None for process in processes):
            time.sleep(0.5)
    finally:
        terminate(processes)
    return 0 if stopping else 1
