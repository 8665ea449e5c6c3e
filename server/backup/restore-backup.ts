/**
 * `tipline admin restore`: unpacks a backup made by `createBackup` into a new
 * (or empty) data directory, treating the archive as hostile until proven
 * otherwise:
 *
 * - every name is checked against the backup layout (no absolute paths, no
 *   `..`, no links or devices, nothing a backup doesn't hold), and each file
 *   is created fresh (`wx`), so nothing outside the folder is ever written;
 * - every file's SHA-256 must match the archive's own manifest;
 * - SQLite must accept the database, and this version's migrations must run.
 *
 * Files are unpacked into a hidden folder inside the target and moved into
 * place only when all of that has passed, `config.json` last: until it is
 * there, no `tipline` command treats the folder as a data directory. On
 * failure the folder is left as it was. Folders are 0700 and files 0600.
 *
 * @example
 * const r = await restoreBackup({ in: 'tipline-2026-11-28.tar', dataDir: '/srv/tipline-restored' });
 */
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, open, readdir, rename, rm, rmdir, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { databaseLocation, readDataDir } from '../data-dir.ts';
import { isPostgresUrl } from '../db/postgres.ts';
import { openDatabase } from '../db/open-database.ts';
import { BackupError, CONFIG_ENTRY, DATABASE_ENTRY, MANIFEST_ENTRY, checkEntryName, parseBackupManifest, type BackupManifest } from './backup-layout.ts';
import { TarFormatError, TarReader } from './tar-format.ts';

export type RestoreResult = { dataDir: string; tips: number; blobFiles: number; createdDay: string };

/** The archive's own manifest is small; anything bigger is not one of ours. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

export async function restoreBackup(o: { in: string; dataDir: string }): Promise<RestoreResult> {
  if (isPostgresUrl(databaseLocation(o.dataDir))) {
    throw new BackupError('DATABASE_URL is set, but a backup restores a SQLite data directory, which tipline would then ignore. Unset DATABASE_URL to restore it, or restore a PostgreSQL database with pg_restore (docs/deploy.md: "PostgreSQL (more than one instance)")');
  }
  let input: FileHandle;
  try {
    input = await open(o.in, 'r');
  } catch {
    throw new BackupError(`cannot read the backup file ${o.in}`);
  }
  const target = resolve(o.dataDir);
  let created = false;
  let staging: string | undefined;
  const moved: string[] = [];
  try {
    created = await prepareTarget(target);
    staging = await mkdtemp(join(target, '.restoring-'));
    const { manifest, written } = await unpack(new TarReader(input), staging);
    checkAgainstManifest(manifest, written);
    const tips = await checkDatabase(join(staging, DATABASE_ENTRY));
    await readDataDir(staging);

    const names = (await readdir(staging)).filter((n) => n !== CONFIG_ENTRY);
    for (const name of [...names, CONFIG_ENTRY]) {
      await rename(join(staging, name), join(target, name));
      moved.push(name);
    }
    await rmdir(staging);
    staging = undefined;
    return { dataDir: target, tips, blobFiles: written.size - 2, createdDay: manifest.createdDay };
  } catch (e) {
    if (staging) await rm(staging, { recursive: true, force: true });
    for (const name of moved) await rm(join(target, name), { recursive: true, force: true });
    if (created) await rm(target, { recursive: true, force: true });
    if (e instanceof TarFormatError) throw new BackupError(`refusing the backup: ${e.message}`);
    throw e;
  } finally {
    await input.close();
  }
}

/** Makes the target folder (0700), or checks that an existing one is an empty folder. Returns whether it was made here. */
async function prepareTarget(target: string): Promise<boolean> {
  const info = await lstat(target).catch(() => undefined);
  if (!info) {
    await mkdir(dirname(target), { recursive: true });
    await mkdir(target, { mode: 0o700 });
    await chmod(target, 0o700);
    return true;
  }
  if (info.isSymbolicLink()) throw new BackupError(`${target} is a symbolic link; give the real folder to restore into`);
  if (!info.isDirectory()) throw new BackupError(`${target} exists and is not a folder; restore into a new or empty folder`);
  if ((await readdir(target)).length > 0) throw new BackupError(`${target} is not empty; restore into a new or empty folder (refusing to overwrite anything)`);
  await chmod(target, 0o700);
  return false;
}

