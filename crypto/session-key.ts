/**
 * Session keys: what a journalist's secret key is needed for. Every stored
 * message (tip, follow-up, reply copy, attachment) is PKESK packets holding
 * one AES session key, then one SEIPDv1 data packet. Decrypting and re-keying
 * both start by recovering that session key from the key packets; after that,
 * openpgp.js streams the data with the session key alone.
 *
 * A {@link SessionKeySource} is where session keys come from: an unlocked
 * openpgp.js key ({@link privateKeySource}), or gpg-agent, so that a key in
 * the journalist's keyring or on a smartcard never leaves it
 * (client/journalist/gpg-session-keys.ts). Whatever the source says is checked
 * the same way here ({@link unlockSessionKey}): the message must name one of
 * its keys, the cipher must be AES, and the key must pass the SEIPDv1 quick
 * check on the data packet's first 18 bytes before it is used or re-wrapped.
 *
 * @module
 * @example
 * import { privateKeySource, unlockSessionKey, messageHeadOf } from './session-key.ts';
 * const source = privateKeySource(privateKey);
 * const sessionKey = await unlockSessionKey(source, messageHeadOf(ciphertext));
 * // openpgp.decrypt({ message, sessionKeys: sessionKey, format: 'binary' })
 */
import { cfb } from '@noble/ciphers/aes.js';
import * as openpgp from 'openpgp';
import { abytes, equalBytes, wipe } from './bytes.ts';
import { compressionRefused, NO_DECOMPRESSION } from './envelope.ts';
import { inspectEncryptedMessage, type MessageHead } from './packets.ts';

export type AesName = 'aes128' | 'aes192' | 'aes256';

/** A message's session key, as openpgp.js takes it in `decrypt({ sessionKeys })` and `encryptSessionKey`. */
export type SessionKey = { data: Uint8Array; algorithm: AesName };

/**
 * Where session keys come from. `sessionKey` gets only the key packets and
 * the 18 quick-check bytes of the data packet: never any of the content.
 */
export interface SessionKeySource {
  /** What to call it in messages: "the key in secret.asc", "gpg". */
  readonly label: string;
  /** Key IDs (lowercase hex) of every secret key and subkey this source holds: a message naming none of them is not for it. */
  keyIds(): Promise<ReadonlySet<string>>;
  /** The session key in `head`'s key packets; throws a {@link SessionKeyError} when it can't be opened. */
  sessionKey(head: MessageHead): Promise<SessionKey>;
  /** Lets go of what it holds (a gpg process); safe to call twice. */
  close(): Promise<void>;
}

/** Why a message's session key could not be had. `code` is stable; `message` says what to do. */
export class SessionKeyError extends Error {
  override name = 'SessionKeyError';
  constructor(
    readonly code: 'not-for-this-key' | 'cannot-decrypt' | 'unsupported-cipher' | 'wrong-session-key',
    message: string,
  ) {
    super(message);
  }
}

const AES_KEY_BYTES: Record<AesName, number> = { aes128: 16, aes192: 24, aes256: 32 };
const AES_BLOCK = 16;

export function isSessionKeySource(value: unknown): value is SessionKeySource {
  return typeof value === 'object' && value !== null && typeof (value as SessionKeySource).sessionKey === 'function' && typeof (value as SessionKeySource).keyIds === 'function';
}

/**
 * A source backed by an unlocked openpgp.js private key (`--key FILE`).
 *
 * @example
 * const source = privateKeySource(await readPrivateKey(armored, passphrase));
 */
export function privateKeySource(privateKey: openpgp.PrivateKey, label = 'this secret key'): SessionKeySource {
  if (!(privateKey instanceof openpgp.PrivateKey) || !privateKey.isDecrypted()) throw new TypeError('privateKey must be an unlocked openpgp.js private key');
  const ids = new Set(privateKey.getKeyIDs().map((id) => id.toHex().toLowerCase()));
  return {
    label,
    keyIds: async () => ids,
    async sessionKey(head) {
      // Only the key packets go to openpgp.js: the data packet is never parsed, let alone decrypted.
      const message = await openpgp.readMessage({ binaryMessage: head.keyPackets.slice() });
      let found: openpgp.DecryptedSessionKey[];
      try {
        found = await openpgp.decryptSessionKeys({ message, decryptionKeys: privateKey });
      } catch (e) {
        throw new SessionKeyError('cannot-decrypt', `the key packet for this key does not decrypt (${(e as Error).message}); is this the right secret key?`);
      }
      const [first] = found;
      try {
        if (!first || found.some((k) => k.algorithm !== first.algorithm || !equalBytes(k.data, first.data))) {
          throw new SessionKeyError('cannot-decrypt', 'the key packets for this key disagree about the session key; the message may have been tampered with, so it was left as it is');
        }
        return { data: first.data.slice(), algorithm: first.algorithm as AesName };
      } finally {
        for (const k of found) wipe(k.data);
      }
    },
    close: async () => {},
  };
}

