/**
 * Two real `tipline serve` processes on 127.0.0.1 sharing one PostgreSQL
 * database, set up the way README's "PostgreSQL (more than one instance)"
 * says: `admin init` once, the same config.json in each instance's --data.
 *
 * - A tip submitted to instance A is fetched from instance B and decrypted
 *   with the journalist CLI; an attachment uploaded half through A and half
 *   through B comes out whole.
 * - A proof-of-work challenge issued by A is accepted by B, and the answer
 *   can't be spent again on either.
 * - config.json records the storage `admin init` chose: a PostgreSQL data
 *   directory without the URL, or a SQLite one with a URL meant for another
 *   application, is refused before anything is opened.
 * - The admin side: a second `init` on the database is refused, doctor says
 *   what applies on PostgreSQL, backup points to pg_dump, and the database
 *   password appears in no output and no error.
 */
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { solveChallenge } from '../crypto/proof-of-work.ts';
import { encodeTipDocument, type AttachmentRef } from '../crypto/tip-document.ts';
import { describeDatabaseUrl } from '../server/db/postgres.ts';
import { readDecryptedMessages } from './helpers/browser.ts';
import { createTestDatabase, postgresStatus, type TestDatabase } from './helpers/postgres.ts';
import { runCli, startServerProcess, type ServerProcess } from './helpers/server-process.ts';

const skip = postgresStatus().reason;

