/**
 * The reply box: how a journalist's reply reaches a source who has only a
 * codename. Anonymous public-key encryption to the source's X25519 reply key.
 *
 * Format, version 1 (all lengths in bytes):
 *
 * ```
 * version (1) = 0x01 ‖ ephemeral X25519 public key (32) ‖ nonce (24) ‖ XChaCha20-Poly1305 ciphertext + tag (16)
 * ```
 *
 * - shared = X25519(ephemeral secret, recipient public key)
 * - key = HKDF-SHA256(ikm = shared, salt = ephemeral public ‖ recipient public, info = "tipline reply box v1", 32)
 * - associated data = version ‖ ephemeral public ‖ recipient public, so a box
 *   can't be re-labelled for another key or version.
 *
 * The plaintext is a padded tip document (`type: 'reply'`), so the box size
 * shows only a bucket.
 *
 * @module
 * @example
 * import { sealReply, openReply } from './reply-box.ts';
 * const box = sealReply(plaintext, replyPublicKey);
 * openReply(box, replySecretKey); // → plaintext, or throws ReplyBoxError
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { abytes, concatBytes, randomBytes, utf8, wipe } from './bytes.ts';

export const REPLY_BOX_VERSION = 1;
const INFO = utf8.encode('tipline reply box v1');
const HEADER = 1 + 32 + 24;
const TAG = 16;

export class ReplyBoxError extends Error {
  override name = 'ReplyBoxError';
}

function boxKey(shared: Uint8Array, ephemeralPublic: Uint8Array, recipientPublic: Uint8Array): Uint8Array {
  return hkdf(sha256, shared, concatBytes(ephemeralPublic, recipientPublic), INFO, 32);
}

/** Encrypts `plaintext` to the source's X25519 public key. */
export function sealReply(plaintext: Uint8Array, recipientPublicKey: Uint8Array): Uint8Array {
  abytes(plaintext, undefined, 'plaintext');
  abytes(recipientPublicKey, 32, 'recipientPublicKey');
  const ephemeralSecret = x25519.utils.randomSecretKey();
  const ephemeralPublic = x25519.getPublicKey(ephemeralSecret);
  const shared = x25519.getSharedSecret(ephemeralSecret, recipientPublicKey);
  const key = boxKey(shared, ephemeralPublic, recipientPublicKey);
  const nonce = randomBytes(24);
  const version = new Uint8Array([REPLY_BOX_VERSION]);
  const aad = concatBytes(version, ephemeralPublic, recipientPublicKey);
  const sealed = xchacha20poly1305(key, nonce, aad).encrypt(plaintext);
  wipe(ephemeralSecret, shared, key);
  return concatBytes(version, ephemeralPublic, nonce, sealed);
}

/** Opens a reply box with the source's X25519 secret key. Throws {@link ReplyBoxError} on any tampering or wrong key. */
export function openReply(box: Uint8Array, recipientSecretKey: Uint8Array): Uint8Array {
  abytes(box, undefined, 'box');
  abytes(recipientSecretKey, 32, 'recipientSecretKey');
  if (box.length < HEADER + TAG) throw new ReplyBoxError('the reply is too short to be a reply box');
  if (box[0] !== REPLY_BOX_VERSION) throw new ReplyBoxError(`unsupported reply box version ${box[0]}`);
  const ephemeralPublic = box.subarray(1, 33);
  const nonce = box.subarray(33, HEADER);
  const recipientPublic = x25519.getPublicKey(recipientSecretKey);
  let shared: Uint8Array;
  try {
    shared = x25519.getSharedSecret(recipientSecretKey, ephemeralPublic);
  } catch {
    throw new ReplyBoxError('the reply box is damaged');
  }
  const key = boxKey(shared, ephemeralPublic, recipientPublic);
  const aad = concatBytes(box.subarray(0, 1), ephemeralPublic, recipientPublic);
  try {
    return xchacha20poly1305(key, nonce, aad).decrypt(box.subarray(HEADER));
  } catch {
    throw new ReplyBoxError('the reply could not be opened: it was altered, or it is for another codename');
  } finally {
    wipe(shared, key);
  }
}

/** True when `box` has the shape of a version-1 reply box (the server's cheap check; it can't open one). */
export function isReplyBox(box: Uint8Array): boolean {
  return box instanceof Uint8Array && box.length >= HEADER + TAG && box[0] === REPLY_BOX_VERSION;
}
