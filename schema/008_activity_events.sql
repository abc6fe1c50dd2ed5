-- Two activity types join the nine update types (docs/events.md): `app_launched` and `update_checked`, reported by real
-- clients (compatibility routes, ota_stream/compat/). `event_type` is a LowCardinality(String), so the rows need no
-- new column; every view already says which types it counts, by name: adoption, failures and the release views
-- read only update types, while daily_devices, device_versions_daily (through current_version) and
-- app_activity_daily read every event, which is what activity must count in. The comment records the set of
-- types the column holds, for whoever reads the table directly.
ALTER TABLE ota_events_raw COMMENT COLUMN event_type 'update_started, update_downloading, update_downloaded, update_installing, update_installed, update_failed, update_cancelled, rollback_started, rollback_completed (updates); app_launched, update_checked (activity only: active devices and current versions, never an update figure)';
