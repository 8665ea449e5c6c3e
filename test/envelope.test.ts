/**
 * crypto/envelope.ts and crypto/packets.ts: which journalist keys are accepted
 * (only what stock GnuPG 2.2 can use), and which bodies the server counts as
 * "encrypted to exactly these keys". Every refusal asserts its `code`, so a
 * check that is removed or reordered shows up as a different code, not a pass.
 */
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../crypto/bytes.ts';
import { dayStart, utcDay } from '../crypto/day.ts';
import { checkJournalistKey, checkRecipients, decryptWithKey, encryptToKeys, KeyCheckError } from '../crypto/envelope.ts';
import { inspectEncryptedMessage, NotEncryptedError, PacketTag, readPacketSpans } from '../crypto/packets.ts';
import { makeGpgHome, type GpgHome } from './helpers/gpg.ts';

type KeyPair = { publicKey: openpgp.PublicKey; privateKey: openpgp.PrivateKey; armoredPublic: string };

const userIDs = (name: string) => [{ name, email: `${name.toLowerCase()}@example.org` }];

async function makeKeyPair(name: string, options: Partial<Parameters<typeof openpgp.generateKey>[0]> = {}): Promise<KeyPair> {
  const { publicKey, privateKey } = await openpgp.generateKey({ userIDs: userIDs(name), ...options, format: 'object' });
  return { publicKey, privateKey, armoredPublic: publicKey.armor() };
}

/** The KeyCheckError code a key is refused with, or 'accepted'. Any other error fails the test. */
async function keyCheckOutcome(armored: string, now?: Date): Promise<string> {
  try {
    await checkJournalistKey(armored, now);
    return 'accepted';
  } catch (e) {
    if (e instanceof KeyCheckError) return e.code;
    throw e;
  }
}

/** The NotEncryptedError code a body is refused with, or 'accepted'. Any other error fails the test. */
function inspectOutcome(bytes: Uint8Array): string {
  try {
    inspectEncryptedMessage(bytes);
    return 'accepted';
  } catch (e) {
    if (e instanceof NotEncryptedError) return e.code;
    throw e;
  }
}

function recipientsOutcome(bytes: Uint8Array, expectedKeyIds: string[]): string {
  try {
    checkRecipients(bytes, expectedKeyIds);
    return 'accepted';
  } catch (e) {
    if (e instanceof NotEncryptedError) return e.code;
    throw e;
  }
}

async function encryptionKeyIdOf(key: openpgp.PublicKey): Promise<string> {
  return (await key.getEncryptionKey()).getKeyID().toHex();
}

// Shared keys: generating RSA in JavaScript takes seconds, so each is made once.
let ana: KeyPair; // legacy ed25519/cv25519, what GnuPG 2.2 reads
let ben: KeyPair; // a second legacy key, for two-recipient messages
let outsider: KeyPair; // a valid key that is not in the "manifest"
let rsa3072: KeyPair;
const tipText = 'Réunion à 9h\n会议在九点';
const padded = new Uint8Array(4096).fill(0x20);
padded.set(utf8.encode(tipText));
let toAnaAndBen: Uint8Array; // a real tip: one PKESK per key, then SEIPD v1

beforeAll(async () => {
  [ana, ben, outsider, rsa3072] = await Promise.all([
    makeKeyPair('Ana', { type: 'ecc', curve: 'curve25519Legacy' }),
    makeKeyPair('Ben', { type: 'ecc', curve: 'curve25519Legacy' }),
    makeKeyPair('Outsider', { type: 'ecc', curve: 'curve25519Legacy' }),
    makeKeyPair('Rosa', { type: 'rsa', rsaBits: 3072 }),
  ]);
  toAnaAndBen = await encryptToKeys(padded, [ana.publicKey, ben.publicKey]);
}, 120_000);

