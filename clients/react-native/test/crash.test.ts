/** Fatal JS errors: the chained ErrorUtils handler, the crash stored before the app's own handler, no duplicates. */

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  crashMessage,
  JS_FATAL,
  MAX_MESSAGE,
  MemoryStorage,
  type StorageAdapter,
} from "@ota-stream/react-native";

import { crashes, died, FakeAppState, FakeErrorUtils, rig, settle } from "./support";

const MARKER = "@ota-stream/queue/session";

test("a fatal error is stored before the app's handler runs; the process dies unsent; the next launch sends it", async () => {
  const { storage, server, restart } = rig();
  let atDeath: MemoryStorage | null = null;
  // The app's own handler: in a release build React Native's ends the process here. What the disk holds now is
  // all the next launch will have.
  const errorUtils = new FakeErrorUtils(() => {
    atDeath = died(storage);
  });
  const client = restart({ errorUtils });
  const first = await client.trackLaunch({ current_version: "1.4.0" });
  const error = new TypeError("undefined is not an object (evaluating 'cart.items')");
  errorUtils.fatal(error);
  assert.equal(atDeath, null, "the app's handler waits for the write");
  await settle();
  assert.deepEqual(errorUtils.calls, [{ error, isFatal: true }], "called once, with the same arguments");
  assert.equal(server.requests.length, 0, "nothing was sent before the process died");
  const stored = JSON.parse(atDeath!.items.get(MARKER)!);
  assert.equal(stored.session_id, first.session_id);
  assert.equal(stored.crash.error_info.error_code, JS_FATAL);

  const next = restart({ storage: atDeath!, errorUtils: new FakeErrorUtils() });
  const second = await next.trackLaunch({ current_version: "1.4.1" });
  const crash = second.previous_crash!;
  assert.deepEqual(crash, stored.crash, "the stored event, with its id: never an ABNORMAL_EXIT besides");
  assert.equal(crash.session_id, first.session_id);
  assert.deepEqual(crash.release_info, { current_version: "1.4.0" });
  assert.deepEqual(crash.error_info, {
    error_code: "JS_FATAL",
    error_message: "TypeError: undefined is not an object (evaluating 'cart.items')",
  });
  assert.equal(crash.timestamp, first.launched.timestamp, "the time of the crash");
  await next.flush();
  const sent = server.events();
  assert.deepEqual(
    sent.map((event) => [event.event_type, event.session_id]),
    [
      ["app_launched", first.session_id],
      ["app_crashed", first.session_id],
      ["app_launched", second.session_id],
    ],
  );
  const third = await restart({ storage: died(atDeath!) }).trackLaunch({ current_version: "1.4.1" });
  assert.equal(third.previous_crash?.error_info?.error_code, "ABNORMAL_EXIT", "the second launch died too");
  assert.equal(third.previous_crash?.session_id, second.session_id);
});

test("a fatal error in an app that lives on (a debug build's red box) is sent in this run, once", async () => {
  const { storage, server, restart } = rig();
  const errorUtils = new FakeErrorUtils();
  const appState = new FakeAppState();
  const client = restart({ errorUtils, appState });
  const launch = await client.trackLaunch({ current_version: "1.4.0" });
  errorUtils.fatal(new Error("first"));
  errorUtils.fatal(new RangeError("second")); // the session died at the first: one crash
  await settle();
  assert.equal(errorUtils.calls.length, 2);
  await client.flush();
  const sent = crashes(server.events());
  assert.equal(sent.length, 1);
  assert.equal(sent[0]!.error_info!.error_message, "Error: first");
  assert.equal(sent[0]!.session_id, launch.session_id);
  const killed = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(killed.previous_crash!.event_id, sent[0]!.event_id, "killed later: the same crash, no ABNORMAL_EXIT");
  appState.emit("background");
  await client.close();
  assert.ok(!storage.items.has(MARKER));
  const clean = await restart({ storage: died(storage) }).trackLaunch({ current_version: "1.4.0" });
  assert.equal(clean.previous_crash, null);
});

test("errors that are not fatal go straight to the app's handler and record nothing", async () => {
  const { storage, restart } = rig();
  const errorUtils = new FakeErrorUtils();
  const client = restart({ errorUtils });
  await client.trackLaunch({ current_version: "1.4.0" });
  const error = new Error("a warning");
  errorUtils.handler!(error, false);
  assert.deepEqual(errorUtils.calls, [{ error, isFatal: false }], "synchronously");
  await client.close();
  assert.equal(JSON.parse(storage.items.get(MARKER)!).crash, undefined);
});

