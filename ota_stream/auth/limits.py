"""Per-key token buckets (docs/security.md): ingest events and read requests, each at a rate with a burst of twice it.

Buckets live in each process (per key, per process, as the contract says). A request that would take more tokens
than the bucket holds is refused whole with the time until it would fit; every keyed answer reports the bucket in
the `RateLimit-*` headers.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field


@dataclass
class Bucket:
    rate: float  # tokens per second
    capacity: float
    tokens: float = field(init=False)
    updated: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.tokens = self.capacity

    def take(self, cost: float, now: float | None = None) -> float:
        """Take `cost` tokens and return 0, or take nothing and return the seconds until they would be there."""
        now = time.monotonic() if now is None else now
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if cost > self.capacity:
            return math.inf
        if self.tokens >= cost:
            self.tokens -= cost
            return 0.0
        return (cost - self.tokens) / self.rate

    def headers(self) -> dict[str, str]:
        reset = math.ceil((self.capacity - self.tokens) / self.rate) if self.tokens < self.capacity else 0
        return {
            "RateLimit-Limit": str(int(self.capacity)),
            "RateLimit-Remaining": str(int(self.tokens)),
            "RateLimit-Reset": str(reset),
        }


class Limits:
    """One bucket per (key, kind); a rate of 0 turns the kind off."""

    def __init__(self, rates: dict[str, float]) -> None:
        self.rates = rates
        self._buckets: dict[tuple[str, str], Bucket] = {}

    def bucket(self, key_id: str, kind: str) -> Bucket | None:
        rate = self.rates[kind]
        if not rate:
            return None
        found = self._buckets.get((key_id, kind))
        if found is None:
            found = self._buckets[(key_id, kind)] = Bucket(rate, 2 * rate)
        return found
