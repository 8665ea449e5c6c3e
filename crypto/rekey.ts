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
import { cfb } from '@noble/ciphers/aes.js';
import { sha256 } from '@noble/hashes/sha2.js';
import * as openpgp from 'openpgp';
import { abytes, concatBytes, wipe } from './bytes.ts';
export { tipRecipientIds } from './manifest.ts';
import { inspectEncryptedMessage, inspectMessageHead } from './packets.ts';

/** Why a tip could not be re-keyed with this key. `code` is stable; `message` says what to do. */
export class RekeyError extends Error {
  override name = 'RekeyError';
  constructor(
    readonly code: 'not-for-this-key' | 'cannot-decrypt' | 'unsupported-cipher' | 'wrong-session-key',
    message: string,
  ) {
    super(message);
  }
}

/** AES key sizes: the only ciphers openpgp.js encrypts tips with here, and the only ones the quick check below knows. */
const AES_KEY_BYTES: Partial<Record<openpgp.enums.symmetricNames, number>> = { aes128: 16, aes192: 24, aes256: 32 };
const AES_BLOCK = 16;

/** Every key ID (lowercase hex) of a key: the primary key's and each subkey's. */
function keyIdsOf(key: openpgp.PublicKey | openpgp.PrivateKey): string[] {
  return key.getKeyIDs().map((id) => id.toHex().toLowerCase());
}

/**
 * Returns `ciphertext` re-keyed: new PKESK packets, one for each of `newKeys`,
 * then the original SEIPD packet, byte for byte. `privateKey` (unlocked) must
 * be one of the keys the tip is encrypted to now. Throws {@link RekeyError}
 * when it isn't, or when the session key can't be recovered or checked, and
 * `NotEncryptedError` (packets.ts) when `ciphertext` isn't a tip-shaped message.
 */
export async function rewrapSessionKey(
  ciphertext: Uint8Array,
  privateKey: openpgp.PrivateKey,
  newKeys: openpgp.PublicKey[],
  now: Date = new Date(),
): Promise<Uint8Array> {
  abytes(ciphertext, undefined, 'ciphertext');
  checkKeys(privateKey, newKeys);
  const inspected = inspectEncryptedMessage(ciphertext);
  // Skip the version byte. A partial-length body's first chunk is at least 512 bytes, so these bytes are contiguous.
  const prefixStart = inspected.packets.at(-1)!.bodyStart + 1;
  const keyPackets = await wrapSessionKey(
    {
      recipientKeyIds: inspected.recipientKeyIds,
      keyPackets: ciphertext.subarray(0, inspected.dataPacket.start),
      quickCheck: ciphertext.subarray(prefixStart, prefixStart + AES_BLOCK + 2),
    },
    privateKey,
    newKeys,
    now,
  );
  return concatBytes(keyPackets, ciphertext.subarray(inspected.dataPacket.start, inspected.dataPacket.end));
}

/**
 * {@link rewrapSessionKey} for a message too big to move: `head` is its first
 * bytes (its key packets and at least the first 19 bytes of its data packet's
 * body, see `inspectMessageHead` in packets.ts). Returns only the new PKESK
 * packets, one for each of `newKeys`; put in front of the message's data
 * packet, they make the re-keyed message. Throws as rewrapSessionKey does.
 */
export async function rewrapMessageHead(
  head: Uint8Array,
  privateKey: openpgp.PrivateKey,
  newKeys: openpgp.PublicKey[],
  now: Date = new Date(),
): Promise<Uint8Array> {
  abytes(head, undefined, 'head');
  checkKeys(privateKey, newKeys);
  return wrapSessionKey(inspectMessageHead(head), privateKey, newKeys, now);
}

function checkKeys(privateKey: openpgp.PrivateKey, newKeys: openpgp.PublicKey[]): void {
  if (!(privateKey instanceof openpgp.PrivateKey) || !privateKey.isDecrypted()) throw new TypeError('privateKey must be an unlocked openpgp.js private key');
  if (!Array.isArray(newKeys) || newKeys.length === 0) throw new RangeError('newKeys must name at least one key to re-key to');
}

/** What re-keying needs of a message: who it names, its key packets, and the data packet's quick-check bytes. */
type KeyPacketsAndPrefix = { recipientKeyIds: string[]; keyPackets: Uint8Array; quickCheck: Uint8Array };

/** Opens the session key in `m.keyPackets` with `privateKey`, checks it against the data, and wraps it for `newKeys`. */
async function wrapSessionKey(m: KeyPacketsAndPrefix, privateKey: openpgp.PrivateKey, newKeys: openpgp.PublicKey[], now: Date): Promise<Uint8Array> {
  const mine = new Set(keyIdsOf(privateKey));
  if (!m.recipientKeyIds.some((id) => mine.has(id))) {
    throw new RekeyError('not-for-this-key', `this key is not one the tip is encrypted to (it is encrypted to key IDs ${m.recipientKeyIds.join(', ')})`);
  }
  // Only the key packets go to openpgp.js: the data packet is never parsed, let alone decrypted.
  const message = await openpgp.readMessage({ binaryMessage: m.keyPackets.slice() });
  let sessionKeys: openpgp.DecryptedSessionKey[];
  try {
    sessionKeys = await openpgp.decryptSessionKeys({ message, decryptionKeys: privateKey, date: now });
  } catch (e) {
    throw new RekeyError('cannot-decrypt', `the key packet for this key does not decrypt (${(e as Error).message}); is this the right secret key?`);
  }
  try {
    const [sessionKey] = sessionKeys;
    if (!sessionKey || sessionKeys.some((k) => k.algorithm !== sessionKey.algorithm || !equalBytes(k.data, sessionKey.data))) {
      throw new RekeyError('cannot-decrypt', 'the key packets for this key disagree about the session key; the tip may have been tampered with, so it was left as it is');
    }
    const { algorithm } = sessionKey;
    const keyBytes = algorithm ? AES_KEY_BYTES[algorithm] : undefined;
    if (!algorithm || keyBytes === undefined || sessionKey.data.length !== keyBytes) {
      throw new RekeyError('unsupported-cipher', `the tip is encrypted with ${algorithm ?? 'AEAD'}, not AES, which this tool does not re-key; it was left as it is`);
    }
    if (!opensDataPacket(sessionKey.data, m.quickCheck)) {
      throw new RekeyError('wrong-session-key', 'the session key from this key does not fit the tip\'s encrypted data; the tip was left as it is so that no one is locked out of it');
    }
    return await openpgp.encryptSessionKey({
      data: sessionKey.data,
      algorithm,
      encryptionKeys: newKeys,
      format: 'binary',
      date: now,
    });
  } finally {
    for (const k of sessionKeys) wipe(k.data);
  }
}

/**
 * The SEIPDv1 quick check (RFC 4880 §5.13): the data starts with a random
 * block whose last two bytes are repeated, all in CFB mode with a zero IV.
 * Decrypting those 18 bytes (`quickCheck`) tells (to 1 in 65,536) whether
 * `key` is the right one, and reveals nothing of the tip.
 */
function opensDataPacket(key: Uint8Array, quickCheck: Uint8Array): boolean {
  if (quickCheck.length !== AES_BLOCK + 2) return false;
  const prefix = cfb(key, new Uint8Array(AES_BLOCK)).decrypt(quickCheck);
  const ok = prefix[AES_BLOCK - 2] === prefix[AES_BLOCK] && prefix[AES_BLOCK - 1] === prefix[AES_BLOCK + 1];
  wipe(prefix);
  return ok;
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
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
