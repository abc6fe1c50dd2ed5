/**
 * Airborne's SDK `onEvent` callback turned into ota-stream events, with the mapping facts of Airborne's own
 * analytics format: a download completed is `update_downloaded` with its duration, a failure is `update_failed`
 * with its stage, a check is `update_checked`, and a new version running is `update_installed` of that version.
 *
 * The event names and payloads are the ones Airborne's SDKs emit, read from juspay/airborne (commit a9214fc9):
 * - airborne_docs/docs/react-native-sdk/reference/callbacks-and-events.md (the onEvent payload and catalogue);
 * - airborne_sdk_android/airborne/src/main/java/in/juspay/airborne/ota/UpdateTask.kt (release_config_fetch,
 *   package_update_download_started, package_update_result with result SUCCESS / FAILED / "No package update
 *   available", time_taken in ms) and ota/ApplicationManager.kt (boot, with package_version);
 * - airborne_sdk_iOS/hyper-ota/Airborne/AirborneSwift/AJPApplicationManager.swift (important_package_download_started,
 *   package_update_result, release_config_fetch) and AJPApplicationManagerUtils.swift (package_install_failed).
 * Airborne emits no rollback event and, on iOS, no boot event: there the app reports launches with `launched`.
 */

import type { StorageAdapter } from "./storage";
import type { EventFields, EventType, OtaEvent } from "./types";

/** What Airborne passes to onEvent (`subcategory` on iOS); `value` may arrive as a JSON string from native. */
export interface AirborneEvent {
  level?: string;
  label?: string;
  key: string;
  value?: Record<string, unknown> | string | null;
  category?: string;
  subCategory?: string;
  subcategory?: string;
}

export interface MappedEvent {
  type: EventType;
  fields: EventFields;
}

/** The part of the client the adapter needs. */
export interface Tracker {
  track(type: EventType, fields?: EventFields): Promise<OtaEvent>;
  readonly storage: StorageAdapter;
  readonly storageKey: string;
}

const METADATA_KEYS = 32;
const METADATA_KEY_LENGTH = 128;
const METADATA_VALUE_LENGTH = 1024;

/**
 * The events for one Airborne event (none for keys without an equivalent). A `boot` needs the version that ran
 * before it: a different one means an update was installed.
 */
export function mapAirborneEvent(event: AirborneEvent, previousVersion?: string): MappedEvent[] {
  const value = payload(event.value);
  const used = new Set<string>(["app_update_id"]);
  const take = (name: string): unknown => {
    used.add(name);
    return value[name];
  };
  const text = (name: string): string | undefined => nonEmpty(take(name));
  const mapped = (type: EventType, fields: EventFields): MappedEvent[] => [
    { type, fields: { ...fields, metadata: metadata(event, value, used, fields.metadata) } },
  ];
  switch (event.key) {
    case "release_config_fetch":
      return mapped("update_checked", {});
    case "package_update_download_started":
    case "important_package_download_started":
      return mapped("update_downloading", versioned("target_version", text("package_version")));
    case "package_update_result": {
      const result = text("result");
      if (result === "SUCCESS") {
        const fields: EventFields = versioned("target_version", text("package_version"));
        const seconds = milliseconds(take("time_taken"));
        if (seconds !== undefined) fields.download_duration_seconds = seconds;
        return mapped("update_downloaded", fields);
      }
      if (result === "FAILED") {
        // A failed write of the downloaded package names the file; otherwise the download itself failed.
        const stage = value["file_name"] !== undefined ? "install" : "download";
        const message = text("reason") ?? text("error");
        return mapped("update_failed", {
          ...versioned("target_version", text("package_version")),
          error_code: "package_update_failed",
          failure_stage: stage,
          ...(message === undefined ? {} : { error_message: message }),
        });
      }
      const said = result === undefined ? {} : { airborne_result: result };
      return mapped("update_checked", { metadata: { result: "not_available", ...said } });
    }
    case "package_install_failed":
      return mapped("update_failed", { error_code: "package_install_failed", failure_stage: "install" });
    case "boot": {
      const version = text("package_version");
      const launched = mapped("app_launched", versioned("current_version", version));
      if (version === undefined || previousVersion === undefined || previousVersion === version) return launched;
      const installed: MappedEvent = {
        type: "update_installed",
        fields: { target_version: version, current_version: previousVersion, metadata: { airborne_key: "boot" } },
      };
      return [installed, ...launched];
    }
    default:
      return [];
  }
}

