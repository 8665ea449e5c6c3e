/**
 * The no-JavaScript form token: what a plain form (Tor Browser at Safest,
 * which can't do a proof of work) carries so that a post costs its sender a
 * page load and a wait. The server puts a fresh token in a hidden field of
 * each form page; a post is refused unless its token was made by the server,
 * for that form, at least `minSeconds` and at most `maxSeconds` ago, and not
 * spent before (the spent list is the caller's: server/abuse/form-tokens.ts).
 *
 * Format (docs/protocol.md, "No-JavaScript form token"): base64url of
 *
 *     version (1 byte, 1) ‖ purpose (1 byte: 1 first tip, 2 follow-up)
 *     ‖ nonce (16 random bytes) ‖ issued (4 bytes, big-endian Unix seconds)
 *     ‖ HMAC-SHA256(secret, "tipline form token v1\0" ‖ the 22 bytes before)[0..16]
 *
 * 38 bytes, 51 characters. `issued` is the second after the token was made
 * (rounded up), so a token is never accepted before `minSeconds` have really
 * passed. The issue time exists only inside the token, which the source
 * holds; the server reads it on the post and never stores it.
 *
 * @module
 * @example
 * import { checkFormToken, issueFormToken } from './form-token.ts';
 * const token = issueFormToken(secret, { purpose: 'tip', now: new Date() });
 * // ≥ 3 s later, on the post:
 * checkFormToken([secret], token, { purpose: 'tip', now: new Date(), minSeconds: 3, maxSeconds: 7200 }); // → { id } or throws FormTokenError
 */
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, base64url, concatBytes, equalBytes, randomBytes, utf8 } from './bytes.ts';

export type FormPurpose = 'tip' | 'followup';

const VERSION = 1;
const PURPOSES: Record<FormPurpose, number> = { tip: 1, followup: 2 };
const NONCE_BYTES = 16;
const BODY_BYTES = 2 + NONCE_BYTES + 4;
const MAC_BYTES = 16;
export const FORM_TOKEN_CHARS = Math.ceil(((BODY_BYTES + MAC_BYTES) * 4) / 3);
const DOMAIN = utf8.encode('tipline form token v1\0');

export class FormTokenError extends Error {
  override name = 'FormTokenError';
  constructor(
    readonly code: 'missing' | 'forged' | 'too-young' | 'expired',
    message: string,
    /** For `too-young`: whole seconds until the token is accepted. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export function issueFormToken(secret: Uint8Array, o: { purpose: FormPurpose; now: Date }): string {
  abytes(secret, 32, 'secret');
  const body = new Uint8Array(BODY_BYTES);
  body[0] = VERSION;
  body[1] = PURPOSES[o.purpose];
  body.set(randomBytes(NONCE_BYTES), 2);
  new DataView(body.buffer).setUint32(2 + NONCE_BYTES, Math.ceil(o.now.getTime() / 1000));
  return base64url.encode(concatBytes(body, mac(secret, body)));
}

/**
 * Checks a token against the live secrets, in this order: present, made by
 * one of `secrets` (HMAC, in constant time) for `purpose`, old enough, not too
 * old. Returns the token's id (its nonce), for the caller's spent list.
 */
export function checkFormToken(secrets: Uint8Array[], token: unknown, o: { purpose: FormPurpose; now: Date; minSeconds: number; maxSeconds: number }): { id: string } {
  if (typeof token !== 'string' || token === '') throw new FormTokenError('missing', 'the form token is missing');
  let bytes: Uint8Array;
  try {
    if (token.length !== FORM_TOKEN_CHARS) throw new RangeError();
    bytes = base64url.decode(token);
  } catch {
    throw new FormTokenError('forged', 'the form token was not made by this server');
  }
  const body = bytes.subarray(0, BODY_BYTES);
  const presented = bytes.subarray(BODY_BYTES);
  if (bytes.length !== BODY_BYTES + MAC_BYTES || !secrets.some((s) => equalBytes(mac(s, body), presented))) {
    throw new FormTokenError('forged', 'the form token was not made by this server');
  }
  // After the HMAC: only the server's own tokens get this far.
  if (body[0] !== VERSION || body[1] !== PURPOSES[o.purpose]) throw new FormTokenError('forged', `the form token is not for a ${o.purpose}`);
  const issuedMs = new DataView(body.buffer, body.byteOffset).getUint32(2 + NONCE_BYTES) * 1000;
  const now = o.now.getTime();
  if (o.minSeconds > 0 && now < issuedMs + o.minSeconds * 1000) {
    throw new FormTokenError('too-young', 'the form was sent too soon after it was loaded', Math.ceil((issuedMs + o.minSeconds * 1000 - now) / 1000));
  }
  if (now > issuedMs + o.maxSeconds * 1000) throw new FormTokenError('expired', 'the form token has expired');
  return { id: base64url.encode(body.subarray(2, 2 + NONCE_BYTES)) };
}

function mac(secret: Uint8Array, body: Uint8Array): Uint8Array {
  return hmac(sha256, secret, concatBytes(DOMAIN, body)).subarray(0, MAC_BYTES);
}