test("a hung storage delays the app's handler by crashTimeoutMs at most; a failing one, not at all", async () => {
  const { clock, restart } = rig();
  const base = new MemoryStorage();
  let hang = false;
  const storage: StorageAdapter = {
    getItem: (key) => base.getItem(key),
    setItem: (key, value) => (hang ? new Promise<void>(() => undefined) : base.setItem(key, value)),
    removeItem: (key) => base.removeItem(key),
  };
  const errorUtils = new FakeErrorUtils();
  const client = restart({ storage, errorUtils, crashTimeoutMs: 500 });
  await client.trackLaunch({ current_version: "1.4.0" });
  hang = true;
  errorUtils.fatal(new Error("boom"));
  await clock.advance(499);
  assert.equal(errorUtils.calls.length, 0);
  await clock.advance(1);
  assert.equal(errorUtils.calls.length, 1);
  await clock.advance(10_000);
  assert.equal(errorUtils.calls.length, 1, "once");

  const failing: StorageAdapter = {
    getItem: async () => null,
    setItem: async () => {
      throw new Error("disk full");
    },
    removeItem: async () => undefined,
  };
  const broken = new FakeErrorUtils();
  const other = rig({ storage: failing, errorUtils: broken });
  await other.client.trackLaunch({ current_version: "1.4.0" });
  broken.fatal(new Error("boom"));
  await settle();
  assert.equal(broken.calls.length, 1, "without waiting for any timer");
  assert.ok(other.errors.some((error) => error.type === "storage"));
});

test("a recorder that throws still hands the error on: the app dies as it would have", async () => {
  const errorUtils = new FakeErrorUtils();
  const { client } = rig({
    errorUtils,
    generateId: (() => {
      let n = 0;
      return () => {
        if (++n > 2) throw new Error("no randomness left"); // the session id and the launch take the first two
        return `id-${n}`;
      };
    })(),
  });
  await client.trackLaunch({ current_version: "1.4.0" });
  const error = new Error("boom");
  errorUtils.fatal(error);
  await settle();
  assert.deepEqual(errorUtils.calls, [{ error, isFatal: true }]);
});

test("global.ErrorUtils is used by default; close() puts the app's handler back; null installs nothing", async () => {
  const errorUtils = new FakeErrorUtils();
  const original = errorUtils.handler;
  const holder = globalThis as { ErrorUtils?: unknown };
  holder.ErrorUtils = errorUtils;
  try {
    const { client } = rig();
    await client.trackLaunch({ current_version: "1.4.0" });
    assert.notEqual(errorUtils.handler, original, "chained in front of the app's");
    await client.close();
    assert.equal(errorUtils.handler, original);
    const { client: without } = rig({ errorUtils: null });
    await without.trackLaunch({ current_version: "1.4.0" });
    assert.equal(errorUtils.handler, original);
  } finally {
    delete holder.ErrorUtils;
  }
});

test("a handler chained after ours keeps working after close(), and ours then only hands errors on", async () => {
  const errorUtils = new FakeErrorUtils();
  const { client, storage } = rig({ errorUtils });
  await client.trackLaunch({ current_version: "1.4.0" });
  const ours = errorUtils.handler!;
  const seen: unknown[] = [];
  errorUtils.setGlobalHandler((error, isFatal) => {
    seen.push(error); // another library's, installed later, which calls the one before it
    ours(error, isFatal);
  });
  await client.close();
  errorUtils.fatal(new Error("after close"));
  await settle();
  assert.equal(seen.length, 1);
  assert.equal(errorUtils.calls.length, 1);
  assert.equal(JSON.parse(storage.items.get(MARKER)!).crash, undefined, "nothing recorded after close");
});

test("the crash message: an Error's name and message, anything else as text, at most 4,096 characters", () => {
  assert.equal(crashMessage(new TypeError("x is undefined")), "TypeError: x is undefined");
  assert.equal(crashMessage("thrown string"), "thrown string");
  assert.equal(crashMessage({ message: "plain object" }), "Error: plain object");
  assert.equal(crashMessage(42), "42");
  const unprintable = { toString: () => { throw new Error("no"); } };
  assert.equal(crashMessage(unprintable), "unprintable error");
  const long = crashMessage(new Error("😀".repeat(5000)));
  assert.equal(Array.from(long).length, MAX_MESSAGE, "code points, as the server counts them");
});