describe('checkJournalistKey: accepts what GnuPG 2.2 can use', () => {
  it('accepts a v4 legacy ed25519/cv25519 key', async () => {
    const checked = await checkJournalistKey(ana.armoredPublic);
    expect(checked.fingerprint).toBe(ana.publicKey.getFingerprint().toLowerCase());
    expect(checked.fingerprint).toMatch(/^[0-9a-f]{40}$/);
    expect(checked.encryptionKeyId).toBe(await encryptionKeyIdOf(ana.publicKey));
    // Tips go to the cv25519 subkey, never the signing primary.
    expect(checked.encryptionKeyId).not.toBe(ana.publicKey.getKeyID().toHex());
    expect(checked.expires).toBeNull();
    expect(checked.userIds).toEqual(['Ana <ana@example.org>']);
    expect(checked.armored).toContain('BEGIN PGP PUBLIC KEY BLOCK');
  });

  it('accepts a v4 RSA-3072 key', async () => {
    const checked = await checkJournalistKey(rsa3072.armoredPublic);
    expect(checked.fingerprint).toBe(rsa3072.publicKey.getFingerprint().toLowerCase());
    expect(checked.fingerprint).toMatch(/^[0-9a-f]{40}$/);
    expect(checked.encryptionKeyId).toBe(await encryptionKeyIdOf(rsa3072.publicKey));
  });

  it('keeps only the public parts in the normalised armor', async () => {
    const checked = await checkJournalistKey(ana.armoredPublic);
    const reread = await openpgp.readKey({ armoredKey: checked.armored });
    expect(reread.isPrivate()).toBe(false);
    expect(reread.getFingerprint()).toBe(ana.publicKey.getFingerprint());
  });

  it('rejects a non-string with a TypeError', async () => {
    await expect(checkJournalistKey(ana.publicKey.write() as unknown as string)).rejects.toThrow(TypeError);
  });
});

