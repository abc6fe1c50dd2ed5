/** One POST of a batch to /events/batch, and what its answer means for the events in it. */

import { parseRetryAfter } from "./backoff";
import type { OtaEvent } from "./types";

export interface ResponseLike {
  status: number;
  headers: { get(name: string): string | null };
  text(): Promise<string>;
}

export interface RequestLike {
  method: "POST";
  headers: Record<string, string>;
  body: string;
  signal?: unknown;
}

/** The subset of `fetch` the client uses; the global one in React Native and Node 18+ fits. */
export type FetchLike = (url: string, init: RequestLike) => Promise<ResponseLike>;

export interface FieldError {
  field?: string;
  message?: string;
  [key: string]: unknown;
}

export interface Rejection {
  /** The event's position in the batch that was sent. */
  index: number;
  errors: FieldError[];
}

export type Outcome =
  /** 2xx: every event not in `rejected` is delivered. */
  | { kind: "delivered"; status: number; rejected: Rejection[] }
  /** A network error, a timeout, 408, 429 or 5xx: the same batch is to be sent again later. */
  | { kind: "retry"; status?: number; retryAfterMs?: number; error?: unknown }
  /** 413: the batch is larger than the server takes. */
  | { kind: "too_large"; status: 413; body: string }
  /** Any other status: the server will never take this batch. */
  | { kind: "refused"; status: number; body: string };

export interface Transport {
  url: string;
  ingestKey?: string | undefined;
  fetch: FetchLike;
  timeoutMs: number;
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export async function sendBatch(transport: Transport, events: readonly OtaEvent[]): Promise<Outcome> {
  const headers: Record<string, string> = { "Content-Type": "application/json", Accept: "application/json" };
  if (transport.ingestKey) headers["Authorization"] = `Bearer ${transport.ingestKey}`;
  const body = JSON.stringify(events);
  let response: ResponseLike;
  let text: string;
  try {
    [response, text] = await withTimeout(transport, async (signal) => {
      const init: RequestLike = { method: "POST", headers, body };
      if (signal !== undefined) init.signal = signal;
      const answer = await transport.fetch(transport.url, init);
      return [answer, await answer.text()] as const;
    });
  } catch (error) {
    return { kind: "retry", error };
  }
  const status = response.status;
  if (status >= 200 && status < 300) return { kind: "delivered", status, rejected: rejections(text, events.length) };
  if (status === 408 || status === 429 || status >= 500) {
    const retryAfterMs = parseRetryAfter(response.headers.get("Retry-After"), transport.now());
    return retryAfterMs === undefined ? { kind: "retry", status } : { kind: "retry", status, retryAfterMs };
  }
  if (status === 413) return { kind: "too_large", status, body: text };
  return { kind: "refused", status, body: text };
}

/** The per-event `rejected` list of a 202 answer; anything unreadable means none were rejected. */
function rejections(text: string, size: number): Rejection[] {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return [];
  }
  const listed = (body as { rejected?: unknown } | null)?.rejected;
  if (!Array.isArray(listed)) return [];
  const seen = new Set<number>();
  const found: Rejection[] = [];
  for (const entry of listed) {
    const index = (entry as { index?: unknown } | null)?.index;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= size || seen.has(index)) {
      continue;
    }
    seen.add(index);
    const errors = (entry as { errors?: unknown }).errors;
    found.push({ index, errors: Array.isArray(errors) ? (errors as FieldError[]) : [] });
  }
  return found;
}

class Timeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/** Runs `work` with an abort signal (where AbortController exists) and gives up after `timeoutMs` either way. */
async function withTimeout<T>(transport: Transport, work: (signal: unknown) => Promise<T>): Promise<T> {
  const Controller = (globalThis as { AbortController?: new () => { signal: unknown; abort(): void } })
    .AbortController;
  const controller = Controller ? new Controller() : undefined;
  let handle: unknown;
  const timeout = new Promise<never>((_, reject) => {
    handle = transport.setTimeout(() => {
      controller?.abort();
      reject(new Timeout(transport.timeoutMs));
    }, transport.timeoutMs);
  });
  try {
    return await Promise.race([work(controller?.signal), timeout]);
  } finally {
    transport.clearTimeout(handle);
  }
}
