/**
 * The event model of the ota-stream contract, as this client sends it (the nested form), and the flat fields an
 * app hands to the helpers. Field names are the wire names, so what an app writes is what dashboards show.
 */

/**
 * Every event type the server knows. `app_launched`, `update_checked` and `app_crashed` are activity, in no update
 * figure; launches and crashes make the sessions of the stability figures.
 */
export const EVENT_TYPES = [
  "update_started",
  "update_downloading",
  "update_downloaded",
  "update_installing",
  "update_installed",
  "update_failed",
  "update_cancelled",
  "rollback_started",
  "rollback_completed",
  "app_launched",
  "update_checked",
  "app_crashed",
] as const;

export type EventType = (typeof EVENT_TYPES)[number];

export interface DeviceInfo {
  os?: string;
  os_version?: string;
  model?: string;
  manufacturer?: string;
}

export interface ReleaseInfo {
  current_version?: string;
  target_version?: string;
  release_notes?: string;
  channel?: string;
  rollout_percentage?: number;
}

export interface NetworkInfo {
  connection_type?: string;
  bandwidth_mbps?: number;
}

export interface PerformanceMetrics {
  download_speed_mbps?: number;
  download_duration_seconds?: number;
  install_duration_seconds?: number;
  package_size_bytes?: number;
  battery_level?: number;
  storage_available_mb?: number;
  /** Of an `app_launched`: from process start to the first screen the app calls interactive. */
  launch_duration_seconds?: number;
}

export interface ErrorInfo {
  error_code?: string;
  error_message?: string;
  failure_stage?: string;
}

/** One event as it is queued, persisted and sent. `event_id` is fixed when the event is created. */
export interface OtaEvent {
  event_id: string;
  tenant_id: string;
  org_id: string;
  app_id: string;
  device_id: string;
  event_type: EventType;
  timestamp: string;
  session_id?: string;
  device_info?: DeviceInfo;
  release_info?: ReleaseInfo;
  network_info?: NetworkInfo;
  performance_metrics?: PerformanceMetrics;
  error_info?: ErrorInfo;
  progress?: number;
  cancellation_reason?: string;
  rollback_reason?: string;
  rollback_duration_seconds?: number;
  metadata?: Record<string, string>;
}

/**
 * What an app gives for one event: the flat form of the contract (each leaf at the top level). Tenant, org, app,
 * device and device_info come from the client's options; `timestamp` defaults to the time of the call.
 */
export interface EventFields
  extends ReleaseInfo,
    NetworkInfo,
    PerformanceMetrics,
    ErrorInfo {
  timestamp?: string | Date | number;
  session_id?: string;
  progress?: number;
  cancellation_reason?: string;
  rollback_reason?: string;
  rollback_duration_seconds?: number;
  metadata?: Record<string, string>;
}

/** Which group each flat leaf belongs to in the nested form. */
export const GROUPS = {
  release_info: ["current_version", "target_version", "release_notes", "channel", "rollout_percentage"],
  network_info: ["connection_type", "bandwidth_mbps"],
  performance_metrics: [
    "download_speed_mbps",
    "download_duration_seconds",
    "install_duration_seconds",
    "package_size_bytes",
    "battery_level",
    "storage_available_mb",
    "launch_duration_seconds",
  ],
  error_info: ["error_code", "error_message", "failure_stage"],
} as const;

export const TOP_LEVEL = ["progress", "cancellation_reason", "rollback_reason", "rollback_duration_seconds"] as const;
