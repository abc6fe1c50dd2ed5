ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS kafka_index UInt32 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER kafka_offset;

ALTER TABLE ota_events_raw ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS kafka_index UInt32 DEFAULT 0 AFTER kafka_offset;

CREATE TABLE IF NOT EXISTS dead_letters_local ON CLUSTER ota_cluster
(
    topic LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    kafka_index UInt32,
    kind LowCardinality(String),
    reason String CODEC(ZSTD(3)),
    value String CODEC(ZSTD(3)),
    dead_lettered_at DateTime64(3, 'UTC') DEFAULT now64(3)
)
ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/dead_letters_local', '{replica}')
PARTITION BY toYYYYMM(dead_lettered_at)
ORDER BY (topic, kafka_partition, kafka_offset, kafka_index)
TTL toDate(dead_lettered_at) + toIntervalDay(365);

CREATE TABLE IF NOT EXISTS dead_letters ON CLUSTER ota_cluster AS dead_letters_local
ENGINE = Distributed(ota_cluster, currentDatabase(), dead_letters_local, cityHash64(topic, kafka_partition));
