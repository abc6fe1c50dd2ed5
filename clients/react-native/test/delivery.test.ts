/** Ordering, flush triggers and batch limits. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { expectRequestAfter, rig, V } from "./support";

test("events go out in the order they were created, across batches", async () => {
  const { client, server } = rig({ maxBatchEvents: 3 });
  const tracked = [];
  for (let i = 0; i < 7; i++) tracked.push(await client.updateDownloading({ ...V, progress: i * 10 }));
  const result = await client.flush();
  assert.deepEqual(result, { delivered: 7, pending: 0 });
  assert.deepEqual(
    server.ids().map((ids) => ids.length),
    [3, 3, 1],
  );
  assert.deepEqual(server.ids().flat(), tracked.map((event) => event.event_id));
  assert.deepEqual(
    server.requests.flatMap((request) => request.events.map((event) => event.progress)),
    [0, 10, 20, 30, 40, 50, 60],
  );
});

test("a flush starts by itself once flushAt events wait, not before", async () => {
  const { client, server, clock } = rig({ flushAt: 5 });
  for (let i = 0; i < 4; i++) await client.updateStarted(V);
  await clock.advance(0);
  assert.equal(server.requests.length, 0);
  await client.updateStarted(V);
  await clock.advance(0);
  assert.equal(server.requests.length, 1);
  assert.equal(server.requests[0]!.events.length, 5);
  assert.equal(client.pending, 0);
});

test("the interval flushes what waits, and sends nothing when nothing waits", async () => {
  const { client, server, clock } = rig({ flushIntervalMs: 10_000 });
  await clock.advance(10_000);
  assert.equal(server.requests.length, 0);
  await client.updateInstalled(V);
  await expectRequestAfter(clock, server, 10_000);
  await clock.advance(10_000);
  assert.equal(server.requests.length, 1);
});

test("leaving the foreground flushes; attachAppState subscribes and its returned function unsubscribes", async () => {
  const { client, server, clock } = rig();
  const listeners = new Set<(state: string) => void>();
  const appState = {
    addEventListener: (_type: "change", listener: (state: string) => void) => {
      listeners.add(listener);
      return { remove: () => listeners.delete(listener) };
    },
  };
  const detach = client.attachAppState(appState);
  await client.updateInstalled(V);
  for (const listener of listeners) listener("active");
  await clock.advance(0);
  assert.equal(server.requests.length, 0);
  for (const listener of listeners) listener("background");
  await clock.advance(0);
  assert.equal(server.requests.length, 1);
  detach();
  assert.equal(listeners.size, 0);
  await client.updateInstalled(V);
  client.handleAppStateChange("inactive");
  await clock.advance(0);
  assert.equal(server.requests.length, 2);
});

test("a batch holds at most 1,000 events, whatever maxBatchEvents says", async () => {
  const { client, server } = rig({ maxBatchEvents: 5000, maxQueueEvents: 2500 });
  for (let i = 0; i < 2100; i++) void client.updateStarted(V);
  await client.ready;
  await client.updateStarted(V);
  await client.flush();
  assert.deepEqual(
    server.ids().map((ids) => ids.length),
    [1000, 1000, 101],
  );
});

test("a batch body stays within maxBatchBytes; each request is valid JSON of whole events", async () => {
  const { client, server } = rig({ maxBatchBytes: 4000 });
  const notes = "x".repeat(900);
  for (let i = 0; i < 10; i++) await client.updateStarted({ ...V, release_notes: notes });
  await client.flush();
  assert.ok(server.requests.length > 2);
  for (const request of server.requests) assert.ok(Buffer.byteLength(request.body) <= 4000, `${request.body.length}`);
  assert.equal(server.ids().flat().length, 10);
});

test("batches are POSTed as JSON to <endpoint>/events/batch with the ingest key as a bearer token", async () => {
  const { client, server } = rig({ ingestKey: "ik_live_abc" });
  await client.updateInstalled(V);
  await client.flush();
  const [request] = server.requests;
  assert.equal(request!.url, "https://ota.example.test/events/batch");
  assert.equal(request!.headers["Content-Type"], "application/json");
  assert.equal(request!.headers["Authorization"], "Bearer ik_live_abc");
});

test("without an ingest key no Authorization header is sent", async () => {
  const { client, server } = rig();
  await client.updateInstalled(V);
  await client.flush();
  assert.equal(server.requests[0]!.headers["Authorization"], undefined);
});
