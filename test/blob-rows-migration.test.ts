/**
 * Migration 0017 (migrations/0017-blob-rows-by-rowid.ts): SQLite's attachment
 * rows move from the WITHOUT ROWID table of migration 0008 to a rowid table
 * keyed by random ids. A data directory of the version before it (reached
 * here by running 0017 down, which puts the rows back in 0008's table) is
 * upgraded by opening it: every tip and attachment stays readable through the
 * API and decrypts to what was sent, the ids are random (not SQLite's 1, 2,
 * 3…, which VACUUM would lay out in arrival order), and a migration killed
 * halfway (between two batches) carries on at the next start without losing
 * or doubling a row. SQLite only: PostgreSQL's table doesn't change.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, type KyselyPlugin } from 'kysely';
import * as openpgp from 'openpgp';
import { base64, randomBytes } from '../crypto/bytes.ts';
import { encryptToKeys, readPublicKey } from '../crypto/envelope.ts';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { padToBucket } from '../crypto/padding.ts';
import { decodeTipDocument, encodeTipDocument } from '../crypto/tip-document.ts';
import { migrationProvider } from '../migrations/index.ts';
import { MOVE_ROWS } from '../migrations/0017-blob-rows-by-rowid.ts';
import { migrateToLatest, SQLITE_PRAGMAS } from '../server/db/open-database.ts';
import { addTestJournalist, makeNewsroom, ON_POSTGRES, openTestApp, type TestApp, type TestJournalist, type TestNewsroom } from './helpers/newsroom.ts';

const BEFORE = '0014-token-labels-and-holds';
/** Bytes per PUT: each PUT stores at least one row, so the attachment spans more rows than one batch moves. */
const PUT_BYTES = 1000;

let newsroom: TestNewsroom;
let ana: TestJournalist;
let keys: openpgp.PublicKey[];
const plaintext = randomBytes(100_000);
let blobId = '';
let tipId = '';
let ciphertext: Uint8Array;

