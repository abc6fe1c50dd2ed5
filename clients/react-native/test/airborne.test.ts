/** Airborne's onEvent payloads (as its SDKs emit them) mapped to our events. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { createAirborneAdapter, mapAirborneEvent, type AirborneEvent } from "@ota-stream/react-native";

import { rig } from "./support";

const base = { category: "lifecycle", subCategory: "hyperota", level: "info", label: "ota_update" };
const id = "0f9c2d0e-6a55-4f32-9d7e-111111111111";

function one(event: AirborneEvent) {
  const mapped = mapAirborneEvent(event);
  assert.equal(mapped.length, 1, JSON.stringify(mapped));
  return mapped[0]!;
}

test("release_config_fetch is an update check; its details go to metadata", () => {
  const value = { release_config_url: "https://cdn/x.json", status: 200, time_taken: "120", app_update_id: id };
  assert.deepEqual(one({ ...base, key: "release_config_fetch", value }), {
    type: "update_checked",
    fields: {
      metadata: {
        airborne_key: "release_config_fetch",
        airborne_label: "ota_update",
        airborne_app_update_id: id,
        release_config_url: "https://cdn/x.json",
        status: "200",
        time_taken: "120",
      },
    },
  });
});

test("a package download that starts is update_downloading of that version (Android and iOS keys)", () => {
  for (const key of ["package_update_download_started", "important_package_download_started"]) {
    const mapped = one({ ...base, key, value: { package_version: "v6", app_update_id: id } });
    assert.equal(mapped.type, "update_downloading");
    assert.equal(mapped.fields.target_version, "v6");
    assert.equal(mapped.fields.metadata!["airborne_key"], key);
  }
});

test("package_update_result SUCCESS is update_downloaded with its duration in seconds", () => {
  const value = { result: "SUCCESS", package_version: "v6", time_taken: 282, app_update_id: id };
  const mapped = one({ ...base, key: "package_update_result", value });
  assert.equal(mapped.type, "update_downloaded");
  assert.equal(mapped.fields.target_version, "v6");
  assert.equal(mapped.fields.download_duration_seconds, 0.282);
  assert.deepEqual(Object.keys(mapped.fields.metadata!).sort(), ["airborne_app_update_id", "airborne_key", "airborne_label"]);
});

test("package_update_result FAILED is update_failed: stage download, or install when a file write failed", () => {
  const download = one({
    ...base,
    key: "package_update_result",
    value: { result: "FAILED", reason: "Failed to download some important splits", time_taken: 10 },
  });
  assert.equal(download.type, "update_failed");
  assert.equal(download.fields.failure_stage, "download");
  assert.equal(download.fields.error_code, "package_update_failed");
  assert.equal(download.fields.error_message, "Failed to download some important splits");
  assert.equal(download.fields.metadata!["time_taken"], "10");
  const install = one({
    ...base,
    key: "package_update_result",
    value: { result: "FAILED", error: "disk full", file_name: "package.json" },
  });
  assert.equal(install.fields.failure_stage, "install");
  assert.equal(install.fields.error_message, "disk full");
  assert.equal(install.fields.metadata!["file_name"], "package.json");
});

test("no package update available is an update check saying not_available", () => {
  const mapped = one({ ...base, key: "package_update_result", value: { result: "No package update available" } });
  assert.equal(mapped.type, "update_checked");
  assert.equal(mapped.fields.metadata!["result"], "not_available");
  assert.equal(mapped.fields.metadata!["airborne_result"], "No package update available");
});

test("package_install_failed (iOS) is update_failed at the install stage", () => {
  const mapped = one({ ...base, key: "package_install_failed", value: { file_missing: "main.jsbundle" } });
  assert.deepEqual(
    [mapped.type, mapped.fields.error_code, mapped.fields.failure_stage, mapped.fields.metadata!["file_missing"]],
    ["update_failed", "package_install_failed", "install", "main.jsbundle"],
  );
});

test("keys without an equivalent map to nothing", () => {
  for (const key of ["started", "completed", "rc_version_updated", "config_updated", "end", "updated_resources"]) {
    assert.deepEqual(mapAirborneEvent({ ...base, key, value: {} }), []);
  }
});

test("empty strings count as absent; a value sent as a JSON string is read", () => {
  const mapped = one({ ...base, key: "package_update_download_started", value: '{"package_version": ""}' });
  assert.equal(mapped.fields.target_version, undefined);
  const parsed = one({ ...base, key: "package_update_download_started", value: '{"package_version": "v7"}' });
  assert.equal(parsed.fields.target_version, "v7");
});

test("metadata stays within the server's limits: 32 keys, 128-character keys, 1,024-character values", () => {
  const value: Record<string, unknown> = { result: "SUCCESS", package_version: "v6" };
  for (let i = 0; i < 40; i++) value[`${i}${"k".repeat(200)}`] = "v".repeat(5000);
  const metadata = one({ ...base, key: "package_update_result", value }).fields.metadata!;
  assert.equal(Object.keys(metadata).length, 32);
  for (const [key, text] of Object.entries(metadata)) {
    assert.ok(key.length <= 128 && text.length <= 1024);
  }
});

test("a boot is an app launch; a boot of a new version is also update_installed, across restarts", async () => {
  const { client, server, restart } = rig();
  const boot = (version: string) => ({
    ...base,
    label: "ApplicationManager",
    key: "boot",
    value: { release_config_version: "2", package_version: version, resource_versions: [], time_taken: 363 },
  });
  const adapter = createAirborneAdapter(client);
  const first = await adapter.handle(boot("v6"));
  assert.deepEqual(
    first.map((e) => [e.event_type, e.release_info]),
    [["app_launched", { current_version: "v6" }]],
  );
  const same = await adapter.handle(boot("v6"));
  assert.deepEqual(
    same.map((e) => e.event_type),
    ["app_launched"],
  );
  await client.close();
  const again = restart();
  const later = createAirborneAdapter(again);
  const updated = await later.onEvent("info", "ApplicationManager", "boot", boot("v7").value, "lifecycle", "hyperota");
  assert.deepEqual(
    updated.map((e) => [e.event_type, e.release_info]),
    [
      ["update_installed", { current_version: "v6", target_version: "v7" }],
      ["app_launched", { current_version: "v7" }],
    ],
  );
  const ios = await later.launched("v8");
  assert.deepEqual(
    ios.map((e) => [e.event_type, e.release_info]),
    [
      ["update_installed", { current_version: "v7", target_version: "v8" }],
      ["app_launched", { current_version: "v8" }],
    ],
  );
  await again.flush();
  assert.deepEqual(
    server.requests.flatMap((r) => r.events.map((e) => e.event_type)),
    ["app_launched", "app_launched", "update_installed", "app_launched", "update_installed", "app_launched"],
  );
});

test("the adapter queues nothing for an unmapped key, and handles events one at a time", async () => {
  const { client } = rig();
  const adapter = createAirborneAdapter(client);
  const results = await Promise.all([
    adapter.handle({ ...base, key: "end", value: { time_taken: 319 } }),
    adapter.handle({ ...base, key: "boot", value: { package_version: "v1" } }),
    adapter.handle({ ...base, key: "boot", value: { package_version: "v2" } }),
  ]);
  assert.deepEqual(
    results.map((events) => events.map((e) => e.event_type)),
    [[], ["app_launched"], ["update_installed", "app_launched"]],
  );
  assert.equal(client.pending, 3);
});
