/**
 * The client: queue events durably, send them in batches, retry what the server could not take yet, and drop
 * (through `onError`) only what it will never take. Each event's `event_id` is fixed when it is created and stored
 * with it, so a retry or a restart re-sends the same id and the server counts it once. Sessions and crashes (for the
 * stability figures) are session.ts's.
 */

import { DEFAULT_BACKOFF, retryDelay, type BackoffPolicy } from "./backoff";
import { globalErrorUtils } from "./crash";
import { buildEvent, type Identity } from "./event";
import { LifecycleEvents } from "./events";
import { defaultIdGenerator, type IdGenerator } from "./ids";
import {
  globalFetch,
  positive,
  SERVER_LIMITS,
  systemClock,
  type AppStateLike,
  type ClientError,
  type ClientOptions,
  type ClientStats,
  type Clock,
  type FlushResult,
} from "./options";
import { PersistentQueue } from "./queue";
import { SessionTracker, type LaunchFields, type LaunchResult } from "./session";
import { MemoryStorage, type StorageAdapter } from "./storage";
import { sendBatch, type FieldError, type Outcome, type Transport } from "./transport";
import type { EventFields, EventType, OtaEvent } from "./types";
import { utf8Length } from "./utf8";

const NOTHING: ReadonlySet<string> = new Set();

export class OtaClient extends LifecycleEvents {
  readonly storage: StorageAdapter;
  readonly storageKey: string;
  /** Resolves once the events of earlier runs are loaded. */
  readonly ready: Promise<void>;
  private readonly identity: Identity;
  private readonly queue: PersistentQueue;
  private readonly sessions: SessionTracker;
  private readonly transport: Transport;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly generateId: IdGenerator;
  private readonly backoff: BackoffPolicy;
  private readonly onError: ((error: ClientError) => void) | undefined;
  private readonly flushAt: number;
  private readonly flushIntervalMs: number;
  private readonly maxBatchBytes: number;
  private batchEvents: number;
  private flushing: Promise<FlushResult> | null = null;
  private inflight: ReadonlySet<string> = NOTHING;
  private attempt = 0;
  private retryAt = 0;
  private retryTimer: unknown;
  private intervalTimer: unknown;
  private readonly detachers: Array<() => void> = [];
  private closed = false;
  private readonly counts: ClientStats = {
    enqueued: 0,
    delivered: 0,
    rejected: 0,
    refused: 0,
    dropped: 0,
    requests: 0,
    retries: 0,
  };

  constructor(options: ClientOptions) {
    super();
    for (const name of ["endpoint", "tenantId", "orgId", "appId", "deviceId"] as const) {
      if (typeof options[name] !== "string" || options[name].length === 0) {
        throw new TypeError(`ota-stream: the option \`${name}\` is required`);
      }
    }
    const fetch = options.fetch ?? globalFetch();
    this.identity = pick(options);
    this.clock = options.clock ?? systemClock();
    this.random = options.random ?? Math.random;
    this.generateId = options.generateId ?? defaultIdGenerator();
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.onError = options.onError;
    this.flushAt = positive(options.flushAt, 20, "flushAt");
    this.flushIntervalMs = positive(options.flushIntervalMs, 30_000, "flushIntervalMs");
    this.batchEvents = Math.min(positive(options.maxBatchEvents, 100, "maxBatchEvents"), SERVER_LIMITS.batchEvents);
    this.maxBatchBytes = Math.min(
      positive(options.maxBatchBytes, SERVER_LIMITS.batchBytes, "maxBatchBytes"),
      SERVER_LIMITS.batchBytes,
    );
    this.storage = options.storage ?? new MemoryStorage();
    this.storageKey = options.storageKey ?? "@ota-stream/queue";
    const limits = {
      maxEvents: positive(options.maxQueueEvents, 1000, "maxQueueEvents"),
      maxBytes: positive(options.maxQueueBytes, 2 * 1024 * 1024, "maxQueueBytes"),
      pageEvents: 50,
      pageBytes: 256 * 1024,
    };
    this.queue = new PersistentQueue(this.storage, this.storageKey, limits, (error) =>
      this.report({ type: "storage", error }),
    );
    this.transport = {
      url: `${options.endpoint.replace(/\/+$/, "")}/events/batch`,
      ingestKey: options.ingestKey,
      fetch,
      timeoutMs: positive(options.requestTimeoutMs, 30_000, "requestTimeoutMs"),
      now: () => this.clock.now(),
      setTimeout: (fn, ms) => this.clock.setTimeout(fn, ms),
      clearTimeout: (handle) => this.clock.clearTimeout(handle),
    };
    this.ready = this.queue.load().then(() => {
      if (this.queue.size > 0) void this.flush();
    });
    this.sessions = new SessionTracker(
      {
        storage: this.storage,
        storageKey: this.storageKey,
        clock: this.clock,
        build: (type, fields) => buildEvent(this.identity, type, fields, this.generateId(), this.clock.now()),
        enqueue: async (event) => {
          await this.ready;
          return this.queue.includes(event.event_id) ? event : this.enqueue(event);
        },
        newId: () => this.generateId(),
        setSession: (sessionId) => {
          this.identity.sessionId = sessionId;
        },
        report: (error) => this.report(error),
      },
      {
        errorUtils: options.errorUtils === undefined ? (globalErrorUtils() ?? null) : options.errorUtils,
        crashTimeoutMs: positive(options.crashTimeoutMs, 2000, "crashTimeoutMs"),
        detectAbnormalExit: options.detectAbnormalExit ?? true,
      },
    );
    if (options.appState) this.attachAppState(options.appState);
    this.armInterval();
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.queue.size;
  }

