/**
 * Sessions for the stability figures: one per launch, with a marker stored while it runs, so that a launch that
 * ended without a clean exit (a native crash, an out-of-memory kill, a fatal JS error) is reported at the next one.
 *
 * The marker (`<storageKey>/session`) is written at launch, removed on a clean exit (the app goes to the background,
 * or `trackExit()`) and written again when the app comes back. A fatal JS error writes its `app_crashed` event into
 * the marker before the app's own handler runs; the next launch queues that event (same id) instead of an
 * `ABNORMAL_EXIT`, so a session is reported as crashed once. Marker writes run one after another, in order.
 */

import { chainFatalHandler, crashMessage, type ErrorUtilsLike } from "./crash";
import { timestamp } from "./event";
import type { ClientError, Clock } from "./options";
import type { StorageAdapter } from "./storage";
import type { EventFields, EventType, OtaEvent } from "./types";

export const JS_FATAL = "JS_FATAL";
export const ABNORMAL_EXIT = "ABNORMAL_EXIT";
export const ABNORMAL_EXIT_MESSAGE = "the previous launch ended without a clean exit";

/** What `trackLaunch` takes: the running version, and optionally how long the launch took and its session id. */
export interface LaunchFields extends EventFields {
  current_version: string;
  /** From process start to the first screen the app calls interactive, in seconds. */
  launch_duration_seconds?: number;
  /** Default: a new id (the client's `generateId`). */
  session_id?: string;
}

export interface LaunchResult {
  /** The new session's id, carried by every event tracked from now on (unless an event gives its own). */
  session_id: string;
  /** The `app_launched` event, as queued. */
  launched: OtaEvent;
  /** The `app_crashed` event queued for the previous launch (JS_FATAL or ABNORMAL_EXIT), or null if it ended well. */
  previous_crash: OtaEvent | null;
}

/** The marker of a running session, as stored. */
interface Marker {
  v: 1;
  session_id: string;
  current_version: string;
  started_at: string;
  /** The fatal error of this session, once recorded: the event the next launch queues. */
  crash?: OtaEvent;
}

/** What the tracker needs from the client. */
export interface SessionHost {
  readonly storage: StorageAdapter;
  readonly storageKey: string;
  readonly clock: Clock;
  /** Builds an event with its id and time fixed now (the session id defaults to the current one). */
  build(type: EventType, fields: EventFields): OtaEvent;
  /** Queues an event as built; resolves once it is stored. Does nothing for an id already queued. */
  enqueue(event: OtaEvent): Promise<OtaEvent>;
  newId(): string;
  setSession(sessionId: string): void;
  report(error: ClientError): void;
}

export interface SessionOptions {
  /** Where fatal JS errors are caught; null: not at all. */
  errorUtils: ErrorUtilsLike | null;
  /** The longest a fatal error waits for its record to be stored before the app's own handler runs. */
  crashTimeoutMs: number;
  /** Report a launch that ended without a clean exit as ABNORMAL_EXIT. */
  detectAbnormalExit: boolean;
}

/** Per storage (and key prefix), in this JS runtime: the sessions started, and the tracker that launched last. */
interface RuntimeEntry {
  sessions: Set<string>;
  owner: SessionTracker | null;
}

/**
 * Kept on the global object, so that it outlives a module that Fast Refresh evaluates again: a marker of a session
 * started in this runtime is not a crash, and only the tracker that launched last touches the marker (an older
 * client still subscribed would remove or overwrite the new session's). A reload starts a new runtime.
 */
const RUNTIME: WeakMap<object, Map<string, RuntimeEntry>> = (() => {
  const slot = Symbol.for("@ota-stream/react-native/sessions");
  const holder = globalThis as unknown as Record<symbol, WeakMap<object, Map<string, RuntimeEntry>> | undefined>;
  return (holder[slot] ??= new WeakMap());
})();

function runtimeEntry(storage: StorageAdapter, storageKey: string): RuntimeEntry {
  let byKey = RUNTIME.get(storage);
  if (!byKey) RUNTIME.set(storage, (byKey = new Map()));
  let entry = byKey.get(storageKey);
  if (!entry) byKey.set(storageKey, (entry = { sessions: new Set(), owner: null }));
  return entry;
}

export class SessionTracker {
  private current: Marker | null = null;
  /** Whether the current session's marker is stored (it is not after a clean exit). */
  private stored = false;
  private chain: Promise<unknown> = Promise.resolve();
  private crashWrite: Promise<unknown> | null = null;
  private crashQueued: Promise<unknown> | null = null;
  private uninstall: (() => void) | null = null;
  private readonly markerKey: string;
  private readonly runtime: RuntimeEntry;

  constructor(
    private readonly host: SessionHost,
    private readonly options: SessionOptions,
  ) {
    this.markerKey = `${host.storageKey}/session`;
    this.runtime = runtimeEntry(host.storage, host.storageKey);
  }

