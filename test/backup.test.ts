/**
 * Backups: the tar format (and that standard `tar` agrees with it), a
 * round trip in which the restored server serves the very same tips, what a
 * backup must never hold, and restores of hostile or damaged archives, which
 * must be refused without writing anything anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, readFile, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { BackupError } from '../server/backup/backup-layout.ts';
import { createBackup } from '../server/backup/create-backup.ts';
import { restoreBackup } from '../server/backup/restore-backup.ts';
import { BLOCK, TarReader, decodeTarHeader, encodeTarHeader, type RawTarHeader } from '../server/backup/tar-format.ts';
import { addTestJournalist, makeNewsroom, openTestApp, storedBlobFile, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';
import { runCli } from './helpers/server-process.ts';
import { noJsPoster } from './helpers/no-js-form.ts';

const run = promisify(execFile);
let newsroom: TestNewsroom;
let ana: TestJournalist;
let scratch: string;
let backupFile: string;
const blobId = 'Zm9vYmFyYmF6cXV4cXV1eA';
const blobBytes = new Uint8Array(700_000).map((_, i) => (i * 7919) % 251);

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const auth = (j: TestJournalist) => ({ headers: { authorization: `Bearer ${j.token}` } });

/** What a journalist's tool sees: the tip list, and each tip's ciphertext bytes. */
async function servedTips(t: TestApp, j: TestJournalist): Promise<{ list: unknown; bodies: Record<string, string> }> {
  const res = await t.app.request('/api/v1/journalist/tips?limit=100', auth(j));
  expect(res.status).toBe(200);
  const list = (await res.json()) as { tips: { id: string }[] };
  const bodies: Record<string, string> = {};
  for (const tip of list.tips) {
    const body = await t.app.request(`/api/v1/journalist/tips/${tip.id}`, auth(j));
    expect(body.status).toBe(200);
    bodies[tip.id] = sha256(new Uint8Array(await body.arrayBuffer()));
  }
  return { list, bodies };
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'tipline-backup-test-'));
  newsroom = await makeNewsroom();
  ana = await addTestJournalist(newsroom, 'Ana');
  await mkdir(join(newsroom.dataDir, 'blobs'), { recursive: true, mode: 0o700 });
  await writeFile(join(newsroom.dataDir, 'blobs', blobId), blobBytes, { mode: 0o600 });
});
afterAll(async () => {
  await newsroom.cleanup();
  await rm(scratch, { recursive: true, force: true });
});

describe('the tar format', () => {
  it('round-trips headers, including sizes of 8 GiB and more', () => {
    for (const h of [
      { name: 'config.json', typeflag: '0', size: 123, mode: 0o600 },
      { name: `blobs/${'a'.repeat(90)}/${'b'.repeat(90)}`, typeflag: '0', size: 0, mode: 0o600 },
      { name: 'blobs/huge', typeflag: '0', size: 9 * 1024 ** 3 + 5, mode: 0o600 },
    ]) {
      const back = decodeTarHeader(encodeTarHeader(h));
      expect(back).toEqual({ name: h.name, type: 'file', size: h.size, mode: 0o600 });
    }
    expect(decodeTarHeader(encodeTarHeader({ name: 'blobs/', typeflag: '5', size: 0, mode: 0o700 }))).toEqual({ name: 'blobs', type: 'directory', size: 0, mode: 0o700 });
    expect(decodeTarHeader(new Uint8Array(BLOCK))).toBeNull();
    const damaged = encodeTarHeader({ name: 'config.json', typeflag: '0', size: 1, mode: 0o600 });
    damaged[3]! ^= 1;
    expect(() => decodeTarHeader(damaged)).toThrow(/checksum/);
  });

  it('reads what GNU tar writes', async () => {
    const dir = join(scratch, 'gnu');
    await mkdir(join(dir, 'blobs'), { recursive: true });
    await writeFile(join(dir, 'config.json'), '{"a":1}\n');
    await writeFile(join(dir, 'blobs', 'x'), blobBytes);
    const file = join(scratch, 'gnu.tar');
    await run('tar', ['--format=ustar', '-cf', file, '-C', dir, 'config.json', 'blobs']);
    const reader = new TarReader(await open(file, 'r'));
    const seen: Record<string, string> = {};
    for (let e = await reader.next(); e; e = await reader.next()) {
      const chunks: Uint8Array[] = [];
      await reader.copyData(e, async (c) => void chunks.push(c.slice()));
      seen[`${e.type}:${e.name}`] = sha256(Buffer.concat(chunks));
    }
    expect(seen).toEqual({ 'file:config.json': sha256(Buffer.from('{"a":1}\n')), 'directory:blobs': sha256(new Uint8Array()), 'file:blobs/x': sha256(blobBytes) });
  });
});

