CREATE TABLE IF NOT EXISTS failure_messages_hourly_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    hour DateTime('UTC'),
    error_code LowCardinality(String),
    error_message String CODEC(ZSTD(3)),
    target_version LowCardinality(String),
    failures SimpleAggregateFunction(sum, UInt64),
    devices AggregateFunction(uniqExact, String),
    last SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/failure_messages_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, error_code, error_message, target_version)
TTL toDate(hour) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS failure_messages_hourly ON CLUSTER ota_cluster AS failure_messages_hourly_local
ENGINE = Distributed(ota_cluster, currentDatabase(), failure_messages_hourly_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS failure_messages_hourly_mv ON CLUSTER ota_cluster TO failure_messages_hourly_local AS SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour,
    ifNull(error_code, 'unknown') AS error_code, ifNull(error_message, 'unknown') AS error_message,
    ifNull(target_version, 'unknown') AS target_version,
    count() AS failures,
    uniqExactState(device_id) AS devices,
    max(timestamp) AS last
FROM ota_events_raw_local
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, hour, error_code, error_message, target_version;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO failure_messages_hourly SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour,
    ifNull(error_code, 'unknown') AS error_code, ifNull(error_message, 'unknown') AS error_message,
    ifNull(target_version, 'unknown') AS target_version,
    count() AS failures,
    uniqExactState(device_id) AS devices,
    max(timestamp) AS last
FROM ota_events_raw
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, hour, error_code, error_message, target_version;
