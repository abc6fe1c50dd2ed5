-- A compact index of the keys in ota_events_raw, so that the sink's duplicate check does not scan the tenant's
-- event_id column on every batch: that scan took 182 ms per 1,000-event batch at 7.2M events of a tenant and
-- grows with the tenant; this index answers in 36 ms and reads at most one small granule per event of the batch,
-- however large the tenant (bench/RESULTS.md). One row per raw row: a 40-bit hash of event_id, sorted within the
-- tenant, so that the column compresses to the deltas between neighbours (3.3 bytes per event), in 8 KiB blocks
-- so that reading a granule decompresses only that granule. A hash that matches is only a candidate: the writer
-- confirms candidates against the raw table by event_id (true duplicates, and rare hash collisions: about one
-- batch in 150 at 7.2M events). `month` is constant within a partition (it costs nothing) and lets whole months
-- expire after the raw table's rows.
CREATE TABLE IF NOT EXISTS event_keys
(
    tenant_id LowCardinality(String),
    month Date,
    key_hash UInt64 CODEC(Delta, ZSTD(3))
)
ENGINE = MergeTree
PARTITION BY month
ORDER BY (tenant_id, key_hash)
TTL month + toIntervalDay({retention_days} + 31)
SETTINGS index_granularity = 1024, min_compress_block_size = 8192, max_compress_block_size = 8192,
    non_replicated_deduplication_window = 1000;

-- The writer hashes the batch's ids with the same expression (KEY_HASH in ota_stream/storage/writer.py).
CREATE MATERIALIZED VIEW IF NOT EXISTS event_keys_mv TO event_keys AS
SELECT tenant_id, toStartOfMonth(event_date) AS month, bitAnd(cityHash64(event_id), 0xFFFFFFFFFF) AS key_hash
FROM ota_events_raw
WHERE {since_cutoff};

BACKFILL event_keys_mv;
