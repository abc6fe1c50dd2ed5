ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS launch_duration_seconds Nullable(Float64) AFTER storage_available_mb;

ALTER TABLE ota_events_raw ON CLUSTER ota_cluster ADD COLUMN IF NOT EXISTS launch_duration_seconds Nullable(Float64) AFTER storage_available_mb;

ALTER TABLE ota_events_raw_local ON CLUSTER ota_cluster COMMENT COLUMN event_type 'update_started, update_downloading, update_downloaded, update_installing, update_installed, update_failed, update_cancelled, rollback_started, rollback_completed (updates); app_launched, update_checked, app_crashed (activity only: active devices and current versions, never an update figure; app_launched and app_crashed make the sessions of the stability figures)';
