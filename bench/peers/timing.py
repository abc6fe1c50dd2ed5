"""How a peer times its drain: from the end of its first batch to its last event, as the worker is timed."""

from __future__ import annotations

import time
from dataclasses import dataclass

import orjson


@dataclass
class Timing:
    expected: int
    inserted: int = 0
    first: float | None = None
    cpu_first: float = 0.0
    at_first: int = 0

    def add(self, events: int) -> bool:
        """Count a batch written; true once every expected event is in."""
        self.inserted += events
        if self.first is None:
            self.first, self.cpu_first, self.at_first = time.monotonic(), time.process_time(), self.inserted
        return self.inserted >= self.expected

    def report(self) -> None:
        """One JSON line on stdout for bench/pipeline_peers.py (CPU of every thread, chDB's included)."""
        result = {"first": self.first, "done": time.monotonic(), "cpu_first": self.cpu_first,
                  "cpu_done": time.process_time(), "events": self.inserted, "at_first": self.at_first}  # fmt: skip
        print(orjson.dumps(result).decode(), flush=True)
