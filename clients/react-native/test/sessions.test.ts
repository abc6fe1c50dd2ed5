/** Launches, sessions and clean exits: trackLaunch, the session marker, AppState and trackExit. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { ABNORMAL_EXIT, ABNORMAL_EXIT_MESSAGE, MemoryStorage } from "@ota-stream/react-native";

import { crashes, died, FakeAppState, rig, V } from "./support";

const NOW = "2026-03-01T12:00:00.000Z";

test("trackLaunch queues app_launched: a new session id, the version, the duration; later events carry the id", async () => {
  const { client, server, storage } = rig();
  const launch = await client.trackLaunch({ current_version: "1.4.0", launch_duration_seconds: 1.25 });
  assert.equal(client.sessionId, launch.session_id);
  assert.equal(launch.previous_crash, null);
  const installed = await client.updateInstalled(V);
  await client.flush();
  const [launched, update] = server.requests[0]!.events;
  assert.deepEqual(launched, launch.launched);
  assert.equal(launched!.event_type, "app_launched");
  assert.equal(launched!.session_id, launch.session_id);
  assert.equal(launched!.timestamp, NOW);
  assert.deepEqual(launched!.release_info, { current_version: "1.4.0" });
  assert.deepEqual(launched!.performance_metrics, { launch_duration_seconds: 1.25 });
  assert.equal(update!.event_id, installed.event_id);
  assert.equal(update!.session_id, launch.session_id);
  const marker = JSON.parse(storage.items.get("@ota-stream/queue/session")!);
  assert.deepEqual(marker, { v: 1, session_id: launch.session_id, current_version: "1.4.0", started_at: NOW });
});

test("each launch is a new session: two launches in one process end the first one cleanly", async () => {
  const { client, server, storage, restart } = rig();
  const first = await client.trackLaunch({ current_version: "1.4.0" });
  const second = await client.trackLaunch({ current_version: "1.4.0", session_id: "given" });
  assert.equal(second.session_id, "given");
  assert.notEqual(first.session_id, second.session_id);
  assert.equal(second.previous_crash, null, "a session of this process is no crash");
  await client.close();
  const next = restart({ storage: died(storage) });
  const third = await next.trackLaunch({ current_version: "1.4.0" });
  assert.equal(crashes([third.previous_crash!])[0]!.session_id, "given", "only the last one was still running");
  await next.flush();
  assert.equal(crashes(server.events()).length, 1);
});

test("a launch that ended without a clean exit is reported at the next as ABNORMAL_EXIT of its session", async () => {
  const { client, server, clock, storage, restart } = rig();
  const first = await client.trackLaunch({ current_version: "1.4.0" });
  await client.updateStarted(V);
  const disk = died(storage); // a native crash, or the system killed the app in the foreground
  await client.close(); // nothing of that process runs any more
  await clock.advance(3_600_000);
  const next = restart({ storage: disk });
  const second = await next.trackLaunch({ current_version: "1.5.0" });
  const crash = second.previous_crash!;
  assert.equal(crash.event_type, "app_crashed");
  assert.equal(crash.session_id, first.session_id);
  assert.deepEqual(crash.release_info, { current_version: "1.4.0" });
  assert.deepEqual(crash.error_info, { error_code: ABNORMAL_EXIT, error_message: ABNORMAL_EXIT_MESSAGE });
  assert.deepEqual(crash.metadata, { session_started_at: NOW });
  assert.equal(crash.timestamp, "2026-03-01T13:00:00.000Z", "the time it was found: the next launch");
  await next.flush();
  const sent = server.events();
  assert.deepEqual(
    sent.map((event) => [event.event_type, event.session_id]),
    [
      ["app_launched", first.session_id],
      ["update_started", first.session_id],
      ["app_crashed", first.session_id],
      ["app_launched", second.session_id],
    ],
  );
});

test("going to the background is a clean exit; coming back to the foreground runs the session again", async () => {
  const { storage, restart } = rig();
  const appState = new FakeAppState();
  const client = restart({ appState });
  const first = await client.trackLaunch({ current_version: "1.4.0" });
  appState.emit("inactive"); // iOS on the way to the background, or a system sheet: still running
  await client.flush();
  assert.ok(storage.items.has("@ota-stream/queue/session"));
  appState.emit("background");
  await client.close(); // waits for the marker's removal
  assert.ok(!storage.items.has("@ota-stream/queue/session"));
  const afterBackground = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(afterBackground.previous_crash, null, "killed in the background: no crash");

  const again = restart({ appState });
  const second = await again.trackLaunch({ current_version: "1.4.0" });
  appState.emit("background");
  appState.emit("active");
  await again.close();
  const afterForeground = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(afterForeground.previous_crash?.session_id, second.session_id, "it died in the foreground");
  assert.notEqual(first.session_id, second.session_id);
});

test("trackExit is a clean exit, and flushes what waits", async () => {
  const { client, server, storage, restart } = rig();
  await client.trackLaunch({ current_version: "1.4.0" });
  await client.trackExit();
  assert.ok(!storage.items.has("@ota-stream/queue/session"));
  await client.close();
  assert.equal(server.requests.length, 1);
  const next = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(next.previous_crash, null);
});

test("an abnormal exit is stored before it is queued: if the next launch dies at once, same id again", async () => {
  const { client, server, storage, restart } = rig();
  const first = await client.trackLaunch({ current_version: "1.4.0" });
  const disk = died(storage);
  let atDeath: MemoryStorage | null = null;
  const dying = {
    getItem: (key: string) => disk.getItem(key),
    setItem: async (key: string, value: string) => {
      atDeath ??= key.includes("/page/") ? died(disk) : null; // the process dies as the report is being queued
      await disk.setItem(key, value);
    },
    removeItem: (key: string) => disk.removeItem(key),
  };
  await client.close();
  const second = await restart({ storage: dying }).trackLaunch({ current_version: "1.5.0" });
  const third = restart({ storage: atDeath! });
  const report = (await third.trackLaunch({ current_version: "1.5.0" })).previous_crash!;
  assert.equal(second.previous_crash!.session_id, first.session_id);
  assert.equal(report.event_id, second.previous_crash!.event_id, "the same report, not a second");
  await third.flush();
  const sent = crashes(server.events());
  assert.deepEqual(new Set(sent.map((event) => event.event_id)), new Set([report.event_id]));
});

test("detectAbnormalExit: false reports no abnormal exit", async () => {
  const { client, storage, restart } = rig({ detectAbnormalExit: false });
  await client.trackLaunch({ current_version: "1.4.0" });
  const next = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(next.previous_crash, null);
});

test("a second client over the storage in one runtime (Fast Refresh) sees no crash in the first's session", async () => {
  const { client, storage, restart } = rig();
  const appState = new FakeAppState();
  await client.trackLaunch({ current_version: "1.4.0" });
  client.attachAppState(appState); // never detached: the old client still listens
  const fresh = restart();
  const launch = await fresh.trackLaunch({ current_version: "1.4.0" });
  assert.equal(launch.previous_crash, null);
  appState.emit("background"); // the old client must not touch the new session's marker...
  await client.close();
  const marker = JSON.parse(storage.items.get("@ota-stream/queue/session")!);
  assert.equal(marker.session_id, launch.session_id, "...which is still stored");
});

test("no current_version throws at once; a failing storage is reported, and the launch still queued", async () => {
  const { client } = rig();
  assert.throws(() => client.trackLaunch({} as never), /needs `current_version`/);
  const broken = new MemoryStorage();
  broken.getItem = async () => {
    throw new Error("unreadable");
  };
  const { client: other, errors } = rig({ storage: broken });
  const launch = await other.trackLaunch({ current_version: "1.4.0" });
  assert.equal(launch.previous_crash, null);
  assert.ok(errors.some((error) => error.type === "storage"));
  assert.equal(other.pending, 1);
});