/**
 * The session key of the message whose head is `head`, from `source`, checked:
 * the message names one of the source's keys, the cipher is AES with a key of
 * the right length, and the key opens the data packet's quick check. Throws
 * {@link SessionKeyError}.
 */
export async function unlockSessionKey(source: SessionKeySource, head: MessageHead): Promise<SessionKey> {
  const mine = await source.keyIds();
  if (!head.recipientKeyIds.some((id) => mine.has(id))) {
    throw new SessionKeyError('not-for-this-key', `${source.label} is not one the message is encrypted to (it is encrypted to key IDs ${head.recipientKeyIds.join(', ')})`);
  }
  const key = await source.sessionKey(head);
  const keyBytes = AES_KEY_BYTES[key.algorithm];
  if (keyBytes === undefined || key.data.length !== keyBytes) {
    wipe(key.data);
    throw new SessionKeyError('unsupported-cipher', `the message is encrypted with ${key.algorithm ?? 'AEAD'}, not AES, which this tool does not accept; it was left as it is`);
  }
  if (!opensDataPacket(key.data, head.quickCheck)) {
    wipe(key.data);
    throw new SessionKeyError('wrong-session-key', 'the session key from this key does not fit the message\'s encrypted data; it was left as it is so that no one is locked out of it');
  }
  return key;
}

/**
 * Decrypts a whole binary message (a tip, follow-up or reply copy) with the
 * session key from `source`. Throws {@link SessionKeyError} when the key
 * doesn't fit, and openpgp.js's error when the integrity check fails.
 */
export async function decryptMessage(ciphertext: Uint8Array, source: SessionKeySource): Promise<Uint8Array> {
  abytes(ciphertext, undefined, 'ciphertext');
  const sessionKey = await unlockSessionKey(source, messageHeadOf(ciphertext));
  try {
    const message = await openpgp.readMessage({ binaryMessage: ciphertext });
    // Never inflate: a compressed packet is refused at its first chunk (envelope.ts).
    const { data } = await openpgp.decrypt({ message, sessionKeys: sessionKey, format: 'binary', config: NO_DECOMPRESSION });
    return data as Uint8Array;
  } catch (e) {
    throw compressionRefused(e);
  } finally {
    wipe(sessionKey.data);
  }
}

/** The head ({@link MessageHead}) of a whole message held in memory; throws `NotEncryptedError` when it isn't message-shaped. */
export function messageHeadOf(ciphertext: Uint8Array): MessageHead {
  const inspected = inspectEncryptedMessage(ciphertext);
  // Skip the version byte. A partial-length body's first chunk is at least 512 bytes, so these bytes are contiguous.
  const prefixStart = inspected.packets.at(-1)!.bodyStart + 1;
  return {
    recipientKeyIds: inspected.recipientKeyIds,
    keyPackets: ciphertext.subarray(0, inspected.dataPacket.start),
    quickCheck: ciphertext.subarray(prefixStart, prefixStart + AES_BLOCK + 2),
  };
}

/**
 * The SEIPDv1 quick check (RFC 4880 §5.13): the data starts with a random
 * block whose last two bytes are repeated, all in CFB mode with a zero IV.
 * Decrypting those 18 bytes (`quickCheck`) tells (to 1 in 65,536) whether
 * `key` is the right one, and reveals nothing of the message.
 */
function opensDataPacket(key: Uint8Array, quickCheck: Uint8Array): boolean {
  if (quickCheck.length !== AES_BLOCK + 2) return false;
  const prefix = cfb(key, new Uint8Array(AES_BLOCK)).decrypt(quickCheck);
  const ok = prefix[AES_BLOCK - 2] === prefix[AES_BLOCK] && prefix[AES_BLOCK - 1] === prefix[AES_BLOCK + 1];
  wipe(prefix);
  return ok;
}

