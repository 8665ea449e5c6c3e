/**
 * `tipline admin backup`: one archive holding a consistent copy of a data
 * directory, taken while the server keeps running.
 *
 * The database is copied with SQLite's online backup API (better-sqlite3's
 * `backup()`), which yields a consistent snapshot even while tips arrive; the
 * attachment files are copied after it, so every attachment the snapshot
 * names is there (blobs are written completely before a tip can claim them).
 * The snapshot goes to a private temporary folder beside the output file (not
 * /tmp, which may be a small tmpfs), and the archive is written under a
 * temporary name and linked into place only when complete: a failed backup
 * leaves nothing that looks like a backup, and no existing file is overwritten.
 *
 * @example
 * const r = await createBackup({ dataDir: '/srv/tipline', out: '/backups/tipline-2026-11-28.tar' });
 */
import { link, lstat, mkdtemp, open, readdir, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { utcDay } from '../../crypto/day.ts';
import { readDataDir } from '../data-dir.ts';
import { isPostgresUrl } from '../db/postgres.ts';
import { containsSigningKey } from '../admin/signing-key-scan.ts';
import { BACKUP_FORMAT, BLOBS_ENTRY, BackupError, CONFIG_ENTRY, checkEntryName, DATABASE_ENTRY, MANIFEST_ENTRY, type BackupManifest } from './backup-layout.ts';
import { TarWriter } from './tar-format.ts';

export type BackupResult = { out: string; tips: number; blobFiles: number; bytes: number; skipped: string[] };

export async function createBackup(o: { dataDir: string; out: string; today?: string }): Promise<BackupResult> {
  const dir = await readDataDir(o.dataDir);
  if (isPostgresUrl(dir.database)) {
    throw new BackupError('the database is PostgreSQL (DATABASE_URL), which admin backup cannot snapshot: back it up with pg_dump and keep a copy of config.json, as docs/deploy.md says under "PostgreSQL (more than one instance)"');
  }
  if (await lstat(o.out).then(() => true, () => false)) throw new BackupError(`${o.out} already exists; refusing to overwrite it`);
  const partial = join(dirname(o.out), `.${basename(o.out)}.partial-${process.pid}`);
  let output: FileHandle;
  try {
    output = await open(partial, 'wx', 0o600);
  } catch (e) {
    throw new BackupError(`cannot write ${o.out}: ${(e as Error).message}`);
  }
  let work: string | undefined;
  let done = false;
  try {
    work = await mkdtemp(join(dirname(o.out), '.tipline-backup-'));
    const files: BackupManifest['files'] = [];
    const tar = new TarWriter(output);

    const config = await readConfigBytes(dir.configFile);
    files.push({ path: CONFIG_ENTRY, size: config.length, sha256: await tar.addBytes(CONFIG_ENTRY, config) });

    const snapshot = join(work, DATABASE_ENTRY);
    const tips = await snapshotDatabase(dir.dbFile, snapshot);
    const db = await tar.addFile(DATABASE_ENTRY, snapshot);
    files.push({ path: DATABASE_ENTRY, ...db });
    await rm(snapshot, { force: true });

    const skipped: string[] = [];
    let blobFiles = 0;
    const blobsDir = join(dir.dir, BLOBS_ENTRY);
    if (await isDirectory(blobsDir)) {
      await tar.addDirectory(BLOBS_ENTRY);
      await walk(blobsDir, BLOBS_ENTRY, async (path, name, kind) => {
        if (kind === 'directory') return acceptable(name, 'directory') ? tar.addDirectory(name) : void skipped.push(name);
        if (kind !== 'file' || !acceptable(name)) return void skipped.push(name);
        if (await containsSigningKey(path)) throw new BackupError(`${path} is a newsroom signing key; it must not be in the data directory (see: tipline admin doctor)`);
        files.push({ path: name, ...(await tar.addFile(name, path)) });
        blobFiles++;
      });
    }

    const manifest: BackupManifest = { format: BACKUP_FORMAT, createdDay: o.today ?? utcDay(), files };
    await tar.addBytes(MANIFEST_ENTRY, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`));
    await tar.finish();
    await output.sync();
    await output.close();
    await moveIntoPlace(partial, o.out);
    done = true;
    return { out: o.out, tips, blobFiles, bytes: files.reduce((a, f) => a + f.size, 0), skipped };
  } finally {
    if (!done) {
      await output.close().catch(() => {});
      await rm(partial, { force: true });
    }
    if (work) await rm(work, { recursive: true, force: true });
  }
}

/**
 * link, not rename, where the filesystem allows it: link fails if `to`
 * appeared meanwhile, so nothing is ever overwritten. Filesystems without
 * hard links (FAT on a USB stick) get a rename after one more check.
 */
async function moveIntoPlace(from: string, to: string): Promise<void> {
  const exists = () => new BackupError(`${to} already exists; refusing to overwrite it`);
  try {
    await link(from, to);
    await rm(from, { force: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw exists();
    if (await lstat(to).then(() => true, () => false)) throw exists();
    await rename(from, to);
  }
}

/**
 * Copies the live database into `file` with the online backup API, in one
 * step, so the copy is one consistent read (a copy made in many small steps
 * restarts whenever the server writes). Then, on the copy only: the
 * proof-of-work key is deleted (secure_delete overwrites it), the copy leaves
 * WAL mode so it is one self-contained file, and SQLite checks it.
 */
async function snapshotDatabase(source: string, file: string): Promise<number> {
  const live = new BetterSqlite3(source, { readonly: true, fileMustExist: true });
  try {
    live.pragma('busy_timeout = 5000');
    await live.backup(file, { progress: () => 0x7fffffff });
  } catch (e) {
    throw new BackupError(`cannot copy the database ${source}: ${(e as Error).message}`);
  } finally {
    live.close();
  }
  const copy = new BetterSqlite3(file, { fileMustExist: true });
  try {
    copy.pragma('secure_delete = ON');
    copy.pragma('journal_mode = MEMORY');
    const hasTable = (name: string) => copy.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
    if (hasTable('server_secrets')) copy.prepare('DELETE FROM server_secrets').run();
    const check = copy.pragma('quick_check', { simple: true });
    if (check !== 'ok') throw new BackupError(`the database copy failed SQLite's check (${String(check)}); the live database may be damaged`);
    return hasTable('tips') ? Number((copy.prepare('SELECT count(*) AS n FROM tips').get() as { n: number }).n) : 0;
  } finally {
    copy.close();
  }
}

async function readConfigBytes(file: string): Promise<Uint8Array> {
  const f = await open(file, 'r');
  try {
    const bytes = new Uint8Array(await f.readFile());
    if (new TextDecoder().decode(bytes).includes('secretKey')) throw new BackupError(`${file} holds a secret key; it must hold only the newsroom public key`);
    return bytes;
  } finally {
    await f.close();
  }
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

/** Whether a restore would accept this name (a stray temporary file with an odd name is left out, not fatal). */
function acceptable(name: string, type: 'file' | 'directory' = 'file'): boolean {
  try {
    checkEntryName(name, type);
    return true;
  } catch {
    return false;
  }
}

/** Visits a folder's entries in a stable order, without following symbolic links. */
async function walk(path: string, name: string, visit: (path: string, name: string, kind: 'file' | 'directory' | 'other') => Promise<void>): Promise<void> {
  const entries = (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const childPath = join(path, e.name);
    const childName = `${name}/${e.name}`;
    if (e.isDirectory()) {
      await visit(childPath, childName, 'directory');
      await walk(childPath, childName, visit);
    } else {
      await visit(childPath, childName, e.isFile() ? 'file' : 'other');
    }
  }
}
