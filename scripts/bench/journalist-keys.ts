/**
 * The three journalist keys every encrypting section uses: one RSA-4096 and two
 * cv25519, made by GnuPG (as journalists would make them) once per run, because
 * RSA-4096 generation is slow.
 *
 * Decrypting baselines need a GNUPGHOME that holds only one journalist's secret
 * key: with all three, gpg would open the RSA key packet first and the
 * comparison with the journalist tool (which holds one key) would be unfair.
 *
 * @example
 * const keys = await makeJournalistKeys();
 * await gpgHome.encrypt(bytes, keys.fingerprints);
 * await keys.cleanup();
 */
import { readPrivateKey, readPublicKey, type PrivateKey, type PublicKey } from '../../crypto/envelope.ts';
import { GnupgHome, type GpgKeyKind } from './gnupg.ts';

export type JournalistKey = { kind: GpgKeyKind; email: string; fingerprint: string; armoredPublic: string; publicKey: PublicKey };

export type JournalistKeys = {
  /** Holds all three key pairs; encrypting baselines run here. */
  gpg: GnupgHome;
  keys: JournalistKey[];
  fingerprints: string[];
  publicKeys: PublicKey[];
  /** The first cv25519 journalist, who decrypts in the journalist section. */
  reader: { key: JournalistKey; privateKey: PrivateKey; armoredSecret: string; gpg: GnupgHome };
  cleanup: () => Promise<void>;
};

const WHO: { kind: GpgKeyKind; email: string }[] = [
  { kind: 'rsa4096', email: 'rsa@bench.example.org' },
  { kind: 'cv25519', email: 'curve-a@bench.example.org' },
  { kind: 'cv25519', email: 'curve-b@bench.example.org' },
];

export async function makeJournalistKeys(log: (line: string) => void): Promise<JournalistKeys> {
  const gpg = await GnupgHome.create();
  const readerHome = await GnupgHome.create();
  try {
    const keys: JournalistKey[] = [];
    for (const who of WHO) {
      const started = performance.now();
      const fingerprint = await gpg.generate(who.kind, who.email);
      const armoredPublic = await gpg.exportPublic(fingerprint);
      keys.push({ ...who, fingerprint, armoredPublic, publicKey: await readPublicKey(armoredPublic) });
      log(`made a ${who.kind} key with gpg in ${Math.round(performance.now() - started)} ms`);
    }
    const readerKey = keys[1]!;
    const armoredSecret = await gpg.exportSecret(readerKey.fingerprint);
    await readerHome.importKey(armoredSecret);
    const privateKey = await readPrivateKey(armoredSecret);
    // openpgp.js and gpg must agree that this is the same key.
    if (privateKey.getFingerprint().toLowerCase() !== readerKey.fingerprint.toLowerCase()) throw new Error('exported secret key does not match');
    return {
      gpg,
      keys,
      fingerprints: keys.map((k) => k.fingerprint),
      publicKeys: keys.map((k) => k.publicKey),
      reader: { key: readerKey, privateKey, armoredSecret, gpg: readerHome },
      cleanup: async () => {
        await gpg.cleanup();
        await readerHome.cleanup();
      },
    };
  } catch (e) {
    await gpg.cleanup();
    await readerHome.cleanup();
    throw e;
  }
}