describe('checkJournalistKey: refuses what GnuPG 2.2 cannot use, with a specific code', () => {
  it('refuses a v6 key: GnuPG 2.2 cannot parse it', async () => {
    const v6 = await makeKeyPair('Vera', { config: { v6Keys: true } });
    expect(v6.publicKey.keyPacket.version).toBe(6);
    expect(await keyCheckOutcome(v6.armoredPublic)).toBe('version');
  });

  it("refuses an RFC 9580 'curve25519' key (algorithms 27/25, unknown to GnuPG 2.2)", async () => {
    const modern = await makeKeyPair('Mo', { type: 'curve25519' });
    expect(modern.publicKey.keyPacket.version).toBe(4);
    expect(await keyCheckOutcome(modern.armoredPublic)).toBe('algorithm');
  });

  it('refuses an RSA-2048 key as too weak', async () => {
    const weak = await makeKeyPair('Wes', { type: 'rsa', rsaBits: 2048 });
    expect(await keyCheckOutcome(weak.armoredPublic)).toBe('too-weak');
  });

  it('refuses an RSA-2048 primary key even when its encryption subkey is fine', async () => {
    // GnuPG checks the primary key's certifications, so a weak primary weakens the whole key.
    const weakPrimary = await makeKeyPair('Pri', { type: 'rsa', rsaBits: 2048, subkeys: [{ type: 'ecc', curve: 'curve25519Legacy' }] });
    expect(await keyCheckOutcome(weakPrimary.armoredPublic)).toBe('too-weak');
  });

  it("refuses an RFC 9580 ed25519 primary key even with a legacy cv25519 subkey: GnuPG 2.2 can't import it", async () => {
    const mixed = await makeKeyPair('Mix', { type: 'curve25519', subkeys: [{ type: 'ecc', curve: 'curve25519Legacy' }] });
    expect(await keyCheckOutcome(mixed.armoredPublic)).toBe('algorithm');
  });

  it('refuses a good primary key whose encryption subkey is RSA-2048', async () => {
    // The subkey is what tips are encrypted to, so it is checked on its own.
    const weakSub = await makeKeyPair('Sub', { type: 'ecc', curve: 'curve25519Legacy', subkeys: [{ type: 'rsa', rsaBits: 2048 }] });
    expect(await keyCheckOutcome(weakSub.armoredPublic)).toBe('too-weak');
  });

  it('refuses a key that has already expired', async () => {
    const expired = await makeKeyPair('Ed', { keyExpirationTime: 1, date: new Date(Date.now() - 86_400_000) });
    expect(await keyCheckOutcome(expired.armoredPublic)).toBe('expired');
  });

  it('judges expiry at the `now` it is given', async () => {
    const hourLong = await makeKeyPair('Hal', { keyExpirationTime: 3600 });
    expect(await keyCheckOutcome(hourLong.armoredPublic)).toBe('accepted');
    expect(await keyCheckOutcome(hourLong.armoredPublic, new Date(Date.now() + 2 * 3_600_000))).toBe('expired');
  });

  it('refuses a revoked key', async () => {
    const pair = await makeKeyPair('Rev');
    const { publicKey: revoked } = await openpgp.revokeKey({ key: pair.privateKey, format: 'object' });
    expect(await keyCheckOutcome(revoked.armor())).toBe('revoked');
  });

  it('refuses a sign-only openpgp.js key (no subkeys)', async () => {
    const signOnly = await makeKeyPair('Sig', { subkeys: [] });
    await expect(signOnly.publicKey.getEncryptionKey()).rejects.toThrow();
    expect(await keyCheckOutcome(signOnly.armoredPublic)).toBe('no-encryption-subkey');
  });

  it('refuses a key that asks for SEIPDv2 (aeadProtect): openpgp.js would then write messages GnuPG 2.2 cannot read', async () => {
    const aead = await makeKeyPair('Aida', { type: 'ecc', curve: 'curve25519Legacy', config: { aeadProtect: true } });
    expect(await keyCheckOutcome(aead.armoredPublic)).toBe('aead');
  });

  it('refuses an armored secret key', async () => {
    expect(await keyCheckOutcome(ana.privateKey.armor())).toBe('not-public');
  });

  it('refuses a secret key block by its header, before parsing any of it', async () => {
    // A body openpgp.js cannot read: the admin still hears "secret key", not "unreadable".
    const damaged = '-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PRIVATE KEY BLOCK-----\n';
    expect(await keyCheckOutcome(damaged)).toBe('not-public');
  });

  it('refuses secret key packets hidden under a PUBLIC KEY BLOCK header', async () => {
    // Gets past the armor-header check, so only the parsed-key check can catch it.
    const disguised = openpgp.armor(openpgp.enums.armor.publicKey, ana.privateKey.write());
    expect(disguised).toContain('BEGIN PGP PUBLIC KEY BLOCK');
    expect(await keyCheckOutcome(disguised)).toBe('not-public');
  });

  it('refuses two concatenated armored public keys (readKeys would silently keep the first)', async () => {
    expect(await keyCheckOutcome(`${ana.armoredPublic}\n${ben.armoredPublic}`)).toBe('several-keys');
  });

  it('refuses two keys inside one armored block', async () => {
    const both = openpgp.armor(openpgp.enums.armor.publicKey, concatBytes(ana.publicKey.write(), ben.publicKey.write()));
    expect(await keyCheckOutcome(both)).toBe('several-keys');
  });

  it.each([
    ['plain text', 'this is not a key'],
    ['an empty string', ''],
    ['a public key header around garbage', '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nbm90IGEga2V5\n-----END PGP PUBLIC KEY BLOCK-----\n'],
  ])('refuses %s as unreadable', async (_label, text) => {
    expect(await keyCheckOutcome(text)).toBe('unreadable');
  });

  describe('a sign-only key made by gpg itself', () => {
    let gpgHome: GpgHome;
    beforeAll(async () => {
      gpgHome = await makeGpgHome();
    }, 60_000);
    afterAll(() => gpgHome?.cleanup());

    it('refuses an ed25519 key with no encryption subkey', async () => {
      await gpgHome.gpg(['--quick-gen-key', 'Signer <signer@example.org>', 'ed25519', 'sign', '1y']);
      const armored = await gpgHome.exportPublic('signer@example.org');
      expect(armored).toContain('BEGIN PGP PUBLIC KEY BLOCK');
      expect(await keyCheckOutcome(armored)).toBe('no-encryption-subkey');
    });
  });
});

