CREATE TABLE IF NOT EXISTS release_devices_hourly_local ON CLUSTER ota_cluster
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/release_devices_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, version, device)
TTL toDate(hour) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS release_devices_hourly ON CLUSTER ota_cluster AS release_devices_hourly_local
ENGINE = Distributed(ota_cluster, currentDatabase(), release_devices_hourly_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS release_devices_hourly_mv ON CLUSTER ota_cluster TO release_devices_hourly_local AS SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour, assumeNotNull(target_version) AS version,
    cityHash64(device_id) AS device,
    min((timestamp, ifNull(release_channel, ''), ifNull(device_os, ''), ifNull(toString(rollout_percentage), '')))
        AS first_update,
    min(if(event_type = 'update_installed', timestamp, toDateTime64('2299-12-31 23:59:59.999', 3, 'UTC')))
        AS first_install,
    max(event_type = 'update_failed') AS failed,
    groupArrayIf(install_duration_seconds, event_type = 'update_installed') AS install_durations
FROM ota_events_raw_local
WHERE {since_cutoff} AND target_version IS NOT NULL
    AND event_type IN ('update_started', 'update_downloading', 'update_downloaded', 'update_installing',
                       'update_installed', 'update_failed', 'update_cancelled')
GROUP BY tenant_id, org_id, app_id, hour, version, device;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO release_devices_hourly SELECT
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

CREATE TABLE IF NOT EXISTS device_transitions_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    device UInt64 CODEC(Delta, ZSTD(3)),
    timestamp DateTime64(3, 'UTC') CODEC(ZSTD(3)),
    kind UInt8,
    version LowCardinality(String)
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/device_transitions_local', '{replica}')
PARTITION BY toYYYYMM(timestamp)
ORDER BY (tenant_id, org_id, app_id, device, timestamp, kind, version)
TTL toDate(timestamp) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS device_transitions ON CLUSTER ota_cluster AS device_transitions_local
ENGINE = Distributed(ota_cluster, currentDatabase(), device_transitions_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS device_transitions_mv ON CLUSTER ota_cluster TO device_transitions_local AS SELECT
    tenant_id, org_id, app_id, cityHash64(device_id) AS device, timestamp,
    toUInt8(event_type = 'rollback_completed') AS kind,
    if(event_type = 'update_installed', ifNull(target_version, ''), '') AS version
FROM ota_events_raw_local
WHERE {since_cutoff} AND event_type IN ('update_installed', 'rollback_completed');

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO device_transitions SELECT
    tenant_id, org_id, app_id, cityHash64(device_id) AS device, timestamp,
    toUInt8(event_type = 'rollback_completed') AS kind,
    if(event_type = 'update_installed', ifNull(target_version, ''), '') AS version
FROM ota_events_raw
WHERE {since_cutoff} AND event_type IN ('update_installed', 'rollback_completed');
