/**
 * The OpenPGP envelope: tips are encrypted with openpgp.js to every current
 * journalist key as one message (one PKESK packet per key, one SEIPD v1 data
 * packet), which stock GnuPG 2.2+ decrypts.
 *
 * In Node this imports `openpgp`; the browser bundle aliases it to
 * `openpgp/lightweight` (see build.mjs).
 *
 * @module
 * @example
 * import { checkJournalistKey, encryptToKeys, decryptWithKey } from './envelope.ts';
 * const { key } = await checkJournalistKey(armoredPublicKey);
 * const ciphertext = await encryptToKeys(padded, [key]);
 * const plaintext = await decryptWithKey(ciphertext, privateKey);
 */
import * as openpgp from 'openpgp';
import { abytes } from './bytes.ts';
import { dayStart, utcDay } from './day.ts';
import { NotEncryptedError, inspectEncryptedMessage, type InspectedMessage } from './packets.ts';

export type PublicKey = openpgp.PublicKey;
export type PrivateKey = openpgp.PrivateKey;

/** Why a journalist key was refused. `code` is stable; `message` says what to do about it. */
export class KeyCheckError extends Error {
  override name = 'KeyCheckError';
  constructor(
    readonly code: 'unreadable' | 'not-public' | 'several-keys' | 'version' | 'algorithm' | 'too-weak' | 'expired' | 'revoked' | 'no-encryption-subkey' | 'aead',
    message: string,
  ) {
    super(message);
  }
}

export type CheckedKey = {
  key: PublicKey;
  /** Primary key fingerprint, lowercase hex (gpg prints it uppercase: compare case-insensitively). */
  fingerprint: string;
  /** Key ID (lowercase hex) of the subkey that tips are encrypted to. */
  encryptionKeyId: string;
  /** When the key (or its encryption subkey) stops being valid; null if never. */
  expires: Date | null;
  userIds: string[];
  /** The armored public key, normalised (no private parts, one key). */
  armored: string;
};

const MIN_RSA_BITS = 3072;
/** The "Version 2 SEIPD" bit of the Features subpacket (RFC 9580 §5.2.3.32). */
const SEIPDV2_FEATURE = 0x08;

/**
 * Checks a journalist's armored OpenPGP public key before it is accepted: v4 only,
 * RSA ≥ 3072 bits or legacy ed25519/cv25519 (what GnuPG 2.2 reads), an encryption
 * subkey valid `now`, not expired, not revoked, and no SEIPDv2 (AEAD) feature flag.
 */
export async function checkJournalistKey(armored: string, now: Date = new Date()): Promise<CheckedKey> {
  if (typeof armored !== 'string') throw new TypeError('armored key must be a string');
  if (armored.includes('PRIVATE KEY BLOCK')) {
    throw new KeyCheckError('not-public', 'this is a secret key; give the public key only (gpg --armor --export)');
  }
  const blocks = armored.match(/-----BEGIN PGP PUBLIC KEY BLOCK-----/g)?.length ?? 0;
  if (blocks > 1) throw new KeyCheckError('several-keys', 'the file holds more than one key block; give exactly one key');
  let keys: openpgp.Key[];
  try {
    keys = await openpgp.readKeys({ armoredKeys: armored });
  } catch (e) {
    throw new KeyCheckError('unreadable', `not an armored OpenPGP public key (${(e as Error).message})`);
  }
  if (keys.length !== 1) throw new KeyCheckError('several-keys', 'give exactly one key');
  const key = keys[0]!;
  if (key.isPrivate()) throw new KeyCheckError('not-public', 'this is a secret key; give the public key only');
  if (key.keyPacket.version !== 4) {
    throw new KeyCheckError('version', `v${key.keyPacket.version} keys are not supported: GnuPG 2.2 cannot read them. Make a v4 key`);
  }
  checkAlgorithm(key.getAlgorithmInfo(), 'primary key', ['rsaEncryptSign', 'rsaSign'], 'ed25519Legacy');
  if (await key.isRevoked(undefined, undefined, now)) throw new KeyCheckError('revoked', 'the key is revoked');
  const expires = await key.getExpirationTime();
  if (expires instanceof Date && expires.getTime() <= now.getTime()) {
    throw new KeyCheckError('expired', `the key expired on ${utcDay(expires)}`);
  }
  let encryptionKey: openpgp.Key | openpgp.Subkey;
  try {
    encryptionKey = await key.getEncryptionKey(undefined, now);
  } catch {
    throw new KeyCheckError('no-encryption-subkey', 'the key has no valid encryption subkey (it may be sign-only, expired or revoked)');
  }
  checkAlgorithm(encryptionKey.getAlgorithmInfo(), 'encryption subkey', ['rsaEncryptSign', 'rsaEncrypt'], 'curve25519Legacy', 'ecdh');
  // openpgp.js encrypts with SEIPDv2 whenever every recipient's self-signature lists that
  // feature, whatever `aeadProtect` says; GnuPG 2.2 can't read SEIPDv2 and packets.ts refuses it.
  const { selfCertification } = await key.getPrimaryUser(now);
  if ((selfCertification.features?.[0] ?? 0) & SEIPDV2_FEATURE) {
    throw new KeyCheckError('aead', 'the key asks for AEAD encryption (SEIPDv2, made by openpgp.js with aeadProtect: true), which GnuPG 2.2 cannot read. Make a key without it');
  }
  const userIds = key.getUserIDs();
  return {
    key: key as PublicKey,
    fingerprint: key.getFingerprint().toLowerCase(),
    encryptionKeyId: encryptionKey.getKeyID().toHex().toLowerCase(),
    expires: expires instanceof Date ? expires : null,
    userIds,
    armored: key.armor(),
  };
}

