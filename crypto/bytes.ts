/**
 * Byte helpers shared by every crypto module: input checks, text and hex/base64
 * codecs. They use only Web-standard APIs, so they run in Node and the browser.
 *
 * @module
 * @example
 * import { abytes, utf8, hex } from './bytes.ts';
 * abytes(new Uint8Array(32), 32, 'key'); // throws TypeError / RangeError on bad input
 * hex.encode(utf8.encode('hi')); // '6869'
 */

/** Throws unless `value` is a Uint8Array (of `length`, when given). Mirrors noble's `abytes`. */
export function abytes(value: unknown, length?: number, title = 'value'): Uint8Array {
  if (!(value instanceof Uint8Array)) throw new TypeError(`${title} must be a Uint8Array`);
  if (length !== undefined && value.length !== length) {
    throw new RangeError(`${title} must be ${length} bytes, got ${value.length}`);
  }
  return value;
}

/** Throws unless `value` is a string. */
export function astring(value: unknown, title = 'value'): string {
  if (typeof value !== 'string') throw new TypeError(`${title} must be a string`);
  return value;
}

const encoder = new TextEncoder();
// fatal: a tip that is not valid UTF-8 is an error, never silently "fixed".
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export const utf8 = {
  encode: (text: string): Uint8Array => encoder.encode(astring(text, 'text')),
  decode: (bytes: Uint8Array): string => decoder.decode(abytes(bytes, undefined, 'bytes')),
};

export const hex = {
  encode(bytes: Uint8Array): string {
    abytes(bytes);
    let out = '';
    for (const b of bytes) out += b.toString(16).padStart(2, '0');
    return out;
  },
  decode(text: string): Uint8Array {
    astring(text, 'hex');
    if (text.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(text)) throw new RangeError('invalid hex');
    const out = new Uint8Array(text.length / 2);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(text.slice(i * 2, i * 2 + 2), 16);
    return out;
  },
};

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
/** Character code → 6-bit value ('=' counts as 0), so decoding is a lookup per character, not a search. */
const B64_VALUE = (() => {
  const table = new Uint8Array(128);
  for (let i = 0; i < B64.length; i++) table[B64.charCodeAt(i)] = i;
  return table;
})();

/** Standard base64 with padding (RFC 4648 §4), without relying on Node's Buffer. */
export const base64 = {
  encode(bytes: Uint8Array): string {
    abytes(bytes);
    let out = '';
    for (let i = 0; i < bytes.length; i += 3) {
      const n = (bytes[i]! << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
      out += B64[(n >> 18) & 63]! + B64[(n >> 12) & 63]!;
      out += i + 1 < bytes.length ? B64[(n >> 6) & 63]! : '=';
      out += i + 2 < bytes.length ? B64[n & 63]! : '=';
    }
    return out;
  },
  decode(text: string): Uint8Array {
    astring(text, 'base64');
    if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) throw new RangeError('invalid base64');
    const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
    const out = new Uint8Array((text.length / 4) * 3 - pad);
    let o = 0;
    // The pattern above has checked every character, so each one is in the table.
    for (let i = 0; i < text.length; i += 4) {
      const n =
        (B64_VALUE[text.charCodeAt(i)]! << 18) |
        (B64_VALUE[text.charCodeAt(i + 1)]! << 12) |
        (B64_VALUE[text.charCodeAt(i + 2)]! << 6) |
        B64_VALUE[text.charCodeAt(i + 3)]!;
      if (o < out.length) out[o++] = (n >> 16) & 255;
      if (o < out.length) out[o++] = (n >> 8) & 255;
      if (o < out.length) out[o++] = n & 255;
    }
    return out;
  },
};

/** URL-safe base64 without padding: used for random ids and tokens. */
export const base64url = {
  encode: (bytes: Uint8Array): string =>
    base64.encode(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
  decode(text: string): Uint8Array {
    astring(text, 'base64url');
    if (!/^[A-Za-z0-9_-]*$/.test(text) || text.length % 4 === 1) throw new RangeError('invalid base64url');
    const std = text.replace(/-/g, '+').replace(/_/g, '/');
    return base64.decode(std + '='.repeat((4 - (std.length % 4)) % 4));
  },
};

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += abytes(p).length;
  const out = new Uint8Array(length);
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/** Cryptographically secure random bytes from WebCrypto (present in Node ≥ 19 and every browser). */
export function randomBytes(length: number): Uint8Array {
  const out = new Uint8Array(length);
  // getRandomValues fills at most 64 KiB per call.
  for (let i = 0; i < length; i += 65536) globalThis.crypto.getRandomValues(out.subarray(i, Math.min(length, i + 65536)));
  return out;
}

/** A random 128-bit id, base64url: what the server uses for tips, journalists and receipts. */
export function randomId(): string {
  return base64url.encode(randomBytes(16));
}

/** Overwrites a buffer that held a secret. JavaScript can't promise the bytes are gone, but this shortens their life. */
export function wipe(...buffers: Uint8Array[]): void {
  for (const b of buffers) b.fill(0);
}

/** Whether two byte strings are equal, in time that depends on their length only (for MACs and keys). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