  /** The current launch's session id (from `trackLaunch`, else the `sessionId` option). */
  get sessionId(): string | undefined {
    return this.identity.sessionId;
  }

  stats(): ClientStats {
    return { ...this.counts };
  }

  track(type: EventType, fields: EventFields = {}): Promise<OtaEvent> {
    return this.enqueue(buildEvent(this.identity, type, fields, this.generateId(), this.clock.now()));
  }

  /** Sends everything queued, batch after batch, unless the client is backing off. One flush runs at a time. */
  flush(): Promise<FlushResult> {
    if (!this.flushing) {
      this.flushing = this.drain().finally(() => {
        this.flushing = null;
      });
    }
    return this.flushing;
  }

  /**
   * Starts a session for this launch (the stability figures): a new `session_id`, carried by every event from now
   * on; an `app_launched` event of `current_version`, with `launch_duration_seconds` if given; a handler for fatal
   * JS errors; and the report of the previous launch if it crashed or ended without a clean exit. Resolves once
   * all of it is stored. Call it once per launch, as early as you can.
   */
  trackLaunch(fields: LaunchFields): Promise<LaunchResult> {
    return this.sessions.launch(fields);
  }

  /** A clean exit, for an app that ends itself: the session ends without a crash, and what waits is flushed. */
  trackExit(): Promise<void> {
    const exited = this.sessions.exit();
    void this.flush();
    return exited;
  }

  /**
   * Wire it to AppState, or use `attachAppState`: leaving the foreground flushes; `background` is a clean exit of
   * the session and `active` resumes it.
   */
  handleAppStateChange(state: string): void {
    if (state === "background") void this.sessions.exit();
    if (state === "active") void this.sessions.resume();
    if (state === "background" || state === "inactive") void this.flush();
  }

  /** Subscribes to an AppState-like emitter; returns the function that unsubscribes. */
  attachAppState(appState: AppStateLike): () => void {
    const listener = (state: string) => this.handleAppStateChange(state);
    const subscription = appState.addEventListener("change", listener);
    const detach = () => {
      if (subscription) subscription.remove();
      else appState.removeEventListener?.("change", listener);
    };
    this.detachers.push(detach);
    return detach;
  }

  /**
   * Stops timers, subscriptions and the crash handler, and waits for the request and writes under way. Queued
   * events stay stored. It is no clean exit: the session's marker stays (`trackExit` first if the app ends well).
   */
  async close(): Promise<void> {
    this.closed = true;
    this.clock.clearTimeout(this.intervalTimer);
    this.clock.clearTimeout(this.retryTimer);
    for (const detach of this.detachers.splice(0)) detach();
    this.sessions.close();
    await this.sessions.settled();
    await this.ready;
    if (this.flushing) await this.flushing;
    await this.queue.persist();
  }

  private async enqueue(event: OtaEvent): Promise<OtaEvent> {
    await this.ready;
    let json: string;
    try {
      json = JSON.stringify(event);
    } catch (error) {
      this.dropRejected([{ event, errors: [{ field: "$", message: `not serializable: ${String(error)}` }] }]);
      return event;
    }
    const bytes = utf8Length(json);
    if (bytes > SERVER_LIMITS.eventBytes) {
      const message = `the event is ${bytes} bytes; the limit is ${SERVER_LIMITS.eventBytes}`;
      this.dropRejected([{ event, errors: [{ field: "$", message }] }]);
      return event;
    }
    const dropped = this.queue.push({ event, bytes }, this.inflight);
    this.counts.enqueued += 1;
    if (dropped.length > 0) {
      this.counts.dropped += dropped.length;
      this.report({ type: "dropped", reason: "queue_full", events: dropped });
    }
    await this.queue.persist();
    if (!this.closed && this.queue.size >= this.flushAt) void this.flush();
    return JSON.parse(json) as OtaEvent;
  }