/**
 * Feeds Airborne's events into a client. Forward native `onEvent` calls to `onEvent` (same arguments) or to
 * `handle` (one object). The version that last booted is stored beside the client's queue.
 */
export class AirborneAdapter {
  private chain: Promise<unknown> = Promise.resolve();
  private readonly versionKey: string;

  constructor(private readonly client: Tracker) {
    this.versionKey = `${client.storageKey}/airborne/launched_version`;
  }

  /** The native callback's signature: (level, label, key, value, category, subCategory). */
  readonly onEvent = (
    level: string,
    label: string,
    key: string,
    value: Record<string, unknown> | string | null,
    category?: string,
    subCategory?: string,
  ): Promise<OtaEvent[]> => {
    const event: AirborneEvent = { level, label, key, value };
    if (category !== undefined) event.category = category;
    if (subCategory !== undefined) event.subCategory = subCategory;
    return this.handle(event);
  };

  /** Maps and queues one Airborne event; resolves with the events queued (none for unmapped keys). */
  handle(event: AirborneEvent): Promise<OtaEvent[]> {
    return this.serially(async () => {
      const previous = event.key === "boot" ? await this.lastVersion() : undefined;
      const mapped = mapAirborneEvent(event, previous);
      const queued = await Promise.all(mapped.map(({ type, fields }) => this.client.track(type, fields)));
      const booted = event.key === "boot" ? nonEmpty(payload(event.value)["package_version"]) : undefined;
      if (booted !== undefined) {
        try {
          await this.client.storage.setItem(this.versionKey, booted);
        } catch {
          // Without it the next boot cannot tell an update; the launch itself is queued.
        }
      }
      return queued;
    });
  }

  /** Reports a launch of `packageVersion` where Airborne emits no `boot` (iOS): same events as a `boot`. */
  launched(packageVersion: string): Promise<OtaEvent[]> {
    return this.handle({ key: "boot", label: "app", value: { package_version: packageVersion } });
  }

  private async lastVersion(): Promise<string | undefined> {
    try {
      return (await this.client.storage.getItem(this.versionKey)) ?? undefined;
    } catch {
      return undefined; // unknown: a launch, not an install
    }
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

export function createAirborneAdapter(client: Tracker): AirborneAdapter {
  return new AirborneAdapter(client);
}

function payload(value: AirborneEvent["value"]): Record<string, unknown> {
  if (typeof value === "string") {
    try {
      const parsed: unknown = JSON.parse(value);
      return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed)
        ? (parsed as Record<string, unknown>)
        : { value };
    } catch {
      return { value };
    }
  }
  return value ?? {};
}

function versioned(field: "target_version" | "current_version", version: string | undefined): EventFields {
  return version === undefined ? {} : { [field]: version };
}

/** Airborne's clients send "" for an absent value; numbers (versions such as 6) become strings. */
function nonEmpty(value: unknown): string | undefined {
  if (typeof value === "number" && Number.isFinite(value)) return String(value);
  return typeof value === "string" && value.trim() !== "" ? value : undefined;
}

/** A duration in ms (a number, or a numeric string as in Airborne's docs) as seconds; else undefined. */
function milliseconds(value: unknown): number | undefined {
  const ms = typeof value === "string" && value.trim() !== "" ? Number(value) : value;
  return typeof ms === "number" && Number.isFinite(ms) && ms >= 0 ? ms / 1000 : undefined;
}

/** Nothing is silently lost: fields without an equivalent go to metadata as strings, within its limits. */
function metadata(
  event: AirborneEvent,
  value: Record<string, unknown>,
  used: ReadonlySet<string>,
  extra: Record<string, string> | undefined,
): Record<string, string> {
  const out: Record<string, string> = { airborne_key: event.key, ...extra };
  if (event.label) out["airborne_label"] = event.label;
  if (typeof value["app_update_id"] === "string") out["airborne_app_update_id"] = value["app_update_id"];
  for (const [key, raw] of Object.entries(value)) {
    if (Object.keys(out).length >= METADATA_KEYS) break;
    if (used.has(key) || raw === undefined || raw === null || raw === "") continue;
    const name = key.slice(0, METADATA_KEY_LENGTH);
    if (name in out) continue;
    const text = typeof raw === "string" ? raw : JSON.stringify(raw);
    out[name] = text.slice(0, METADATA_VALUE_LENGTH);
  }
  return out;
}
