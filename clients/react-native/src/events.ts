/** Typed helpers, one per event type: each names the fields its type needs for the analytics to use it. */

import type { EventFields, EventType, OtaEvent } from "./types";

/** Fields of an event about one update: which version it is about. */
export type UpdateFields = EventFields & { target_version: string };

export abstract class LifecycleEvents {
  /** Queues one event of any type; resolves with the event (its `event_id` included) once it is stored. */
  abstract track(type: EventType, fields?: EventFields): Promise<OtaEvent>;

  /** An update was initiated. */
  updateStarted(fields: UpdateFields): Promise<OtaEvent> {
    return this.track("update_started", fields);
  }

  /** The package is downloading; `progress` is 0–100. */
  updateDownloading(fields: UpdateFields & { progress?: number }): Promise<OtaEvent> {
    return this.track("update_downloading", fields);
  }

  /** The download completed: `download_duration_seconds`, `package_size_bytes` and `download_speed_mbps` fit here. */
  updateDownloaded(fields: UpdateFields): Promise<OtaEvent> {
    return this.track("update_downloaded", fields);
  }

  /** The install is in progress. */
  updateInstalling(fields: UpdateFields): Promise<OtaEvent> {
    return this.track("update_installing", fields);
  }

  /** The install succeeded: `target_version` now runs. */
  updateInstalled(fields: UpdateFields): Promise<OtaEvent> {
    return this.track("update_installed", fields);
  }

  /** The update failed; `failure_stage` is e.g. `download`, `verify` or `install`. */
  updateFailed(fields: UpdateFields & { error_code: string; failure_stage?: string }): Promise<OtaEvent> {
    return this.track("update_failed", fields);
  }

  /** The user cancelled. */
  updateCancelled(fields: UpdateFields & { cancellation_reason?: string }): Promise<OtaEvent> {
    return this.track("update_cancelled", fields);
  }

  /** A rollback was initiated. */
  rollbackStarted(fields: EventFields & { rollback_reason?: string } = {}): Promise<OtaEvent> {
    return this.track("rollback_started", fields);
  }

  /** The rollback finished: `current_version` is what now runs. */
  rollbackCompleted(fields: EventFields & { current_version: string }): Promise<OtaEvent> {
    return this.track("rollback_completed", fields);
  }

  /**
   * The app started: `current_version` is what runs. Counts as activity, in no update figure. `trackLaunch` sends
   * this event too, and also starts a session and watches for crashes: prefer it in an app.
   */
  appLaunched(fields: EventFields & { current_version: string }): Promise<OtaEvent> {
    return this.track("app_launched", fields);
  }

  /**
   * The app crashed while `current_version` ran: `error_code` says how (`JS_FATAL`, `NATIVE_CRASH`, `ABNORMAL_EXIT`
   * or your own). `trackLaunch` reports fatal JS errors and abnormal exits by itself; this is for what it cannot
   * see, such as a native crash another library caught. The session id defaults to the current launch's.
   */
  appCrashed(fields: EventFields & { error_code: string; error_message?: string }): Promise<OtaEvent> {
    return this.track("app_crashed", fields);
  }

  /** The app asked whether an update exists; `result` goes to `metadata.result`. Counts as activity only. */
  updateChecked(fields: EventFields & { result?: "available" | "not_available" } = {}): Promise<OtaEvent> {
    const { result, ...rest } = fields;
    return this.track(
      "update_checked",
      result === undefined ? rest : { ...rest, metadata: { ...rest.metadata, result } },
    );
  }
}