describe('backup and restore', () => {
  let before: Awaited<ReturnType<typeof servedTips>>;

  it('a backup taken while the server runs restores to a server that serves the same tips', async () => {
    const live = await openTestApp(newsroom);
    try {
      for (const message of ['first tip', 'second tip', 'third tip']) {
        const res = await noJsPoster((p, init) => live.app.request(p, init))('/submit', `message=${encodeURIComponent(message)}`);
        expect(res.status).toBe(201);
      }
      before = await servedTips(live, ana);
      expect(Object.keys(before.bodies)).toHaveLength(3);

      backupFile = join(scratch, 'tipline.tar');
      const r = await createBackup({ dataDir: newsroom.dataDir, out: backupFile });
      // The attachment travels inside the database: blobs live in rows, not files (no per-upload file times).
      expect(r).toMatchObject({ tips: 3, blobFiles: 0, skipped: [] });
      expect((await lstat(backupFile)).mode & 0o777).toBe(0o600);
      // Nothing else is left beside it: no partial file, no snapshot folder.
      expect((await readdir(scratch)).filter((f) => f.startsWith('.'))).toEqual([]);
    } finally {
      await live.close();
    }

    const restoredDir = join(scratch, 'restored');
    const restored = await restoreBackup({ in: backupFile, dataDir: restoredDir });
    expect(restored).toMatchObject({ tips: 3, blobFiles: 0 });

    const t = await openTestApp({ ...newsroom, dataDir: restoredDir });
    try {
      expect(await servedTips(t, ana)).toEqual(before);
    } finally {
      await t.close();
    }
    // The blob file planted as an older version would have left it was moved into rows; the backup carries it in the database.
    expect(new Uint8Array(await readFile(await storedBlobFile({ ...newsroom, dataDir: restoredDir }, blobId)))).toEqual(blobBytes);

    // The restored tips still open with the journalist's key.
    const t2 = await openTestApp({ ...newsroom, dataDir: restoredDir });
    try {
      const messages: string[] = [];
      for (const id of Object.keys(before.bodies)) {
        const bytes = new Uint8Array(await (await t2.app.request(`/api/v1/journalist/tips/${id}`, auth(ana))).arrayBuffer());
        const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: bytes }), decryptionKeys: ana.privateKey, format: 'binary' });
        messages.push(/(first|second|third) tip/.exec(new TextDecoder().decode(data as Uint8Array))?.[0] ?? '');
      }
      expect(messages.sort()).toEqual(['first tip', 'second tip', 'third tip']);
    } finally {
      await t2.close();
    }
  });

  it('restores folders as 0700 and files as 0600', async () => {
    const restoredDir = join(scratch, 'restored');
    const check = async (path: string): Promise<void> => {
      const info = await lstat(path);
      expect(info.mode & 0o777, path).toBe(info.isDirectory() ? 0o700 : 0o600);
      if (info.isDirectory()) for (const e of await readdir(path)) await check(join(path, e));
    };
    await check(restoredDir);
  });

  it('never holds the signing key, a token, or the proof-of-work key', async () => {
    const archive = await readFile(backupFile);
    const signingKey = JSON.parse(await readFile(newsroom.signingKeyFile, 'utf8')) as { secretKey: string };
    expect(archive.includes(Buffer.from(signingKey.secretKey))).toBe(false);
    expect(archive.includes(Buffer.from('tipline-newsroom-signing-key'))).toBe(false);
    // The secret is the token's last 43 characters; split('_') would cut it short when it holds a '_' itself,
    // and a few random characters can turn up in any archive by chance.
    expect(archive.includes(Buffer.from(ana.token.slice(-43)))).toBe(false);
    const live = await openTestApp(newsroom);
    try {
      const secrets = await live.db.selectFrom('server_secrets').select('value').execute();
      expect(secrets.length).toBeGreaterThan(0);
      for (const s of secrets) expect(archive.includes(Buffer.from(s.value))).toBe(false);
    } finally {
      await live.close();
    }
  });

  it('is a plain tar archive that standard tar lists and unpacks', async () => {
    const { stdout } = await run('tar', ['-tf', backupFile]);
    expect(stdout.trim().split('\n')).toEqual(['config.json', 'tipline.db', 'blobs/', 'tipline-backup.json']);
    const out = join(scratch, 'untarred');
    await mkdir(out);
    await run('tar', ['-xf', backupFile, '-C', out]);
    const manifest = JSON.parse(await readFile(join(out, 'tipline-backup.json'), 'utf8')) as { files: { path: string; sha256: string }[] };
    for (const f of manifest.files) expect(sha256(await readFile(join(out, f.path))), f.path).toBe(f.sha256);
  });

  it('refuses to overwrite: an existing backup file, a non-empty folder', async () => {
    await expect(createBackup({ dataDir: newsroom.dataDir, out: backupFile })).rejects.toThrow(/already exists; refusing to overwrite/);
    const busy = join(scratch, 'busy');
    await mkdir(busy);
    await writeFile(join(busy, 'keep.txt'), 'mine');
    await expect(restoreBackup({ in: backupFile, dataDir: busy })).rejects.toThrow(/is not empty/);
    expect(await readdir(busy)).toEqual(['keep.txt']);
    await writeFile(join(scratch, 'a-file'), 'x');
    await expect(restoreBackup({ in: backupFile, dataDir: join(scratch, 'a-file') })).rejects.toThrow(/is not a folder/);
    await symlink(busy, join(scratch, 'a-link'));
    await expect(restoreBackup({ in: backupFile, dataDir: join(scratch, 'a-link') })).rejects.toThrow(/symbolic link/);
  });

  it('restores into an existing empty folder (a mounted volume) and leaves it private', async () => {
    const empty = join(scratch, 'volume');
    await mkdir(empty, { mode: 0o755 });
    await chmod(empty, 0o755);
    await restoreBackup({ in: backupFile, dataDir: empty });
    expect((await lstat(empty)).mode & 0o777).toBe(0o700);
    expect((await readdir(empty)).sort()).toEqual(['blobs', 'config.json', 'tipline.db']);
  });
});

