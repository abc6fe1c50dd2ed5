CREATE TABLE IF NOT EXISTS event_keys_local ON CLUSTER ota_cluster
(
    tenant_id LowCardinality(String),
    month Date,
    key_hash UInt64 CODEC(Delta, ZSTD(3))
)
ENGINE = ReplicatedMergeTree('/clickhouse/tables/{shard}/{database}/event_keys_local', '{replica}')
PARTITION BY month
ORDER BY (tenant_id, key_hash)
TTL month + toIntervalDay(365 + 31)
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 8192,
    replicated_deduplication_window = 1000;

CREATE TABLE IF NOT EXISTS event_keys ON CLUSTER ota_cluster AS event_keys_local
ENGINE = Distributed(ota_cluster, currentDatabase(), event_keys_local);

CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv ON CLUSTER ota_cluster TO event_keys_local AS SELECT tenant_id, toStartOfMonth(event_date) AS month, bitAnd(cityHash64(event_id), 0xFFFFFFFFFF) AS key_hash
FROM ota_events_raw_local
WHERE {since_cutoff};

-- SETTINGS distributed_foreground_insert = 1
-- SETTINGS insert_deduplicate = 0
-- SETTINGS parallel_distributed_insert_select = 2
INSERT INTO event_keys SELECT tenant_id, toStartOfMonth(event_date) AS month, bitAnd(cityHash64(event_id), 0xFFFFFFFFFF) AS key_hash
FROM ota_events_raw
WHERE {since_cutoff};
