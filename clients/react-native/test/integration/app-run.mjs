// One launch of an app, as a process of its own, through the BUILT package: for test/process.test.ts (node --test)
// and tests/test_client_sdk.py (a real worker).
//
//   node app-run.mjs --url URL --dir DIR --tenant T --app A --device D --version V [--duration S]
//                    --outcome clean|exit|fatal|native [--message M]
//
// React Native is played as in a release build: `global.ErrorUtils` holds a handler that ends the process (SIGKILL)
// on a fatal error, and an AppState-like emitter reports the app's state. The run calls trackLaunch, delivers
// everything queued (what earlier runs left, this launch), appends one JSON line to DIR/runs.jsonl (the session,
// the launch and the crash reported for the previous run, as the SDK returned them), then ends as --outcome says:
//   clean   the app goes to the background, then the system kills it;
//   exit    the app calls trackExit(), then ends;
//   fatal   an uncaught TypeError(--message) reaches the global handler, whose React Native default kills the app;
//   native  the process is killed at once: a native crash or an out-of-memory kill, no JS runs.
// Nothing is sent after the launch's delivery: a crash reaches the server only through the next run.

import { appendFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { parseArgs } from "node:util";

import { FileStorage } from "./file-storage.mjs";

const require = createRequire(import.meta.url);
const sdk = require("@ota-stream/react-native");

const { values: opts } = parseArgs({
  options: {
    url: { type: "string" },
    dir: { type: "string" },
    tenant: { type: "string", default: "acme" },
    org: { type: "string", default: "mobile" },
    app: { type: "string", default: "shop" },
    device: { type: "string" },
    version: { type: "string" },
    duration: { type: "string" },
    outcome: { type: "string" },
    message: { type: "string", default: "undefined is not an object" },
    key: { type: "string" },
  },
});
if (!["clean", "exit", "fatal", "native"].includes(opts.outcome)) throw new Error(`unknown --outcome ${opts.outcome}`);

const die = () => process.kill(process.pid, "SIGKILL");

/** React Native's ErrorUtils with its release-build default handler: a fatal error ends the app. */
let handler = (error, isFatal) => {
  if (isFatal) die();
  else process.stderr.write(`non-fatal: ${error}\n`);
};
globalThis.ErrorUtils = { getGlobalHandler: () => handler, setGlobalHandler: (next) => (handler = next) };

const listeners = new Set();
const appState = {
  addEventListener: (_type, listener) => {
    listeners.add(listener);
    return { remove: () => listeners.delete(listener) };
  },
};

const client = sdk.createClient({
  endpoint: opts.url,
  ingestKey: opts.key,
  tenantId: opts.tenant,
  orgId: opts.org,
  appId: opts.app,
  deviceId: opts.device,
  storage: new FileStorage(join(opts.dir, "storage")),
  storageKey: `@ota-stream/${opts.device}`,
  appState,
  flushAt: 1000,
  flushIntervalMs: 3_600_000,
  backoff: { baseMs: 50, maxMs: 500 },
  onError: (error) => process.stderr.write(`onError ${error.type}: ${JSON.stringify(error)}\n`),
});

async function deliver() {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const result = await client.flush();
    if (result.pending === 0) return;
    if (Date.now() > deadline) throw new Error(`${result.pending} events still queued at the deadline`);
    await new Promise((resolve) => setTimeout(resolve, Math.max(10, Math.min(500, result.retryInMs ?? 50))));
  }
}

async function main() {
  const fields = { current_version: opts.version };
  if (opts.duration !== undefined) fields.launch_duration_seconds = Number(opts.duration);
  const launch = await client.trackLaunch(fields);
  await deliver();
  const line = { device: opts.device, version: opts.version, outcome: opts.outcome, ...launch, stats: client.stats() };
  appendFileSync(join(opts.dir, "runs.jsonl"), JSON.stringify(line) + "\n");
  switch (opts.outcome) {
    case "clean":
      for (const listener of listeners) listener("background");
      await client.close(); // the marker's removal is done
      return die();
    case "exit":
      await client.trackExit();
      await client.close();
      return die();
    case "fatal":
      // What React Native does with an uncaught error: ErrorUtils.reportFatalError calls the global handler.
      globalThis.ErrorUtils.getGlobalHandler()(new TypeError(opts.message), true);
      setTimeout(() => {
        process.stderr.write("the app's handler was never called\n");
        process.exit(3);
      }, 30_000);
      return undefined;
    case "native":
      return die();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack ?? error}\n`);
  process.exit(1);
});
