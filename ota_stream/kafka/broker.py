"""Wait for the Kafka cluster before the worker starts.

Faust's producer exits the worker when no broker answers at start-up, so a worker started before Kafka (a
restart of both, pods in any order) would die. `ota-stream worker` first waits for a broker to answer a metadata
request, with backoff, for KAFKA_STARTUP_TIMEOUT_SECONDS. Once started, the worker rides out broker outages.
"""

from __future__ import annotations

import asyncio
from functools import partial

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from ota_stream.config import Settings
from ota_stream.kafka.options import client_options
from ota_stream.retry import Backoff, retry_forever

BACKOFF = Backoff(initial=0.5, maximum=10.0)


class KafkaNotReachable(RuntimeError):
    """No broker answered within KAFKA_STARTUP_TIMEOUT_SECONDS."""


async def _answers(settings: Settings) -> None:
    client = AIOKafkaClient(**client_options(settings))
    try:
        await client.bootstrap()
    finally:
        await client.close()


async def wait_for_kafka(settings: Settings) -> int:
    """Return the number of attempts once a broker answers; raise KafkaNotReachable after the timeout."""
    timeout = settings.kafka_startup_timeout_seconds
    where = ",".join(settings.bootstrap_servers)
    errors: list[Exception] = []
    waiting = retry_forever(
        partial(_answers, settings),
        f"waiting for Kafka at {where}",
        BACKOFF,
        on_retry=lambda exc, attempt: errors.append(exc),
        retry_if=lambda exc: isinstance(exc, KafkaError | OSError),
    )
    try:
        _, attempts = await (asyncio.wait_for(waiting, timeout) if timeout else waiting)
    except TimeoutError as exc:
        last = errors[-1] if errors else exc
        raise KafkaNotReachable(f"no Kafka broker answered at {where} within {timeout:g}s: {last}") from exc
    return attempts
