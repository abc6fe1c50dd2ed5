-- The raw event table: one row per unique (tenant_id, event_id), written only by the sink agent.
-- Columns follow the original server's table, plus event_id, failure_stage and the optional fields of docs/events.md.
-- {retention_days} is filled from RETENTION_DAYS by the migration runner; it is the only template value.
CREATE TABLE IF NOT EXISTS ota_events_raw
(
    event_id String,
    tenant_id LowCardinality(String),
    org_id LowCardinality(String),
    app_id LowCardinality(String),
    device_id String,
    session_id Nullable(String),
    event_type LowCardinality(String),
    timestamp DateTime64(3, 'UTC'),
    event_date Date MATERIALIZED toDate(timestamp),

    device_os LowCardinality(Nullable(String)),
    device_os_version LowCardinality(Nullable(String)),
    device_model LowCardinality(Nullable(String)),
    device_manufacturer LowCardinality(Nullable(String)),

    current_version LowCardinality(Nullable(String)),
    target_version LowCardinality(Nullable(String)),
    release_notes Nullable(String) CODEC(ZSTD(3)),
    release_channel LowCardinality(Nullable(String)),
    rollout_percentage Nullable(Float32),

    connection_type LowCardinality(Nullable(String)),
    bandwidth_mbps Nullable(Float64),

    download_speed_mbps Nullable(Float64),
    download_duration_seconds Nullable(Float64),
    install_duration_seconds Nullable(Float64),
    package_size_bytes Nullable(UInt64),
    battery_level Nullable(Float32),
    storage_available_mb Nullable(Float64),

    error_code LowCardinality(Nullable(String)),
    error_message Nullable(String) CODEC(ZSTD(3)),
    failure_stage LowCardinality(Nullable(String)),

    progress Nullable(Float32),
    cancellation_reason Nullable(String),
    rollback_reason Nullable(String),
    rollback_duration_seconds Nullable(Float64),
    metadata Map(String, String) CODEC(ZSTD(3)),

    -- Lineage: where the sink read the row from.
    kafka_partition UInt32 CODEC(T64, ZSTD(1)),
    kafka_offset UInt64 CODEC(Delta, ZSTD(1)),
    ingested_at DateTime64(3, 'UTC') DEFAULT now64(3) CODEC(Delta, ZSTD(1))
)
ENGINE = MergeTree
PARTITION BY toYYYYMM(event_date)
ORDER BY (tenant_id, org_id, app_id, timestamp, event_type)
TTL event_date + toIntervalDay({retention_days})
SETTINGS index_granularity = 8192, non_replicated_deduplication_window = 1000;
