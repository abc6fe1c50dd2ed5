"""A Faust app with the project's transport and recovery, for unit tests of Faust's own objects (no broker)."""

from __future__ import annotations

import faust

from ota_stream.app import faust_options
from ota_stream.config import KafkaSettings, Settings
from ota_stream.kafka import consumer as kafka_consumer


def consumer_app(name: str, acking_topic: str) -> faust.App:
    """The app's consumer acks messages of `acking_topic`, as when an agent subscribes to it."""
    app = faust.App(name, **faust_options(Settings(kafka=KafkaSettings(brokers="127.0.0.1:1")), []))
    kafka_consumer.install(app)
    app.topics._acking_topics.add(acking_topic)  # type: ignore[attr-defined]  # what subscribing an agent does
    return app