describe('encryptToKeys / decryptWithKey', () => {
  it('encrypts one message that each recipient opens alone', async () => {
    expect(await decryptWithKey(toAnaAndBen, ana.privateKey)).toEqual(padded);
    expect(await decryptWithKey(toAnaAndBen, ben.privateKey)).toEqual(padded);
  });

  it('writes SEIPD v1 with no compression, and dates the literal packet to midnight UTC', async () => {
    const now = new Date();
    const ciphertext = await encryptToKeys(padded, [ana.publicKey], now);
    // inspectEncryptedMessage accepts SEIPD v1 only.
    expect(inspectOutcome(ciphertext)).toBe('accepted');
    const decrypted = await (await openpgp.readMessage({ binaryMessage: ciphertext })).decrypt([ana.privateKey]);
    // A compressed-data packet would sit here instead of the literal packet.
    expect(decrypted.packets.map((p) => (p.constructor as unknown as { tag: number }).tag)).toEqual([openpgp.enums.packet.literalData]);
    // openpgp's type declarations leave out the literal packet's `date`, which the runtime object has.
    const literal = decrypted.packets[0] as unknown as { date: Date };
    expect(literal.date).toEqual(dayStart(utcDay(now)));
  });

  it('refuses an empty recipient list and non-byte plaintext', async () => {
    await expect(encryptToKeys(padded, [])).rejects.toThrow(RangeError);
    await expect(encryptToKeys(tipText as unknown as Uint8Array, [ana.publicKey])).rejects.toThrow(TypeError);
  });

  it('fails to decrypt with a key the message was not encrypted to', async () => {
    await expect(decryptWithKey(toAnaAndBen, outsider.privateKey)).rejects.toThrow();
  });

  it('fails on a ciphertext with one byte flipped near the end of the SEIPD packet', async () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    expect(seipd.tag).toBe(PacketTag.SEIPD);
    const tampered = toAnaAndBen.slice();
    tampered[seipd.end - 5]! ^= 0x01;
    // The structure is intact, so only the integrity check (MDC) can catch this.
    expect(inspectOutcome(tampered)).toBe('accepted');
    await expect(decryptWithKey(tampered, ana.privateKey)).rejects.toThrow(/modification detected/i);
  });
});

