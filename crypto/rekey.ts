/**
 * Re-keying a stored tip without reading it. A tip is one SEIPD data packet
 * behind one PKESK packet per journalist key; each PKESK holds the same session
 * key, encrypted to one key. When the journalist list changes (someone leaves,
 * or replaces a key), a journalist whose key opens the tip decrypts only the
 * PKESK packets, on their own machine, wraps that session key for the keys
 * that joined, and puts the key packets in front of the untouched data packet.
 * The data packet never changes, so the server can check that nothing but the
 * key packets was swapped, and the tip's content never leaves the journalist's
 * machine, in the clear or otherwise. Afterwards only the new keys open it.
 *
 * Only keys that join get a new packet. A key that stays keeps its packet
 * byte for byte, and the server refuses a swap that changes one
 * (key-packet-swap.ts): a re-key can't lock anyone out who opens the tip
 * today. The re-keyed key packets are the stored ones that stay, in their
 * stored order, then one new packet per joining key, in `newKeys` order: the
 * old packets minus the removed ones, plus the added ones at the end.
 *
 * When no key joins (a journalist left) nothing is wrapped, so no session key
 * is needed: the removed packets are cut out, and that works whoever runs it,
 * even with a key that doesn't open the tip. The server allows it: it takes
 * only the key set the signed manifest gives the tip's desk, so removing
 * leaves exactly the journalists the newsroom says should read it, and every
 * one of them keeps the packet they had.
 *
 * When a key joins, the session key is opened and first tried on the data
 * packet's 18-byte random prefix (the SEIPDv1 "quick check"): a wrong key
 * wrapped for the new journalist would lock them out of the tip. No tip
 * content is decrypted.
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
import { abytes, concatBytes, equalBytes, wipe } from './bytes.ts';
import { encryptionKeyIdOf } from './envelope.ts';
import { splitKeyPackets } from './key-packet-swap.ts';
export { tipRecipientIds } from './manifest.ts';
import { inspectEncryptedMessage, inspectMessageHead, type MessageHead } from './packets.ts';
import { isSessionKeySource, messageHeadOf, privateKeySource, SessionKeyError, unlockSessionKey, type SessionKey, type SessionKeySource } from './session-key.ts';

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
 * Returns `ciphertext` re-keyed for `newKeys`: the stored PKESK packets of
 * the keys that stay, unchanged, then a new one for each key that joins, then
 * the original SEIPD packet, byte for byte. When a key joins, `key` (an
 * unlocked private key, or a session key source such as gpg) must open one of
 * the keys the tip is encrypted to now; when none joins it isn't used. Throws
 * {@link RekeyError} when it doesn't, or when the session key can't be
 * recovered or checked, and `NotEncryptedError` (packets.ts) when
 * `ciphertext` isn't a tip-shaped message.
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
 * body, see `inspectMessageHead` in packets.ts). Returns only the key
 * packets, as rewrapSessionKey makes them (the kept ones, then the new ones);
 * put in front of the message's data packet, they make the re-keyed message.
 * Throws as rewrapSessionKey does.
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

/**
 * The key packets for `newKeys`: `head`'s packets for the keys that stay, as
 * they are, then new ones for the keys that join, wrapped with the session
 * key `source` opens (only then is it asked).
 */
async function wrapSessionKey(head: MessageHead, source: SessionKeySource, newKeys: openpgp.PublicKey[], now: Date): Promise<Uint8Array> {
  const newKeyIds = await Promise.all(newKeys.map((k) => encryptionKeyIdOf(k, now)));
  const kept = splitKeyPackets(head.keyPackets).filter((p) => newKeyIds.includes(p.keyId));
  const joining = newKeys.filter((_, i) => !kept.some((p) => p.keyId === newKeyIds[i]));
  if (joining.length === 0) return concatBytes(...kept.map((p) => p.packet));
  let sessionKey: SessionKey;
  try {
    sessionKey = await unlockSessionKey(source, head);
  } catch (e) {
    if (e instanceof SessionKeyError) throw new RekeyError(e.code, e.message.replace(/\bmessage\b/g, 'tip'));
    throw e;
  }
  try {
    const added = (await openpgp.encryptSessionKey({ ...sessionKey, encryptionKeys: joining, format: 'binary', date: now })) as Uint8Array;
    return concatBytes(...kept.map((p) => p.packet), added);
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