describe('restoring a hostile or damaged archive', () => {
  const good = { name: 'config.json', typeflag: '0', data: '{}' };
  type Entry = Omit<RawTarHeader, 'size' | 'mode'> & { data?: string };

  async function archive(name: string, entries: Entry[]): Promise<string> {
    const blocks: Uint8Array[] = [];
    for (const e of entries) {
      const data = Buffer.from(e.data ?? '');
      blocks.push(encodeTarHeader({ name: e.name, typeflag: e.typeflag, size: data.length, mode: 0o600, linkname: e.linkname }));
      blocks.push(data, new Uint8Array((BLOCK - (data.length % BLOCK)) % BLOCK));
    }
    blocks.push(new Uint8Array(BLOCK * 2));
    const file = join(scratch, `${name}.tar`);
    await writeFile(file, Buffer.concat(blocks));
    return file;
  }

  /** Restores `file` into a new folder; it must fail with `message` and leave no trace, there or anywhere in scratch. */
  async function refused(file: string, message: RegExp): Promise<void> {
    const target = join(scratch, 'hostile', 'target');
    await expect(restoreBackup({ in: file, dataDir: target })).rejects.toSatisfy((e: Error) => e instanceof BackupError && message.test(e.message));
    await expect(lstat(target)).rejects.toThrow(/ENOENT/);
    const everything = await readdir(scratch, { recursive: true });
    expect(everything.filter((p) => /escaped|evil/.test(p) && !p.endsWith('.tar'))).toEqual([]);
  }

  it('refuses paths that climb out, absolute paths and names a backup never holds', async () => {
    await refused(await archive('climb', [good, { name: '../escaped', typeflag: '0', data: 'x' }]), /climbs out/);
    await refused(await archive('climb-deep', [good, { name: 'blobs/../../../escaped', typeflag: '0', data: 'x' }]), /climbs out/);
    await refused(await archive('absolute', [good, { name: `${scratch}/escaped-abs`, typeflag: '0', data: 'x' }]), /absolute path/);
    await refused(await archive('unknown', [good, { name: 'evil.sh', typeflag: '0', data: 'x' }]), /not part of a tipline backup/);
    await refused(await archive('dotfile', [good, { name: 'blobs/.evil', typeflag: '0', data: 'x' }]), /characters a backup never uses/);
  });

  it('refuses links, devices and tar extensions', async () => {
    await refused(await archive('symlink', [good, { name: 'blobs/evil-link', typeflag: '2', linkname: '/etc/passwd' }]), /symbolic link/);
    await refused(await archive('hardlink', [good, { name: 'blobs/evil-hard', typeflag: '1', linkname: 'config.json' }]), /hard link/);
    await refused(await archive('device', [good, { name: 'blobs/evil-dev', typeflag: '3' }]), /device/);
    await refused(await archive('longname', [good, { name: '././@LongLink', typeflag: 'L', data: '../escaped\0' }]), /GNU long name/);
  });

  it('refuses duplicates, entries after the manifest, and archives without one', async () => {
    await refused(await archive('dup', [good, good]), /appears twice/);
    await refused(await archive('no-manifest', [good]), /no tipline-backup\.json/);
    const manifest = JSON.stringify({ format: 'tipline-backup/1', createdDay: '2026-01-01', files: [] });
    await refused(await archive('after', [{ name: 'tipline-backup.json', typeflag: '0', data: manifest }, good]), /must be last/);
    await refused(await archive('foreign', [good, { name: 'tipline-backup.json', typeflag: '0', data: '{"format":"other"}' }]), /not a tipline-backup\/1 archive/);
  });

  it('refuses a damaged, cut-short or non-tar file', async () => {
    const bytes = await readFile(backupFile);
    // Flip one byte inside the database's data (the second entry).
    const reader = new TarReader(await open(backupFile, 'r'));
    await reader.next();
    const db = (await reader.next())!;
    expect(db.name).toBe('tipline.db');
    const flipped = Buffer.from(bytes);
    flipped[db.dataOffset + 5000]! ^= 0xff;
    await writeFile(join(scratch, 'flipped.tar'), flipped);
    await refused(join(scratch, 'flipped.tar'), /tipline\.db is damaged/);

    await writeFile(join(scratch, 'short.tar'), bytes);
    await truncate(join(scratch, 'short.tar'), db.dataOffset + 1000);
    await refused(join(scratch, 'short.tar'), /cut short/);

    await writeFile(join(scratch, 'random.tar'), new Uint8Array(4096).map((_, i) => (i * 31) % 256));
    await refused(join(scratch, 'random.tar'), /not a tar archive/);
  });
});

describe('tipline admin backup / restore', () => {
  it('work from the command line, with one clear line and a non-zero exit on refusal', async () => {
    const out = join(scratch, 'cli.tar');
    const b = await runCli(['admin', 'backup', '--data', newsroom.dataDir, '--out', out]);
    expect(b.code, b.stderr).toBe(0);
    expect(b.stdout).toContain('never the signing key');
    const r = await runCli(['admin', 'restore', '--in', out, '--data', join(scratch, 'cli-restored')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Restored the backup of \d{4}-\d{2}-\d{2}/);
    const again = await runCli(['admin', 'restore', '--in', out, '--data', join(scratch, 'cli-restored')]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    expect(again.stderr).toContain('is not empty');
    const missing = await runCli(['admin', 'backup', '--data', newsroom.dataDir]);
    expect(missing.code, missing.stderr).toBe(2);
    expect(missing.stderr).toContain('--out is required');
  });
});
