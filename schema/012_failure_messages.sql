-- What GET /analytics/failures/messages needs (docs/api.md#get-analyticsfailuresmessages; queries in
-- ota_stream/storage/queries/failure_messages.py): per app, hour and (error_code, error_message, target_version)
-- of the update_failed events, their count, their devices as an exact uniqExact state, and the latest timestamp,
-- so that any window is exact from whole hours here and the partial hours at its edges from the raw table. The
-- request used to read every update_failed event of the window from the raw table; failures repeat a few messages,
-- so a window's rows here number hours x messages rather than events.
--
-- A missing value is stored as read, 'unknown' (the route's keys and filters compare against it). The samples (the
-- three latest events of a message) stay in the raw table: the per-hour counts here tell the query from which hour
-- on each listed message has three, so that it reads only the events since then.
CREATE TABLE IF NOT EXISTS failure_messages_hourly
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
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, error_code, error_message, target_version)
TTL toDate(hour) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS failure_messages_hourly_mv TO failure_messages_hourly AS
SELECT
    tenant_id, org_id, app_id, toStartOfHour(timestamp) AS hour,
    ifNull(error_code, 'unknown') AS error_code, ifNull(error_message, 'unknown') AS error_message,
    ifNull(target_version, 'unknown') AS target_version,
    count() AS failures,
    uniqExactState(device_id) AS devices,
    max(timestamp) AS last
FROM ota_events_raw
WHERE {since_cutoff} AND event_type = 'update_failed'
GROUP BY tenant_id, org_id, app_id, hour, error_code, error_message, target_version;

BACKFILL failure_messages_hourly_mv;
