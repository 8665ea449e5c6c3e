/**
 * The server's data directory: the database and `config.json` (the newsroom
 * *public* key and settings). The newsroom *secret* key never lives here.
 * The directory is 0700 and its files 0600.
 *
 * With a database URL (`DATABASE_URL` or `--database-url`, README: "PostgreSQL
 * (more than one instance)") the database is in PostgreSQL instead, and the
 * folder holds only config.json, the same file on every instance.
 *
 * config.json records which of the two `admin init` chose (`storage`; none, from
 * earlier versions, means SQLite), and every command refuses the other one:
 * `DATABASE_URL` is a generic name, and one set on the machine for another
 * application must not make `tipline serve` leave its SQLite data and migrate
 * into that database.
 *
 * @example
 * await initDataDir('/srv/tipline', { newsroomPublicKey: hex.encode(pk), storage: 'sqlite' });
 * const { config, database } = await readDataDir('/srv/tipline'); // database: the SQLite file, or the URL
 */
import { mkdir, readFile, rename, stat, writeFile, chmod } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hex } from '../crypto/bytes.ts';
import { describeDatabaseUrl, isPostgresUrl } from './db/postgres.ts';

export type StoredConfig = {
  /** Ed25519 newsroom public key, hex. */
  newsroomPublicKey: string;
  createdAt: string;
  /** Where `admin init` put the database; missing (data directories from earlier versions) means SQLite. */
  storage?: Storage;
  /** Earlier newsroom keys, newest last, with the day each was replaced (shown on the landing page). */
  previousNewsroomKeys?: { key: string; fingerprint: string; until: string }[];
};

export type Storage = 'sqlite' | 'postgres';

export function storageOf(database: string): Storage {
  return isPostgresUrl(database) ? 'postgres' : 'sqlite';
}

export class DataDirError extends Error {
  override name = 'DataDirError';
}

export function dataDirPaths(root: string) {
  const dir = resolve(root);
  return { dir, dbFile: join(dir, 'tipline.db'), configFile: join(dir, 'config.json'), blobDir: join(dir, 'blobs') };
}

export async function initDataDir(root: string, config: { newsroomPublicKey: string; storage: Storage }): Promise<ReturnType<typeof dataDirPaths>> {
  const paths = dataDirPaths(root);
  if (await exists(paths.configFile)) throw new DataDirError(`${paths.dir} is already initialised; refusing to overwrite it`);
  await mkdir(paths.dir, { recursive: true, mode: 0o700 });
  await chmod(paths.dir, 0o700);
  const stored: StoredConfig = { newsroomPublicKey: config.newsroomPublicKey, createdAt: new Date().toISOString().slice(0, 10), storage: config.storage };
  await writeFileAtomic(paths.configFile, `${JSON.stringify(stored, null, 2)}\n`);
  return paths;
}

/** Where the database is: `databaseUrl` if given, else `DATABASE_URL`, else `tipline.db` in the folder. */
export function databaseLocation(root: string, databaseUrl?: string | undefined): string {
  const url = databaseUrl || process.env.DATABASE_URL;
  if (!url) return dataDirPaths(root).dbFile;
  // Not quoted: it may hold a password.
  if (!isPostgresUrl(url)) throw new DataDirError('the database URL (DATABASE_URL or --database-url) must start with postgres://; without one, tipline uses SQLite in the data directory');
  return url;
}

export async function readDataDir(
  root: string,
  o: { databaseUrl?: string | undefined } = {},
): Promise<ReturnType<typeof dataDirPaths> & { config: StoredConfig; newsroomPublicKey: Uint8Array; database: string }> {
  const paths = dataDirPaths(root);
  let text: string;
  try {
    text = await readFile(paths.configFile, 'utf8');
  } catch {
    throw new DataDirError(`${paths.dir} is not a tipline data directory; create one with: tipline admin init --data ${root} --signing-key FILE`);
  }
  let config: StoredConfig;
  try {
    config = JSON.parse(text) as StoredConfig;
  } catch {
    throw new DataDirError(`${paths.configFile} is not valid JSON`);
  }
  if (typeof config.newsroomPublicKey !== 'string' || !/^[0-9a-f]{64}$/.test(config.newsroomPublicKey)) {
    throw new DataDirError(`${paths.configFile} has no valid newsroomPublicKey`);
  }
  if (config.storage !== undefined && config.storage !== 'sqlite' && config.storage !== 'postgres') {
    throw new DataDirError(`${paths.configFile} has an unknown storage (it must be "sqlite" or "postgres")`);
  }
  const database = databaseLocation(root, o.databaseUrl);
  refuseOtherStorage(config.storage ?? 'sqlite', database, paths);
  return { ...paths, config, newsroomPublicKey: hex.decode(config.newsroomPublicKey), database };
}

/** The database given must be of the kind config.json records. The message names it without its password. */
function refuseOtherStorage(recorded: Storage, database: string, paths: ReturnType<typeof dataDirPaths>): void {
  if (storageOf(database) === recorded) return;
  if (recorded === 'sqlite') {
    let named = 'a postgres:// URL';
    try {
      named = describeDatabaseUrl(database);
    } catch {
      // A malformed URL: still refused here, and never quoted.
    }
    throw new DataDirError(
      `${paths.configFile} says this newsroom's database is SQLite (${paths.dbFile}), but a PostgreSQL database is given (${named}, from DATABASE_URL or --database-url); tipline refuses to leave its data for another database. If DATABASE_URL is set on this machine for another application, unset it for tipline (e.g. env -u DATABASE_URL tipline …, or in its systemd unit). If this newsroom is meant to be on PostgreSQL, its config.json must come from an admin init made with the URL (docs/deploy.md: "PostgreSQL (more than one instance)").`,
    );
  }
  throw new DataDirError(
    `${paths.configFile} says this newsroom's database is PostgreSQL, but no database URL is given, so tipline would start an empty SQLite database (${paths.dbFile}) instead. Fix: set DATABASE_URL=postgres://… (the same as on the other instances), or pass --database-url.`,
  );
}

/** Rewrites config.json (atomically), e.g. after a newsroom key rotation. */
export async function writeConfig(root: string, config: StoredConfig): Promise<void> {
  const { configFile } = dataDirPaths(root);
  await writeFileAtomic(configFile, `${JSON.stringify(config, null, 2)}\n`);
}

/** Writes a file through a temporary name and a rename, so readers never see half of it. */
export async function writeFileAtomic(file: string, data: string | Uint8Array, mode = 0o600): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
  await writeFile(tmp, data, { mode, flag: 'wx' });
  await rename(tmp, file);
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