describe('inspectEncryptedMessage: only PKESK… + one SEIPD v1', () => {
  it('accepts a real message to two keys and lists both key IDs in packet order', async () => {
    const inspected = inspectEncryptedMessage(toAnaAndBen);
    expect(inspected.recipientKeyIds).toEqual([await encryptionKeyIdOf(ana.publicKey), await encryptionKeyIdOf(ben.publicKey)]);
    expect(inspected.dataPacket.end).toBe(toAnaAndBen.length);
    expect(inspected.packets.map((p) => p.tag)).toEqual([PacketTag.PKESK, PacketTag.PKESK, PacketTag.SEIPD]);
  });

  it('accepts a message to an RSA-3072 key', async () => {
    const ciphertext = await encryptToKeys(padded, [rsa3072.publicKey]);
    expect(inspectEncryptedMessage(ciphertext).recipientKeyIds).toEqual([await encryptionKeyIdOf(rsa3072.publicKey)]);
  });

  it('refuses a plain literal-data message (readMessage would accept it)', async () => {
    const literal = (await openpgp.createMessage({ text: tipText })).write() as Uint8Array;
    await expect(openpgp.readMessage({ binaryMessage: literal })).resolves.toBeDefined();
    expect(inspectOutcome(literal)).toBe('not-encrypted');
  });

  it('refuses a signed but unencrypted message', async () => {
    const signed = await openpgp.sign({ message: await openpgp.createMessage({ text: tipText }), signingKeys: ana.privateKey, format: 'binary' });
    expect(inspectOutcome(signed as Uint8Array)).toBe('not-encrypted');
  });

  it('refuses a password-only (SKESK) message', async () => {
    const withPassword = await openpgp.encrypt({ message: await openpgp.createMessage({ text: tipText }), passwords: 'hunter2', format: 'binary' });
    expect(inspectOutcome(withPassword as Uint8Array)).toBe('not-encrypted');
  });

  it('refuses the right PKESK packets followed by a literal-data packet instead of SEIPD', async () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    const literal = (await openpgp.createMessage({ text: tipText })).write() as Uint8Array;
    const spliced = concatBytes(toAnaAndBen.subarray(0, seipd.start), literal);
    expect(inspectOutcome(spliced)).toBe('not-encrypted');
    // The recipient check must not pass it either, though its key IDs are the expected ones.
    expect(recipientsOutcome(spliced, [await encryptionKeyIdOf(ana.publicKey), await encryptionKeyIdOf(ben.publicKey)])).toBe('not-encrypted');
  });

  it('refuses a valid message with a whole extra packet appended', async () => {
    const literal = (await openpgp.createMessage({ text: tipText })).write() as Uint8Array;
    expect(inspectOutcome(concatBytes(toAnaAndBen, literal))).toBe('not-encrypted');
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    expect(inspectOutcome(concatBytes(toAnaAndBen, toAnaAndBen.subarray(seipd.start)))).toBe('not-encrypted');
  });

  it('refuses a valid message with stray bytes appended', () => {
    expect(inspectOutcome(concatBytes(toAnaAndBen, new Uint8Array([0x00, 0x01, 0x02])))).toBe('malformed');
    // A lone header byte: a packet that claims to start but has no length.
    expect(inspectOutcome(concatBytes(toAnaAndBen, new Uint8Array([0xc1])))).toBe('malformed');
  });

  it('refuses truncated ciphertext', () => {
    expect(inspectOutcome(toAnaAndBen.subarray(0, toAnaAndBen.length - 1))).toBe('malformed');
    expect(inspectOutcome(toAnaAndBen.subarray(0, Math.floor(toAnaAndBen.length / 2)))).toBe('malformed');
    // Cut right after the key packets: no data packet at all.
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    expect(inspectOutcome(toAnaAndBen.subarray(0, seipd.start))).toBe('not-encrypted');
  });

  it('refuses a bare SEIPD packet with no key packets', () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    expect(inspectOutcome(toAnaAndBen.subarray(seipd.start))).toBe('not-encrypted');
  });

  it('refuses the encrypted data in a packet without integrity protection (tag 9, the MDC-stripping downgrade)', () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    const downgraded = toAnaAndBen.slice();
    expect(downgraded[seipd.start]).toBe(0xc0 | PacketTag.SEIPD);
    downgraded[seipd.start] = 0xc0 | 9;
    expect(inspectOutcome(downgraded)).toBe('not-encrypted');
  });

  it('refuses SEIPD version 2, which GnuPG 2.2 cannot read', () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    const v2 = toAnaAndBen.slice();
    v2[seipd.bodyStart] = 2;
    expect(inspectOutcome(v2)).toBe('not-encrypted');
  });

  it('refuses a whole message made for a key that asks for SEIPDv2 (PKESK v6 + SEIPD v2)', async () => {
    const aead = await makeKeyPair('Aida', { type: 'ecc', curve: 'curve25519Legacy', config: { aeadProtect: true } });
    // openpgp.js picks SEIPDv2 from the key's features even though encryptToKeys asks for aeadProtect: false.
    const ciphertext = await encryptToKeys(padded, [aead.publicKey]);
    expect(readPacketSpans(ciphertext).map((p) => ciphertext[p.bodyStart])).toEqual([6, 2]);
    expect(inspectOutcome(ciphertext)).toBe('not-encrypted');
  });

  it('refuses a PKESK packet that is not version 3', () => {
    const [first] = readPacketSpans(toAnaAndBen);
    const v6 = toAnaAndBen.slice();
    v6[first!.bodyStart] = 6;
    expect(inspectOutcome(v6)).toBe('not-encrypted');
  });

  it('refuses a PKESK packet too short to hold a key ID and algorithm', () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    const stub = new Uint8Array([0xc0 | PacketTag.PKESK, 5, 3, 1, 2, 3, 4]);
    expect(inspectOutcome(concatBytes(stub, toAnaAndBen.subarray(seipd.start)))).toBe('not-encrypted');
  });

  it('refuses a PKESK packet sent with partial body lengths', () => {
    const [first] = readPacketSpans(toAnaAndBen);
    const body = toAnaAndBen.subarray(first!.bodyStart, first!.end);
    // A first chunk of 512 bytes (0xe9 = 2^9), then a definite-length last chunk: valid framing, forbidden for key packets.
    const padding = new Uint8Array(512 - body.length);
    const partialPkesk = concatBytes(new Uint8Array([0xc0 | PacketTag.PKESK, 0xe9]), body, padding, new Uint8Array([3, 0, 0, 0]));
    expect(inspectOutcome(concatBytes(partialPkesk, toAnaAndBen.subarray(first!.end)))).toBe('malformed');
  });

  it('refuses a SEIPD packet too short to hold a cipher block and the MDC', () => {
    const seipd = readPacketSpans(toAnaAndBen).at(-1)!;
    const stub = new Uint8Array([0xc0 | PacketTag.SEIPD, 11, 1, ...new Uint8Array(10)]);
    expect(inspectOutcome(concatBytes(toAnaAndBen.subarray(0, seipd.start), stub))).toBe('malformed');
  });

  it('refuses an empty array', () => {
    expect(inspectOutcome(new Uint8Array(0))).toBe('malformed');
  });

  it('refuses random bytes', () => {
    const random = globalThis.crypto.getRandomValues(new Uint8Array(1024));
    random[0] = random[0]! & 0x7f; // no packet header bit: random, but never a packet by chance
    expect(inspectOutcome(random)).toBe('malformed');
  });

  it('refuses a wildcard (anonymous) recipient', async () => {
    const anonymous = await openpgp.encrypt({
      message: await openpgp.createMessage({ binary: padded }),
      encryptionKeys: ana.publicKey,
      wildcard: true,
      format: 'binary',
      config: { aeadProtect: false },
    });
    expect(inspectOutcome(anonymous as Uint8Array)).toBe('bad-recipients');
  });

  it('refuses the same PKESK packet twice', () => {
    const [first] = readPacketSpans(toAnaAndBen);
    const doubled = concatBytes(toAnaAndBen.subarray(first!.start, first!.end), toAnaAndBen);
    expect(inspectOutcome(doubled)).toBe('bad-recipients');
  });

  it('refuses a non-Uint8Array with a TypeError', () => {
    expect(() => inspectEncryptedMessage(Array.from(toAnaAndBen) as unknown as Uint8Array)).toThrow(TypeError);
  });
});

