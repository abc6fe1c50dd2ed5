-- Materialized views that serve /analytics/* (docs/api.md#analytics). Each target keeps mergeable states per app and time
-- bucket; queries merge the whole buckets of a window here and compute its partial edge buckets from the raw
-- table, so every number is exact for any window.
--
-- A view sees only rows inserted after it exists. `{since_cutoff}` becomes `ingested_at >= <cutoff>` in each
-- view and `ingested_at < <cutoff>` in its `BACKFILL`, where the runner takes <cutoff> from the server clock
-- before this migration: rows inserted while it runs are counted once, by the view or by the backfill.
-- Strings that may be NULL are stored as '' (a client cannot send an empty string), so that they can be keys.

CREATE TABLE IF NOT EXISTS adoption_hourly
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    target_version LowCardinality(String),
    hour DateTime('UTC'),
    installs SimpleAggregateFunction(sum, UInt64),
    failures SimpleAggregateFunction(sum, UInt64),
    rollbacks SimpleAggregateFunction(sum, UInt64),
    installed_devices AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, target_version)
TTL toDate(hour) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS adoption_hourly_mv TO adoption_hourly AS
SELECT
    tenant_id, org_id, app_id,
    ifNull(target_version, '') AS target_version,
    toStartOfHour(timestamp) AS hour,
    countIf(event_type = 'update_installed') AS installs,
    countIf(event_type = 'update_failed') AS failures,
    countIf(event_type = 'rollback_completed') AS rollbacks,
    uniqExactStateIf(device_id, event_type = 'update_installed') AS installed_devices
FROM ota_events_raw
WHERE {since_cutoff} AND event_type IN ('update_installed', 'update_failed', 'rollback_completed')
GROUP BY tenant_id, org_id, app_id, target_version, hour;

BACKFILL adoption_hourly_mv;

CREATE TABLE IF NOT EXISTS daily_devices
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    devices AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_devices_mv TO daily_devices AS
SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, uniqExactState(device_id) AS devices
FROM ota_events_raw
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;

BACKFILL daily_devices_mv;

-- Per device and day: the latest versioned event as one tuple, compared by (timestamp, event_id) first, so that
-- max() picks the latest event and ties resolve the same way everywhere. Then version-after, os, model,
-- manufacturer, os_version. Devices are keyed by a 64-bit hash: grouping 10^5 devices on integers is several
-- times faster than on strings, and a collision within one app is improbable (about n^2 / 2^65).
CREATE TABLE IF NOT EXISTS device_versions_daily
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    device UInt64,
    latest SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date, device)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS device_versions_daily_mv TO device_versions_daily AS
SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date, cityHash64(device_id) AS device,
    max(CAST((
        timestamp, event_id,
        assumeNotNull(if(event_type = 'update_installed', target_version, current_version)),
        ifNull(device_os, ''), ifNull(device_model, ''), ifNull(device_manufacturer, ''),
        ifNull(device_os_version, '')
    ) AS Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))) AS latest
FROM ota_events_raw
WHERE {since_cutoff} AND if(event_type = 'update_installed', target_version, current_version) IS NOT NULL
GROUP BY tenant_id, org_id, app_id, date, device;

BACKFILL device_versions_daily_mv;

-- The same tuple over all time: one row per device. When a device's latest event falls inside the queried
-- window it is the answer, with no need to merge its days; only devices with events after the window's end
-- fall back to device_versions_daily.
CREATE TABLE IF NOT EXISTS device_latest
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    device UInt64,
    latest SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))
)
ENGINE = AggregatingMergeTree
ORDER BY (tenant_id, org_id, app_id, device)
TTL toDate(tupleElement(latest, 1)) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

-- Fed from device_versions_daily (a view of a view): max() is idempotent, so a row that reaches it twice, by the
-- chain and by the backfill, changes nothing, and no cutoff is needed.
CREATE MATERIALIZED VIEW IF NOT EXISTS device_latest_mv TO device_latest AS
SELECT tenant_id, org_id, app_id, device, max(latest) AS latest
FROM device_versions_daily
GROUP BY tenant_id, org_id, app_id, device;

BACKFILL device_latest_mv;


CREATE TABLE IF NOT EXISTS failures_daily
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    error_code LowCardinality(String),
    failure_stage LowCardinality(String),
    target_version LowCardinality(String),
    device_os LowCardinality(String),
    device_model LowCardinality(String),
    failures SimpleAggregateFunction(sum, UInt64),
    devices AggregateFunction(uniqExact, String)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date, error_code, failure_stage, target_version, device_os, device_model)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS failures_daily_mv TO failures_daily AS
SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date,
    ifNull(error_code, '') AS error_code, ifNull(failure_stage, '') AS failure_stage,
    ifNull(target_version, '') AS target_version, ifNull(device_os, '') AS device_os,
    ifNull(device_model, '') AS device_model,
    count() AS failures,
    uniqExactState(device_id) AS devices
FROM ota_events_raw
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, date, error_code, failure_stage, target_version, device_os, device_model;

BACKFILL failures_daily_mv;

-- quantilesExact keeps every sample, so p50/p95 merged over any set of days are exact (docs/api.md#analytics).
CREATE TABLE IF NOT EXISTS performance_daily
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    download_speed_q AggregateFunction(quantilesExact(0.5, 0.95), Nullable(Float64)),
    download_speed_sum SimpleAggregateFunction(sum, Float64),
    download_speed_n SimpleAggregateFunction(sum, UInt64),
    download_duration_q AggregateFunction(quantilesExact(0.5, 0.95), Nullable(Float64)),
    download_duration_sum SimpleAggregateFunction(sum, Float64),
    download_duration_n SimpleAggregateFunction(sum, UInt64),
    install_duration_q AggregateFunction(quantilesExact(0.5, 0.95), Nullable(Float64)),
    install_duration_sum SimpleAggregateFunction(sum, Float64),
    install_duration_n SimpleAggregateFunction(sum, UInt64),
    package_size_q AggregateFunction(quantilesExact(0.5, 0.95), Nullable(Float64)),
    package_size_sum SimpleAggregateFunction(sum, Float64),
    package_size_n SimpleAggregateFunction(sum, UInt64)
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS performance_daily_mv TO performance_daily AS
SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date,
    quantilesExactState(0.5, 0.95)(download_speed_mbps) AS download_speed_q,
    sum(ifNull(download_speed_mbps, 0)) AS download_speed_sum,
    count(download_speed_mbps) AS download_speed_n,
    quantilesExactState(0.5, 0.95)(download_duration_seconds) AS download_duration_q,
    sum(ifNull(download_duration_seconds, 0)) AS download_duration_sum,
    count(download_duration_seconds) AS download_duration_n,
    quantilesExactState(0.5, 0.95)(install_duration_seconds) AS install_duration_q,
    sum(ifNull(install_duration_seconds, 0)) AS install_duration_sum,
    count(install_duration_seconds) AS install_duration_n,
    quantilesExactState(0.5, 0.95)(toNullable(toFloat64(package_size_bytes))) AS package_size_q,
    sum(ifNull(toFloat64(package_size_bytes), 0)) AS package_size_sum,
    count(package_size_bytes) AS package_size_n
FROM ota_events_raw
WHERE {since_cutoff} AND (download_speed_mbps IS NOT NULL OR download_duration_seconds IS NOT NULL
    OR install_duration_seconds IS NOT NULL OR package_size_bytes IS NOT NULL)
GROUP BY tenant_id, org_id, app_id, date;

BACKFILL performance_daily_mv;