describe.skipIf(skip !== undefined)(skip ? `two instances on PostgreSQL: skipped: ${skip}` : 'two instances on one PostgreSQL', () => {
  let pg: TestDatabase;
  let root: string;
  let password: string;
  let a: ServerProcess;
  let b: ServerProcess;
  let token: string;
  let keys: openpgp.PublicKey[];
  const dirA = () => join(root, 'a');
  const dirB = () => join(root, 'b');
  const signingKey = () => join(root, 'newsroom.key');
  const env = () => ({ DATABASE_URL: pg.url });

  const post = (server: ServerProcess, path: string, body: unknown) =>
    fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const challengeFrom = async (server: ServerProcess, purpose: 'tip' | 'upload') => {
    const { challenge } = (await (await post(server, '/api/v1/challenge', { purpose })).json()) as { challenge: string };
    return { challenge, nonce: await solveChallenge(challenge) };
  };
  const tipBody = async (message: string, attachments: AttachmentRef[] = []) => ({
    ciphertext: base64.encode(await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message, fields: {}, attachments })), keys)),
    lookupSecret: base64.encode(randomBytes(32)),
    ...(attachments.length ? { attachments: attachments.map((r) => r.blobId) } : {}),
  });

  beforeAll(async () => {
    pg = await createTestDatabase();
    password = new URL(pg.url).password;
    root = await mkdtemp(join(tmpdir(), 'tipline-two-'));
    const init = await runCli(['admin', 'init', '--data', dirA(), '--signing-key', signingKey()], env());
    expect(init.code, init.stderr).toBe(0);
    // The second instance gets the first one's config.json, not a second init.
    await mkdir(dirB(), { mode: 0o700 });
    await copyFile(join(dirA(), 'config.json'), join(dirB(), 'config.json'));

    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'Ana', email: 'ana@example.org' }], format: 'armored' });
    await writeFile(join(root, 'ana.asc'), publicKey);
    await writeFile(join(root, 'ana.sec.asc'), privateKey, { mode: 0o600 });
    // --database-url, the flag, on this one (the other commands use DATABASE_URL).
    const add = await runCli(['admin', 'journalist', 'add', '--data', dirA(), '--database-url', pg.url, '--signing-key', signingKey(), '--name', 'Ana', '--key', join(root, 'ana.asc')]);
    expect(add.code, add.stderr).toBe(0);
    token = /^\s+(tl_\S+)$/m.exec(add.stdout)![1]!;
    await writeFile(join(root, 'token'), `${token}\n`, { mode: 0o600 });

    a = await startServerProcess(dirA(), ['--pow-difficulty', '4'], env());
    b = await startServerProcess(dirB(), ['--pow-difficulty', '4', '--database-url', pg.url]);
    const signed = (await (await fetch(`${b.url}/api/v1/manifest`)).json()) as SignedManifest;
    keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (root) await rm(root, { recursive: true, force: true });
    await pg?.drop();
  });

  it('refuses a second admin init on the same database, and says to copy config.json', async () => {
    const again = await runCli(['admin', 'init', '--data', join(root, 'c'), '--signing-key', join(root, 'other.key')], env());
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds a newsroom.*copy config\.json/);
    await expect(readdir(join(root, 'c'))).rejects.toThrow();
    await expect(readFile(join(root, 'other.key'))).rejects.toThrow();
  });

  it('init records PostgreSQL in config.json, and without the URL serve and admin commands refuse to start an empty SQLite', async () => {
    expect(JSON.parse(await readFile(join(dirA(), 'config.json'), 'utf8'))).toMatchObject({ storage: 'postgres' });
    for (const args of [['serve', '--data', dirB(), '--port', '0'], ['admin', 'journalist', 'list', '--data', dirB()], ['admin', 'doctor', '--data', dirB()]]) {
      const r = await runCli(args, { DATABASE_URL: '' });
      expect(r.code, args.join(' ')).toBe(1);
      expect(r.stderr + r.stdout).toMatch(/config\.json says this newsroom's database is PostgreSQL, but no database URL is given, so tipline would start an empty SQLite database \(.*tipline\.db\) instead\. Fix: set DATABASE_URL=postgres:\/\/… .*or pass --database-url/);
    }
    expect(await readdir(dirB())).not.toContain('tipline.db');
  });

  it('refuses, on a SQLite data directory, a DATABASE_URL meant for another application, and leaves that database alone', async () => {
    const other = await createTestDatabase();
    try {
      const sqliteDir = join(root, 'sqlite');
      const init = await runCli(['admin', 'init', '--data', sqliteDir, '--signing-key', join(root, 'sqlite.key')], { DATABASE_URL: '' });
      expect(init.code, init.stderr).toBe(0);
      const otherPassword = new URL(other.url).password;
      for (const args of [['serve', '--data', sqliteDir, '--port', '0'], ['admin', 'journalist', 'list', '--data', sqliteDir]]) {
        const r = await runCli(args, { DATABASE_URL: other.url });
        expect(r.code, args.join(' ')).toBe(1);
        expect(r.stderr).toContain(`says this newsroom's database is SQLite (${join(sqliteDir, 'tipline.db')}), but a PostgreSQL database is given (${describeDatabaseUrl(other.url)}, from DATABASE_URL or --database-url)`);
        expect(r.stderr + r.stdout).not.toContain(otherPassword);
      }
      // No migration ran there: the other application's database has no table of tipline's.
      const { default: pgDriver } = await import('pg');
      const c = new pgDriver.Client({ connectionString: other.url });
      await c.connect();
      try {
        expect((await c.query("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")).rows).toEqual([]);
      } finally {
        await c.end();
      }
    } finally {
      await other.drop();
    }
  });

  it('accepts at B a proof of work issued by A, and refuses the same answer again on both', async () => {
    const pow = await challengeFrom(a, 'tip');
    const accepted = await post(b, '/api/v1/tips', { ...(await tipBody('paid for at A, sent to B')), pow });
    expect(accepted.status).toBe(201);
    for (const server of [a, b]) {
      const replay = await post(server, '/api/v1/tips', { ...(await tipBody('replayed')), pow });
      expect(replay.status).toBe(409);
      expect(((await replay.json()) as { error: { code: string } }).error.code).toBe('pow-replayed');
    }
  });

  it('serves from B a tip and an attachment that arrived through A, and the journalist CLI decrypts them', async () => {
    const plaintext = randomBytes(300_000);
    const ciphertext = new Uint8Array(await new Response(await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys)).arrayBuffer());
    const created = await post(a, '/api/v1/uploads', { bytes: ciphertext.length, pow: await challengeFrom(b, 'upload') });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    const half = 150_000;
    const put = (server: ServerProcess, from: number, to: number) =>
      fetch(`${server.url}/api/v1/uploads/${id}?offset=${from}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: ciphertext.subarray(from, to) });
    expect((await put(a, 0, half)).status).toBe(200);
    // B knows where A left off, and a chunk sent again for an offset already past is refused.
    expect(await (await fetch(`${b.url}/api/v1/uploads/${id}`)).json()).toEqual({ received: half, complete: false });
    expect((await put(b, 0, half)).status).toBe(409);
    expect((await put(b, half, ciphertext.length)).status).toBe(200);
    expect((await post(a, `/api/v1/uploads/${id}/complete`, {})).status).toBe(200);
    const ref: AttachmentRef = { blobId: id, name: 'scan.bin', type: 'application/octet-stream', size: plaintext.length, sha256: createHash('sha256').update(plaintext).digest('hex') };
    const tip = await post(a, '/api/v1/tips', { ...(await tipBody('sent to A', [ref])), pow: await challengeFrom(a, 'tip') });
    expect(tip.status).toBe(201);

    const inbox = join(root, 'inbox');
    const fetched = await runCli(['journalist', 'fetch', '--server', b.url, '--token-file', join(root, 'token'), '--out', inbox]);
    expect(fetched.code, fetched.stderr).toBe(0);
    const out = join(root, 'read');
    const decrypted = await runCli(['journalist', 'decrypt', '--key', join(root, 'ana.sec.asc'), '--in', inbox, '--out', out]);
    expect(decrypted.code, decrypted.stderr).toBe(0);
    const messages = await readDecryptedMessages(out);
    expect(messages.map((m) => m.message).sort()).toEqual(['paid for at A, sent to B', 'sent to A']);
    const withFile = messages.find((m) => m.message === 'sent to A')!;
    const file = await readFile(join(withFile.folder, 'attachments', 'scan.bin'));
    expect(file.equals(Buffer.from(plaintext))).toBe(true);
  });

  it('doctor says what applies on PostgreSQL, and backup points to pg_dump', async () => {
    const doctor = await runCli(['admin', 'doctor', '--data', dirA()], env());
    // The test cluster runs with fsync off, which loses acknowledged tips in a crash: an error.
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/ok\s+database: PostgreSQL at postgres:\/\/tipline_test@127\.0\.0\.1:\d+\/tipline_test_\w+ answers/);
    expect(doctor.stdout).toMatch(/ERROR\s+database: PostgreSQL runs with fsync=off/);
    expect(doctor.stdout).toMatch(/WARNING\s+database: PostgreSQL has no secure delete, and its WAL keeps each commit's time/);
    expect(doctor.stdout).not.toContain('secure_delete is on');
    // The cluster's defaults: nothing logged, no commit timestamps, no archive.
    expect(doctor.stdout).toMatch(/ok\s+database: PostgreSQL keeps no commit timestamps of its own/);
    expect(doctor.stdout).not.toMatch(/(WARNING|ERROR) .*(log_statement|log_min_duration_statement|track_commit_timestamp|archive_mode)/);

    const backup = await runCli(['admin', 'backup', '--data', dirA(), '--out', join(root, 'backup.tar')], env());
    expect(backup.code).toBe(1);
    expect(backup.stderr).toMatch(/pg_dump/);
    await expect(readFile(join(root, 'backup.tar'))).rejects.toThrow();
    const restore = await runCli(['admin', 'restore', '--in', join(root, 'backup.tar'), '--data', join(root, 'restored')], env());
    expect(restore.code).toBe(1);
    expect(restore.stderr).toMatch(/pg_restore/);
  });

  it('doctor warns when PostgreSQL logs statements, set for this database (a fresh connection sees it)', async () => {
    const { default: pgDriver } = await import('pg');
    const name = new URL(pg.url).pathname.slice(1);
    const alter = async (statements: string[]) => {
      const c = new pgDriver.Client({ connectionString: pg.url });
      await c.connect();
      try {
        for (const s of statements) await c.query(s);
      } finally {
        await c.end();
      }
    };
    await alter([`ALTER DATABASE ${name} SET log_statement = 'mod'`, `ALTER DATABASE ${name} SET log_min_duration_statement = 0`]);
    try {
      const doctor = await runCli(['admin', 'doctor', '--data', dirA()], env());
      expect(doctor.stdout).toMatch(/WARNING\s+database: PostgreSQL writes statements to its log \(log_statement = mod\).*Fix: ALTER SYSTEM SET log_statement = 'none'/);
      expect(doctor.stdout).toMatch(/WARNING\s+database: PostgreSQL logs every statement that takes 0 ms or more.*Fix: ALTER SYSTEM SET log_min_duration_statement = -1/);
      expect(doctor.stdout).not.toMatch(/ok\s+database: PostgreSQL keeps no commit timestamps/);
      expect(doctor.stdout).not.toContain(password);
    } finally {
      await alter([`ALTER DATABASE ${name} RESET log_statement`, `ALTER DATABASE ${name} RESET log_min_duration_statement`]);
    }
  });

  it('never shows the database password: not in the servers\' output, nor in any error', async () => {
    expect(password.length).toBeGreaterThan(8);
    for (const output of [a.output(), b.output()]) {
      expect(output).not.toContain(password);
      expect(output).toMatch(/database: postgres:\/\/tipline_test@127\.0\.0\.1/);
    }
    const url = new URL(pg.url);
    const wrong = 'Wr0ng-hunter2-password';
    const cases = [
      `postgres://tipline_test:${wrong}@127.0.0.1:${url.port}${url.pathname}`, // refused by the server
      `postgres://tipline_test:${wrong}@127.0.0.1:1/tipline`, // nothing listens
      `postgres://tipline_test:${wrong}@127.0.0.1:${url.port}/no_such_database`,
      `postgres://tipline_test:${wrong}@[bad host/db`, // not a URL
    ];
    for (const bad of cases) {
      for (const args of [['serve', '--data', dirA(), '--port', '0', '--database-url', bad], ['admin', 'journalist', 'list', '--data', dirA(), '--database-url', bad]]) {
        const r = await runCli(args);
        expect(r.code, `${args[0]} with ${bad}`).toBe(1);
        expect(r.stderr).toMatch(/^tipline: .*(PostgreSQL|database URL)/);
        expect(r.stderr + r.stdout).not.toContain(wrong);
        expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
      }
    }
    const doctor = await runCli(['admin', 'doctor', '--data', dirA()], { DATABASE_URL: cases[0]! });
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/ERROR\s+database: cannot use the PostgreSQL database postgres:\/\/tipline_test@/);
    expect(doctor.stdout + doctor.stderr).not.toContain(wrong);
  });
});
