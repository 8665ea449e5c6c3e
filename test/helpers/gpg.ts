/**
 * Stock GnuPG, driven in a throwaway GNUPGHOME: makes journalist keys with gpg
 * itself and decrypts with `gpg --decrypt`, to prove interop for real.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encryptionKeyIdOf, readPublicKey, type PublicKey } from '../../crypto/envelope.ts';

const run = promisify(execFile);

export type GpgHome = {
  home: string;
  /** Generates a key and returns its fingerprint. `rsa4096`: one RSA-4096 key (sign+encrypt subkey). `ed25519`: ed25519 primary + cv25519 subkey. */
  generate: (kind: 'rsa4096' | 'ed25519', email: string) => Promise<string>;
  exportPublic: (email: string) => Promise<string>;
  exportSecret: (email: string) => Promise<string>;
  /** `gpg --decrypt FILE`, returning the plaintext bytes. Rejects if gpg fails. */
  decrypt: (file: string) => Promise<Buffer>;
  gpg: (args: string[], input?: string) => Promise<{ stdout: Buffer; stderr: string }>;
  cleanup: () => Promise<void>;
};

export async function makeGpgHome(): Promise<GpgHome> {
  const home = await mkdtemp(join(tmpdir(), 'tipline-gnupg-'));
  const gpg = async (args: string[]) => {
    const { stdout, stderr } = await run('gpg', ['--homedir', home, '--batch', '--yes', '--pinentry-mode', 'loopback', '--passphrase', '', ...args], {
      encoding: 'buffer',
      maxBuffer: 256 * 1024 * 1024,
    });
    return { stdout: stdout as Buffer, stderr: (stderr as Buffer).toString() };
  };
  return {
    home,
    gpg,
    async generate(kind, email) {
      const uid = `Journalist <${email}>`;
      if (kind === 'rsa4096') {
        await gpg(['--quick-gen-key', uid, 'rsa4096', 'sign,encrypt', '1y']);
      } else {
        await gpg(['--quick-gen-key', uid, 'ed25519', 'sign', '1y']);
      }
      const { stdout } = await gpg(['--with-colons', '--list-keys', email]);
      const fpr = /^fpr:+([0-9A-F]{40}):/m.exec(stdout.toString())![1]!;
      if (kind === 'ed25519') await gpg(['--quick-add-key', fpr, 'cv25519', 'encrypt', '1y']);
      return fpr;
    },
    exportPublic: async (email) => (await gpg(['--armor', '--export', email])).stdout.toString(),
    exportSecret: async (email) => (await gpg(['--armor', '--export-secret-keys', email])).stdout.toString(),
    decrypt: async (file) => (await gpg(['--decrypt', file])).stdout,
    cleanup: async () => {
      await run('gpgconf', ['--homedir', home, '--kill', 'all']).catch(() => {});
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A journalist key made by gpg: its GNUPGHOME (holding that one secret key), the public key as openpgp.js reads it, and the secret key exported for the CLI. */
export type GpgJournalistKey = { email: string; home: GpgHome; armoredPublic: string; publicKey: PublicKey; keyId: string; secretFile: string };

/**
 * One key per name, each in a GNUPGHOME of its own, with `<name>@example.org`
 * as its address and its secret key exported to `<dir>/<name>-secret.asc` (0600).
 *
 * @example
 * const keys = await makeGpgJournalistKeys(workDir, { A: 'ed25519', B: 'rsa4096' });
 * await keys.B.home.decrypt(file);
 */
export async function makeGpgJournalistKeys<N extends string>(dir: string, kinds: Record<N, 'rsa4096' | 'ed25519'>): Promise<Record<N, GpgJournalistKey>> {
  const entries = await Promise.all(
    (Object.keys(kinds) as N[]).map(async (name) => {
      const email = `${name.toLowerCase()}@example.org`;
      const home = await makeGpgHome();
      await home.generate(kinds[name], email);
      const armoredPublic = await home.exportPublic(email);
      const publicKey = await readPublicKey(armoredPublic);
      const secretFile = join(dir, `${name}-secret.asc`);
      await writeFile(secretFile, await home.exportSecret(email), { mode: 0o600 });
      return [name, { email, home, armoredPublic, publicKey, keyId: await encryptionKeyIdOf(publicKey), secretFile }] as const;
    }),
  );
  return Object.fromEntries(entries) as Record<N, GpgJournalistKey>;
}
