ALTER TABLE device_versions_daily_local ON CLUSTER ota_cluster MODIFY COLUMN latest CODEC(ZSTD(3));

ALTER TABLE device_latest_local ON CLUSTER ota_cluster MODIFY COLUMN latest CODEC(ZSTD(3));
