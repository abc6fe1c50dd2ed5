-- Events travel in envelopes: one Kafka message carries many events (ota_stream/kafka/envelope.py), so a row's
-- position is (partition, offset, index within the message). Rows written before this migration came one event
-- per message: index 0 is their true position.
ALTER TABLE ota_events_raw ADD COLUMN IF NOT EXISTS kafka_index UInt32 DEFAULT 0 CODEC(T64, ZSTD(1)) AFTER kafka_offset;

-- Every position sent to the dead-letter topic, so that a poison message read again (a redelivery after a crash
-- or a rebalance) is not dead-lettered twice, and so that /health and operators can see what was refused and why.
CREATE TABLE IF NOT EXISTS dead_letters
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
ENGINE = ReplacingMergeTree
PARTITION BY toYYYYMM(dead_lettered_at)
ORDER BY (topic, kafka_partition, kafka_offset, kafka_index)
TTL toDate(dead_lettered_at) + toIntervalDay({retention_days});
