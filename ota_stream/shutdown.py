"""A worker's stop never hangs: SHUTDOWN_TIMEOUT_SECONDS from its start, the process has ended.

Faust stops a worker by waiting until every message handed to its streams is acked, committing, and leaving the
group. With ClickHouse away the sink's batch is never acked (its insert is retried forever), and a worker given
SIGTERM waited until it was killed. So when the app begins to stop (`begin`, from the app's `on_stop`):

- the batch being written keeps its retries for half of the timeout, then is given up (`Cutoff`, retry.py): its
  messages are released unacked (kafka/acks.py), so Faust's stop goes on, commits what was written, and leaves
  the group; the next owner reads the rest again and deduplicates;
- whatever still runs when the whole timeout has passed (a commit to an unreachable broker, a stuck thread) is cut
  short: the process exits with status 3 (`EXIT_STOP_TIMED_OUT`), committing nothing more.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable

from ota_stream.retry import Cutoff

log = logging.getLogger(__name__)
EXIT_STOP_TIMED_OUT = 3


class Shutdown:
    def __init__(self, timeout: float, exit: Callable[[int], object] = os._exit) -> None:
        self.timeout = timeout
        self.cutoff = Cutoff()
        self._exit = exit
        self._begun = threading.Event()

    @property
    def begun(self) -> bool:
        return self._begun.is_set()

    def begin(self) -> None:
        """The stop starts: the batch in hand has half of the timeout, the process all of it."""
        if self._begun.is_set():
            return
        self._begun.set()
        log.info(
            "stopping: a batch still being written is given up after %gs, the process exits within %gs "
            "(SHUTDOWN_TIMEOUT_SECONDS)",
            self.timeout / 2,
            self.timeout,
        )
        self.cutoff.set(self.timeout / 2)
        threading.Thread(target=self._backstop, name="shutdown-backstop", daemon=True).start()

    def _backstop(self) -> None:
        time.sleep(self.timeout)  # a process whose stop finishes in time has exited by then
        log.error(
            "the stop did not finish within SHUTDOWN_TIMEOUT_SECONDS=%g; exiting with status %d",
            self.timeout,
            EXIT_STOP_TIMED_OUT,
        )
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        self._exit(EXIT_STOP_TIMED_OUT)
