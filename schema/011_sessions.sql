-- What GET /analytics/stability and the release row's crash-free rates need (docs/api.md; queries in
-- ota_stream/storage/queries/stability_sql.py): per app, hour and session, the session's parts as mergeable
-- states, so that any window is exact from whole hours here and the partial hours at its edges from the raw table.
--
-- A session is a (tenant, org, app, device, session_id) among the app_launched and app_crashed events; an event
-- without a session_id is a session of its own, named by its event_id. Devices and sessions are 64-bit hashes, as in
-- release_devices_hourly (a collision within one app is improbable); a session's hash covers its org and app, so
-- that queries group by (device, session) alone. Hours, as for releases: a session rarely spans two, and the edges
-- read from the raw table stay short. Per row:
-- - first: the earliest event that names a current_version, as one string that sorts as (timestamp, event_id):
--   the timestamp in epoch milliseconds on 13 digits, the event_id with each NUL byte escaped as NUL 0x01, two NUL
--   bytes, then the version. min() on a string is several times faster than on a tuple; the escape keeps the order
--   of event_ids exact and the version findable after the first two NUL bytes. An event without a version is '~',
--   above every digit, so that min() takes any event that has one; a session whose rows all hold '~' has no
--   version and counts nowhere.
-- - crashed: whether it holds an app_crashed event; crashes: the distinct (error_code, error_message) of them, a
--   missing value read as 'unknown'. Twice the same crash is one entry.
-- - launch_durations: performance_metrics.launch_duration_seconds of its app_launched events that carry it.
CREATE TABLE IF NOT EXISTS session_hourly
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
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, hour, device, session)
TTL toDate(hour) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS session_hourly_mv TO session_hourly AS
SELECT
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

BACKFILL session_hourly_mv;
