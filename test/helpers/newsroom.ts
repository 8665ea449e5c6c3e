/**
 * Test fixtures: a newsroom in a temporary folder, journalists, and an app or a
 * real listening server on 127.0.0.1 over it.
 *
 * In vitest's `postgres` project (vitest.config.ts) every newsroom gets its
 * own fresh PostgreSQL database instead of SQLite, dropped at cleanup, so the
 * same suites run against both.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { addJournalist, initNewsroom } from '../../server/admin/newsroom.ts';
import { createApp, type AppOptions } from '../../server/app.ts';
import { readDataDir } from '../../server/data-dir.ts';
import { openDatabase, type TiplineDb } from '../../server/db/open-database.ts';
import { loadStaticFiles } from '../../server/http/static-files.ts';
import { publicDir } from '../../cli/paths.ts';
import { createTestDatabase } from './postgres.ts';
import { RowBlobStore } from '../../server/uploads/row-blob-store.ts';

/** The suites of the `postgres` project run with this (vitest.config.ts). */
export const ON_POSTGRES = process.env.TIPLINE_TEST_DATABASE === 'postgres';
const databaseOf = new Map<string, string>();

/** The database URL of a newsroom made here on PostgreSQL, for the CLI and server child processes. */
export function databaseEnvFor(dataDir: string): NodeJS.ProcessEnv {
  const url = databaseOf.get(dataDir);
  return url ? { DATABASE_URL: url } : {};
}

export type TestNewsroom = {
  root: string;
  dataDir: string;
  /** Set when the newsroom's database is PostgreSQL (else SQLite in dataDir). */
  databaseUrl?: string | undefined;
  signingKeyFile: string;
  fingerprint: string;
  cleanup: () => Promise<void>;
};

/** `databaseUrl`: an empty PostgreSQL database to use instead of SQLite (see postgres.ts). */
export async function makeNewsroom(o: { databaseUrl?: string | undefined } = {}): Promise<TestNewsroom> {
  const root = await mkdtemp(join(tmpdir(), 'tipline-test-'));
  const dataDir = join(root, 'data');
  const signingKeyFile = join(root, 'newsroom.key');
  const own = !o.databaseUrl && ON_POSTGRES ? await createTestDatabase() : undefined;
  const databaseUrl = o.databaseUrl ?? own?.url;
  if (databaseUrl) databaseOf.set(dataDir, databaseUrl);
  // Suites call the admin functions with only { dataDir }, as the CLI does: on PostgreSQL they
  // find the database through DATABASE_URL, as the CLI would. It names the oldest newsroom
  // still open, the one a suite's tests are about (a second is usually a short-lived extra).
  if (own && !process.env.DATABASE_URL) process.env.DATABASE_URL = own.url;
  const { fingerprint } = await initNewsroom({ dataDir, signingKeyFile, databaseUrl });
  const cleanup = async () => {
    if (own && process.env.DATABASE_URL === own.url) process.env.DATABASE_URL = '';
    databaseOf.delete(dataDir);
    await rm(root, { recursive: true, force: true });
    await own?.drop();
  };
  return { root, dataDir, databaseUrl, signingKeyFile, fingerprint, cleanup };
}

export type TestJournalist = { name: string; token: string; publicKey: string; privateKey: openpgp.PrivateKey; armoredPrivateKey: string };

/** Makes an openpgp.js key pair (legacy cv25519, what GnuPG 2.2 reads) and registers it. */
export async function addTestJournalist(newsroom: TestNewsroom, name: string): Promise<TestJournalist> {
  const { privateKey, publicKey } = await openpgp.generateKey({
    type: 'ecc',
    curve: 'curve25519Legacy',
    userIDs: [{ name, email: `${name.toLowerCase().replace(/\W/g, '')}@example.org` }],
    format: 'armored',
  });
  const { token } = await addJournalist({ dataDir: newsroom.dataDir, databaseUrl: newsroom.databaseUrl, signingKeyFile: newsroom.signingKeyFile, name, armoredKey: publicKey });
  return { name, token, publicKey, privateKey: await openpgp.readPrivateKey({ armoredKey: privateKey }), armoredPrivateKey: privateKey };
}

export type TestApp = { app: Awaited<ReturnType<typeof createApp>>; db: TiplineDb; logs: string[]; close: () => Promise<void> };

/**
 * The Hono app over a newsroom's data directory, for `app.request` tests. Log lines are collected in `logs`.
 * The proof of work is off unless `options.pow` sets it: the proof-of-work tests turn it on. So is the
 * no-JavaScript form's wait (`limits.noJsFormMinSeconds`), unless `options.limits` sets it; the form
 * token itself is always required (post no-JavaScript forms with test/helpers/no-js-form.ts).
 */
export async function openTestApp(newsroom: TestNewsroom, options: Partial<AppOptions> = {}): Promise<TestApp> {
  const dir = await readDataDir(newsroom.dataDir, newsroom);
  const db = await openDatabase(dir.database);
  const logs: string[] = [];
  const app = await createApp({
    db,
    blobDir: dir.blobDir,
    newsroomPublicKey: dir.newsroomPublicKey,
    staticFiles: await loadStaticFiles(publicDir()),
    log: (l) => logs.push(l),
    pow: { baseDifficulty: 0 },
    ...options,
    limits: { noJsFormMinSeconds: 0, ...options.limits },
  });
  return { app, db, logs, close: () => db.destroy() };
}

/**
 * The stored ciphertext of blob `id`, written to a file under the newsroom's
 * root, for stock `gpg --decrypt`: blobs live in database rows (no per-upload
 * file times on disk), so a test reads them through the row store.
 */
export async function storedBlobFile(newsroom: TestNewsroom, id: string): Promise<string> {
  const dir = await readDataDir(newsroom.dataDir, { databaseUrl: newsroom.databaseUrl });
  const db = await openDatabase(dir.database);
  try {
    const bytes = new Uint8Array(await new Response(new RowBlobStore(db).read(id)).arrayBuffer());
    const out = join(newsroom.root, `blob-${id}.gpg`);
    await writeFile(out, bytes);
    return out;
  } finally {
    await db.destroy();
  }
}
