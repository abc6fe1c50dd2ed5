/** Backoff with full jitter, Retry-After, which statuses are retried, partial rejections, 413 and timeouts. */

import assert from "node:assert/strict";
import { test } from "node:test";

import { DEFAULT_BACKOFF, fullJitter, parseRetryAfter, retryDelay } from "@ota-stream/react-native";

import { expectRequestAfter, rig, V } from "./support";

test("network errors are retried with full-jitter backoff, re-sending the same ids", async () => {
  const { client, server, clock } = rig({ random: () => 0.5 });
  const failure = new TypeError("Network request failed");
  server.replies.push(failure, failure, failure);
  const event = await client.updateInstalled(V);
  const first = await client.flush();
  assert.deepEqual(first, { delivered: 0, pending: 1, retryInMs: 500 });
  // Ceilings 1 s, 2 s, 4 s; random() = 0.5 gives half of each.
  for (const delay of [500, 1000, 2000]) await expectRequestAfter(clock, server, delay);
  const start = server.requests[0]!.at;
  assert.deepEqual(
    server.requests.map((request) => request.at - start),
    [0, 500, 1500, 3500],
  );
  assert.deepEqual(server.ids(), [[event.event_id], [event.event_id], [event.event_id], [event.event_id]]);
  assert.equal(client.pending, 0);
  assert.deepEqual(
    { retries: client.stats().retries, delivered: client.stats().delivered },
    { retries: 3, delivered: 1 },
  );
});

test("full jitter is uniform below min(max, base * 2^attempt)", () => {
  const policy = { ...DEFAULT_BACKOFF, baseMs: 100, maxMs: 1000 };
  const top = () => 0.999999;
  assert.deepEqual(
    [0, 1, 2, 3, 4, 5, 40].map((attempt) => fullJitter(attempt, policy, top)),
    [99, 199, 399, 799, 999, 999, 999],
  );
  assert.deepEqual(
    [0, 3, 40].map((attempt) => fullJitter(attempt, policy, () => 0)),
    [0, 0, 0],
  );
});

test("Retry-After in seconds is waited out exactly when it exceeds the jitter", async () => {
  const { client, server, clock } = rig();
  server.replies.push({ status: 503, headers: { "Retry-After": "7" } });
  await client.updateInstalled(V);
  assert.equal((await client.flush()).retryInMs, 7000);
  await expectRequestAfter(clock, server, 7000);
  assert.equal(client.pending, 0);
});

test("Retry-After as an HTTP date is honoured", async () => {
  const { client, server, clock } = rig();
  const at = new Date(clock.now() + 10_000).toUTCString();
  server.replies.push({ status: 429, headers: { "retry-after": at } });
  await client.updateInstalled(V);
  assert.equal((await client.flush()).retryInMs, 10_000);
  await expectRequestAfter(clock, server, 10_000);
});

test("a flush while backing off sends nothing and says when the next attempt is due", async () => {
  const { client, server, clock } = rig();
  server.replies.push({ status: 503, headers: { "Retry-After": "30" } });
  await client.updateInstalled(V);
  await client.flush();
  await clock.advance(10_000);
  await client.updateInstalled(V);
  client.handleAppStateChange("background");
  assert.deepEqual(await client.flush(), { delivered: 0, pending: 2, retryInMs: 20_000 });
  assert.equal(server.requests.length, 1);
  await clock.advance(20_000);
  assert.deepEqual(server.ids()[1]!.length, 2);
});

