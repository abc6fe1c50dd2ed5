/**
 * React Native's global JS error handler, chained: a fatal error is recorded first, then the app's previous handler
 * runs as it would have (in a release build it ends the process). Nothing here imports react-native: the
 * `ErrorUtils` object is handed in, or found where React Native puts it (`global.ErrorUtils`).
 */

import type { Clock } from "./options";

/** The handler React Native calls for an uncaught JS error; `isFatal` is true when the app is about to die. */
export type GlobalHandler = (error: unknown, isFatal?: boolean) => void;

/** React Native's `ErrorUtils`, or anything with its two methods. */
export interface ErrorUtilsLike {
  getGlobalHandler(): GlobalHandler | null | undefined;
  setGlobalHandler(handler: GlobalHandler): void;
}

/** The server keeps at most this many characters of an `error_message`. */
export const MAX_MESSAGE = 4096;

/** React Native's `global.ErrorUtils`, when the client runs inside React Native; otherwise undefined. */
export function globalErrorUtils(): ErrorUtilsLike | undefined {
  const found = (globalThis as { ErrorUtils?: Partial<ErrorUtilsLike> }).ErrorUtils;
  return found && typeof found.getGlobalHandler === "function" && typeof found.setGlobalHandler === "function"
    ? (found as ErrorUtilsLike)
    : undefined;
}

/** What a crash says: `Name: message` of an Error, the text of anything else, within the server's limit. */
export function crashMessage(error: unknown): string {
  let text: string;
  try {
    if (error instanceof Error || (error !== null && typeof error === "object" && "message" in error)) {
      const { name, message } = error as { name?: unknown; message?: unknown };
      const label = typeof name === "string" && name !== "" ? name : "Error";
      text = `${label}: ${String(message)}`;
    } else {
      text = String(error);
    }
  } catch {
    text = "unprintable error"; // a thrown value whose toString itself throws
  }
  const chars = Array.from(text); // code points, as the server counts them
  return chars.length > MAX_MESSAGE ? chars.slice(0, MAX_MESSAGE).join("") : text;
}

/**
 * Installs `record` in front of the current global handler. For a fatal error, `record` starts at once (it should
 * begin its storage write synchronously); the previous handler is called when that settles, or after `timeoutMs`
 * if it hangs, and in any case exactly once per error, with the same arguments. Other errors go straight through.
 * Returns the function that takes the handler out again (or, if another one was chained after it, makes it a
 * plain pass-through).
 */
export function chainFatalHandler(
  errorUtils: ErrorUtilsLike,
  record: (error: unknown) => Promise<unknown>,
  timeoutMs: number,
  clock: Clock,
): () => void {
  const previous = errorUtils.getGlobalHandler() ?? undefined;
  let active = true;
  const handler: GlobalHandler = (error, isFatal) => {
    if (!active || !isFatal) {
      previous?.(error, isFatal);
      return;
    }
    let called = false;
    let timer: unknown;
    const hand = () => {
      if (called) return;
      called = true;
      clock.clearTimeout(timer);
      previous?.(error, isFatal);
    };
    let recording: Promise<unknown>;
    try {
      recording = record(error);
    } catch {
      recording = Promise.resolve(); // recording must never keep the app from dying as it would have
    }
    timer = clock.setTimeout(hand, timeoutMs);
    recording.then(hand, hand);
  };
  errorUtils.setGlobalHandler(handler);
  return () => {
    active = false;
    if (previous && errorUtils.getGlobalHandler() === handler) errorUtils.setGlobalHandler(previous);
  };
}
