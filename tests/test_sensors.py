"""The batched Prometheus sensor (kafka/sensors.py) keeps what Faust's own checks read from the monitor."""

from __future__ import annotations

from time import monotonic
from typing import Any

from faust.sensors.prometheus import FaustMetrics
from faust.types import TP
from prometheus_client import CollectorRegistry

from ota_stream.kafka.sensors import BatchedPrometheusMonitor

SOURCE = TP("ota-events", 3)


def test_a_stream_event_records_when_its_partition_last_took_one() -> None:
    """Faust's livelock check (`AIOKafkaConsumerThread.verify_event_path`) reads `stream_inbound_time`; without it a
    worker processing every partition logged "Stream has not started processing" at ERROR for each one with lag."""
    monitor = BatchedPrometheusMonitor(metrics=FaustMetrics.create(CollectorRegistry(), "unit"))
    before = monotonic()
    stream: Any = object()
    monitor.on_stream_event_in(SOURCE, 7, stream, object())  # type: ignore[arg-type]
    assert before <= monitor.stream_inbound_time[SOURCE] <= monotonic()
