/**
 * Real processes that really die: each launch of the app is a Node process (test/integration/app-run.mjs) over one
 * file storage, sending to a local HTTP server. A fatal JS error, a native crash (SIGKILL), a clean exit and
 * trackExit are each followed by the next launch, which must report exactly what happened to the one before.
 */

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { ABNORMAL_EXIT_MESSAGE, type LaunchResult, type OtaEvent } from "@ota-stream/react-native";

const APP_RUN = join(__dirname, "..", "test", "integration", "app-run.mjs");

interface Run extends LaunchResult {
  device: string;
  version: string;
  outcome: string;
}

let server: Server;
let url: string;
const received: OtaEvent[][] = [];

before(async () => {
  server = createServer((request, response) => {
    let body = "";
    request.on("data", (chunk) => (body += chunk));
    request.on("end", () => {
      const events = JSON.parse(body) as OtaEvent[];
      received.push(events);
      response.writeHead(202, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ accepted: events.length, rejected: [] }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** One launch; resolves with how the process ended and the line it wrote. */
function launch(dir: string, outcome: string, version: string, extra: string[] = []) {
  const args = [APP_RUN, "--url", url, "--dir", dir, "--device", "d1", "--version", version, "--outcome", outcome];
  const child = spawn(process.execPath, [...args, ...extra], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => (stderr += chunk));
  return new Promise<{ signal: NodeJS.Signals | null; code: number | null; run: Run; stderr: string }>((resolve) => {
    child.on("exit", (code, signal) => {
      const lines = readFileSync(join(dir, "runs.jsonl"), "utf8").trim().split("\n");
      resolve({ signal, code, run: JSON.parse(lines[lines.length - 1]!) as Run, stderr });
    });
  });
}

function sent(): OtaEvent[] {
  return received.flat();
}

test("each way a launch ends is reported by the next launch, in a process of its own, once", async () => {
  const dir = mkdtempSync(join(tmpdir(), "ota-sdk-process-"));
  try {
    const fatal = await launch(dir, "fatal", "1.0.0", ["--duration", "1.5", "--message", "cart is undefined"]);
    assert.equal(fatal.signal, "SIGKILL", `the app's own handler ended the process: ${fatal.stderr}`);
    assert.equal(fatal.run.previous_crash, null);
    assert.deepEqual(
      sent().map((e) => [e.event_type, e.session_id]),
      [["app_launched", fatal.run.session_id]],
      "the crash was not sent before the process died",
    );
    assert.deepEqual(fatal.run.launched.performance_metrics, { launch_duration_seconds: 1.5 });

    const native = await launch(dir, "native", "1.0.0");
    assert.equal(native.signal, "SIGKILL");
    const jsFatal = native.run.previous_crash!;
    assert.equal(jsFatal.session_id, fatal.run.session_id);
    assert.deepEqual(jsFatal.release_info, { current_version: "1.0.0" });
    assert.deepEqual(jsFatal.error_info, { error_code: "JS_FATAL", error_message: "TypeError: cart is undefined" });

    const clean = await launch(dir, "clean", "1.1.0");
    const abnormal = clean.run.previous_crash!;
    assert.equal(abnormal.session_id, native.run.session_id);
    assert.deepEqual(abnormal.error_info, { error_code: "ABNORMAL_EXIT", error_message: ABNORMAL_EXIT_MESSAGE });
    assert.deepEqual(abnormal.release_info, { current_version: "1.0.0" });

    const exit = await launch(dir, "exit", "1.1.0");
    assert.equal(exit.run.previous_crash, null, "killed in the background after a clean exit: no crash");
    const last = await launch(dir, "clean", "1.1.0");
    assert.equal(last.run.previous_crash, null, "trackExit: no crash");
    assert.equal(last.stderr, "", "no storage error, nothing rejected");

    const runs = [fatal, native, clean, exit, last].map((r) => r.run);
    assert.equal(new Set(runs.map((r) => r.session_id)).size, 5, "a session per launch");
    const events = sent();
    assert.equal(new Set(events.map((e) => e.event_id)).size, events.length, "each event sent once");
    assert.deepEqual(
      events.map((e) => [e.event_type, e.session_id, e.error_info?.error_code ?? null]),
      [
        ["app_launched", runs[0]!.session_id, null],
        ["app_crashed", runs[0]!.session_id, "JS_FATAL"],
        ["app_launched", runs[1]!.session_id, null],
        ["app_crashed", runs[1]!.session_id, "ABNORMAL_EXIT"],
        ["app_launched", runs[2]!.session_id, null],
        ["app_launched", runs[3]!.session_id, null],
        ["app_launched", runs[4]!.session_id, null],
      ],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
