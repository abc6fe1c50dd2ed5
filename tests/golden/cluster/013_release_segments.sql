CREATE TABLE IF NOT EXISTS release_segments_hourly_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    version LowCardinality(String),
    hour DateTime('UTC'),
    device UInt64,
    device_os SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3)),
    device_os_version SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3)),
    device_model SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3)),
    device_manufacturer SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3)),
    connection_type SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3)),
    channel SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String)) CODEC(ZSTD(3))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/release_segments_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, version, hour, device)
TTL toDate(hour) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS release_segments_hourly ON CLUSTER ota_cluster AS release_segments_hourly_local
ENGINE = Distributed(ota_cluster, currentDatabase(), release_segments_hourly_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS release_segments_hourly_mv ON CLUSTER ota_cluster TO release_segments_hourly_local AS SELECT
    tenant_id, org_id, app_id, assumeNotNull(target_version) AS version, toStartOfHour(timestamp) AS hour,
    cityHash64(device_id) AS device,
    maxIf((timestamp, toString(assumeNotNull(device_os))), device_os IS NOT NULL) AS device_os,
    maxIf((timestamp, toString(assumeNotNull(device_os_version))), device_os_version IS NOT NULL)
        AS device_os_version,
    maxIf((timestamp, toString(assumeNotNull(device_model))), device_model IS NOT NULL) AS device_model,
    maxIf((timestamp, toString(assumeNotNull(device_manufacturer))), device_manufacturer IS NOT NULL)
        AS device_manufacturer,
    maxIf((timestamp, toString(assumeNotNull(connection_type))), connection_type IS NOT NULL) AS connection_type,
    maxIf((timestamp, toString(assumeNotNull(release_channel))), release_channel IS NOT NULL) AS channel
FROM ota_events_raw_local
WHERE {since_cutoff} AND target_version IS NOT NULL
    AND event_type IN ('update_started', 'update_downloading', 'update_downloaded', 'update_installing',
                       'update_installed', 'update_failed', 'update_cancelled')
GROUP BY tenant_id, org_id, app_id, version, hour, device;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO release_segments_hourly SELECT
    tenant_id, org_id, app_id, assumeNotNull(target_version) AS version, toStartOfHour(timestamp) AS hour,
    cityHash64(device_id) AS device,
    maxIf((timestamp, toString(assumeNotNull(device_os))), device_os IS NOT NULL) AS device_os,
    maxIf((timestamp, toString(assumeNotNull(device_os_version))), device_os_version IS NOT NULL)
        AS device_os_version,
    maxIf((timestamp, toString(assumeNotNull(device_model))), device_model IS NOT NULL) AS device_model,
    maxIf((timestamp, toString(assumeNotNull(device_manufacturer))), device_manufacturer IS NOT NULL)
        AS device_manufacturer,
    maxIf((timestamp, toString(assumeNotNull(connection_type))), connection_type IS NOT NULL) AS connection_type,
    maxIf((timestamp, toString(assumeNotNull(release_channel))), release_channel IS NOT NULL) AS channel
FROM ota_events_raw
WHERE {since_cutoff} AND target_version IS NOT NULL
    AND event_type IN ('update_started', 'update_downloading', 'update_downloaded', 'update_installing',
                       'update_installed', 'update_failed', 'update_cancelled')
GROUP BY tenant_id, org_id, app_id, version, hour, device;
