CREATE TABLE IF NOT EXISTS session_hourly_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    hour DateTime('UTC'),
    device UInt64,
    session UInt64,
    first SimpleAggregateFunction(min, String) CODEC(ZSTD(3)),
    crashed SimpleAggregateFunction(max, UInt8),
    crashes SimpleAggregateFunction(groupUniqArrayArray, Array(Tuple(String, String))) CODEC(ZSTD(3)),
    launch_durations SimpleAggregateFunction(groupArrayArray, Array(Float64)) CODEC(ZSTD(3))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/session_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, device, session)
TTL toDate(hour) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS session_hourly ON CLUSTER ota_cluster AS session_hourly_local
ENGINE = Distributed(ota_cluster, currentDatabase(), session_hourly_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS session_hourly_mv ON CLUSTER ota_cluster TO session_hourly_local AS SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour, cityHash64(device_id) AS device,
    cityHash64(org_id, app_id, ifNull(session_id, ''), if(session_id IS NULL, event_id, '')) AS session,
    min(if(current_version IS NULL, '~', concat(leftPad(toString(toUnixTimestamp64Milli(timestamp)), 13, '0'),
        replaceAll(event_id, '\0', '\0\1'), '\0\0', current_version))) AS first,
    max(event_type = 'app_crashed') AS crashed,
    groupUniqArrayIf(CAST((ifNull(error_code, 'unknown'), ifNull(error_message, 'unknown')) AS Tuple(String, String)),
                     event_type = 'app_crashed') AS crashes,
    groupArrayIf(launch_duration_seconds, event_type = 'app_launched') AS launch_durations
FROM ota_events_raw_local
WHERE {since_cutoff} AND event_type IN ('app_launched', 'app_crashed')
GROUP BY tenant_id, org_id, app_id, hour, device, session;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO session_hourly SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour, cityHash64(device_id) AS device,
    cityHash64(org_id, app_id, ifNull(session_id, ''), if(session_id IS NULL, event_id, '')) AS session,
    min(if(current_version IS NULL, '~', concat(leftPad(toString(toUnixTimestamp64Milli(timestamp)), 13, '0'),
        replaceAll(event_id, '\0', '\0\1'), '\0\0', current_version))) AS first,
    max(event_type = 'app_crashed') AS crashed,
    groupUniqArrayIf(CAST((ifNull(error_code, 'unknown'), ifNull(error_message, 'unknown')) AS Tuple(String, String)),
                     event_type = 'app_crashed') AS crashes,
    groupArrayIf(launch_duration_seconds, event_type = 'app_launched') AS launch_durations
FROM ota_events_raw
WHERE {since_cutoff} AND event_type IN ('app_launched', 'app_crashed')
GROUP BY tenant_id, org_id, app_id, hour, device, session;
