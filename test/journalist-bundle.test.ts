/**
 * The single-file journalist tool and the build's file modes. Built here
 * under umask 077 (as a root shell with a strict umask would), the build is
 * world-readable: folders 0755, files 0644, the bundle 0755, so a service
 * user can run what root built. `tipline-journalist.mjs`, copied alone into
 * an empty folder with no `node_modules` above it, runs: help, a real
 * decrypt, and the onion refusal. Its `.sha256` matches it, and a second
 * build (different folder, different umask) gives the same bytes.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildAll } from '../build.mjs';
import { randomId } from '../crypto/bytes.ts';
import { encryptToKeys } from '../crypto/envelope.ts';
import { padToBucket } from '../crypto/padding.ts';
import { encodeTipDocument } from '../crypto/tip-document.ts';

const run = promisify(execFile);
let root: string;
let built: string;
let alone: string;

/** Runs the bundle with Node alone: no NODE_PATH, no NODE_OPTIONS, from its own empty folder. */
async function bundle(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH!, HOME: alone };
  try {
    const { stdout, stderr } = await run(process.execPath, [join(alone, 'tipline-journalist.mjs'), ...args], { cwd: alone, env });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'tipline-bundle-'));
  built = join(root, 'dist');
  const umask = process.umask(0o077);
  try {
    await buildAll({ quiet: true, outDir: built });
  } finally {
    process.umask(umask);
  }
  alone = join(root, 'laptop');
  await mkdir(alone);
  await copyFile(join(built, 'tipline-journalist.mjs'), join(alone, 'tipline-journalist.mjs'));
}, 180_000);
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the build', () => {
  it('is world-readable whatever the umask: folders 0755, files 0644, the bundle 0755', async () => {
    const modes: string[] = [];
    const walk = async (dir: string) => {
      for (const e of await readdir(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        const mode = (await stat(p)).mode & 0o777;
        const want = e.isDirectory() || e.name === 'tipline-journalist.mjs' ? 0o755 : 0o644;
        if (mode !== want) modes.push(`${p.slice(built.length)} is ${mode.toString(8)}`);
        if (e.isDirectory()) await walk(p);
      }
    };
    expect((await stat(built)).mode & 0o777).toBe(0o755);
    await walk(built);
    expect(modes).toEqual([]);
  });
});

describe('dist/tipline-journalist.mjs', () => {
  it('has its SHA-256 beside it, in sha256sum format', async () => {
    const digest = createHash('sha256').update(await readFile(join(built, 'tipline-journalist.mjs'))).digest('hex');
    expect(await readFile(join(built, 'tipline-journalist.mjs.sha256'), 'utf8')).toBe(`${digest}  tipline-journalist.mjs\n`);
  });

  it('is byte-identical across two builds (another folder, another umask)', async () => {
    const again = join(root, 'again');
    const umask = process.umask(0o022);
    try {
      await buildAll({ quiet: true, outDir: again });
    } finally {
      process.umask(umask);
    }
    const first = await readFile(join(built, 'tipline-journalist.mjs'));
    const second = await readFile(join(again, 'tipline-journalist.mjs'));
    expect(second.length).toBeGreaterThan(100_000);
    expect(second.equals(first)).toBe(true);
    expect(await readFile(join(again, 'tipline-journalist.mjs.sha256'), 'utf8')).toBe(await readFile(join(built, 'tipline-journalist.mjs.sha256'), 'utf8'));
  }, 180_000);

  it('runs alone, from an empty folder with no node_modules above it', async () => {
    for (let dir = alone; dir !== dirname(dir); dir = dirname(dir)) expect(existsSync(join(dir, 'node_modules')), dir).toBe(false);
    expect(await readdir(alone)).toEqual(['tipline-journalist.mjs']);
    const help = await bundle(['--help']);
    expect(help.code, help.stderr).toBe(0);
    expect(help.stdout).toContain('journalist decrypt (--key SECRET.asc');
    expect(help.stdout).not.toContain('tipline serve');
  });

  it('decrypts a fetched tip, and refuses an onion server without --socks', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'j@example.org' }], format: 'armored' });
    const inbox = join(alone, 'inbox');
    await mkdir(inbox);
    await writeFile(join(alone, 'secret.asc'), privateKey, { mode: 0o600 });
    const doc = encodeTipDocument({ type: 'tip', message: 'opened by the single file', fields: {} });
    await writeFile(join(inbox, `${randomId()}.gpg`), await encryptToKeys(padToBucket(doc), [await openpgp.readKey({ armoredKey: publicKey })]));
    const r = await bundle(['journalist', 'decrypt', '--key', 'secret.asc', '--in', 'inbox', '--out', 'read']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('1 message(s) decrypted');
    const [folder] = await readdir(join(alone, 'read'));
    expect(await readFile(join(alone, 'read', folder!, 'message.txt'), 'utf8')).toBe('opened by the single file');

    await writeFile(join(alone, 'token'), `tl_${'A'.repeat(22)}_${'A'.repeat(43)}\n`);
    const onion = await bundle(['fetch', '--server', `http://${'a'.repeat(56)}.onion`, '--token-file', 'token', '--out', 'x']);
    expect(onion.code).toBe(1);
    expect(onion.stderr).toContain('start Tor and pass --socks 127.0.0.1:9050');
  });
});
