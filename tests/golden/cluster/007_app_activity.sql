CREATE TABLE IF NOT EXISTS app_activity_daily_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    events SimpleAggregateFunction(sum, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = ReplicatedAggregatingMergeTree('/clickhouse/tables/{shard}/{database}/app_activity_daily_local', '{replica}')
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay(365)
SETTINGS replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS app_activity_daily ON CLUSTER ota_cluster AS app_activity_daily_local
ENGINE = Distributed(ota_cluster, currentDatabase(), app_activity_daily_local, cityHash64(tenant_id, org_id, app_id));

CREATE MATERIALIZED VIEW IF NOT EXISTS app_activity_daily_mv ON CLUSTER ota_cluster TO app_activity_daily_local AS SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, count() AS events, max(timestamp) AS last_seen
FROM ota_events_raw_local
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO app_activity_daily SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, count() AS events, max(timestamp) AS last_seen
FROM ota_events_raw
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;