function checkAlgorithm(
  info: { algorithm: string; bits?: number; curve?: string },
  what: string,
  rsaNames: string[],
  legacyCurve: string,
  eccName = 'eddsaLegacy',
): void {
  if (rsaNames.includes(info.algorithm)) {
    if ((info.bits ?? 0) < MIN_RSA_BITS) {
      throw new KeyCheckError('too-weak', `${what} is RSA-${info.bits}; RSA keys need at least ${MIN_RSA_BITS} bits`);
    }
    return;
  }
  if (info.algorithm === eccName && info.curve === legacyCurve) return;
  const name = info.curve ? `${info.algorithm}/${info.curve}` : info.algorithm;
  throw new KeyCheckError(
    'algorithm',
    `${what} uses ${name}; only RSA (≥ ${MIN_RSA_BITS} bits) or legacy ed25519/cv25519 keys work with GnuPG 2.2`,
  );
}

/** The key ID (lowercase hex) that a message to `key` names in its PKESK packet. */
export async function encryptionKeyIdOf(key: PublicKey, now: Date = new Date()): Promise<string> {
  const sub = await key.getEncryptionKey(undefined, now);
  return sub.getKeyID().toHex().toLowerCase();
}

export async function readPublicKey(armored: string): Promise<PublicKey> {
  return (await openpgp.readKey({ armoredKey: armored })) as PublicKey;
}

/** Reads an armored secret key, unlocking it with `passphrase` when it is protected. */
export async function readPrivateKey(armored: string, passphrase?: string): Promise<PrivateKey> {
  const key = await openpgp.readPrivateKey({ armoredKey: armored });
  if (key.isDecrypted()) return key;
  if (passphrase === undefined) throw new Error('the secret key is protected by a passphrase; give --passphrase-file');
  return openpgp.decryptKey({ privateKey: key, passphrase });
}

/**
 * Encrypts `plaintext` (already padded) to all `keys` as one binary OpenPGP message.
 * The literal packet's date is set to the start of today (UTC), so not even the
 * journalist learns the time of day from it.
 */
export async function encryptToKeys(plaintext: Uint8Array, keys: PublicKey[], now: Date = new Date()): Promise<Uint8Array> {
  abytes(plaintext, undefined, 'plaintext');
  if (keys.length === 0) throw new RangeError('no recipients');
  const message = await openpgp.createMessage({ binary: plaintext, format: 'binary', date: dayStart(utcDay(now)) });
  const out = await openpgp.encrypt({
    message,
    encryptionKeys: keys,
    format: 'binary',
    date: now,
    // SEIPDv1, no compression: what GnuPG 2.2 reads, and compression would leak through sizes.
    config: { aeadProtect: false, preferredCompressionAlgorithm: openpgp.enums.compression.uncompressed },
  });
  return out as Uint8Array;
}

/** Decrypts a binary OpenPGP message. Throws when the key doesn't fit or integrity fails. */
export async function decryptWithKey(ciphertext: Uint8Array, key: PrivateKey): Promise<Uint8Array> {
  abytes(ciphertext, undefined, 'ciphertext');
  const message = await openpgp.readMessage({ binaryMessage: ciphertext });
  try {
    const { data } = await openpgp.decrypt({ message, decryptionKeys: key, format: 'binary', config: NO_DECOMPRESSION });
    return data as Uint8Array;
  } catch (e) {
    throw compressionRefused(e);
  }
}

/**
 * Our clients never compress (it leaks through sizes), so a compressed packet
 * inside a message is someone else's work, and possibly a decompression bomb:
 * a few kilobytes that inflate to gigabytes. openpgp.js inflates any it meets;
 * a limit of 0 bytes stops it at the first inflated chunk, in flat memory.
 */
export const NO_DECOMPRESSION = { maxDecompressedMessageSize: 0 } as const;

/** A message refused because it holds a compressed packet (see {@link NO_DECOMPRESSION}). */
export class CompressedMessageError extends Error {
  override name = 'CompressedMessageError';
  constructor() {
    super('it holds a compressed packet, which tipline never makes (possibly a decompression bomb); refused unopened. Keep the .gpg file and report it to whoever runs your tip line');
  }
}

/** openpgp.js's words for the 0-byte limit, as a {@link CompressedMessageError}; anything else unchanged. */
export function compressionRefused(e: unknown): unknown {
  return e instanceof Error && /Maximum decompressed message size exceeded/.test(e.message) ? new CompressedMessageError() : e;
}

/**
 * Checks that `ciphertext` is encrypted to exactly `expectedKeyIds`: no key
 * missing, none extra, and only PKESK + SEIPD packets (see packets.ts).
 */
export function checkRecipients(ciphertext: Uint8Array, expectedKeyIds: readonly string[]): InspectedMessage {
  const inspected = inspectEncryptedMessage(ciphertext);
  checkKeyIds(inspected.recipientKeyIds, expectedKeyIds);
  return inspected;
}

/** Throws NotEncryptedError('bad-recipients') unless `got` names exactly the keys in `expected`. */
export function checkKeyIds(got: readonly string[], expectedKeyIds: readonly string[]): void {
  const want = new Set(expectedKeyIds.map((k) => k.toLowerCase()));
  const missing = [...want].filter((k) => !got.includes(k));
  const extra = got.filter((k) => !want.has(k));
  if (missing.length > 0 || extra.length > 0) {
    throw new NotEncryptedError(
      'bad-recipients',
      `the message must be encrypted to exactly the current journalist keys (${missing.length} missing, ${extra.length} not in the manifest); reload the page and try again`,
    );
  }
}
