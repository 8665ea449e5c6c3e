/**
 * Checks a v3 onion address the way Tor does, so a typo is caught before it is
 * printed in the paper or sent in `Onion-Location`: 56 base32 characters
 * encoding a 32-byte ed25519 public key, a 2-byte checksum and the version
 * byte 3, where the checksum is the first two bytes of
 * SHA3-256(".onion checksum" ‖ public key ‖ version) (Tor's rend-spec-v3).
 *
 * @example
 * checkOnionAddress('http://abc…xyz.onion/'); // → { ok: true, host: 'abc…xyz.onion' }
 * checkOnionAddress('abc.onion');              // → { ok: false, reason: 'is not 56 base32 characters …' }
 */
import { sha3_256 } from '@noble/hashes/sha3.js';

export type OnionCheck = { ok: true; host: string } | { ok: false; reason: string };

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

export function checkOnionAddress(text: string): OnionCheck {
  const host = text.trim().toLowerCase().replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  const label = host.endsWith('.onion') ? host.slice(0, -'.onion'.length) : host;
  if (!/^[a-z2-7]{56}$/.test(label)) return { ok: false, reason: 'is not a v3 onion address (56 letters and digits 2–7, then .onion)' };
  const bytes = base32Decode(label);
  const publicKey = bytes.subarray(0, 32);
  const checksum = bytes.subarray(32, 34);
  const version = bytes[34];
  if (version !== 3) return { ok: false, reason: `is not a v3 onion address (it says version ${version})` };
  const expected = sha3_256(new Uint8Array([...new TextEncoder().encode('.onion checksum'), ...publicKey, 3]));
  if (expected[0] !== checksum[0] || expected[1] !== checksum[1]) return { ok: false, reason: 'has a wrong checksum: a character is mistyped' };
  return { ok: true, host: `${label}.onion` };
}

/** RFC 4648 base32 without padding; `text` is already checked to be 56 valid characters (35 bytes). */
function base32Decode(text: string): Uint8Array {
  const out = new Uint8Array((text.length * 5) >> 3);
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const ch of text) {
    value = (value << 5) | BASE32.indexOf(ch);
    bits += 5;
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}
