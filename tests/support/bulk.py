"""Fill a worker's data folder with synthetic events straight through the raw table (not through Kafka).

    python -m tests.support.bulk DATA_DIR TENANT ORG APP ROWS

Run in a process of its own before the worker starts: embedded chDB lets one process open a folder at a time.
The rows go through `INSERT ... SELECT ... FROM numbers(...)`, so the views fill as they would from the sink, in
inserts of CHUNK rows: embedded chDB runs under CLICKHOUSE_CHDB_MAX_MEMORY_MIB, and one insert of a million rows
squashed into one block made the segment view's aggregation exceed it (the sink writes batches of thousands).
Every column is set, with widths like real events (ids, versions, a release note, an error, metadata).
"""

from __future__ import annotations

import sys
from pathlib import Path

from ota_stream.config import ClickHouseSettings
from ota_stream.storage.client import ClickHouse, ClickHouseConfig
from ota_stream.storage.migrations import migrate

TYPES = (
    "['update_started', 'update_downloading', 'update_downloaded', 'update_installing', 'update_installed', "
    "'update_failed', 'update_cancelled', 'rollback_started', 'rollback_completed']"
)
INSERT = f"""
INSERT INTO ota_events_raw (
    event_id, tenant_id, org_id, app_id, device_id, session_id, event_type, timestamp,
    device_os, device_os_version, device_model, device_manufacturer,
    current_version, target_version, release_notes, release_channel, rollout_percentage,
    connection_type, bandwidth_mbps, download_speed_mbps, download_duration_seconds, install_duration_seconds,
    package_size_bytes, battery_level, storage_available_mb, error_code, error_message, failure_stage,
    progress, cancellation_reason, rollback_reason, rollback_duration_seconds, metadata, kafka_partition, kafka_offset
)
SELECT
    concat({{tenant:String}}, '-', toString(generateUUIDv4())), {{tenant:String}}, {{org:String}}, {{app:String}},
    concat('device-', toString(number % 20000)), concat('session-', toString(intDiv(number, 9))),
    {TYPES}[number % 9 + 1], now64(3, 'UTC') - toIntervalMillisecond(number * 173),
    if(number % 2 = 0, 'iOS', 'Android'), '17.5.1', 'iPhone 15', 'Apple',
    concat('1.', toString(number % 7), '.0'), concat('1.', toString(number % 7 + 1), '.0'),
    'Bug fixes and performance improvements', if(number % 10 = 0, 'beta', 'production'), 50,
    'wifi', 42.5, 31.25, 3.5, 2.75, 12000000, 81, 20480.5,
    if(number % 9 = 5, 'E_NETWORK', NULL), if(number % 9 = 5, 'download aborted: connection reset', NULL),
    if(number % 9 = 5, 'download', NULL), 50, NULL, NULL, NULL, map('build', toString(number % 1000)), 0, number
FROM numbers({{start:UInt64}}, {{rows:UInt64}})
"""


CHUNK = 100_000


def fill(data_dir: Path, tenant: str, org: str, app: str, rows: int) -> None:
    ch = ClickHouse(ClickHouseConfig.from_settings(ClickHouseSettings(), data_dir))
    ch.connect()
    migrate(ch, retention_days=365)
    for start in range(0, rows, CHUNK):
        ch.command_sync(
            INSERT,
            {"tenant": tenant, "org": org, "app": app, "start": start, "rows": min(CHUNK, rows - start)},
            settings={"async_insert": 0, "insert_deduplicate": 0},
        )
    ch.close()


if __name__ == "__main__":
    directory, tenant_id, org_id, app_id, count = sys.argv[1:]
    fill(Path(directory), tenant_id, org_id, app_id, int(count))
