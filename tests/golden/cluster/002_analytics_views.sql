CREATE TABLE IF NOT EXISTS adoption_hourly_local ON CLUSTER ota_cluster
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/adoption_hourly_local', '{replica}')
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, target_version)
TTL toDate(hour) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS adoption_hourly ON CLUSTER ota_cluster AS adoption_hourly_local
ENGINE = Distributed(ota_cluster, currentDatabase(), adoption_hourly_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS adoption_hourly_mv ON CLUSTER ota_cluster TO adoption_hourly_local AS SELECT
    tenant_id, org_id, app_id,
    ifNull(target_version, '') AS target_version,
    toStartOfHour(timestamp) AS hour,
    countIf(event_type = 'update_installed') AS installs,
    countIf(event_type = 'update_failed') AS failures,
    countIf(event_type = 'rollback_completed') AS rollbacks,
    uniqExactStateIf(device_id, event_type = 'update_installed') AS installed_devices
FROM ota_events_raw_local
WHERE {since_cutoff} AND event_type IN ('update_installed', 'update_failed', 'rollback_completed')
GROUP BY tenant_id, org_id, app_id, target_version, hour;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO adoption_hourly SELECT
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

CREATE TABLE IF NOT EXISTS daily_devices_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    devices AggregateFunction(uniqExact, String)
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/daily_devices_local', '{replica}')
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS daily_devices ON CLUSTER ota_cluster AS daily_devices_local
ENGINE = Distributed(ota_cluster, currentDatabase(), daily_devices_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS daily_devices_mv ON CLUSTER ota_cluster TO daily_devices_local AS SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, uniqExactState(device_id) AS devices
FROM ota_events_raw_local
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO daily_devices SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, uniqExactState(device_id) AS devices
FROM ota_events_raw
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;

CREATE TABLE IF NOT EXISTS device_versions_daily_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    device UInt64,
    latest SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/device_versions_daily_local', '{replica}')
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date, device)
TTL date + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS device_versions_daily ON CLUSTER ota_cluster AS device_versions_daily_local
ENGINE = Distributed(ota_cluster, currentDatabase(), device_versions_daily_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS device_versions_daily_mv ON CLUSTER ota_cluster TO device_versions_daily_local AS SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date, cityHash64(device_id) AS device,
    max(CAST((
        timestamp, event_id,
        assumeNotNull(if(event_type = 'update_installed', target_version, current_version)),
        ifNull(device_os, ''), ifNull(device_model, ''), ifNull(device_manufacturer, ''),
        ifNull(device_os_version, '')
    ) AS Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))) AS latest
FROM ota_events_raw_local
WHERE {since_cutoff} AND if(event_type = 'update_installed', target_version, current_version) IS NOT NULL
GROUP BY tenant_id, org_id, app_id, date, device;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO device_versions_daily SELECT
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

CREATE TABLE IF NOT EXISTS device_latest_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    device UInt64,
    latest SimpleAggregateFunction(max, Tuple(DateTime64(3, 'UTC'), String, String, String, String, String, String))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/device_latest_local', '{replica}')
ORDER BY (tenant_id, org_id, app_id, device)
TTL toDate(tupleElement(latest, 1)) + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS device_latest ON CLUSTER ota_cluster AS device_latest_local
ENGINE = Distributed(ota_cluster, currentDatabase(), device_latest_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS device_latest_mv ON CLUSTER ota_cluster TO device_latest_local AS SELECT tenant_id, org_id, app_id, device, max(latest) AS latest
FROM device_versions_daily_local
GROUP BY tenant_id, org_id, app_id, device;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO device_latest SELECT tenant_id, org_id, app_id, device, max(latest) AS latest
FROM device_versions_daily
GROUP BY tenant_id, org_id, app_id, device;

CREATE TABLE IF NOT EXISTS failures_daily_local ON CLUSTER ota_cluster
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/failures_daily_local', '{replica}')
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date, error_code, failure_stage, target_version, device_os, device_model)
TTL date + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS failures_daily ON CLUSTER ota_cluster AS failures_daily_local
ENGINE = Distributed(ota_cluster, currentDatabase(), failures_daily_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS failures_daily_mv ON CLUSTER ota_cluster TO failures_daily_local AS SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date,
    ifNull(error_code, '') AS error_code, ifNull(failure_stage, '') AS failure_stage,
    ifNull(target_version, '') AS target_version, ifNull(device_os, '') AS device_os,
    ifNull(device_model, '') AS device_model,
    count() AS failures,
    uniqExactState(device_id) AS devices
FROM ota_events_raw_local
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, date, error_code, failure_stage, target_version, device_os, device_model;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO failures_daily SELECT
    tenant_id, org_id, app_id, toDate(timestamp) AS date,
    ifNull(error_code, '') AS error_code, ifNull(failure_stage, '') AS failure_stage,
    ifNull(target_version, '') AS target_version, ifNull(device_os, '') AS device_os,
    ifNull(device_model, '') AS device_model,
    count() AS failures,
    uniqExactState(device_id) AS devices
FROM ota_events_raw
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, date, error_code, failure_stage, target_version, device_os, device_model;

CREATE TABLE IF NOT EXISTS performance_daily_local ON CLUSTER ota_cluster
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
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/performance_daily_local', '{replica}')
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS performance_daily ON CLUSTER ota_cluster AS performance_daily_local
ENGINE = Distributed(ota_cluster, currentDatabase(), performance_daily_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS performance_daily_mv ON CLUSTER ota_cluster TO performance_daily_local AS SELECT
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
FROM ota_events_raw_local
WHERE {since_cutoff} AND (download_speed_mbps IS NOT NULL OR download_duration_seconds IS NOT NULL
    OR install_duration_seconds IS NOT NULL OR package_size_bytes IS NOT NULL)
GROUP BY tenant_id, org_id, app_id, date;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO performance_daily SELECT
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