const post = (body: unknown) => ({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const auth = () => ({ headers: { authorization: `Bearer ${ana.token}` } });
const dbFile = () => join(newsroom.dataDir, 'tipline.db');

async function decryptBytes(bytes: Uint8Array): Promise<Uint8Array> {
  const { data } = await openpgp.decrypt({ message: await openpgp.readMessage({ binaryMessage: bytes }), decryptionKeys: ana.privateKey, format: 'binary' });
  return data as Uint8Array;
}

/** The database file as Kysely over plain better-sqlite3, with the server's settings, for running migrations by hand. */
function openRaw(plugins: KyselyPlugin[] = []): Kysely<any> {
  const sqlite = new BetterSqlite3(dbFile());
  for (const pragma of SQLITE_PRAGMAS) sqlite.pragma(pragma);
  return new Kysely<any>({ dialect: new SqliteDialect({ database: sqlite }), plugins });
}

/** Back to the layout of the version before 0017: 0017's down, checked against 0008's DDL. */
async function downgrade(): Promise<void> {
  const db = openRaw();
  try {
    const { error } = await new Migrator({ db, provider: migrationProvider }).migrateTo(BEFORE);
    expect(error).toBeUndefined();
  } finally {
    await db.destroy();
  }
  expect(layout().sql).toMatch(/PRIMARY KEY \("content", "start"\)\s*\)\s*WITHOUT ROWID/i);
}

type Row = { id?: bigint; content: string; start: number; bytes: Buffer };

function layout(): { sql: string; rows: Row[]; tables: string[] } {
  const db = new BetterSqlite3(dbFile(), { readonly: true });
  try {
    const sql = (db.prepare("select sql from sqlite_master where name = 'blob_chunks'").get() as { sql: string }).sql;
    // Ids as BigInt: random() fills 64 bits, past a Number's 53.
    const rows = (db.prepare('select * from blob_chunks').safeIntegers(true).all() as (Omit<Row, 'start'> & { start: bigint })[]).map((r) => ({ ...r, start: Number(r.start) }));
    const tables = (db.prepare("select name from sqlite_master where type = 'table' and name like 'blob_chunks%'").all() as { name: string }[]).map((t) => t.name);
    return { sql, rows, tables };
  } finally {
    db.close();
  }
}

/** The blob's bytes straight from its rows, in order. */
const rowBytes = (rows: { start: number; bytes: Buffer }[]) => Buffer.concat([...rows].sort((a, b) => a.start - b.start).map((r) => r.bytes));

/** What a journalist gets through the API: the attachment and the tip, both decrypted. */
async function readThroughApi(t: TestApp): Promise<{ attachment: Buffer; message: string }> {
  const blob = await t.app.request(`/api/v1/journalist/blobs/${blobId}`, auth());
  expect(blob.status).toBe(200);
  const tip = await t.app.request(`/api/v1/journalist/tips/${tipId}`, auth());
  expect(tip.status).toBe(200);
  return {
    attachment: Buffer.from(await decryptBytes(new Uint8Array(await blob.arrayBuffer()))),
    message: decodeTipDocument(await decryptBytes(new Uint8Array(await tip.arrayBuffer()))).message,
  };
}

describe.skipIf(ON_POSTGRES)('migration 0017: blob rows into a rowid table with random ids', () => {
  beforeAll(async () => {
    newsroom = await makeNewsroom();
    ana = await addTestJournalist(newsroom, 'Ana');
    const t = await openTestApp(newsroom);
    try {
      const signed = (await (await t.app.request('/api/v1/manifest')).json()) as SignedManifest;
      keys = await Promise.all(signed.manifest.recipients.map((r) => readPublicKey(r.publicKey)));
      ciphertext = new Uint8Array(await new Response(await encryptFileStream(new Blob([plaintext as Uint8Array<ArrayBuffer>]).stream(), keys)).arrayBuffer());
      const created = await t.app.request('/api/v1/uploads', post({ bytes: ciphertext.length }));
      blobId = ((await created.json()) as { id: string }).id;
      for (let at = 0; at < ciphertext.length; at += PUT_BYTES) {
        const body = ciphertext.subarray(at, at + PUT_BYTES) as Uint8Array<ArrayBuffer>;
        expect((await t.app.request(`/api/v1/uploads/${blobId}?offset=${at}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body })).status).toBe(200);
      }
      expect((await t.app.request(`/api/v1/uploads/${blobId}/complete`, { method: 'POST' })).status).toBe(200);
      const tipBytes = await encryptToKeys(padToBucket(encodeTipDocument({ type: 'tip', message: 'the tip with the old rows', fields: {}, attachments: [] })), keys);
      const res = await t.app.request('/api/v1/tips', post({ ciphertext: base64.encode(tipBytes), lookupSecret: base64.encode(randomBytes(32)), attachments: [blobId] }));
      expect(res.status).toBe(201);
      tipId = ((await res.json()) as { receipt: string }).receipt;
    } finally {
      await t.close();
    }
    expect(layout().rows.length).toBeGreaterThan(2 * MOVE_ROWS); // more than two batches, so batching is exercised
  });

  afterAll(async () => {
    await newsroom?.cleanup();
  });

  it('upgrades an older data directory on open: every row moved, random ids, tip and attachment readable and decrypted', async () => {
    await downgrade();
    const before = layout();
    expect(before.rows.every((r) => r.id === undefined)).toBe(true);
    expect(rowBytes(before.rows).equals(Buffer.from(ciphertext))).toBe(true);

    const t = await openTestApp(newsroom); // opening migrates
    try {
      const after = layout();
      expect(after.sql).toMatch(/"id" integer PRIMARY KEY/i);
      expect(after.tables).toEqual(['blob_chunks']);
      expect(after.rows.map((r) => `${r.content}:${r.start}`).sort()).toEqual(before.rows.map((r) => `${r.content}:${r.start}`).sort());
      expect(rowBytes(after.rows).equals(Buffer.from(ciphertext))).toBe(true);
      // SQLite's own choice would be 1…n in the order rows were inserted; random() spreads them over 64 bits.
      const ids = after.rows.map((r) => r.id!);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.filter((id) => id > -(2n ** 40n) && id < 2n ** 40n)).toEqual([]);

      const read = await readThroughApi(t);
      expect(read.attachment.equals(Buffer.from(plaintext))).toBe(true);
      expect(read.message).toBe('the tip with the old rows');
    } finally {
      await t.close();
    }
  });

  it('carries on after being killed between two batches: nothing lost, nothing doubled', async () => {
    await downgrade();
    const before = layout();
    // The third batch's DELETE fails as a crash would stop it: its INSERT is rolled back with it, the first two batches stay moved.
    let deletes = 0;
    const crashOnThirdBatch: KyselyPlugin = {
      transformQuery: (args) => {
        const node = args.node as { kind: string; sqlFragments?: readonly string[] };
        if (node.kind === 'RawNode' && node.sqlFragments?.join('').trimStart().startsWith('DELETE FROM "blob_chunks"') && ++deletes === 3) throw new Error('killed');
        return args.node;
      },
      transformResult: async (args) => args.result,
    };
    const crashing = openRaw([crashOnThirdBatch]);
    try {
      const { error } = await new Migrator({ db: crashing, provider: migrationProvider }).migrateToLatest();
      expect((error as Error | undefined)?.message).toBe('killed');
    } finally {
      await crashing.destroy();
    }
    const halfway = layout();
    expect(halfway.tables.sort()).toEqual(['blob_chunks', 'blob_chunks_0017']);
    expect(halfway.rows).toHaveLength(before.rows.length - 2 * MOVE_ROWS);

    const db = openRaw();
    try {
      await migrateToLatest(db);
    } finally {
      await db.destroy();
    }
    const after = layout();
    expect(after.tables).toEqual(['blob_chunks']);
    expect(after.rows).toHaveLength(before.rows.length);
    expect(rowBytes(after.rows).equals(Buffer.from(ciphertext))).toBe(true);

    const t = await openTestApp(newsroom);
    try {
      const read = await readThroughApi(t);
      expect(read.attachment.equals(Buffer.from(plaintext))).toBe(true);
      // And the store writes in the new layout: a new row gets a random id too.
      const extra = await t.app.request('/api/v1/uploads', post({ bytes: 10 }));
      const extraId = ((await extra.json()) as { id: string }).id;
      expect((await t.app.request(`/api/v1/uploads/${extraId}?offset=0`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: randomBytes(10) as Uint8Array<ArrayBuffer> })).status).toBe(200);
    } finally {
      await t.close();
    }
    const added = layout().rows.filter((r) => !after.rows.some((o) => o.id === r.id));
    expect(added).toHaveLength(1);
    const id = added[0]!.id!;
    expect(id < -(2n ** 40n) || id > 2n ** 40n).toBe(true);
  });
});
