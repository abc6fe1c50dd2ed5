-- ZSTD for the per-device version tuples, the largest columns of the views: a random event_id and six strings
-- per device and day compress 2.1:1 with the default LZ4 of small parts and 4.4:1 with ZSTD(3)
-- (device_versions_daily 6.46 -> 3.10 bytes per event at 10M events, bench/RESULTS.md), which brings the views
-- and the raw table together over 10:1. A codec change touches only metadata: new parts use it at once, older
-- parts when they are next merged.
ALTER TABLE device_versions_daily MODIFY COLUMN latest CODEC(ZSTD(3));
ALTER TABLE device_latest MODIFY COLUMN latest CODEC(ZSTD(3));