test("parseRetryAfter reads delay-seconds and HTTP dates, and ignores anything else", () => {
  const now = Date.parse("2026-03-01T12:00:00Z");
  assert.equal(parseRetryAfter("120", now), 120_000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Sun, 01 Mar 2026 12:01:30 GMT", now), 90_000);
  assert.equal(parseRetryAfter("Sun, 01 Mar 2026 11:00:00 GMT", now), 0);
  for (const bad of [null, undefined, "", "-5", "1.5", "soon"]) assert.equal(parseRetryAfter(bad, now), undefined);
});

test("retryDelay takes the larger of jitter and Retry-After, and caps Retry-After", () => {
  const policy = { baseMs: 1000, maxMs: 60_000, maxRetryAfterMs: 300_000 };
  const half = () => 0.5;
  assert.equal(retryDelay(3, 1000, policy, half), 4000);
  assert.equal(retryDelay(0, 9000, policy, half), 9000);
  assert.equal(retryDelay(0, 86_400_000, policy, half), 300_000);
  assert.equal(retryDelay(0, undefined, policy, half), 500);
});

for (const status of [408, 429, 500, 502, 503, 504]) {
  test(`${status} is retried with the same events`, async () => {
    const { client, server, clock, errors } = rig();
    server.replies.push({ status, body: { error: { code: "x", message: "later" } } });
    const event = await client.updateInstalled(V);
    await client.flush();
    await clock.advance(60_000);
    assert.deepEqual(server.ids(), [[event.event_id], [event.event_id]]);
    assert.equal(client.pending, 0);
    assert.deepEqual(errors, []);
  });
}

for (const status of [400, 401, 403, 404, 415, 422]) {
  test(`${status} drops the batch through onError and is never retried`, async () => {
    const { client, server, clock, errors } = rig();
    const body = { error: { code: "refused", message: "no", details: [] } };
    server.replies.push({ status, body });
    const events = [await client.updateInstalled(V), await client.updateFailed({ ...V, error_code: "E1" })];
    await client.flush();
    await clock.advance(600_000);
    assert.equal(server.requests.length, 1);
    assert.equal(client.pending, 0);
    assert.deepEqual(errors, [{ type: "refused", status, body: JSON.stringify(body), events }]);
    assert.equal(client.stats().refused, 2);
  });
}

test("a batch's rejected events are dropped and reported one by one; the rest count as delivered", async () => {
  const { client, server, clock, errors } = rig();
  const problem = [{ field: "progress", message: "must be at most 100" }];
  server.replies.push({
    status: 202,
    body: {
      accepted: 2,
      rejected: [
        { index: 1, errors: problem },
        { index: 7, errors: [] }, // no such event: ignored
        { index: 1, errors: [] }, // listed twice: once
      ],
    },
  });
  const sent = [
    await client.updateDownloading({ ...V, progress: 10 }),
    await client.updateDownloading({ ...V, progress: 150 }),
    await client.updateDownloaded(V),
  ];
  assert.deepEqual(await client.flush(), { delivered: 2, pending: 0 });
  assert.deepEqual(errors, [{ type: "rejected", events: [{ event: sent[1], errors: problem }] }]);
  await clock.advance(600_000);
  assert.equal(server.requests.length, 1);
  assert.deepEqual(
    { delivered: client.stats().delivered, rejected: client.stats().rejected },
    { delivered: 2, rejected: 1 },
  );
});

test("413 halves the batch until it fits; a single event the server calls too large is dropped", async () => {
  const { client, server, errors } = rig();
  server.replies.push({ status: 413 }, { status: 202 }, { status: 202 });
  const sent = [];
  for (let i = 0; i < 4; i++) sent.push(await client.updateStarted(V));
  await client.flush();
  assert.deepEqual(
    server.ids().map((ids) => ids.length),
    [4, 2, 2],
  );
  assert.deepEqual(server.ids().slice(1).flat(), sent.map((event) => event.event_id));
  server.replies.push({ status: 413, body: "too large" });
  const big = await client.updateStarted(V);
  await client.flush();
  assert.equal(client.pending, 0);
  assert.deepEqual(errors, [
    { type: "rejected", events: [{ event: big, errors: [{ field: "$", message: "413: too large" }] }] },
  ]);
});

test("a request without an answer times out and is retried", async () => {
  const { client, server, clock } = rig({ requestTimeoutMs: 5000 });
  server.replies.push("hang");
  await client.updateInstalled(V);
  const flushed = client.flush();
  await clock.advance(4999);
  assert.equal(server.requests.length, 1);
  await clock.advance(1);
  assert.equal((await flushed).retryInMs, 500);
  await clock.advance(500);
  assert.equal(server.requests.length, 2);
  assert.equal(client.pending, 0);
});

test("an unreadable 2xx body still means delivered", async () => {
  const { client, server, errors } = rig();
  server.replies.push({ status: 200, body: "<html>ok</html>" });
  await client.updateInstalled(V);
  assert.deepEqual(await client.flush(), { delivered: 1, pending: 0 });
  assert.deepEqual(errors, []);
});

test("a throwing onError does not stop delivery", async () => {
  const { client, server } = rig({
    onError: () => {
      throw new Error("app bug");
    },
  });
  server.replies.push({ status: 400 });
  await client.updateInstalled(V);
  await client.flush();
  await client.updateInstalled(V);
  assert.deepEqual(await client.flush(), { delivered: 1, pending: 0 });
});