type Written = Map<string, { size: number; sha256: string }>;

async function unpack(reader: TarReader, staging: string): Promise<{ manifest: BackupManifest; written: Written }> {
  const written: Written = new Map();
  let manifest: BackupManifest | undefined;
  for (let entry = await reader.next(); entry; entry = await reader.next()) {
    checkEntryName(entry.name, entry.type);
    if (manifest) throw new BackupError(`refusing the backup: "${entry.name}" comes after ${MANIFEST_ENTRY}, which must be last`);
    const path = resolve(staging, entry.name);
    if (!path.startsWith(staging + sep)) throw new BackupError(`refusing the backup: the entry "${entry.name}" points outside the folder`);
    if (entry.type === 'directory') {
      await mkdir(path, { recursive: true, mode: 0o700 });
      continue;
    }
    if (entry.name === MANIFEST_ENTRY) {
      if (entry.size > MAX_MANIFEST_BYTES) throw new BackupError(`refusing the backup: ${MANIFEST_ENTRY} is implausibly large`);
      const chunks: Uint8Array[] = [];
      await reader.copyData(entry, async (chunk) => void chunks.push(chunk.slice()));
      manifest = parseBackupManifest(Buffer.concat(chunks).toString('utf8'));
      continue;
    }
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    let file: FileHandle;
    try {
      file = await open(path, 'wx', 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new BackupError(`refusing the backup: "${entry.name}" appears twice`);
      throw e;
    }
    const hash = createHash('sha256');
    try {
      let position = 0;
      await reader.copyData(entry, async (chunk) => {
        hash.update(chunk);
        let at = 0;
        while (at < chunk.length) at += (await file.write(chunk, at, chunk.length - at, position + at)).bytesWritten;
        position += chunk.length;
      });
      await file.sync();
    } finally {
      await file.close();
    }
    written.set(entry.name, { size: entry.size, sha256: hash.digest('hex') });
  }
  if (!manifest) throw new BackupError(`refusing the backup: it has no ${MANIFEST_ENTRY}, so it was not made by tipline admin backup or it is cut short`);
  return { manifest, written };
}

function checkAgainstManifest(manifest: BackupManifest, written: Written): void {
  const listed = new Set(manifest.files.map((f) => f.path));
  for (const f of manifest.files) {
    const got = written.get(f.path);
    if (!got) throw new BackupError(`refusing the backup: ${f.path} is listed in it but missing`);
    if (got.size !== f.size || got.sha256 !== f.sha256) throw new BackupError(`refusing the backup: ${f.path} is damaged (its SHA-256 differs from the one recorded)`);
  }
  for (const name of written.keys()) if (!listed.has(name)) throw new BackupError(`refusing the backup: ${name} is in it but not listed in ${MANIFEST_ENTRY}`);
  for (const needed of [CONFIG_ENTRY, DATABASE_ENTRY]) if (!written.has(needed)) throw new BackupError(`refusing the backup: it has no ${needed}`);
}

/** SQLite's own check, then this version's migrations (which refuse a database from a newer tipline). Returns the number of tips. */
async function checkDatabase(file: string): Promise<number> {
  let tips: number;
  try {
    const raw = new BetterSqlite3(file, { fileMustExist: true });
    try {
      const check = raw.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(String(check));
    } finally {
      raw.close();
    }
    const db = await openDatabase(file);
    try {
      tips = Number((await db.selectFrom('tips').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow()).n);
    } finally {
      await db.destroy();
    }
  } catch (e) {
    throw new BackupError(`refusing the backup: its database cannot be used (${(e as Error).message})`);
  }
  return tips;
}
