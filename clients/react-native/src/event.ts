/** Building the queued event from an app's flat fields: the id and the time are fixed here, once. */

import { GROUPS, TOP_LEVEL, type DeviceInfo, type EventFields, type EventType, type OtaEvent } from "./types";

/** Who sends: the ids every event carries, from the client's options. */
export interface Identity {
  tenantId: string;
  orgId: string;
  appId: string;
  deviceId: string;
  deviceInfo?: DeviceInfo;
  sessionId?: string;
}

export function buildEvent(
  identity: Identity,
  type: EventType,
  fields: EventFields,
  eventId: string,
  nowMs: number,
): OtaEvent {
  const event: OtaEvent = {
    event_id: eventId,
    tenant_id: identity.tenantId,
    org_id: identity.orgId,
    app_id: identity.appId,
    device_id: identity.deviceId,
    event_type: type,
    timestamp: timestamp(fields.timestamp ?? nowMs),
  };
  const session = fields.session_id ?? identity.sessionId;
  if (session !== undefined) event.session_id = session;
  const device = present(identity.deviceInfo ?? {});
  if (Object.keys(device).length > 0) event.device_info = device;
  const flat = fields as Record<string, unknown>;
  for (const [group, leaves] of Object.entries(GROUPS)) {
    const values: Record<string, unknown> = {};
    for (const leaf of leaves) if (flat[leaf] !== undefined && flat[leaf] !== null) values[leaf] = flat[leaf];
    if (Object.keys(values).length > 0) (event as unknown as Record<string, unknown>)[group] = values;
  }
  for (const name of TOP_LEVEL) {
    if (flat[name] !== undefined && flat[name] !== null) (event as unknown as Record<string, unknown>)[name] = flat[name];
  }
  if (fields.metadata && Object.keys(fields.metadata).length > 0) event.metadata = { ...fields.metadata };
  return event;
}

/** RFC 3339 in UTC with milliseconds. A string is sent as given; the server validates it. */
export function timestamp(value: string | Date | number): string {
  if (typeof value === "string") return value;
  const date = typeof value === "number" ? new Date(value) : value;
  return Number.isFinite(date.getTime()) ? date.toISOString() : String(value);
}

function present<T extends object>(values: T): T {
  const kept: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(values)) if (value !== undefined && value !== null) kept[key] = value;
  return kept as T;
}
