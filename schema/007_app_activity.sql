-- Per app and day: events and the latest event time, for /analytics/apps (docs/api.md#get-analyticsapps). With daily_devices (the
-- distinct devices per app and day) it answers for any window from whole days here and the partial days at its
-- edges from the raw table. A few rows per app and day: it costs next to nothing on disk.
CREATE TABLE IF NOT EXISTS app_activity_daily
(
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    date Date,
    events SimpleAggregateFunction(sum, UInt64),
    last_seen SimpleAggregateFunction(max, DateTime64(3, 'UTC'))
)
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(date)
ORDER BY (tenant_id, org_id, app_id, date)
TTL date + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS app_activity_daily_mv TO app_activity_daily AS
SELECT tenant_id, org_id, app_id, toDate(timestamp) AS date, count() AS events, max(timestamp) AS last_seen
FROM ota_events_raw
WHERE {since_cutoff}
GROUP BY tenant_id, org_id, app_id, date;

BACKFILL app_activity_daily_mv;