  private async drain(): Promise<FlushResult> {
    await this.ready;
    let delivered = 0;
    while (!this.closed) {
      const wait = this.retryAt - this.clock.now();
      if (wait > 0) {
        this.scheduleRetry(wait); // a timer that fired a little early must not leave the queue waiting
        return { delivered, pending: this.queue.size, retryInMs: wait };
      }
      const batch = this.nextBatch();
      if (batch.length === 0) break;
      this.inflight = new Set(batch.map((event) => event.event_id));
      this.counts.requests += 1;
      let outcome: Outcome;
      try {
        outcome = await sendBatch(this.transport, batch);
      } finally {
        this.inflight = NOTHING;
      }
      delivered += this.settle(batch, outcome);
      await this.queue.persist();
    }
    return { delivered, pending: this.queue.size };
  }

  private nextBatch(): OtaEvent[] {
    const limit = this.batchEvents;
    const maxBytes = this.maxBatchBytes;
    // The body is "[" + events joined by "," + "]".
    const items = this.queue.head((item, taken, bytes) => {
      return taken < limit && (taken === 0 || 2 + bytes + taken + item.bytes <= maxBytes);
    });
    return items.map((item) => item.event);
  }

  /** Applies a batch's outcome to the queue; returns how many of its events were delivered. */
  private settle(batch: OtaEvent[], outcome: Outcome): number {
    const ids = new Set(batch.map((event) => event.event_id));
    switch (outcome.kind) {
      case "delivered": {
        this.attempt = 0;
        this.retryAt = 0;
        this.queue.remove(ids);
        const rejected = outcome.rejected.map(({ index, errors }) => ({ event: batch[index]!, errors }));
        if (rejected.length > 0) {
          this.counts.rejected += rejected.length;
          this.report({ type: "rejected", events: rejected });
        }
        const count = batch.length - rejected.length;
        this.counts.delivered += count;
        return count;
      }
      case "retry": {
        const delay = retryDelay(this.attempt, outcome.retryAfterMs, this.backoff, this.random);
        this.attempt += 1;
        this.counts.retries += 1;
        this.retryAt = this.clock.now() + delay;
        this.scheduleRetry(delay);
        return 0;
      }
      case "too_large": {
        if (batch.length > 1) {
          // The server (or a proxy before it) takes less than we thought: halve until it fits.
          this.batchEvents = Math.max(1, Math.floor(batch.length / 2));
        } else {
          this.queue.remove(ids);
          this.dropRejected([{ event: batch[0]!, errors: [{ field: "$", message: `413: ${outcome.body}` }] }]);
        }
        return 0;
      }
      case "refused": {
        this.queue.remove(ids);
        this.counts.refused += batch.length;
        this.report({ type: "refused", status: outcome.status, body: outcome.body, events: batch });
        return 0;
      }
    }
  }

  private dropRejected(events: Array<{ event: OtaEvent; errors: FieldError[] }>): void {
    this.counts.rejected += events.length;
    this.report({ type: "rejected", events });
  }

  private scheduleRetry(delay: number): void {
    this.clock.clearTimeout(this.retryTimer);
    this.retryTimer = this.clock.setTimeout(() => {
      if (!this.closed) void this.flush();
    }, delay);
  }

  private armInterval(): void {
    this.intervalTimer = this.clock.setTimeout(() => {
      if (this.closed) return;
      this.armInterval();
      if (this.queue.size > 0) void this.flush();
    }, this.flushIntervalMs);
  }

  private report(error: ClientError): void {
    try {
      this.onError?.(error);
    } catch {
      // A throwing callback must not stop delivery.
    }
  }
}

export function createClient(options: ClientOptions): OtaClient {
  return new OtaClient(options);
}

function pick(options: ClientOptions): Identity {
  const identity: Identity = {
    tenantId: options.tenantId,
    orgId: options.orgId,
    appId: options.appId,
    deviceId: options.deviceId,
  };
  if (options.deviceInfo) identity.deviceInfo = { ...options.deviceInfo };
  if (options.sessionId !== undefined) identity.sessionId = options.sessionId;
  return identity;
}