describe('checkRecipients: exactly the manifest keys', () => {
  let anaId: string;
  let benId: string;
  beforeAll(async () => {
    anaId = await encryptionKeyIdOf(ana.publicKey);
    benId = await encryptionKeyIdOf(ben.publicKey);
  });

  it('accepts the exact set in either order, and gpg-style uppercase IDs', () => {
    expect(checkRecipients(toAnaAndBen, [anaId, benId]).recipientKeyIds).toEqual([anaId, benId]);
    expect(checkRecipients(toAnaAndBen, [benId, anaId]).recipientKeyIds).toEqual([anaId, benId]);
    expect(checkRecipients(toAnaAndBen, [benId.toUpperCase(), anaId.toUpperCase()]).recipientKeyIds).toEqual([anaId, benId]);
  });

  it('refuses a message that leaves out one expected key', async () => {
    const toAnaOnly = await encryptToKeys(padded, [ana.publicKey]);
    expect(recipientsOutcome(toAnaOnly, [anaId, benId])).toBe('bad-recipients');
  });

  it('refuses a message encrypted to a key that is not expected', async () => {
    expect(recipientsOutcome(toAnaAndBen, [anaId])).toBe('bad-recipients');
    const withOutsider = await encryptToKeys(padded, [ana.publicKey, ben.publicKey, outsider.publicKey]);
    expect(recipientsOutcome(withOutsider, [anaId, benId])).toBe('bad-recipients');
  });

  it('refuses a message to the same number of keys when one is swapped', async () => {
    const swapped = await encryptToKeys(padded, [ana.publicKey, outsider.publicKey]);
    expect(recipientsOutcome(swapped, [anaId, benId])).toBe('bad-recipients');
  });
});

