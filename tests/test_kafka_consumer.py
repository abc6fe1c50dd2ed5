"""The guards of kafka/consumer.py and kafka/recovery.py, on Faust's own objects (no broker needed: an ack and
the wiring are local). tests/test_faults.py and tests/test_live.py show them on real workers."""

from __future__ import annotations

from collections.abc import Iterator

import faust
import pytest
from faust.types import TP, Message

from ota_stream.app import faust_options
from ota_stream.config import Settings
from ota_stream.kafka import consumer as kafka_consumer
from ota_stream.kafka.recovery import OrderedRecovery

SOURCE = TP("ota-events", 0)


@pytest.fixture
def app() -> Iterator[faust.App]:
    options = faust_options(Settings(kafka_brokers="127.0.0.1:1"), [])
    app = faust.App("consumer-unit", **options)
    kafka_consumer.install(app)
    app.topics._acking_topics.add(SOURCE.topic)  # type: ignore[attr-defined]  # what subscribing an agent does
    yield app


def message(offset: int, generation_id: int) -> Message:
    return Message(
        SOURCE.topic, SOURCE.partition, offset, 0.0, 0, {}, b"k", b"v", None, generation_id=generation_id
    )


def test_the_app_consumes_through_the_guarded_consumer_and_ordered_recovery(app: faust.App) -> None:
    assert isinstance(app.consumer, kafka_consumer.SafeConsumer)
    assert isinstance(app.consumer._thread, kafka_consumer.SafeConsumerThread)
    assert isinstance(app.tables.recovery, OrderedRecovery)  # type: ignore[attr-defined]


def test_a_message_of_a_stale_generation_is_released_but_never_committed(app: faust.App) -> None:
    consumer = app.consumer
    app.consumer_generation_id = 7
    app.flow_control.resume()
    stale, current = message(10, generation_id=6), message(11, generation_id=7)
    for each in (stale, current):
        consumer.track_message(each)

    assert consumer.ack(stale) is False
    assert stale.acked and stale not in consumer._unacked_messages  # type: ignore[attr-defined]
    assert 10 not in consumer._acked[SOURCE]  # type: ignore[attr-defined]  # no commit can move past it

    assert consumer.ack(current) is True  # Faust's own ack: recorded for the next commit
    assert 11 in consumer._acked[SOURCE]  # type: ignore[attr-defined]


def test_a_message_acked_while_a_rebalance_pauses_the_flow_is_not_recorded(app: faust.App) -> None:
    consumer = app.consumer
    app.consumer_generation_id = 3
    app.flow_control.suspend()
    paused = message(5, generation_id=3)
    consumer.track_message(paused)
    assert consumer.ack(paused) is False
    assert paused.acked and 5 not in consumer._acked.get(SOURCE, [])  # type: ignore[attr-defined]
