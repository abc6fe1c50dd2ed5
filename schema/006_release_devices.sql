-- What /analytics/releases and the health gate need (docs/api.md#get-analyticsreleases), in two views (queries in
-- ota_stream/storage/queries/release_sql.py).
--
-- Update events are the seven update_* types, named one by one so that activity types added later never count.

-- 1. Per release, device and hour: the device's figures for the release, as mergeable states, so that any window
-- is exact from whole hours here and the partial hours at its edges from the raw table. Hours rather than days: a
-- device's update to a release rarely spans two hours (1.2 % more rows than days at 10M events), and the edges
-- read from the raw table shrink from up to two days to two hours. Only update events that name a target_version.
-- first_update is the earliest update event in the hour as (timestamp, channel, os, rollout percentage): min()
-- keeps the earliest, ties broken by the strings. first_install is 2299-12-31 (NEVER in release_sql.py) when the
-- hour has no install. Devices are 64-bit hashes, as in device_versions_daily.
CREATE TABLE IF NOT EXISTS release_devices_hourly
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    hour DateTime('UTC'),
    version LowCardinality(String),
    device UInt64,
    first_update SimpleAggregateFunction(min, Tuple(DateTime64(3, 'UTC'), String, String, String)) CODEC(ZSTD(3)),
    first_install SimpleAggregateFunction(min, DateTime64(3, 'UTC')) CODEC(ZSTD(3)),
    failed SimpleAggregateFunction(max, UInt8),
    install_durations SimpleAggregateFunction(groupArrayArray, Array(Float64)) CODEC(ZSTD(3))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, version, device)
TTL toDate(hour) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS release_devices_hourly_mv TO release_devices_hourly AS
SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour, assumeNotNull(target_version) AS version,
    cityHash64(device_id) AS device,
    min((timestamp, ifNull(release_channel, ''), ifNull(device_os, ''), ifNull(toString(rollout_percentage), '')))
        AS first_update,
    min(if(event_type = 'update_installed', timestamp, toDateTime64('2299-12-31 23:59:59.999', 3, 'UTC')))
        AS first_install,
    max(event_type = 'update_failed') AS failed,
    groupArrayIf(install_duration_seconds, event_type = 'update_installed') AS install_durations
FROM ota_events_raw
WHERE {since_cutoff} AND target_version IS NOT NULL
    AND event_type IN ('update_started', 'update_downloading', 'update_downloaded', 'update_installing',
                       'update_installed', 'update_failed', 'update_cancelled')
GROUP BY tenant_id, org_id, app_id, hour, version, device;

BACKFILL release_devices_hourly_mv;

-- 2. Every install and completed rollback, sorted by device and time: a rollback undoes the device's latest
-- install before it, whatever its version, so the devices that rolled back in a window read their sequence here
-- in order. kind 0 is an install (of `version`, '' when the event names none: it still ends the rollback window
-- of the install before it), 1 a rollback. One row per event; the raw table holds no duplicates.
CREATE TABLE IF NOT EXISTS device_transitions
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    device UInt64 CODEC(Delta, ZSTD(3)),
    timestamp DateTime64(3, 'UTC') CODEC(ZSTD(3)),
    kind UInt8,
    version LowCardinality(String)
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, org_id, app_id, device, timestamp, kind, version)
TTL toDate(timestamp) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_transitions_mv TO device_transitions AS
SELECT
    tenant_id, org_id, app_id, cityHash64(device_id) AS device, timestamp,
    toUInt8(event_type = 'rollback_completed') AS kind,
    if(event_type = 'update_installed', ifNull(target_version, ''), '') AS version
FROM ota_events_raw
WHERE {since_cutoff} AND event_type IN ('update_installed', 'rollback_completed');

BACKFILL device_transitions_mv;
