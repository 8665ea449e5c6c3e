/**
 * The storage layer on both databases, with a real server behind each
 * (SQLite in a temporary file; PostgreSQL from the global setup, one fresh
 * database per dialect run): migrations, tips, threads, replies, proof-of-work
 * spending, journalists and tokens, manifests, retention, blobs (chunked rows
 * on PostgreSQL) and uploads.
 *
 * "Two instances" are two database handles on the same PostgreSQL database,
 * each with its own pool, racing for real. SQLite serves one instance on one
 * connection (README), so there both sides share that handle, and the same
 * races must come out the same way.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Migrator, NO_MIGRATIONS, sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes, randomId } from '../crypto/bytes.ts';
import type { SignedManifest } from '../crypto/manifest.ts';
import { solveChallenge } from '../crypto/proof-of-work.ts';
import { migrationProvider } from '../migrations/index.ts';
import { PowGuard } from '../server/abuse/pow-guard.ts';
import { migrateToLatest, openDatabase, type TiplineDb } from '../server/db/open-database.ts';
import { isPostgres } from '../server/db/dialect.ts';
import { purgeExpired } from '../server/retention.ts';
import { JournalistExistsError, JournalistStore } from '../server/store/journalist-store.ts';
import { ManifestStore } from '../server/store/manifest-store.ts';
import { ReplyStore } from '../server/store/reply-store.ts';
import { AttachmentClaimError, ThreadExistsError, TipStore } from '../server/store/tip-store.ts';
import { ChunkTooLargeError } from '../server/uploads/blob-store.ts';
import { openBlobStore, type BlobStore } from '../server/uploads/blobs.ts';
import { CHUNK_BYTES } from '../server/uploads/row-blob-store.ts';
import { UploadStore } from '../server/uploads/upload-store.ts';
import { createTestDatabase, postgresStatus } from './helpers/postgres.ts';

type Opened = { location: string; blobDir: string; dispose: () => Promise<void> };

const DIALECTS: { name: string; skip: string | undefined; open: () => Promise<Opened> }[] = [
  {
    name: 'SQLite',
    skip: undefined,
    open: async () => {
      const dir = await mkdtemp(join(tmpdir(), 'tipline-storage-'));
      return { location: join(dir, 'tipline.db'), blobDir: join(dir, 'blobs'), dispose: () => rm(dir, { recursive: true, force: true }) };
    },
  },
  {
    name: 'PostgreSQL',
    skip: postgresStatus().reason,
    open: async () => {
      const pg = await createTestDatabase();
      return { location: pg.url, blobDir: '/nonexistent/blobs-are-rows-here', dispose: pg.drop };
    },
  },
];

const MiB = 1024 * 1024;
const stream = (...parts: Uint8Array[]) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      // In pieces of 64 KiB, as a request body arrives.
      for (const p of parts) for (let at = 0; at < p.length; at += 65_536) c.enqueue(p.slice(at, at + 65_536));
      c.close();
    },
  });
const failingStream = (before: Uint8Array) =>
  new ReadableStream<Uint8Array>({
    start(c) {
      c.enqueue(before);
      c.error(new Error('connection cut'));
    },
  });
const readAll = async (s: ReadableStream<Uint8Array>) => new Uint8Array(await new Response(s).arrayBuffer());
const threadId = () => randomBytes(32).reduce((s, b) => s + b.toString(16).padStart(2, '0'), '');

describe.skipIf(postgresStatus().reason !== undefined)('PostgreSQL, first start', () => {
  it('lets two instances that start at once on an empty database both migrate it', async () => {
    const pg = await createTestDatabase();
    try {
      const both = await Promise.all([openDatabase(pg.url), openDatabase(pg.url)]);
      const names = await both[1].selectFrom('kysely_migration' as never).select('name' as never).execute();
      expect(names).toHaveLength(Object.keys(await migrationProvider.getMigrations()).length);
      await Promise.all(both.map((d) => d.destroy()));
    } finally {
      await pg.drop();
    }
  });
});

describe.each(DIALECTS)('storage on $name', ({ name, skip, open }) => {
  describe.skipIf(skip !== undefined)(skip ? `skipped: ${skip}` : 'with a fresh database', () => {
    let opened: Opened;
    let db: TiplineDb;
    /** The "other instance": its own handle and pool on PostgreSQL, the same one on SQLite. */
    let other: TiplineDb;
    let blobs: BlobStore;

    beforeAll(async () => {
      opened = await open();
      db = await openDatabase(opened.location);
      other = name === 'PostgreSQL' ? await openDatabase(opened.location) : db;
      blobs = await openBlobStore(db, opened.blobDir);
    });
    afterAll(async () => {
      if (other !== db) await other?.destroy();
      await db?.destroy();
      await opened?.dispose();
    });

    it('runs every migration down and up again, with 64-bit byte counts read back as numbers', async () => {
      expect(isPostgres(db)).toBe(name === 'PostgreSQL');
      const migrator = new Migrator({ db, provider: migrationProvider });
      const down = await migrator.migrateTo(NO_MIGRATIONS);
      expect(down.error).toBeUndefined();
      await expect(db.selectFrom('tips').select('id').execute()).rejects.toThrow();
      await migrateToLatest(db);
      const id = randomId();
      const fiveGiB = 5 * 1024 ** 3;
      await db.insertInto('uploads').values({ id, desk: null, declared_bytes: fiveGiB, received_bytes: fiveGiB - 1, complete: 0, tip_id: null }).execute();
      const row = await db.selectFrom('uploads').select(['declared_bytes', 'received_bytes']).where('id', '=', id).executeTakeFirstOrThrow();
      expect(row).toEqual({ declared_bytes: fiveGiB, received_bytes: fiveGiB - 1 });
      const count = await db.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      expect(count.n).toBe(1);
      await db.deleteFrom('uploads').execute();
    });

    it('keeps the SQLite schema an earlier version made (so its files open unchanged), and branches only on PostgreSQL', async () => {
      if (name === 'SQLite') {
        const tables = await sql<{ name: string; sql: string }>`SELECT name, sql FROM sqlite_master WHERE type = 'table'`.execute(db);
        const ddl = Object.fromEntries(tables.rows.map((r) => [r.name, r.sql]));
        expect(ddl.tips).toMatch(/"ciphertext" blob not null.*without rowid/is);
        expect(ddl.uploads).toMatch(/"declared_bytes" integer not null.*without rowid/is);
        // Attachment rows (migration 0017): a rowid table keyed by a random id (VACUUM lays them out in that order, unrelated to arrival), found by (content, start).
        expect(ddl.blob_chunks).toMatch(/"id" integer PRIMARY KEY,.*"bytes" blob NOT NULL/is);
        expect(ddl.blob_chunks).not.toMatch(/without rowid/i);
      } else {
        const columns = await sql<{ table_name: string; column_name: string; data_type: string }>`
          SELECT table_name, column_name, data_type FROM information_schema.columns WHERE table_schema = current_schema()`.execute(db);
        const type = (t: string, c: string) => columns.rows.find((r) => r.table_name === t && r.column_name === c)?.data_type;
        expect([type('tips', 'ciphertext'), type('replies', 'box'), type('blob_chunks', 'bytes')]).toEqual(['bytea', 'bytea', 'bytea']);
        expect([type('uploads', 'declared_bytes'), type('uploads', 'received_bytes')]).toEqual(['bigint', 'bigint']);
        // Spent challenges keep a UTC day as text since migration 0011, no seconds.
        expect([type('spent_challenges', 'day'), type('spent_challenges', 'expires')]).toEqual(['text', undefined]);
      }
    });

    it('stores tips, pages them by cursor, swaps ciphertext only while unchanged, and deletes them', async () => {
      const tips = new TipStore(db);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await tips.add({ ciphertext: randomBytes(100 + i), via: 'browser', manifestVersion: 1, threadId: threadId(), kind: 'tip' }));
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const page = await tips.list({ limit: 2, cursor });
        seen.push(...page.tips.map((t) => t.id));
        cursor = page.nextCursor;
      } while (cursor);
      expect(seen).toEqual([...ids].sort());
      const got = (await tips.get(ids[0]!))!;
      expect(got.summary.size).toBe(100);
      const rekeyed = randomBytes(120);
      expect(await tips.replaceCiphertext(ids[0]!, { expected: randomBytes(100), ciphertext: rekeyed, manifestVersion: 2 })).toBe(false);
      expect(await tips.replaceCiphertext(ids[0]!, { expected: got.ciphertext, ciphertext: rekeyed, manifestVersion: 2 })).toBe(true);
      expect(Buffer.from((await tips.get(ids[0]!))!.ciphertext).equals(Buffer.from(rekeyed))).toBe(true);
      expect(await tips.count()).toBe(5);
      for (const id of ids) expect(await tips.delete(id)).toBe(true);
      expect(await tips.delete(ids[0]!)).toBe(false);
      expect(await tips.count()).toBe(0);
    });

    it('opens a thread once, even when two instances try with one codename at the same moment', async () => {
      const thread = threadId();
      const tries = [db, other, db, other].map((handle) =>
        new TipStore(handle).add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId: thread, kind: 'tip' }),
      );
      const results = await Promise.allSettled(tries);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(ThreadExistsError);
      expect(await new TipStore(db).add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId: thread, kind: 'tip' }).catch((e) => e)).toBeInstanceOf(ThreadExistsError);
    });

    it('numbers follow-ups and replies sent through two instances at once without a gap or a repeat', async () => {
      const thread = threadId();
      await new TipStore(db).add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId: thread, kind: 'tip' });
      const writes = Array.from({ length: 12 }, (_, i) => {
        const handle = i % 2 ? other : db;
        return i % 3 === 0
          ? new ReplyStore(handle).add(thread, { box: randomBytes(40), copy: randomBytes(60) })
          : new TipStore(handle).add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId: thread, kind: 'followup' });
      });
      await Promise.all(writes);
      const tipSeqs = (await db.selectFrom('tips').select('seq').where('thread_id', '=', thread).execute()).map((r) => r.seq);
      const replySeqs = (await db.selectFrom('replies').select('seq').where('thread_id', '=', thread).execute()).map((r) => r.seq);
      expect([...tipSeqs, ...replySeqs].sort((a, b) => a - b)).toEqual(Array.from({ length: 13 }, (_, i) => i + 1));
      const replies = await new ReplyStore(db).forSource(thread);
      expect(replies).toHaveLength(4);
      expect(await new ReplyStore(db).deleteForSource(thread, replies[0]!.id)).toBe(true);
      expect(await new ReplyStore(db).forSource(thread)).toHaveLength(3);
      expect(await new ReplyStore(db).deleteThread(thread)).toBe(true);
      expect(await db.selectFrom('tips').select('id').where('thread_id', '=', thread).execute()).toEqual([]);
    });

    it('shares the proof-of-work key, and spends an answer once across instances, even at the same moment', async () => {
      const a = await PowGuard.open(db, { baseDifficulty: 4 });
      const b = await PowGuard.open(other, { baseDifficulty: 4 });
      const { challenge } = await a.issue('tip');
      const nonce = await solveChallenge(challenge);
      const results = await Promise.allSettled([a.redeem({ challenge, nonce }, 'tip'), b.redeem({ challenge, nonce }, 'tip'), b.redeem({ challenge, nonce }, 'tip')]);
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(r.reason).toMatchObject({ status: 409, code: 'pow-replayed' });
      await expect(a.redeem({ challenge, nonce }, 'tip')).rejects.toMatchObject({ status: 409 });
      // Issued by B, accepted by A: one secret, in the database.
      const fromB = await b.issue('upload');
      await a.redeem({ challenge: fromB.challenge, nonce: await solveChallenge(fromB.challenge) }, 'upload');
      // A spend inside a transaction that fails is not spent.
      const again = await a.issue('tip');
      const spend = b.check({ challenge: again.challenge, nonce: await solveChallenge(again.challenge) }, 'tip');
      await expect(other.transaction().execute(async (trx) => {
        await spend(trx);
        throw new Error('the tip failed');
      })).rejects.toThrow('the tip failed');
      await spend(db);
    });

    it('keeps journalist names unique under a race, checks tokens, and saves each manifest version once', async () => {
      const store = new JournalistStore(db);
      const adds = await Promise.allSettled([db, other, other].map((h) => new JournalistStore(h).add({ name: 'Ana', fingerprint: 'ab'.repeat(20), publicKey: 'key', desks: ['Desk'] })));
      expect(adds.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of adds) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(JournalistExistsError);
      const ana = (await store.findByName('Ana'))!;
      expect(ana.desks).toEqual(['Desk']);
      const token = await store.issueToken(ana.id);
      expect((await new JournalistStore(other).authenticate(token))?.id).toBe(ana.id);
      expect(await store.authenticate(`${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`)).toBeUndefined();
      expect(await store.revokeToken(ana.id, token.slice(3, 25))).toBe(true);
      expect(await store.authenticate(token)).toBeUndefined();

      const signed = (version: number) => ({ manifest: { version }, signature: 'sig' }) as unknown as SignedManifest;
      await new ManifestStore(db).save(signed(1));
      const saves = await Promise.allSettled([new ManifestStore(db).save(signed(2)), new ManifestStore(other).save(signed(2))]);
      expect(saves.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of saves) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(RangeError);
      await expect(new ManifestStore(other).save(signed(1))).rejects.toThrow(RangeError);
      expect(await new ManifestStore(other).latestVersion()).toBe(2);
      expect(await store.remove(ana.id)).toBe(true);
    });

    it('deletes what retention says is too old, and keeps the rest', async () => {
      const old = new TipStore(db, () => new Date(Date.now() - 100 * 86_400_000));
      const oldThread = threadId();
      await old.add({ ciphertext: randomBytes(50), via: 'server', manifestVersion: 1, threadId: oldThread, kind: 'tip' });
      await new ReplyStore(db, () => new Date(Date.now() - 100 * 86_400_000)).add(oldThread, { box: randomBytes(10), copy: randomBytes(10) });
      const fresh = await new TipStore(db).add({ ciphertext: randomBytes(50), via: 'server', manifestVersion: 1, threadId: threadId(), kind: 'tip' });
      expect(await purgeExpired(db, { retentionDays: 90 })).toEqual({ tips: 1, replies: 1, threads: 1 });
      expect((await new TipStore(db).get(fresh))?.summary.id).toBe(fresh);
    });

    describe('blobs', () => {
      it('writes in pieces, rewrites from an earlier offset, and reads back from any byte', async () => {
        const id = randomId();
        const first = randomBytes(1.5 * MiB);
        const second = randomBytes(1.2 * MiB);
        const rewrite = randomBytes(0.7 * MiB + 3);
        expect(await blobs.write(id, 0, stream(first), { maxBytes: 2 * MiB })).toBe(first.length);
        expect(await blobs.write(id, first.length, stream(second), { maxBytes: 2 * MiB })).toBe(second.length);
        // A chunk sent again from inside the last write: what follows its offset is replaced.
        const at = 2 * MiB + 17;
        expect(await blobs.write(id, at, stream(rewrite), { maxBytes: 2 * MiB })).toBe(rewrite.length);
        const whole = new Uint8Array(at + rewrite.length);
        whole.set(first);
        whole.set(second.subarray(0, at - first.length), first.length);
        whole.set(rewrite, at);
        expect(await blobs.size(id)).toBe(whole.length);
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(whole))).toBe(true);
        for (const start of [1, CHUNK_BYTES - 1, CHUNK_BYTES, CHUNK_BYTES + 1, first.length, at, whole.length - 1, whole.length]) {
          expect(Buffer.from(await readAll(blobs.read(id, start))).equals(Buffer.from(whole.subarray(start))), `read from ${start}`).toBe(true);
        }
        for (const [offset, length] of [[0, 10], [CHUNK_BYTES - 5, 10], [first.length - 3, 2 * MiB], [whole.length - 4, 100], [whole.length + 5, 10]] as const) {
          expect(Buffer.from(await blobs.readAt(id, offset, length)).equals(Buffer.from(whole.subarray(offset, offset + length))), `readAt ${offset}+${length}`).toBe(true);
        }
        await blobs.delete(id);
        expect(await blobs.size(id)).toBe(0);
        expect(await blobs.ids()).not.toContain(id);
      });

      it('leaves a blob as it was after a write that is too large, cut off, or not committed', async () => {
        const id = randomId();
        const content = randomBytes(CHUNK_BYTES + 1000);
        await blobs.write(id, 0, stream(content), { maxBytes: 2 * MiB });
        const unchanged = async () => expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(content))).toBe(true);
        await expect(blobs.write(id, content.length, stream(randomBytes(2 * MiB)), { maxBytes: MiB })).rejects.toBeInstanceOf(ChunkTooLargeError);
        await unchanged();
        await expect(blobs.write(id, content.length, failingStream(randomBytes(CHUNK_BYTES + 5)), { maxBytes: 4 * MiB })).rejects.toThrow('connection cut');
        await unchanged();
        const refuse = async () => {
          throw new Error('the byte count moved on');
        };
        await expect(blobs.write(id, content.length - 10, stream(randomBytes(100)), { maxBytes: MiB, commit: refuse })).rejects.toThrow('moved on');
        // Before the offset nothing changed; after it, rows keep what was there (on both databases now).
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(content))).toBe(true);
        {
          // Nothing staged is left behind either.
          expect(await db.selectFrom('blob_staging').select('content').execute()).toEqual([]);
          const contents = await db.selectFrom('blob_chunks').select('content').distinct().execute();
          const live = await db.selectFrom('blobs').select('content').execute();
          expect(contents.map((c) => c.content).sort()).toEqual(live.map((c) => c.content).sort());
        }
        await blobs.delete(id);
      });

      it('leaves no stray rows when an append at the end is refused, or races a delete or a replace of its blob', async () => {
        /** Every chunk row belongs to a live blob's content (no orphans under a dropped key), and nothing is staged. */
        const noStrayRows = async () => {
          const contents = await db.selectFrom('blob_chunks').select('content').distinct().execute();
          const live = await db.selectFrom('blobs').select('content').execute();
          expect(contents.map((c) => c.content).sort()).toEqual(live.map((c) => c.content).sort());
          expect(await db.selectFrom('blob_staging').select('content').execute()).toEqual([]);
        };
        const id = randomId();
        const content = randomBytes(CHUNK_BYTES + 10);
        await blobs.write(id, 0, stream(content), { maxBytes: 2 * MiB });
        // Refused at the end (the byte count moved on): the rows it streamed past the end go, the blob is as it was.
        const refuse = async () => {
          throw new Error('the byte count moved on');
        };
        await expect(blobs.write(id, content.length, stream(randomBytes(2 * CHUNK_BYTES + 7)), { maxBytes: 4 * MiB, commit: refuse })).rejects.toThrow('moved on');
        expect(await blobs.size(id)).toBe(content.length);
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(content))).toBe(true);
        await noStrayRows();

        // A slow append still streaming when the blob is deleted or replaced: its rows must not outlive the content they were for.
        // SQLite only: there appends go straight under the blob's key and the store queues them. PostgreSQL stages every write,
        // and across instances the later one there just fails (the staged path's own test above covers it).
        if (name === 'PostgreSQL') return;
        const slowAppend = () => {
          let release!: () => void;
          const gate = new Promise<void>((r) => (release = r));
          const body = new ReadableStream<Uint8Array>({
            async start(c) {
              c.enqueue(randomBytes(CHUNK_BYTES + 3)); // one full row goes in before the gate
              await gate;
              c.enqueue(randomBytes(CHUNK_BYTES));
              c.close();
            },
          });
          return { body, release };
        };
        const replaced = randomBytes(CHUNK_BYTES + 1);
        const a = slowAppend();
        const appending = blobs.write(id, content.length, a.body, { maxBytes: 4 * MiB });
        const replacing = blobs.replace(id, stream(replaced), { maxBytes: 4 * MiB });
        await new Promise((r) => setTimeout(r, 50));
        a.release();
        expect(await appending).toBe(2 * CHUNK_BYTES + 3);
        expect(await replacing).toBe(replaced.length);
        // The replace came second, so it wins whole: no appended byte mixed in.
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(replaced))).toBe(true);
        await noStrayRows();

        const b = slowAppend();
        const appending2 = blobs.write(id, replaced.length, b.body, { maxBytes: 4 * MiB });
        const deleting = blobs.delete(id);
        await new Promise((r) => setTimeout(r, 50));
        b.release();
        await appending2;
        await deleting;
        expect(await blobs.size(id)).toBe(0);
        await noStrayRows();
      });

      it('replaces a whole blob at once; a failed replace keeps the old content, and a read never mixes the two', async () => {
        const id = randomId();
        const old = randomBytes(3 * CHUNK_BYTES + 10);
        await blobs.write(id, 0, stream(old), { maxBytes: 4 * MiB });
        await expect(blobs.replace(id, failingStream(randomBytes(2 * CHUNK_BYTES)), { maxBytes: 4 * MiB })).rejects.toThrow('connection cut');
        await expect(blobs.replace(id, stream(randomBytes(2 * MiB)), { maxBytes: MiB })).rejects.toBeInstanceOf(ChunkTooLargeError);
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(old))).toBe(true);

        const reader = blobs.read(id).getReader();
        const firstPiece = await reader.read();
        const next = randomBytes(2 * CHUNK_BYTES + 99);
        expect(await blobs.replace(id, stream(next), { maxBytes: 4 * MiB })).toBe(next.length);
        const rest: Uint8Array[] = [firstPiece.value!];
        const finished = await (async () => {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) return true;
            rest.push(value);
          }
        })().catch(() => false);
        // Either the old content in full or an error (the old rows are gone); never a mix.
        if (finished) expect(Buffer.concat(rest).equals(Buffer.from(old))).toBe(true);
        expect(Buffer.from(await readAll(blobs.read(id))).equals(Buffer.from(next))).toBe(true);
        expect(await blobs.size(id)).toBe(next.length);
        await expect(blobs.replace(randomId(), stream(next), { maxBytes: 4 * MiB })).rejects.toThrow();
        await blobs.delete(id);
      });

      it.skipIf(name !== 'SQLite')('on SQLite, lifts synchronous and autocheckpoint for its own row statements only: every other query, meanwhile and after, runs at FULL', async () => {
        const settings = async () => {
          const s = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db);
          const c = await sql<{ wal_autocheckpoint: number }>`PRAGMA wal_autocheckpoint`.execute(db);
          return `${s.rows[0]!.synchronous}/${c.rows[0]!.wal_autocheckpoint}`;
        };
        expect(await settings()).toBe('2/1000'); // FULL, SQLite's default checkpoint
        // Queries sent while the rows stream take the connection between two rows: what a tip's commit would see.
        const seen = new Set<string>();
        let writing = true;
        const watch = (async () => {
          while (writing) seen.add(await settings());
        })();
        const id = randomId();
        const content = randomBytes(6 * CHUNK_BYTES + 5);
        await blobs.write(id, 0, stream(content), { maxBytes: 8 * MiB }); // staged path (a new blob)
        await blobs.write(id, content.length, stream(content), { maxBytes: 8 * MiB }); // append path
        await expect(blobs.write(id, 2 * content.length, failingStream(randomBytes(3 * CHUNK_BYTES)), { maxBytes: 8 * MiB })).rejects.toThrow('connection cut');
        writing = false;
        await watch;
        expect([...seen]).toEqual(['2/1000']);
        expect(await settings()).toBe('2/1000');
        const rows = await db.selectFrom('blob_chunks').select('id').where('content', 'in', db.selectFrom('blobs').select('content').where('id', '=', id)).execute();
        expect(rows.length).toBeGreaterThan(12);
        await blobs.delete(id);
      });

      it('lists blobs by age, and sweeps what an interrupted write left', async () => {
        const id = randomId();
        await blobs.write(id, 0, stream(randomBytes(10)), { maxBytes: 100 });
        expect(await blobs.ids()).toContain(id);
        expect(await blobs.olderThan(24 * 3600_000)).not.toContain(id);
        expect(await blobs.olderThan(24 * 3600_000, Date.now() + 3 * 24 * 3600_000)).toContain(id);
        expect(await blobs.olderThan(Infinity)).toEqual([]);
        {
          // What an instance that stopped halfway through a write leaves: staged rows no blob names.
          const staged = randomId();
          await db.insertInto('blob_staging').values({ content: staged, started_day: '2020-01-01' }).execute();
          await db.insertInto('blob_chunks').values({ content: staged, start: 0, bytes: randomBytes(10) }).execute();
          await blobs.sweepAbandoned(24 * 3600_000);
          expect(await db.selectFrom('blob_chunks').select('start').where('content', '=', staged).execute()).toEqual([]);
          expect(await db.selectFrom('blob_staging').select('content').execute()).toEqual([]);
        }
        await blobs.delete(id);
      });
    });

    describe('uploads', () => {
      let uploadsA: UploadStore;
      let uploadsB: UploadStore;
      beforeAll(async () => {
        uploadsA = new UploadStore(db, blobs);
        // Another instance has its own store (and its own in-memory queue); SQLite has one instance.
        uploadsB = other === db ? uploadsA : new UploadStore(other, await openBlobStore(other, opened.blobDir));
      });

      it('lets exactly one of two chunks sent for the same offset through two instances land', async () => {
        const id = await uploadsA.create({ declaredBytes: 4 * MiB, desk: null });
        const a = randomBytes(MiB + 7);
        const b = randomBytes(MiB + 7);
        const results = await Promise.allSettled([
          uploadsA.appendChunk(id, 0, stream(a), { maxChunkBytes: 2 * MiB }),
          uploadsB.appendChunk(id, 0, stream(b), { maxChunkBytes: 2 * MiB }),
        ]);
        expect(results.filter((r) => r.status === 'fulfilled').map((r) => (r as PromiseFulfilledResult<number>).value)).toEqual([a.length]);
        const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
        expect(lost.reason).toMatchObject({ status: 409, code: 'wrong-offset' });
        const stored = await readAll(blobs.read(id));
        const winner = results[0]!.status === 'fulfilled' ? a : b;
        expect(Buffer.from(stored).equals(Buffer.from(winner))).toBe(true);
        expect((await uploadsB.get(id))?.receivedBytes).toBe(winner.length);
        // The next chunk goes on from there, through either instance.
        expect(await uploadsB.appendChunk(id, winner.length, stream(randomBytes(5)), { maxChunkBytes: MiB })).toBe(winner.length + 5);
        // The check saw winner.length + 5 bytes; a chunk after it makes completing refuse, once.
        await uploadsA.appendChunk(id, winner.length + 5, stream(randomBytes(5)), { maxChunkBytes: MiB });
        expect(await uploadsA.markComplete(id, winner.length + 5)).toBe(false);
        expect(await uploadsA.markComplete(id, winner.length + 10)).toBe(true);
        await expect(uploadsB.appendChunk(id, winner.length + 10, stream(randomBytes(5)), { maxChunkBytes: MiB })).rejects.toMatchObject({ status: 409, code: 'upload-complete' });
      });

      it('gives an upload to one tip only when two claim it at once, and sweeps it with its tip', async () => {
        const id = await uploadsA.create({ declaredBytes: 100, desk: null });
        await uploadsA.appendChunk(id, 0, stream(randomBytes(100)), { maxChunkBytes: MiB });
        expect(await uploadsA.markComplete(id, 100)).toBe(true);
        const claims = await Promise.allSettled([db, other].map((h) =>
          new TipStore(h).add({ ciphertext: randomBytes(64), via: 'browser', manifestVersion: 1, threadId: threadId(), kind: 'tip', attachments: [id] }),
        ));
        expect(claims.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of claims) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(AttachmentClaimError);
        const tipId = (claims.find((r) => r.status === 'fulfilled') as PromiseFulfilledResult<string>).value;
        expect((await uploadsB.forTips([tipId])).get(tipId)).toEqual([{ id, size: 100 }]);
        await uploadsB.sweep(0, Date.now() + 3 * 24 * 3600_000);
        expect(await blobs.size(id)).toBe(100); // claimed: kept, however old
        await new TipStore(db).delete(tipId);
        await uploadsB.sweep(Infinity);
        expect(await blobs.ids()).not.toContain(id);
      });
    });
  });
});
