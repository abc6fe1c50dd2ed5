"""The root of the project's exceptions, and its one branch that every layer shares: "unavailable, retry".

Each exception is declared next to the code that raises it and derives from `OtaStreamError`, so that
`except OtaStreamError` tells the project's own failures from a library's or a bug. Whatever is away for a moment
(ClickHouse, Kafka, this process still starting) raises an `Unavailable`: the API answers it 503 with
`Retry-After` in one place (web/errors.py), and the pipeline retries it.

`config.ConfigurationError` stays outside the tree on purpose: it is a `SystemExit`, an exit with a message, which
`except Exception` must not catch.
"""

from __future__ import annotations

from typing import ClassVar

# How long a client should wait before it retries a 503 (the `Retry-After` header).
RETRY_AFTER_SECONDS = 5


class OtaStreamError(Exception):
    """The root of every exception the project raises."""


class Unavailable(OtaStreamError):
    """Something this request or write needs is away for now; the same call may succeed later.

    The message is what clients are told unless the class gives an `answer`; then the message is a detail for the
    log (a driver's error text, which clients must not see) and is logged when `logged` is set.
    """

    answer: ClassVar[str | None] = None
    logged: ClassVar[bool] = False
    retry_after_seconds: ClassVar[int] = RETRY_AFTER_SECONDS

    @property
    def public_message(self) -> str:
        return self.answer or str(self)


class NotReady(Unavailable):
    """This process is starting or rebalancing: it has not read its keys or rules yet, or does not know yet which
    worker owns a live window."""
