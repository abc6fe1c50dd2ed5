/** Event ids: a UUIDv4 drawn once per event, from a cryptographic source. */

export type IdGenerator = () => string;
export type RandomBytes = (bytes: Uint8Array) => Uint8Array;

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));

/** A UUIDv4 generator over `getRandomValues` (RFC 9562 §5.4: version 4, variant 10). */
export function uuidV4(getRandomValues: RandomBytes): IdGenerator {
  return () => {
    const b = getRandomValues(new Uint8Array(16));
    b[6] = (b[6]! & 0x0f) | 0x40;
    b[8] = (b[8]! & 0x3f) | 0x80;
    const h = Array.from(b, (byte) => HEX[byte]!);
    return (
      h.slice(0, 4).join("") +
      "-" +
      h.slice(4, 6).join("") +
      "-" +
      h.slice(6, 8).join("") +
      "-" +
      h.slice(8, 10).join("") +
      "-" +
      h.slice(10, 16).join("")
    );
  };
}

/**
 * The platform's `crypto.getRandomValues` (Node, browsers, Hermes with react-native-get-random-values), or an
 * error that says how to provide one: an id from Math.random could collide, and a collision drops a real event.
 */
export function defaultIdGenerator(): IdGenerator {
  const crypto = (globalThis as { crypto?: { getRandomValues?: RandomBytes } }).crypto;
  if (crypto && typeof crypto.getRandomValues === "function") {
    return uuidV4((bytes) => crypto.getRandomValues!(bytes));
  }
  throw new Error(
    "ota-stream: crypto.getRandomValues is not available; import 'react-native-get-random-values' first, " +
      "or pass `generateId` in the client's options",
  );
}
