/**
 * Re-keying a stored tip without reading it. A tip is one SEIPD data packet
 * behind one PKESK packet per journalist key; each PKESK holds the same session
 * key, encrypted to one key. When the journalist list changes (someone leaves,
 * or replaces a key), a journalist whose key opens the tip decrypts only the
 * PKESK packets, on their own machine, wraps that session key for the current
 * keys, and puts the new PKESK packets in front of the untouched data packet.
 * The data packet never changes, so the server can check that nothing but the
 * key packets was swapped, and the tip's content never leaves the journalist's
 * machine, in the clear or otherwise. Afterwards only the new keys open it.
 *
 * Before wrapping, the session key is tried on the data packet's 18-byte
 * random prefix (the SEIPDv1 "quick check"): a wrong key wrapped for everyone
 * would lock the whole newsroom out of the tip. No tip content is decrypted.
 *
 * An attachment can be gigabytes long, so it is re-keyed from its head alone
 * ({@link rewrapMessageHead}): the key packets and the first bytes of the data
 * packet go in, new key packets come out, and the server splices them onto
 * the data it holds.
 *
 * @module
 * @example
 * import { rewrapMessageHead, rewrapSessionKey, sameEncryptedData, tipRecipientIds } from './rekey.ts';
 * const rekeyed = await rewrapSessionKey(stored, oldPrivateKey, currentKeys);
 * sameEncryptedData(stored, rekeyed); // true: only the key packets differ
 * const keyPackets = await rewrapMessageHead(attachmentHead, oldPrivateKey, currentKeys); // PKESK packets only
 * tipRecipientIds(manifest, 'investigations'); // ['<journalist id>', …]
 */
import { sha256 } from '@noble/hashes/sha2.js';
import * as openpgp from 'openpgp';
import { abytes, concatBytes, wipe } from './bytes.ts';
export { tipRecipientIds } from './manifest.ts';
import { inspectEncryptedMessage, inspectMessageHead, type MessageHead } from './packets.ts';
import { equalBytes, isSessionKeySource, messageHeadOf, privateKeySource, SessionKeyError, unlockSessionKey, type SessionKey, type SessionKeySource } from './session-key.ts';

/** Why a tip could not be re-keyed with this key. `code` is stable; `message` says what to do. */
export class RekeyError extends Error {
  override name = 'RekeyError';
  constructor(
    readonly code: SessionKeyError['code'],
    message: string,
  ) {
    super(message);
  }
}

/** An unlocked openpgp.js key (`--key FILE`), or any other source of session keys (gpg-agent: `--gpg`). */
export type RekeyKey = openpgp.PrivateKey | SessionKeySource;

/**
 * Returns `ciphertext` re-keyed: new PKESK packets, one for each of `newKeys`,
 * then the original SEIPD packet, byte for byte. `key` (an unlocked private
 * key, or a session key source such as gpg) must open one of the keys the tip
 * is encrypted to now. Throws {@link RekeyError} when it doesn't, or when the
 * session key can't be recovered or checked, and `NotEncryptedError`
 * (packets.ts) when `ciphertext` isn't a tip-shaped message.
 */
export async function rewrapSessionKey(ciphertext: Uint8Array, key: RekeyKey, newKeys: openpgp.PublicKey[], now: Date = new Date()): Promise<Uint8Array> {
  abytes(ciphertext, undefined, 'ciphertext');
  const source = checkKeys(key, newKeys);
  const head = messageHeadOf(ciphertext);
  const keyPackets = await wrapSessionKey(head, source, newKeys, now);
  const { dataPacket } = inspectEncryptedMessage(ciphertext);
  return concatBytes(keyPackets, ciphertext.subarray(dataPacket.start, dataPacket.end));
}

/**
 * {@link rewrapSessionKey} for a message too big to move: `head` is its first
 * bytes (its key packets and at least the first 19 bytes of its data packet's
 * body, see `inspectMessageHead` in packets.ts). Returns only the new PKESK
 * packets, one for each of `newKeys`; put in front of the message's data
 * packet, they make the re-keyed message. Throws as rewrapSessionKey does.
 */
export async function rewrapMessageHead(head: Uint8Array, key: RekeyKey, newKeys: openpgp.PublicKey[], now: Date = new Date()): Promise<Uint8Array> {
  abytes(head, undefined, 'head');
  const source = checkKeys(key, newKeys);
  return wrapSessionKey(inspectMessageHead(head), source, newKeys, now);
}

function checkKeys(key: RekeyKey, newKeys: openpgp.PublicKey[]): SessionKeySource {
  if (!Array.isArray(newKeys) || newKeys.length === 0) throw new RangeError('newKeys must name at least one key to re-key to');
  return isSessionKeySource(key) ? key : privateKeySource(key);
}

/** Opens the session key in `head` with `source` (checked: see session-key.ts), and wraps it for `newKeys`. */
async function wrapSessionKey(head: MessageHead, source: SessionKeySource, newKeys: openpgp.PublicKey[], now: Date): Promise<Uint8Array> {
  let sessionKey: SessionKey;
  try {
    sessionKey = await unlockSessionKey(source, head);
  } catch (e) {
    if (e instanceof SessionKeyError) throw new RekeyError(e.code, e.message.replace(/\bmessage\b/g, 'tip'));
    throw e;
  }
  try {
    return await openpgp.encryptSessionKey({ ...sessionKey, encryptionKeys: newKeys, format: 'binary', date: now });
  } finally {
    wipe(sessionKey.data);
  }
}

/** SHA-256 of a message's SEIPD packet, header included: what re-keying must leave unchanged. */
function encryptedDataDigest(message: Uint8Array): Uint8Array {
  const { dataPacket } = inspectEncryptedMessage(message);
  return sha256(message.subarray(dataPacket.start, dataPacket.end));
}

/**
 * True when two messages carry the very same encrypted data packet, compared
 * by SHA-256: `after` is `before` with only its key packets swapped. Throws
 * `NotEncryptedError` when either is not a tip-shaped message.
 */
export function sameEncryptedData(before: Uint8Array, after: Uint8Array): boolean {
  return equalBytes(encryptedDataDigest(before), encryptedDataDigest(after));
}

/**
 * The journalists (manifest recipient ids) a stored tip for `deskId` belongs
 * to now: its desk's journalists; when the tip has no desk or its desk no
 * longer exists, every journalist in the manifest. That is exactly who the
 * journalist API shows such a tip to, so the server and the re-keying client
 * share this one rule.
 */