describe('inspectEncryptedMessage under fuzz-ish input', () => {
  // A seeded PRNG, so a failing input can be regenerated from the seed in the test name.
  function mulberry32(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }
  const SEED = 0x7199;

  /** Runs one input; returns the outcome, and fails the test on any error that is not a NotEncryptedError. */
  function outcomeOf(bytes: Uint8Array, label: string): string {
    try {
      inspectEncryptedMessage(bytes);
      return 'accepted';
    } catch (e) {
      if (e instanceof NotEncryptedError) return e.code;
      throw new Error(`${label}: threw ${(e as Error)?.name}: ${(e as Error)?.message}`);
    }
  }

  it(`throws nothing but NotEncryptedError for 200 random buffers (seed ${SEED})`, () => {
    const random = mulberry32(SEED);
    // Header bytes that make the reader go further: old-format PKESK, new-format PKESK, new-format SEIPD.
    const headers = [0x84, 0xc1, 0xd2];
    const outcomes = new Map<string, number>();
    for (let i = 0; i < 200; i++) {
      const bytes = new Uint8Array(Math.floor(random() * 2001));
      for (let j = 0; j < bytes.length; j++) bytes[j] = Math.floor(random() * 256);
      if (bytes.length > 0 && i % 4 !== 3) bytes[0] = headers[i % 4]!;
      const outcome = outcomeOf(bytes, `buffer ${i}`);
      outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
    }
    expect([...outcomes.keys()].every((o) => ['malformed', 'not-encrypted', 'bad-recipients'].includes(o))).toBe(true);
    expect(outcomes.get('malformed') ?? 0).toBeGreaterThan(0);
  });

  it(`throws nothing but NotEncryptedError for 200 mutations of a real message (seed ${SEED})`, () => {
    const random = mulberry32(SEED + 1);
    let refused = 0;
    for (let i = 0; i < 200; i++) {
      let bytes = toAnaAndBen.slice();
      const kind = i % 3;
      if (kind === 0) {
        // Flip a few bytes anywhere, headers and lengths included.
        for (let k = 0; k < 1 + Math.floor(random() * 4); k++) bytes[Math.floor(random() * bytes.length)]! ^= 1 + Math.floor(random() * 255);
      } else if (kind === 1) {
        bytes = bytes.subarray(0, Math.floor(random() * bytes.length));
      } else {
        // Flip a byte within the first 300: PKESK headers, versions, key IDs, the SEIPD header.
        bytes[Math.floor(random() * 300)]! ^= 1 + Math.floor(random() * 255);
      }
      if (outcomeOf(bytes, `mutation ${i}`) !== 'accepted') refused++;
    }
    expect(refused).toBeGreaterThan(0);
  });
});
