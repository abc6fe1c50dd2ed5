-- Which insert of the sink wrote each row, so that a crash cannot leave the views short of rows the raw table has.
-- ClickHouse commits an insert's rows to the raw table first and to each materialized view after it; a worker
-- killed in between leaves rows in ota_events_raw that some views (event_keys among them) never received. Its
-- offsets were not committed, so the rows come again, and the writer (ota_stream/storage/writer.py) first
-- repeats each such insert from the raw table with its original deduplication token: the raw table and every view
-- that has the block drop it, and the views that missed it receive it, exactly once.
-- `sink_block` names the insert (its token is derived from it); 0 for rows written before this migration. It is
-- constant over each insert's rows, which lie together in the sort order when events arrive in time order.
ALTER TABLE ota_events_raw ADD COLUMN IF NOT EXISTS sink_block UInt64 DEFAULT 0 CODEC(ZSTD(1)) AFTER kafka_index;

-- The repair looks up the rows at or after a partition's committed offset, then the whole of each insert they came
-- from; both read only the granules these indexes admit (new parts have them; older ones are read whole, once per
-- partition assignment).
ALTER TABLE ota_events_raw ADD INDEX IF NOT EXISTS kafka_offset_minmax kafka_offset TYPE minmax GRANULARITY 1;
ALTER TABLE ota_events_raw ADD INDEX IF NOT EXISTS sink_block_bloom sink_block TYPE bloom_filter GRANULARITY 1;
