// A fleet of devices sending OTA events through the BUILT package, for tests/test_client_sdk.py.
//
//   node driver.mjs --url URL --dir DIR --tenant T [--events 3000] [--devices 40] [--seed 7]
//   node driver.mjs --url URL --dir DIR --tenant T --resume
//
// The first run plans every event (ids included) and writes them to DIR/plan.jsonl before tracking any, so the
// test knows what was meant to arrive even if this process is killed. Events are tracked in plan order, one
// client per device over one file storage (DIR/storage), with DIR/progress naming the last event whose track()
// resolved. --resume is the app's next start: new clients over the same storage re-send what is queued, the
// remaining events are tracked (from progress + 1: one tracked but not yet recorded goes again, with its id),
// and it runs until every queue is empty. It prints its clients' summed stats as JSON.

import { appendFileSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { FileStorage } from "./file-storage.mjs";

const require = createRequire(import.meta.url);
const sdk = require("@ota-stream/react-native"); // the package's own name: its "exports" and dist/

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    dir: { type: "string" },
    tenant: { type: "string" },
    events: { type: "string", default: "3000" },
    devices: { type: "string", default: "40" },
    seed: { type: "string", default: "7" },
    resume: { type: "boolean", default: false },
    "deadline-seconds": { type: "string", default: "240" },
  },
});
const paths = {
  plan: join(opts.dir, "plan.jsonl"),
  progress: join(opts.dir, "progress"),
  errors: join(opts.dir, "errors.jsonl"),
  storage: join(opts.dir, "storage"),
};

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function uuid4(random) {
  const hex = Array.from({ length: 32 }, () => Math.floor(random() * 16).toString(16));
  hex[12] = "4";
  hex[16] = "89ab"[Math.floor(random() * 4)];
  const h = hex.join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function device(n) {
  return {
    device_id: `sdk-device-${String(n).padStart(3, "0")}`,
    app_id: n % 2 === 0 ? "shop" : "chat",
    os: n % 3 === 0 ? "iOS" : "Android",
    os_version: n % 3 === 0 ? "17.4" : "14",
    model: `M${n % 4}`,
  };
}

/** Device lifecycles (started → downloading → downloaded → installing → outcome, some rollbacks), interleaved. */
function plan(total, devices, seed, tenant) {
  const random = mulberry32(seed);
  const now = Date.now();
  const perDevice = Array.from({ length: devices }, (_, n) => {
    const d = device(n);
    const base = { tenant_id: tenant, org_id: "mobile", app_id: d.app_id, device_id: d.device_id };
    const info = { os: d.os, os_version: d.os_version, model: d.model };
    return { base, info, current: 0, time: now - 20 * 3600_000 + Math.floor(random() * 3600_000), events: [] };
  });
  let count = 0;
  const add = (dev, event_type, fields, invalid = false) => {
    dev.time += 1000 + Math.floor(random() * 60_000);
    const event = { ...dev.base, ...dev.info, event_type, timestamp: new Date(dev.time).toISOString() };
    dev.events.push({ event: { ...event, ...fields, event_id: uuid4(random) }, invalid });
    count += 1;
  };
  while (count < total) {
    const dev = perDevice[Math.floor(random() * devices)];
    const current = `1.${dev.current}.0`;
    const target = `1.${dev.current + 1}.0`;
    const v = { current_version: current, target_version: target };
    add(dev, "update_started", v);
    const invalid = random() < 0.02; // progress over 100: the server rejects this event alone
    add(dev, "update_downloading", { ...v, progress: invalid ? 150 : 50 }, invalid);
    add(dev, "update_downloaded", {
      ...v,
      download_duration_seconds: Math.round(random() * 30_000) / 1000,
      package_size_bytes: 1_000_000 + Math.floor(random() * 9_000_000),
      download_speed_mbps: Math.round(random() * 80_000) / 1000,
    });
    add(dev, "update_installing", v);
    const roll = random();
    if (roll < 0.7) {
      add(dev, "update_installed", { ...v, install_duration_seconds: Math.round(random() * 120_000) / 1000 });
      dev.current += 1;
      if (random() < 0.2) {
        add(dev, "rollback_started", { current_version: target, rollback_reason: "crash loop" });
        add(dev, "rollback_completed", { current_version: current, rollback_duration_seconds: 2 });
        dev.current -= 1;
      }
    } else if (roll < 0.9) {
      const [error_code, failure_stage] = [["E_NETWORK", "download"], ["E_DISK_FULL", "install"]][roll < 0.8 ? 0 : 1];
      add(dev, "update_failed", { ...v, error_code, error_message: "failed", failure_stage });
    } else {
      add(dev, "update_cancelled", { ...v, cancellation_reason: "user" });
    }
  }
  // Interleave devices at random, each device's events in order.
  const cursors = perDevice.map(() => 0);
  const out = [];
  while (out.length < count) {
    const n = Math.floor(random() * devices);
    if (cursors[n] < perDevice[n].events.length) out.push(perDevice[n].events[cursors[n]++]);
  }
  return out;
}

const DEVICE_FIELDS = ["tenant_id", "org_id", "app_id", "device_id", "os", "os_version", "model", "event_type", "event_id"];

const HELPERS = {
  update_started: (c, f) => c.updateStarted(f),
  update_downloading: (c, f) => c.updateDownloading(f),
  update_downloaded: (c, f) => c.updateDownloaded(f),
  update_installing: (c, f) => c.updateInstalling(f),
  update_installed: (c, f) => c.updateInstalled(f),
  update_failed: (c, f) => c.updateFailed(f),
  update_cancelled: (c, f) => c.updateCancelled(f),
  rollback_started: (c, f) => c.rollbackStarted(f),
  rollback_completed: (c, f) => c.rollbackCompleted(f),
};

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  if (!opts.resume) {
    mkdirSync(opts.dir, { recursive: true });
    const planned = plan(Number(opts.events), Number(opts.devices), Number(opts.seed), opts.tenant);
    writeFileSync(paths.plan, planned.map((entry) => JSON.stringify(entry)).join("\n") + "\n");
  }
  const planned = readFileSync(paths.plan, "utf8").trim().split("\n").map((line) => JSON.parse(line));
  const start = existsSync(paths.progress) ? Number(readFileSync(paths.progress, "utf8")) + 1 : 0;
  const storage = new FileStorage(paths.storage);
  let nextId = null;
  const clients = new Map();
  for (const { event } of planned) {
    if (clients.has(event.device_id)) continue;
    const client = sdk.createClient({
      endpoint: opts.url,
      ingestKey: "ik_sdk_integration_test",
      tenantId: event.tenant_id,
      orgId: event.org_id,
      appId: event.app_id,
      deviceId: event.device_id,
      deviceInfo: { os: event.os, os_version: event.os_version, model: event.model },
      storage,
      storageKey: `@ota-stream/${event.device_id}`,
      flushAt: 25,
      flushIntervalMs: 300,
      maxBatchEvents: 40,
      requestTimeoutMs: 15_000,
      backoff: { baseMs: 50, maxMs: 1000, maxRetryAfterMs: 3000 },
      generateId: () => nextId, // the planned id: set just before each track() call
      onError: (error) => {
        const ids = (error.events ?? []).map((entry) => (entry.event ?? entry).event_id);
        appendFileSync(paths.errors, JSON.stringify({ type: error.type, status: error.status, ids }) + "\n");
      },
    });
    clients.set(event.device_id, client);
  }
  for (let i = start; i < planned.length; i++) {
    const { event } = planned[i];
    const fields = Object.fromEntries(Object.entries(event).filter(([key]) => !DEVICE_FIELDS.includes(key)));
    nextId = event.event_id;
    const queued = await HELPERS[event.event_type](clients.get(event.device_id), fields);
    if (queued.event_id !== event.event_id) throw new Error(`id ${queued.event_id} != planned ${event.event_id}`);
    writeFileSync(`${paths.progress}.tmp`, String(i));
    renameSync(`${paths.progress}.tmp`, paths.progress); // a kill leaves the old or the new number, never half
  }
  const deadline = Date.now() + Number(opts["deadline-seconds"]) * 1000;
  const all = [...clients.values()];
  for (;;) {
    const results = await Promise.all(all.map((client) => client.flush()));
    const pending = results.reduce((sum, result) => sum + result.pending, 0);
    if (pending === 0) break;
    if (Date.now() > deadline) throw new Error(`${pending} events still queued at the deadline`);
    const waits = results.filter((result) => result.retryInMs !== undefined).map((result) => result.retryInMs);
    await sleep(waits.length > 0 ? Math.max(10, Math.min(1000, ...waits)) : 50);
  }
  await Promise.all(all.map((client) => client.close()));
  const stats = {};
  for (const client of all) for (const [key, value] of Object.entries(client.stats())) stats[key] = (stats[key] ?? 0) + value;
  process.stdout.write(JSON.stringify({ planned: planned.length, tracked_from: start, stats }) + "\n");
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
