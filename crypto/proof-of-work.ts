/**
 * Proof of work without IP addresses: the server hands out a signed challenge;
 * the client finds a nonce such that SHA-256(challenge ‖ nonce) starts with
 * `difficulty` zero bits; the server checks the answer with one hash and one
 * HMAC. Nothing about the client is recorded, so flooding costs CPU, not
 * privacy.
 *
 * A challenge is `base64url(payload JSON) + "." + base64url(HMAC-SHA256(secret, payload))`,
 * payload `{ v: 2, id, key, purpose, difficulty, expires }` (expires in Unix
 * seconds). `key` names the secret that signed it (an opaque id: the server
 * rotates secrets, see server/abuse/pow-keys.ts), and `difficulty` is signed
 * in, so the server can refuse an answer to a challenge issued when the work
 * asked was lower than it is now. The nonce is a decimal string of up to 16 digits.
 *
 * The solver uses WebCrypto's SHA-256, which stays native (fast) in Tor
 * Browser even with the JIT off. It hashes in batches and reports progress.
 *
 * @module
 * @example
 * import { issueChallenge, solveChallenge, checkSolution } from './proof-of-work.ts';
 * const challenge = issueChallenge(secret, { key, purpose: 'tip', difficulty: 16, ttlSeconds: 600, now });
 * const nonce = await solveChallenge(challenge); // in the browser
 * checkSolution(secret, challenge, nonce, { purpose: 'tip', now }); // → { id, expires } or throws PowError
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, base64url, concatBytes, equalBytes, randomBytes, utf8 } from './bytes.ts';

export type PowPurpose = 'tip' | 'followup' | 'upload';
export const POW_PURPOSES: readonly PowPurpose[] = ['tip', 'followup', 'upload'];
export const MAX_DIFFICULTY = 32;

export type ChallengePayload = { v: 2; id: string; key: string; purpose: PowPurpose; difficulty: number; expires: number };

/** A key id: opaque, URL-safe, short (server/abuse/pow-keys.ts derives it from the secret). */
const KEY_ID_RE = /^[A-Za-z0-9_-]{1,32}$/;

export class PowError extends Error {
  override name = 'PowError';
  constructor(
    readonly code: 'malformed' | 'forged' | 'expired' | 'wrong-purpose' | 'insufficient',
    message: string,
  ) {
    super(message);
  }
}

export function issueChallenge(secret: Uint8Array, o: { key: string; purpose: PowPurpose; difficulty: number; ttlSeconds: number; now: Date }): string {
  abytes(secret, 32, 'secret');
  if (!Number.isInteger(o.difficulty) || o.difficulty < 0 || o.difficulty > MAX_DIFFICULTY) throw new RangeError('difficulty out of range');
  if (!KEY_ID_RE.test(o.key)) throw new RangeError('key id must be 1 to 32 URL-safe characters');
  const payload: ChallengePayload = {
    v: 2,
    id: base64url.encode(randomBytes(16)),
    key: o.key,
    purpose: o.purpose,
    difficulty: o.difficulty,
    expires: Math.floor(o.now.getTime() / 1000) + o.ttlSeconds,
  };
  const body = utf8.encode(JSON.stringify(payload));
  return `${base64url.encode(body)}.${base64url.encode(hmac(sha256, secret, body))}`;
}

/** Reads a challenge's payload without checking it (the client uses this for the difficulty). */
export function readChallenge(challenge: string): ChallengePayload {
  if (typeof challenge !== 'string' || challenge.length > 1024) throw new PowError('malformed', 'malformed challenge');
  const [body] = challenge.split('.');
  try {
    const p = JSON.parse(utf8.decode(base64url.decode(body ?? ''))) as ChallengePayload;
    if (p.v !== 2 || typeof p.id !== 'string' || typeof p.key !== 'string' || !KEY_ID_RE.test(p.key) || !POW_PURPOSES.includes(p.purpose) || !Number.isInteger(p.difficulty) || !Number.isInteger(p.expires)) throw new Error();
    return p;
  } catch {
    throw new PowError('malformed', 'malformed challenge');
  }
}