  /**
   * Starts a session. At once (so that a crash in the next milliseconds is caught, and the launch's time is the
   * call's): its id, the crash handler, the launch event. Then, in order: the previous launch's crash if it left
   * one, this session's marker, the launch event. Throws at once without `current_version`.
   */
  launch(fields: LaunchFields): Promise<LaunchResult> {
    if (typeof fields.current_version !== "string" || fields.current_version === "") {
      throw new TypeError("ota-stream: trackLaunch needs `current_version`, the version that runs");
    }
    const sessionId = fields.session_id ?? this.host.newId();
    const marker: Marker = {
      v: 1,
      session_id: sessionId,
      current_version: fields.current_version,
      started_at: timestamp(this.host.clock.now()),
    };
    this.runtime.sessions.add(sessionId);
    this.runtime.owner = this;
    this.current = marker;
    this.crashWrite = this.crashQueued = null;
    this.host.setSession(sessionId);
    this.installHandler();
    const launched = this.host.build("app_launched", { ...fields, session_id: sessionId });
    const previous = this.serially(async () => {
      const crash = await this.previousCrash();
      if (this.current === marker) await this.store(marker);
      return crash;
    });
    return previous.then(async (previousCrash) => ({
      session_id: sessionId,
      launched: await this.host.enqueue(launched),
      previous_crash: previousCrash,
    }));
  }

  /** A clean exit: the session's marker goes, so the next launch reports no crash for it. */
  exit(): Promise<void> {
    const marker = this.current;
    return this.serially(async () => {
      if (!marker || this.current !== marker || !this.owns()) return;
      if (this.crashQueued) await this.crashQueued; // a crash leaves the marker only once it is in the queue
      try {
        await this.host.storage.removeItem(this.markerKey);
        this.stored = false;
      } catch (error) {
        this.host.report({ type: "storage", error });
      }
    });
  }

  /** Back in the foreground after a clean exit: the session runs again, so its marker is stored again. */
  resume(): Promise<void> {
    const marker = this.current;
    return this.serially(async () => {
      if (marker && this.current === marker && !this.stored && this.owns()) await this.store(marker);
    });
  }

  /** Resolves once every marker change asked for so far is done. */
  settled(): Promise<void> {
    return this.serially(async () => undefined);
  }

  close(): void {
    this.uninstall?.();
    this.uninstall = null;
  }

  /**
   * A fatal JS error: its `app_crashed` event goes into the marker at once (after any marker change under way),
   * then into the queue. One per session: a later fatal error waits for the same write.
   */
  private recordFatal(error: unknown): Promise<unknown> {
    const marker = this.current;
    if (!marker || !this.owns()) return Promise.resolve();
    if (this.crashWrite) return this.crashWrite;
    marker.crash = this.host.build("app_crashed", {
      session_id: marker.session_id,
      current_version: marker.current_version,
      error_code: JS_FATAL,
      error_message: crashMessage(error),
    });
    const crash = marker.crash;
    this.crashWrite = this.serially(() => this.store(marker));
    // If the app lives on (a debug build's red box, or a handler that does not end the process), it is sent now.
    this.crashQueued = this.crashWrite.then(() => this.host.enqueue(crash));
    return this.crashWrite;
  }

  /** The crash event for the launch before this one, queued; null when it ended well or was this runtime's. */
  private async previousCrash(): Promise<OtaEvent | null> {
    let found: Marker | null = null;
    try {
      const raw = await this.host.storage.getItem(this.markerKey);
      if (raw !== null) found = parseMarker(raw);
    } catch (error) {
      this.host.report({ type: "storage", error });
      return null;
    }
    if (found === null || this.runtime.sessions.has(found.session_id)) return null;
    if (!found.crash && !this.options.detectAbnormalExit) return null;
    if (!found.crash) {
      found.crash = this.host.build("app_crashed", {
        session_id: found.session_id,
        current_version: found.current_version,
        error_code: ABNORMAL_EXIT,
        error_message: ABNORMAL_EXIT_MESSAGE,
        metadata: { session_started_at: found.started_at },
      });
      // Stored before it is queued: if the app dies in between, the next launch queues it again with the same id.
      await this.store(found);
    }
    return this.host.enqueue(found.crash);
  }

  private async store(marker: Marker): Promise<void> {
    try {
      await this.host.storage.setItem(this.markerKey, JSON.stringify(marker));
      if (marker === this.current) this.stored = true;
    } catch (error) {
      this.host.report({ type: "storage", error });
    }
  }

  private installHandler(): void {
    const errorUtils = this.options.errorUtils;
    if (this.uninstall || !errorUtils) return;
    this.uninstall = chainFatalHandler(
      errorUtils,
      (error) => this.recordFatal(error),
      this.options.crashTimeoutMs,
      this.host.clock,
    );
  }

  private owns(): boolean {
    return this.runtime.owner === this;
  }

  private serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.chain.then(work, work);
    this.chain = run.catch(() => undefined);
    return run;
  }
}

function parseMarker(raw: string): Marker {
  const marker = JSON.parse(raw) as Partial<Marker>;
  if (
    marker.v !== 1 ||
    typeof marker.session_id !== "string" ||
    typeof marker.current_version !== "string" ||
    typeof marker.started_at !== "string"
  ) {
    throw new Error("the session marker has an unknown format");
  }
  return marker as Marker;
}
