"""Faust's Prometheus sensor, without its cost per message.

Faust's PrometheusMonitor updates labelled Prometheus metrics for every message and event (six label lookups,
a regex over the stream's label, a histogram observation). Its subclass here keeps the same metrics but only
counts in plain integers per message, and moves the counts into the Prometheus metrics when they are scraped
(`flush`, called by the /metrics page) and every few seconds. Everything else of the sensor (commits, rebalances,
sends, table operations, per-partition offsets) is Faust's own.
"""

from __future__ import annotations

from collections import Counter
from time import monotonic
from typing import Any

import faust
from faust.sensors.prometheus import FaustMetrics, PrometheusMonitor
from faust.types import TP, EventT, Message, StreamT
from prometheus_client import REGISTRY


class BatchedPrometheusMonitor(PrometheusMonitor):
    def __init__(self, metrics: FaustMetrics, **kwargs: Any) -> None:
        super().__init__(metrics, **kwargs)
        self._received: Counter[str] = Counter()
        self._offsets: dict[TP, int] = {}
        self._events: Counter[StreamT] = Counter()
        self._active_messages = 0
        self._active_events = 0

    # Per message: plain counting only. Of the base Monitor's own bookkeeping only the time a partition's stream
    # last took an event is kept: Faust's livelock check reads it, and without it logged "Stream has not started
    # processing" at ERROR for every partition with lag, every few minutes, on a worker that was processing it.
    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        self._received[tp.topic] += 1
        self._offsets[tp] = offset
        self._active_messages += 1

    def on_stream_event_in(self, tp: TP, offset: int, stream: StreamT, event: EventT) -> dict | None:
        self.stream_inbound_time[tp] = monotonic()
        self._events[stream] += 1
        self._active_events += 1
        return None

    def on_stream_event_out(
        self, tp: TP, offset: int, stream: StreamT, event: EventT, state: dict | None = None
    ) -> None:
        self._active_events -= 1

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        self._active_messages -= 1

    def flush(self) -> None:
        """Move the counts gathered since the last flush into the Prometheus metrics."""
        m = self._metrics
        received, self._received = self._received, Counter()
        for topic, count in received.items():
            m.messages_received.inc(count)
            m.messages_received_per_topics.labels(topic=topic).inc(count)
        for tp, offset in self._offsets.items():
            m.messages_received_per_topics_partition.labels(topic=tp.topic, partition=tp.partition).set(
                offset
            )
        events, self._events = self._events, Counter()
        for stream, count in events.items():
            m.total_events.inc(count)
            m.total_events_per_stream.labels(stream=f"stream.{self._stream_label(stream)}.events").inc(count)
        m.active_messages.set(self._active_messages)
        m.total_active_events.set(self._active_events)


def install_prometheus_monitor(app: faust.App, name_prefix: str = "faust") -> BatchedPrometheusMonitor:
    """The app's monitor, exporting Faust's metrics under `name_prefix` in prometheus_client's default registry."""
    monitor = BatchedPrometheusMonitor(metrics=FaustMetrics.create(REGISTRY, name_prefix))
    app.monitor = monitor
    return monitor
