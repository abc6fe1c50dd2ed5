ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS sink_block UInt64 DEFAULT 0 CODEC(ZSTD(1)) AFTER kafka_index;

ALTER TABLE ota_events_raw ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS sink_block UInt64 DEFAULT 0 AFTER kafka_index;

ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster ADD INDEX IF NOT EXISTS kafka_offset_minmax kafka_offset TYPE minmax GRANULARITY 1;

ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster ADD INDEX IF NOT EXISTS sink_block_bloom sink_block TYPE bloom_filter GRANULARITY 1;
