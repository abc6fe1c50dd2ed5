/** The client's options and what it reports, with their defaults and checks. */

import type { BackoffPolicy } from "./backoff";
import type { ErrorUtilsLike } from "./crash";
import type { Identity } from "./event";
import type { IdGenerator } from "./ids";
import type { StorageAdapter } from "./storage";
import type { FetchLike, FieldError } from "./transport";
import type { OtaEvent } from "./types";

/** The server's limits for POST /events/batch, and for one event. */
export const SERVER_LIMITS = { batchEvents: 1000, batchBytes: 4 * 1024 * 1024, eventBytes: 64 * 1024 } as const;

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** React Native's AppState, or anything with its `addEventListener("change", …)`. */
export interface AppStateLike {
  addEventListener(type: "change", listener: (state: string) => void): { remove(): void } | void;
  removeEventListener?(type: "change", listener: (state: string) => void): void;
}

/** Events the client let go of, and why; and storage failures. Nothing else is ever dropped. */
export type ClientError =
  /** The server refused these events individually (a batch's `rejected`, or 413 for one event). */
  | { type: "rejected"; events: Array<{ event: OtaEvent; errors: FieldError[] }> }
  /** The server refused the whole batch with a 4xx other than 408, 413 and 429. */
  | { type: "refused"; status: number; body: string; events: OtaEvent[] }
  /** The queue was full: these, the oldest, made room for newer events. */
  | { type: "dropped"; reason: "queue_full"; events: OtaEvent[] }
  /** The storage adapter failed; the events stay in memory and are written again with the next change. */
  | { type: "storage"; error: unknown };

export interface ClientOptions extends Identity {
  /** The server's base URL, e.g. `https://ota.example.com`; batches go to `<endpoint>/events/batch`. */
  endpoint: string;
  /** An ingest key, sent as `Authorization: Bearer <key>`. */
  ingestKey?: string;
  /** Where the queue is kept: AsyncStorage in an app. Default: memory (nothing survives a restart). */
  storage?: StorageAdapter;
  /** The prefix of the storage keys. One client per prefix. Default `@ota-stream/queue`. */
  storageKey?: string;
  /** Send as soon as this many events wait. Default 20. */
  flushAt?: number;
  /** Send whatever waits this often. Default 30 s. */
  flushIntervalMs?: number;
  /** Events per request, at most 1,000 (the server's limit). Default 100. */
  maxBatchEvents?: number;
  /** Bytes per request body, at most 4 MiB (the server's limit). Default 4 MiB. */
  maxBatchBytes?: number;
  /** The queue's bound in events: past it the oldest are dropped and reported. Default 1,000. */
  maxQueueEvents?: number;
  /** The queue's bound in bytes of JSON (AsyncStorage on Android holds 6 MB in all). Default 2 MiB. */
  maxQueueBytes?: number;
  /** A request without an answer after this long is retried. Default 30 s. */
  requestTimeoutMs?: number;
  backoff?: Partial<BackoffPolicy>;
  onError?: (error: ClientError) => void;
  fetch?: FetchLike;
  clock?: Clock;
  /** Uniform in [0, 1), for the backoff's jitter. Default Math.random. */
  random?: () => number;
  /** Event ids, and the session ids of `trackLaunch`. Default: UUIDv4 from crypto.getRandomValues. */
  generateId?: IdGenerator;
  /**
   * Where `trackLaunch` chains its handler for fatal JS errors: React Native's `ErrorUtils`. Default:
   * `global.ErrorUtils`, which React Native sets; null: fatal errors are not recorded.
   */
  errorUtils?: ErrorUtilsLike | null;
  /** React Native's AppState (or alike), subscribed at once as `attachAppState` does. */
  appState?: AppStateLike;
  /** How long a fatal JS error waits for its record to be stored before the app's own handler runs. Default 2 s. */
  crashTimeoutMs?: number;
  /**
   * Report a launch that ended without a clean exit (no background, no `trackExit`) as `app_crashed`
   * `ABNORMAL_EXIT` at the next launch. Default true; in a debug build a reload looks like one.
   */
  detectAbnormalExit?: boolean;
}

export interface FlushResult {
  /** Events the server took during this flush. */
  delivered: number;
  /** Events still queued. */
  pending: number;
  /** Set when the flush stopped to back off: the next attempt is due in this many ms (it is scheduled). */
  retryInMs?: number;
}

export interface ClientStats {
  enqueued: number;
  delivered: number;
  rejected: number;
  refused: number;
  dropped: number;
  requests: number;
  retries: number;
}

export function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`ota-stream: \`${name}\` must be a positive number`);
  return value;
}

export function globalFetch(): FetchLike {
  const fetch = (globalThis as { fetch?: FetchLike }).fetch;
  if (typeof fetch !== "function") {
    throw new Error("ota-stream: no global fetch; pass `fetch` in the client's options");
  }
  return (url, init) => fetch(url, init);
}

/** Timers that do not keep a Node process alive (React Native's have no `unref`). */
export function systemClock(): Clock {
  const timers = globalThis as unknown as {
    setTimeout(fn: () => void, ms: number): unknown;
    clearTimeout(handle: unknown): void;
  };
  return {
    now: () => Date.now(),
    setTimeout: (fn, ms) => {
      const handle = timers.setTimeout(fn, ms);
      (handle as { unref?: () => void } | null)?.unref?.();
      return handle;
    },
    clearTimeout: (handle) => {
      if (handle !== undefined) timers.clearTimeout(handle);
    },
  };
}