/** Number of leading zero bits of `hash`. */
export function leadingZeroBits(hash: Uint8Array): number {
  let bits = 0;
  for (const byte of hash) {
    if (byte === 0) {
      bits += 8;
      continue;
    }
    return bits + Math.clz32(byte) - 24;
  }
  return bits;
}

/** The bytes an answer hashes: `challenge:nonce` in UTF-8 (exported for tools that solve in bulk, like the benchmark). */
export function attempt(challenge: string, nonce: string): Uint8Array {
  return concatBytes(utf8.encode(challenge), utf8.encode(':'), utf8.encode(nonce));
}

/**
 * Checks an answer in O(1): the HMAC (in constant time), the purpose, the
 * expiry and the work. It does not know whether the challenge was spent before;
 * the caller keeps that list (see server/abuse/pow-guard.ts), and picks
 * `secret` by the challenge's `key` (readChallenge) among the live ones.
 */
export function checkSolution(secret: Uint8Array, challenge: string, nonce: string, o: { purpose: PowPurpose; now: Date }): ChallengePayload {
  abytes(secret, 32, 'secret');
  const payload = readChallenge(challenge);
  const [body, mac] = challenge.split('.');
  let presented: Uint8Array;
  try {
    presented = base64url.decode(mac ?? '');
  } catch {
    throw new PowError('forged', 'the challenge was not issued by this server');
  }
  const expected = hmac(sha256, secret, base64url.decode(body!));
  if (!equalBytes(presented, expected)) {
    throw new PowError('forged', 'the challenge was not issued by this server');
  }
  if (payload.purpose !== o.purpose) throw new PowError('wrong-purpose', `this challenge is for a ${payload.purpose}, not a ${o.purpose}`);
  if (Math.floor(o.now.getTime() / 1000) > payload.expires) throw new PowError('expired', 'the challenge has expired; get a new one');
  if (typeof nonce !== 'string' || !/^\d{1,16}$/.test(nonce)) throw new PowError('malformed', 'the answer must be a decimal number');
  if (leadingZeroBits(sha256(attempt(challenge, nonce))) < payload.difficulty) {
    throw new PowError('insufficient', 'the answer does not solve the challenge');
  }
  return payload;
}

/**
 * Finds a nonce with WebCrypto SHA-256. `onProgress(tried, expected)` is called
 * between batches; `signal` stops it.
 */
export async function solveChallenge(
  challenge: string,
  o: { onProgress?: (tried: number, expected: number) => void; signal?: AbortSignal; batch?: number } = {},
): Promise<string> {
  const { difficulty } = readChallenge(challenge);
  const subtle = globalThis.crypto.subtle;
  const prefix = utf8.encode(`${challenge}:`);
  const expected = 2 ** difficulty;
  const batch = o.batch ?? 256;
  // Start at a random point so two tabs don't race through the same nonces.
  let nonce = Math.floor(Math.random() * 1e12);
  let tried = 0;
  for (;;) {
    if (o.signal?.aborted) throw new DOMException('stopped', 'AbortError');
    const candidates: string[] = [];
    const hashes: Promise<ArrayBuffer>[] = [];
    for (let i = 0; i < batch; i++) {
      const text = String(nonce++);
      candidates.push(text);
      hashes.push(subtle.digest('SHA-256', concatBytes(prefix, utf8.encode(text)) as Uint8Array<ArrayBuffer>));
    }
    const results = await Promise.all(hashes);
    for (let i = 0; i < results.length; i++) {
      if (leadingZeroBits(new Uint8Array(results[i]!)) >= difficulty) return candidates[i]!;
    }
    tried += batch;
    o.onProgress?.(tried, expected);
  }
}
