/** Fakes for the unit tests: a clock whose time only moves when told, a scripted server, and a client on both. */

import assert from "node:assert/strict";
import { setImmediate } from "node:timers";

import {
  createClient,
  MemoryStorage,
  type ClientError,
  type AppStateLike,
  type ClientOptions,
  type Clock,
  type ErrorUtilsLike,
  type FetchLike,
  type GlobalHandler,
  type OtaClient,
  type OtaEvent,
} from "@ota-stream/react-native";

/** Lets every pending promise chain run (none of the fakes do real I/O). */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class FakeClock implements Clock {
  time = Date.parse("2026-03-01T12:00:00.000Z");
  private timers: Array<{ id: number; at: number; fn: () => void }> = [];
  private nextId = 1;

  now(): number {
    return this.time;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.timers.push({ id, at: this.time + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  }

  /** Moves time forward, running each timer that falls due, in order, with its promises settled. */
  async advance(ms: number): Promise<void> {
    const end = this.time + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((timer) => timer.at <= end).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = due.at;
      due.fn();
    }
    this.time = end;
    await settle();
  }
}

export type Reply = { status: number; body?: unknown; headers?: Record<string, string> } | Error | "hang";

export interface Request {
  url: string;
  headers: Record<string, string>;
  body: string;
  events: OtaEvent[];
  at: number;
}

/** Answers requests from a script of replies; once it runs out, accepts everything (202). */
export class FakeServer {
  readonly requests: Request[] = [];
  readonly replies: Reply[] = [];

  constructor(private readonly clock: FakeClock) {}

  readonly fetch: FetchLike = async (url, init) => {
    this.requests.push({
      url,
      headers: init.headers,
      body: init.body,
      events: JSON.parse(init.body) as OtaEvent[],
      at: this.clock.now(),
    });
    const reply = this.replies.shift() ?? { status: 202 };
    if (reply instanceof Error) throw reply;
    if (reply === "hang") return new Promise(() => undefined);
    const events = this.requests[this.requests.length - 1]!.events;
    const body = reply.body ?? { accepted: events.length, rejected: [] };
    const headers = new Map(Object.entries(reply.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    return {
      status: reply.status,
      headers: { get: (name: string) => headers.get(name.toLowerCase()) ?? null },
      text: async () => (typeof body === "string" ? body : JSON.stringify(body)),
    };
  };

  /** The ids sent, request by request. */
  ids(): string[][] {
    return this.requests.map((request) => request.events.map((event) => event.event_id));
  }

  /** Every event sent, in order (resends included). */
  events(): OtaEvent[] {
    return this.requests.flatMap((request) => request.events);
  }
}

export interface Rig {
  client: OtaClient;
  server: FakeServer;
  clock: FakeClock;
  storage: MemoryStorage;
  errors: ClientError[];
  /** A new client over the same storage, clock and server: an app restart. */
  restart(overrides?: Partial<ClientOptions>): OtaClient;
}

let counter = 0;

/** Sequential, readable ids: the tests check which event went where. */
export function sequentialIds(prefix = "e"): () => string {
  let n = 0;
  return () => `${prefix}${++n}`;
}

export function rig(overrides: Partial<ClientOptions> = {}): Rig {
  const clock = new FakeClock();
  const server = new FakeServer(clock);
  const storage = new MemoryStorage();
  const errors: ClientError[] = [];
  const options = (extra: Partial<ClientOptions>): ClientOptions => ({
    endpoint: "https://ota.example.test/",
    tenantId: "acme",
    orgId: "mobile",
    appId: "shop",
    deviceId: "device-1",
    storage,
    clock,
    fetch: server.fetch,
    random: () => 0.5,
    generateId: sequentialIds(`r${++counter}-`),
    flushAt: 1000,
    flushIntervalMs: 60_000,
    backoff: { baseMs: 1000, maxMs: 60_000 },
    onError: (error) => errors.push(error),
    ...overrides,
    ...extra,
  });
  const client = createClient(options({}));
  return { client, server, clock, storage, errors, restart: (extra = {}) => createClient(options(extra)) };
}

export const V = { target_version: "2.0.0" } as const;

/** The next request goes out exactly `ms` from now: none a millisecond earlier. */
export async function expectRequestAfter(clock: FakeClock, server: FakeServer, ms: number): Promise<void> {
  const before = server.requests.length;
  await clock.advance(ms - 1);
  assert.equal(server.requests.length, before, `no request before ${ms} ms`);
  await clock.advance(1);
  assert.equal(server.requests.length, before + 1, `a request at ${ms} ms`);
}

/** React Native's ErrorUtils: `fatal` is what React Native does with an uncaught error (reportFatalError). */
export class FakeErrorUtils implements ErrorUtilsLike {
  /** The app's own handler, installed before the client's: it records each call (and may "end the process"). */
  readonly calls: Array<{ error: unknown; isFatal: boolean | undefined }> = [];
  handler: GlobalHandler | null | undefined;

  constructor(onCall: (error: unknown, isFatal?: boolean) => void = () => undefined) {
    this.handler = (error, isFatal) => {
      this.calls.push({ error, isFatal });
      onCall(error, isFatal);
    };
  }

  getGlobalHandler(): GlobalHandler | null | undefined {
    return this.handler;
  }

  setGlobalHandler(handler: GlobalHandler): void {
    this.handler = handler;
  }

  fatal(error: unknown): void {
    this.handler!(error, true);
  }
}

/** React Native's AppState: `emit` is a change of the app's state. */
export class FakeAppState implements AppStateLike {
  readonly listeners = new Set<(state: string) => void>();

  addEventListener(_type: "change", listener: (state: string) => void): { remove(): void } {
    this.listeners.add(listener);
    return { remove: () => this.listeners.delete(listener) };
  }

  emit(state: string): void {
    for (const listener of this.listeners) listener(state);
  }
}

/** What the disk holds at this moment, as a new storage: the next process of an app that dies now. */
export function died(storage: MemoryStorage): MemoryStorage {
  const copy = new MemoryStorage();
  for (const [key, value] of storage.items) copy.items.set(key, value);
  return copy;
}

export function crashes(events: OtaEvent[]): OtaEvent[] {
  return events.filter((event) => event.event_type === "app_crashed");
}
