-- Stability of the update that runs (docs/api.md, GET /analytics/stability): a third activity type, `app_crashed`
-- (the app crashed while current_version ran), and the launch duration an `app_launched` event may carry. The type
-- needs no column (event_type is a LowCardinality(String)); the duration is a new one, NULL in every row written
-- before it. Views of migration 011 read both.
ALTER TABLE ota_events_raw ADD COLUMN IF NOT EXISTS launch_duration_seconds Nullable(Float64) AFTER storage_available_mb;

ALTER TABLE ota_events_raw COMMENT COLUMN event_type 'update_started, update_downloading, update_downloaded, update_installing, update_installed, update_failed, update_cancelled, rollback_started, rollback_completed (updates); app_launched, update_checked, app_crashed (activity only: active devices and current versions, never an update figure; app_launched and app_crashed make the sessions of the stability figures)';
