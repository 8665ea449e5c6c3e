/**
 * The one session key of a segmented attachment (crypto/segmented-envelope.ts):
 * 32 random bytes for AES-256, wrapped by openpgp.js for each of the desk's
 * keys into PKESK v3 packets, once per file. Every segment carries these same
 * packets, so the public-key work doesn't grow with the file.
 *
 * @module
 * @example
 * import { createFileKey } from './file-session-key.ts';
 * const { sessionKey, keyPackets } = await createFileKey(desk.keys);
 */
import * as openpgp from 'openpgp';
import type { FileKey } from './segmented-envelope.ts';

/** A fresh session key for one file and its PKESK packets to all of `keys` (binary, new-format headers). */
export async function createFileKey(keys: openpgp.PublicKey[], now: Date = new Date()): Promise<FileKey> {
  if (!Array.isArray(keys) || keys.length === 0) throw new RangeError('no recipients');
  const sessionKey = crypto.getRandomValues(new Uint8Array(32));
  const keyPackets = (await openpgp.encryptSessionKey({ data: sessionKey, algorithm: 'aes256', encryptionKeys: keys, format: 'binary', date: now })) as Uint8Array;
  return { sessionKey, keyPackets };
}
