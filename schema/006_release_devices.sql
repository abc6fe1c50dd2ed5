-- Per release, device and day: what /analytics/releases and the health gate need (spec §9), as mergeable
-- states, so that the figures of any window come from whole days here and the partial days at its edges from
-- the raw table (ota_stream/storage/queries/releases.py), exactly.
--
-- `version` is the event's target_version ('' when absent). Update events (the seven update_* types, named one
-- by one so that activity types added later never count) fill `first_update`, `failed`, `installs` and
-- `install_durations` of their version; rollback_completed events fill `rollbacks` under their own
-- target_version, which only matters through the device: a rollback undoes the device's latest install before
-- it, whatever its version. Update events without a target_version are kept only when they are installs (an
-- install of an unknown version still ends the rollback window of the install before it).
--
-- first_update is the device's first update event of the version, as (timestamp, channel, os, rollout
-- percentage); min() makes the earliest win, ties broken by the strings. A row that holds only rollbacks has
-- 2299-12-31 there (NEVER in releases.py). Devices are 64-bit hashes, as in device_versions_daily.
CREATE TABLE IF NOT EXISTS release_devices_daily
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    version LowCardinality(String),
    device UInt64,
    first_update SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), String, String, String)) CODEC(ZSTD(3)),
    failed SimpleAggregateFunction(max, UInt8),
    installs SimpleAggregateFunction(groupArrayArray, Array(DateTime64(3, 'UTC'))) CODEC(ZSTD(3)),
    install_durations SimpleAggregateFunction(groupArrayArray, Array(Float64)) CODEC(ZSTD(3)),
    rollbacks SimpleAggregateFunction(groupArrayArray, Array(DateTime64(3, 'UTC'))) CODEC(ZSTD(3))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date, version, device)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS release_devices_daily_mv TO release_devices_daily AS
SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date,
    ifNull(target_version, '') AS version,
    cityHash64(device_id) AS device,
    min(if(
        event_type IN ('update_started', 'update_downloading', 'update_downloaded', 'update_installing',
                       'update_installed', 'update_failed', 'update_cancelled'),
        (timestamp, ifNull(release_channel, ''), ifNull(device_os, ''), ifNull(toString(rollout_percentage), '')),
        (toDateTime64('2299-12-31 23:59:59.999', 3, 'UTC'), '', '', '')
    )) AS first_update,
    max(event_type = 'update_failed') AS failed,
    groupArrayIf(timestamp, event_type = 'update_installed') AS installs,
    groupArrayIf(install_duration_seconds, event_type = 'update_installed') AS install_durations,
    groupArrayIf(timestamp, event_type = 'rollback_completed') AS rollbacks
FROM ota_events_raw
WHERE {since_cutoff}
    AND (
        (target_version IS NOT NULL AND event_type IN ('update_started', 'update_downloading', 'update_downloaded',
            'update_installing', 'update_installed', 'update_failed', 'update_cancelled'))
        OR event_type IN ('update_installed', 'rollback_completed')
    )
GROUP BY tenant_id, org_id, app_id, date, version, device;

BACKFILL release_devices_daily_mv;
