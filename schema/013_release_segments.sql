-- What GET /analytics/releases/{version}/segments needs beside release_devices_hourly (docs/decisions.md; query in
-- ota_stream/storage/queries/segments.py): per app, release, hour and device, for each dimension a device can be
-- split by, the latest value its update events of the release carry in that hour, as (timestamp, value): max()
-- keeps the latest, ties by the greater value, as the route decides. An hour where no event carries the field keeps
-- (1970-01-01, ''), below every real one, which the route reads as `unknown`. The route used to read the release's
-- update events of the whole window from the raw table; it now reads the release's devices here and only the hours
-- at the window's edges raw. Ordered by release first: the route reads one release.
--
-- Update events are those of release_devices_hourly (schema/006_release_devices.sql): the seven update_* types,
-- with a target_version.
CREATE TABLE IF NOT EXISTS release_segments_hourly
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
ENGINE = AggregatingMergeTree
PARTITION BY toYYYYMM(hour)
ORDER BY (tenant_id, org_id, app_id, version, hour, device)
TTL toDate(hour) + toIntervalDay({retention_days})
SETTINGS non_replicated_deduplication_window = 1000;

CREATE MATERIALIZED VIEW IF NOT EXISTS release_segments_hourly_mv TO release_segments_hourly AS
SELECT
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

BACKFILL release_segments_hourly_mv;
