"""Retry forever with exponential backoff: for writes that must never be dropped."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with jitter: `initial` seconds, doubled each attempt, capped at `maximum`."""

    initial: float = 0.2
    maximum: float = 30.0

    def delay(self, attempt: int) -> float:
        base = min(self.maximum, self.initial * 2 ** min(attempt, 20))
        return base * random.uniform(0.5, 1.0)


async def retry_forever(
    operation: Callable[[], Awaitable[T]],
    what: str,
    backoff: Backoff,
    on_retry: Callable[[Exception, int], None] | None = None,
    retry_if: Callable[[Exception], bool] = lambda exc: True,
) -> tuple[T, int]:
    """Await `operation()` until it succeeds; returns its result and the number of attempts.

    An error for which `retry_if` is false is raised at once.
    """
    attempt = 0
    while True:
        attempt += 1
        try:
            return await operation(), attempt
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not retry_if(exc):
                raise
            delay = backoff.delay(attempt - 1)
            log.warning("%s failed (attempt %d), retrying in %.1fs: %r", what, attempt, delay, exc)
            if on_retry:
                on_retry(exc, attempt)
            await asyncio.sleep(delay)
