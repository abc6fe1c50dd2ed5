"""Retry forever with exponential backoff: for writes that must never be dropped, until the worker stops.

A stopping worker cannot wait forever for ClickHouse: its `Cutoff` (set by shutdown.py when the stop begins) ends
the retries, and the operation is given up with `Abandoned`, never reported as done.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

from ota_stream.errors import OtaStreamError

log = logging.getLogger(__name__)
T = TypeVar("T")


class Abandoned(OtaStreamError):
    """An operation retried past its cutoff: given up, not done."""


class Cutoff:
    """A moment after which retrying gives up; none until `set`."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._at: float | None = None
        self._set = asyncio.Event()

    def set(self, seconds: float) -> None:
        """The cutoff comes `seconds` from now."""
        self._at = self._clock() + seconds
        self._set.set()

    def passed(self) -> bool:
        return self._at is not None and self._clock() >= self._at

    async def sleep(self, delay: float) -> None:
        """Sleep `delay` seconds, or until the cutoff when that comes first, even one set meanwhile."""
        deadline = self._clock() + delay
        if self._at is None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._set.wait(), delay)
        until = deadline if self._at is None else min(deadline, self._at)
        await asyncio.sleep(max(0.0, until - self._clock()))


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
    cutoff: Cutoff | None = None,
) -> tuple[T, int]:
    """Await `operation()` until it succeeds; returns its result and the number of attempts.

    An error for which `retry_if` is false is raised at once. Once `cutoff` has passed, a failed attempt raises
    `Abandoned` instead of waiting for the next; a wait ends early at the cutoff, for one last attempt.
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
            if cutoff is not None and cutoff.passed():
                raise Abandoned(f"{what} given up after {attempt} attempts: {exc!r}") from exc
            delay = backoff.delay(attempt - 1)
            log.warning("%s failed (attempt %d), retrying in %.1fs: %r", what, attempt, delay, exc)
            if on_retry:
                on_retry(exc, attempt)
            await (asyncio.sleep(delay) if cutoff is None else cutoff.sleep(delay))
