"""Quix Streams doing the sink's job: an Application whose BatchingSink calls insert_arrow.

    python -m bench.peers.quix_peer BROKERS TOPIC GROUP CHDB_PATH EXPECTED BATCH_MESSAGES

Needs quixstreams (bench/pipeline_peers.py installs it in a venv of its own). Commits, and so flushes the sink,
every BATCH_MESSAGES messages (about 5,000 events) or every second. Exits once EXPECTED events are inserted;
prints the drain's timing as JSON.
"""

from __future__ import annotations

import sys

from quixstreams import Application
from quixstreams.sinks import BatchingSink, SinkBatch

from bench.peers.rows import table
from bench.peers.timing import Timing
from ota_stream.storage.client import ClickHouse, ClickHouseConfig


class ClickHouseSink(BatchingSink):
    def __init__(self, ch: ClickHouse, expected: int, app: Application) -> None:
        super().__init__()
        self.ch, self.app, self.timing = ch, app, Timing(expected)

    def write(self, batch: SinkBatch) -> None:
        rows = table((batch.partition, item.offset, item.value) for item in batch)
        self.ch.insert_arrow_sync("ota_events_raw", rows, {"async_insert": 0})
        if self.timing.add(rows.num_rows):
            self.timing.report()
            self.app.stop()


def main(brokers: str, topic: str, group: str, path: str, expected: int, batch: int) -> None:
    ch = ClickHouse(ClickHouseConfig(f"chdb://{path}", "analytics"))
    ch.connect()
    app = Application(
        broker_address=brokers, consumer_group=group, auto_offset_reset="earliest", commit_every=batch,
        commit_interval=1.0, use_changelog_topics=False,
    )  # fmt: skip
    sink = ClickHouseSink(ch, expected, app)
    app.dataframe(app.topic(topic, value_deserializer="bytes")).sink(sink)
    app.run()


if __name__ == "__main__":
    brokers, topic, group, path, expected, batch = sys.argv[1:7]
    main(brokers, topic, group, path, int(expected), int(batch))
