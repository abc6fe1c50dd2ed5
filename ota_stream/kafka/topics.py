"""Faust's Topic, with a declare that waits for the broker instead of failing.

Faust declares its internal topics (table changelogs, the leader topic) when it starts and again on rebalances.
A broker that is away at that moment raises NodeNotReadyError or a connection error out of Faust's service, and
the worker exits. With this class (the app's `Topic` setting) a declare waits, with backoff, for as long as the
broker is away (kafka/transient.py); errors that waiting cannot fix (authorization, invalid configuration) are
still raised.
"""

from __future__ import annotations

import faust

from ota_stream.kafka.transient import DECLARE_BACKOFF, is_transient
from ota_stream.retry import retry_forever


class ResilientTopic(faust.Topic):
    async def declare(self) -> None:
        await retry_forever(
            super().declare,
            f"declaring topic {', '.join(self.topics)}",
            DECLARE_BACKOFF,
            retry_if=is_transient,
        )
