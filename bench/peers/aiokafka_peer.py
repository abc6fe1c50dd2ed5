"""The minimal aiokafka sink: getmany(5000) -> orjson -> Arrow -> insert_arrow (views firing) -> commit.

    python -m bench.peers.aiokafka_peer BROKERS TOPIC GROUP CHDB_PATH EXPECTED BATCH_MESSAGES [--lookup]

BATCH_MESSAGES is getmany's max_records: 5,000 for a topic of single events, fewer for envelopes so that a batch
still holds about 5,000 events. With --lookup it also runs one exact (tenant_id, event_id) lookup per batch, as a
duplicate check must.
Exits once EXPECTED events are inserted; prints the drain's timing as JSON.
"""

from __future__ import annotations

import asyncio
import sys

from aiokafka import AIOKafkaConsumer

from bench.peers.rows import table
from bench.peers.timing import Timing
from ota_stream.storage.client import ClickHouse, ClickHouseConfig, json_param

LOOKUP = (
    "SELECT count() FROM ota_events_raw WHERE tenant_id IN {t:Array(String)}"
    " AND event_id IN JSONExtract({ids:String}, 'Array(String)')"
)


async def main(
    brokers: str, topic: str, group: str, path: str, expected: int, batch: int, lookup: bool
) -> None:
    ch = ClickHouse(ClickHouseConfig(f"chdb://{path}", "analytics"))
    ch.connect()
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=brokers, group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20,
    )  # fmt: skip
    await consumer.start()
    timing = Timing(expected)
    try:
        done = False
        while not done:
            batches = await consumer.getmany(timeout_ms=1000, max_records=batch)
            values = [(r.partition, r.offset, r.value) for records in batches.values() for r in records]
            if not values:
                continue
            rows = table(values)
            if lookup:
                tenants = sorted(set(rows.column("tenant_id").to_pylist()))
                ids = json_param(rows.column("event_id").to_pylist())
                await asyncio.to_thread(ch.query_rows, LOOKUP, {"t": tenants, "ids": ids})
            await asyncio.to_thread(ch.insert_arrow_sync, "ota_events_raw", rows, {"async_insert": 0})
            await consumer.commit()
            done = timing.add(rows.num_rows)
    finally:
        await consumer.stop()
    timing.report()


if __name__ == "__main__":
    brokers, topic, group, path, expected, batch = sys.argv[1:7]
    asyncio.run(main(brokers, topic, group, path, int(expected), int(batch), "--lookup" in sys.argv))
