/**
 * Stock GnuPG in a throwaway GNUPGHOME, for the baselines: the "one `gpg`
 * process per tip" model SecureDrop used. Every call is one fresh process, as
 * in that model. Compression is always off (`--compress-algo none`):
 * openpgp.js doesn't compress, and gpg's default zlib would make the baseline
 * do different (and, on random data, slower) work.
 *
 * @example
 * const gpg = await GnupgHome.create();
 * const fpr = await gpg.generate('rsa4096', 'a@example.org');
 * await gpg.encrypt(plaintext, [fpr]);
 * await gpg.cleanup();
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type GpgKeyKind = 'rsa4096' | 'cv25519';

export class GnupgHome {
  private constructor(readonly home: string) {}

  static async create(): Promise<GnupgHome> {
    return new GnupgHome(await mkdtemp(join(tmpdir(), 'tipline-bench-gnupg-')));
  }

  /** True when a `gpg` binary can be run at all. */
  static async available(): Promise<boolean> {
    return run('gpg', ['--version']).then(
      () => true,
      () => false,
    );
  }

  private args(extra: string[]): string[] {
    return ['--homedir', this.home, '--batch', '--yes', '--quiet', '--no-tty', '--pinentry-mode', 'loopback', '--passphrase', '', ...extra];
  }

  async gpg(extra: string[]): Promise<Buffer> {
    const { stdout } = await run('gpg', this.args(extra), { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  }

  /**
   * Makes a key without a passphrase and returns its fingerprint. `rsa4096`: one
   * RSA-4096 key that signs and encrypts. `cv25519`: an ed25519 primary with a
   * cv25519 encryption subkey (what GnuPG 2.2 calls a "legacy" Curve25519 key).
   */
  async generate(kind: GpgKeyKind, email: string): Promise<string> {
    const uid = `Bench Journalist <${email}>`;
    if (kind === 'rsa4096') await this.gpg(['--quick-gen-key', uid, 'rsa4096', 'sign,encrypt', '1y']);
    else await this.gpg(['--quick-gen-key', uid, 'ed25519', 'sign', '1y']);
    const listing = (await this.gpg(['--with-colons', '--list-keys', email])).toString();
    const fingerprint = /^fpr:+([0-9A-F]{40}):/m.exec(listing)?.[1];
    if (!fingerprint) throw new Error(`gpg made no key for ${email}`);
    if (kind === 'cv25519') await this.gpg(['--quick-add-key', fingerprint, 'cv25519', 'encrypt', '1y']);
    return fingerprint;
  }

  async exportPublic(fingerprint: string): Promise<string> {
    return (await this.gpg(['--armor', '--export', fingerprint])).toString();
  }

  async exportSecret(fingerprint: string): Promise<string> {
    return (await this.gpg(['--armor', '--export-secret-keys', fingerprint])).toString();
  }

  async importKey(armored: string): Promise<void> {
    await this.pipe(['--import'], Buffer.from(armored));
  }

  /** One `gpg --encrypt` process: `plaintext` on stdin, the binary message's length back. */
  async encrypt(plaintext: Uint8Array, fingerprints: string[]): Promise<number> {
    const recipients = fingerprints.flatMap((f) => ['--recipient', f]);
    return this.pipe(['--trust-model', 'always', '--compress-algo', 'none', '--encrypt', ...recipients, '--output', '-'], plaintext);
  }

  /** One `gpg --encrypt` process reading `file` and writing `out`. */
  async encryptFile(file: string, out: string, fingerprints: string[]): Promise<void> {
    const recipients = fingerprints.flatMap((f) => ['--recipient', f]);
    await this.gpg(['--trust-model', 'always', '--compress-algo', 'none', '--encrypt', ...recipients, '--output', out, file]);
  }

  /** One `gpg --decrypt` process; the plaintext goes to `out`. */
  async decryptFile(file: string, out: string): Promise<void> {
    await this.gpg(['--decrypt', '--output', out, file]);
  }

  /** Runs gpg with `input` on stdin and counts (and drops) what it writes to stdout. */
  private pipe(extra: string[], input: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      const child = spawn('gpg', this.args(extra), { stdio: ['pipe', 'pipe', 'pipe'] });
      let bytes = 0;
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (bytes += d.length));
      child.stderr.on('data', (d: Buffer) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(bytes) : reject(new Error(`gpg exited with ${code}: ${stderr.trim()}`))));
      child.stdin.end(input);
    });
  }

  async cleanup(): Promise<void> {
    await run('gpgconf', ['--homedir', this.home, '--kill', 'all']).catch(() => {});
    await rm(this.home, { recursive: true, force: true });
  }
}
