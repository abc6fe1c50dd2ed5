/** When to try again: exponential backoff with full jitter, never earlier than the server's Retry-After. */

export interface BackoffPolicy {
  /** The first retry waits up to this long; each further one doubles the ceiling. */
  baseMs: number;
  /** The ceiling never grows past this. */
  maxMs: number;
  /** A Retry-After longer than this is capped: a misconfigured proxy must not park events for days. */
  maxRetryAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { baseMs: 1_000, maxMs: 120_000, maxRetryAfterMs: 3_600_000 };

/** Full jitter (uniform in [0, min(max, base·2^attempt))), as in AWS's "Exponential Backoff and Jitter". */
export function fullJitter(attempt: number, policy: BackoffPolicy, random: () => number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/** The wait before retry number `attempt` (0 for the first): jitter, but at least the server's Retry-After. */
export function retryDelay(
  attempt: number,
  retryAfterMs: number | undefined,
  policy: BackoffPolicy,
  random: () => number,
): number {
  const jitter = fullJitter(attempt, policy, random);
  if (retryAfterMs === undefined) return jitter;
  return Math.max(jitter, Math.min(retryAfterMs, policy.maxRetryAfterMs));
}

/** Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date; milliseconds from `nowMs`, or undefined. */
export function parseRetryAfter(value: string | null | undefined, nowMs: number): number | undefined {
  if (value === null || value === undefined) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  if (!/[a-z]/i.test(text)) return undefined; // not a date either: "1.5", "-3"
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - nowMs) : undefined;
}
