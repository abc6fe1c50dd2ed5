/** The typed helpers, the event they build, ids, and the options' checks. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { createClient, EVENT_TYPES, uuidV4, type OtaEvent } from "@ota-stream/react-native";

import { rig, V } from "./support";

const NOW = "2026-03-01T12:00:00.000Z";

function identity(event: OtaEvent) {
  const { tenant_id, org_id, app_id, device_id, timestamp } = event;
  return { tenant_id, org_id, app_id, device_id, timestamp };
}

test("each helper sends its event type with the fields it was given, in the nested form", async () => {
  const { client, server } = rig({ deviceInfo: { os: "iOS", os_version: "17.4", model: "iPhone15,2" } });
  await client.updateStarted({ ...V, current_version: "1.9.0", channel: "beta", rollout_percentage: 25 });
  await client.updateDownloading({ ...V, progress: 40, connection_type: "wifi", bandwidth_mbps: 50 });
  await client.updateDownloaded({ ...V, download_duration_seconds: 3.5, package_size_bytes: 1_048_576 });
  await client.updateInstalling(V);
  await client.updateInstalled({ ...V, current_version: "1.9.0", install_duration_seconds: 1.25 });
  await client.updateFailed({ ...V, error_code: "E_DISK", error_message: "no space", failure_stage: "install" });
  await client.updateCancelled({ ...V, cancellation_reason: "user" });
  await client.rollbackStarted({ rollback_reason: "crash loop", current_version: "2.0.0" });
  await client.rollbackCompleted({ current_version: "1.9.0", rollback_duration_seconds: 2 });
  await client.appLaunched({ current_version: "1.9.0", launch_duration_seconds: 0.8 });
  await client.updateChecked({ result: "not_available", current_version: "1.9.0" });
  await client.appCrashed({ current_version: "1.9.0", error_code: "NATIVE_CRASH", error_message: "SIGSEGV" });
  await client.flush();
  const events = server.requests[0]!.events;
  assert.deepEqual(
    events.map((event) => event.event_type),
    EVENT_TYPES.slice(),
  );
  for (const event of events) {
    assert.deepEqual(identity(event), {
      tenant_id: "acme",
      org_id: "mobile",
      app_id: "shop",
      device_id: "device-1",
      timestamp: NOW,
    });
    assert.deepEqual(event.device_info, { os: "iOS", os_version: "17.4", model: "iPhone15,2" });
  }
  const rest = events.map(({ event_id, tenant_id, org_id, app_id, device_id, timestamp, device_info, ...r }) => r);
  assert.deepEqual(rest, [
    {
      event_type: "update_started",
      release_info: { current_version: "1.9.0", target_version: "2.0.0", channel: "beta", rollout_percentage: 25 },
    },
    {
      event_type: "update_downloading",
      release_info: V,
      network_info: { connection_type: "wifi", bandwidth_mbps: 50 },
      progress: 40,
    },
    {
      event_type: "update_downloaded",
      release_info: V,
      performance_metrics: { download_duration_seconds: 3.5, package_size_bytes: 1_048_576 },
    },
    { event_type: "update_installing", release_info: V },
    {
      event_type: "update_installed",
      release_info: { current_version: "1.9.0", target_version: "2.0.0" },
      performance_metrics: { install_duration_seconds: 1.25 },
    },
    {
      event_type: "update_failed",
      release_info: V,
      error_info: { error_code: "E_DISK", error_message: "no space", failure_stage: "install" },
    },
    { event_type: "update_cancelled", release_info: V, cancellation_reason: "user" },
    { event_type: "rollback_started", release_info: { current_version: "2.0.0" }, rollback_reason: "crash loop" },
    { event_type: "rollback_completed", release_info: { current_version: "1.9.0" }, rollback_duration_seconds: 2 },
    {
      event_type: "app_launched",
      release_info: { current_version: "1.9.0" },
      performance_metrics: { launch_duration_seconds: 0.8 },
    },
    { event_type: "update_checked", release_info: { current_version: "1.9.0" }, metadata: { result: "not_available" } },
    {
      event_type: "app_crashed",
      release_info: { current_version: "1.9.0" },
      error_info: { error_code: "NATIVE_CRASH", error_message: "SIGSEGV" },
    },
  ]);
});

test("each event gets its id once, at creation; the helper resolves with the event as queued", async () => {
  const { client, server } = rig();
  const event = await client.updateInstalled({ ...V, metadata: { build: "42" } });
  assert.match(event.event_id, /^r\d+-1$/);
  event.metadata!["build"] = "changed afterwards";
  await client.flush();
  assert.equal(server.requests[0]!.events[0]!.event_id, event.event_id);
  assert.deepEqual(server.requests[0]!.events[0]!.metadata, { build: "42" });
});

test("timestamps: the call's time by default; a Date, epoch ms or a string as given", async () => {
  const { client } = rig({ sessionId: "s-1" });
  assert.equal((await client.updateInstalled(V)).timestamp, NOW);
  assert.equal((await client.updateInstalled({ ...V, timestamp: new Date(0) })).timestamp, "1970-01-01T00:00:00.000Z");
  assert.equal((await client.updateInstalled({ ...V, timestamp: 86_400_000 })).timestamp, "1970-01-02T00:00:00.000Z");
  const given = await client.updateInstalled({ ...V, timestamp: "2026-03-01T13:00:00+01:00", session_id: "s-2" });
  assert.equal(given.timestamp, "2026-03-01T13:00:00+01:00");
  assert.equal(given.session_id, "s-2");
  assert.equal((await client.appLaunched({ current_version: "1" })).session_id, "s-1");
});

test("uuidV4 sets the version and variant bits of 16 random bytes", () => {
  const bytes = Uint8Array.from({ length: 16 }, (_, i) => i * 17);
  const id = uuidV4((target) => {
    target.set(bytes);
    return target;
  })();
  assert.equal(id, "00112233-4455-4677-8899-aabbccddeeff");
});

test("the default id generator draws distinct UUIDv4s from crypto.getRandomValues", async () => {
  const { server, clock } = rig();
  const client = createClient({
    endpoint: "http://127.0.0.1:1",
    tenantId: "t",
    orgId: "o",
    appId: "a",
    deviceId: "d",
    clock,
    fetch: server.fetch,
  });
  const ids = new Set<string>();
  for (let i = 0; i < 500; i++) ids.add((await client.appLaunched({ current_version: "1" })).event_id);
  assert.equal(ids.size, 500);
  for (const id of ids) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  await client.close();
});

test("an event over 64 KiB is refused locally and reported, never queued", async () => {
  const { client, errors } = rig();
  const metadata: Record<string, string> = {};
  for (let i = 0; i < 32; i++) metadata[`k${i}`] = "é".repeat(1024); // 2 bytes each in UTF-8
  const event = await client.updateInstalled({ ...V, metadata });
  assert.equal(client.pending, 0);
  assert.equal(errors.length, 1);
  const error = errors[0]!;
  assert.ok(error.type === "rejected" && error.events[0]!.event.event_id === event.event_id);
  assert.match(error.events[0]!.errors[0]!.message!, /limit is 65536/);
});

test("missing ids and nonsensical numbers in the options are programming errors, thrown at once", () => {
  const good = { endpoint: "http://x", tenantId: "t", orgId: "o", appId: "a", deviceId: "d", fetch: rig().server.fetch };
  assert.throws(() => createClient({ ...good, tenantId: "" }), /`tenantId` is required/);
  assert.throws(() => createClient({ ...good, flushAt: 0 }), /`flushAt` must be a positive number/);
  assert.throws(() => createClient({ ...good, maxQueueEvents: Number.NaN }), /`maxQueueEvents`/);
});
