/** The queue's bounds, restarts, a crash between send and acknowledgement, and storage failures. */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  createClient,
  MemoryStorage,
  type ClientError,
  type FetchLike,
  type StorageAdapter,
} from "@ota-stream/react-native";

import { FakeClock, FakeServer, rig, settle, V } from "./support";

test("a full queue drops its oldest events and reports them; the newest are kept and stored", async () => {
  const { client, server, errors, restart } = rig({ maxQueueEvents: 5 });
  const sent = [];
  for (let i = 0; i < 8; i++) sent.push(await client.updateStarted(V));
  assert.equal(client.pending, 5);
  assert.deepEqual(errors, [
    { type: "dropped", reason: "queue_full", events: [sent[0]] },
    { type: "dropped", reason: "queue_full", events: [sent[1]] },
    { type: "dropped", reason: "queue_full", events: [sent[2]] },
  ]);
  assert.equal(client.stats().dropped, 3);
  await client.close();
  const again = restart();
  await again.ready;
  assert.equal(again.pending, 5);
  await again.flush();
  assert.deepEqual(server.ids().flat(), sent.slice(3).map((event) => event.event_id));
});

test("the queue is bounded in bytes too", async () => {
  const { client, errors } = rig({ maxQueueBytes: 5000 });
  for (let i = 0; i < 10; i++) await client.updateStarted({ ...V, release_notes: "n".repeat(900) });
  assert.ok(client.pending < 10 && client.pending >= 4, `${client.pending}`);
  const dropped = errors.flatMap((error) => (error.type === "dropped" ? error.events : []));
  assert.equal(dropped.length + client.pending, 10);
});

test("events in flight are never the ones dropped to make room", async () => {
  const { client, server, clock, errors } = rig({ maxQueueEvents: 3, maxBatchEvents: 2, requestTimeoutMs: 1000 });
  const [e1, e2, e3] = [await client.updateStarted(V), await client.updateStarted(V), await client.updateStarted(V)];
  server.replies.push("hang");
  void client.flush();
  await settle();
  const e4 = await client.updateStarted(V);
  assert.deepEqual(errors, [{ type: "dropped", reason: "queue_full", events: [e3] }]);
  await clock.advance(2000);
  assert.deepEqual(server.ids(), [
    [e1!.event_id, e2!.event_id],
    [e1!.event_id, e2!.event_id],
    [e4.event_id],
  ]);
});

test("events survive a restart before they were sent, with their ids and order", async () => {
  const { client, server, restart } = rig();
  const sent = [await client.updateStarted(V), await client.updateDownloaded(V), await client.updateInstalled(V)];
  await client.close();
  assert.equal(server.requests.length, 0);
  const again = restart();
  await again.ready;
  await again.flush();
  assert.deepEqual(server.requests[0]!.events, sent);
});

test("a crash while the request is in flight: the next run re-sends the same ids", async () => {
  const { client, server, restart } = rig();
  const sent = [await client.updateStarted(V), await client.updateInstalled(V)];
  server.replies.push("hang"); // the server got the batch; the app dies before any answer
  void client.flush();
  await settle();
  assert.equal(server.requests.length, 1);
  const again = restart(); // loads the queue and flushes by itself
  await again.ready;
  await settle();
  assert.deepEqual(server.ids(), [sent.map((e) => e.event_id), sent.map((e) => e.event_id)]);
  assert.equal(again.pending, 0);
});

test("a crash after the server accepted but before the acknowledgement was stored: same ids again", async () => {
  const clock = new FakeClock();
  const server = new FakeServer(clock);
  const storage = new MemoryStorage();
  let atCrash = new Map<string, string>();
  const recording: FetchLike = async (url, init) => {
    const answer = await server.fetch(url, init); // accepted by the server...
    atCrash = new Map(storage.items); // ...and this is what the disk holds if the app dies now
    return answer;
  };
  const client = createClient({ ...baseOptions(), storage, clock, fetch: recording });
  const sent = [await client.updateStarted(V), await client.updateInstalled(V)];
  await client.flush();
  assert.equal(client.pending, 0);
  const revived = new MemoryStorage();
  for (const [key, value] of atCrash) revived.items.set(key, value);
  const again = createClient({ ...baseOptions(), storage: revived, clock, fetch: server.fetch });
  await again.ready;
  await settle();
  const ids = sent.map((e) => e.event_id);
  assert.deepEqual(server.ids(), [ids, ids]);
  assert.equal(again.pending, 0);
});

test("an acknowledged queue leaves nothing in storage", async () => {
  const { client, storage } = rig();
  for (let i = 0; i < 120; i++) await client.updateStarted(V);
  const pages = [...storage.items.keys()].filter((key) => key.includes("/page/"));
  assert.equal(pages.length, 3);
  await client.flush();
  assert.deepEqual([...storage.items.entries()], [["@ota-stream/queue/meta", '{"v":1,"pages":[],"next":3}']]);
});

test("a failing storage is reported; events stay queued in memory, are sent, and stored once it recovers", async () => {
  const storage = new MemoryStorage();
  let failing = true;
  const flaky: StorageAdapter = {
    getItem: (key) => storage.getItem(key),
    setItem: async (key, value) => {
      if (failing) throw new Error("disk full");
      await storage.setItem(key, value);
    },
    removeItem: (key) => storage.removeItem(key),
  };
  const { server, clock } = rig();
  const errors: ClientError[] = [];
  const client = createClient({ ...baseOptions(), storage: flaky, clock, fetch: server.fetch, onError: (e) => errors.push(e) });
  const first = await client.updateStarted(V);
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.type, "storage");
  assert.equal(storage.items.size, 0);
  failing = false;
  const second = await client.updateInstalled(V);
  assert.equal(JSON.parse(storage.items.get("@ota-stream/queue/page/0")!).length, 2);
  await client.flush();
  assert.deepEqual(server.ids(), [[first.event_id, second.event_id]]);
});

test("an unreadable stored queue is reported and the client starts empty", async () => {
  const storage = new MemoryStorage();
  storage.items.set("@ota-stream/queue/meta", "{not json");
  const { server, clock } = rig();
  const errors: ClientError[] = [];
  const client = createClient({ ...baseOptions(), storage, clock, fetch: server.fetch, onError: (e) => errors.push(e) });
  await client.ready;
  assert.equal(errors[0]!.type, "storage");
  await client.updateInstalled(V);
  assert.deepEqual(await client.flush(), { delivered: 1, pending: 0 });
});

test("events tracked before the stored queue is loaded go after it", async () => {
  const { client, server, restart } = rig();
  const old = await client.updateStarted(V);
  await client.close();
  const again = restart();
  const fresh = again.updateInstalled(V); // before `ready`
  await fresh;
  await again.flush();
  assert.deepEqual(server.ids().flat(), [old.event_id, (await fresh).event_id]);
});

function baseOptions() {
  return {
    endpoint: "https://ota.example.test",
    tenantId: "acme",
    orgId: "mobile",
    appId: "shop",
    deviceId: "device-1",
    random: () => 0.5,
    flushAt: 1000,
  };
}
