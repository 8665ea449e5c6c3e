/**
 * Group commit (server/store/commit-queue.ts, used by TipStore.add): tips that
 * arrive together share one transaction, yet each is acknowledged only once its
 * own row is committed, and one that fails (its conversation exists, its
 * attachment is refused, its proof of work was already spent) fails alone,
 * leaving nothing behind, while the rest of its batch is stored.
 *
 * "Committed" is checked from a second connection, which sees only committed
 * rows: better-sqlite3 under WAL (queried synchronously, the very moment a tip
 * is acknowledged), or on PostgreSQL (the `postgres` project) a pg client
 * under READ COMMITTED. A tip acknowledged before its COMMIT would be missing
 * there.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes, randomId } from '../crypto/bytes.ts';
import { threadIdOf } from '../crypto/codename.ts';
import { solveChallenge } from '../crypto/proof-of-work.ts';
import { PowGuard } from '../server/abuse/pow-guard.ts';
import { openDatabase, type TiplineDb } from '../server/db/open-database.ts';
import { ApiError } from '../server/http/api-error.ts';
import { CommitQueue, MAX_RETRIES } from '../server/store/commit-queue.ts';
import { AttachmentClaimError, NoSuchThreadError, ThreadExistsError, TipStore } from '../server/store/tip-store.ts';
import { ON_POSTGRES } from './helpers/newsroom.ts';
import { createTestDatabase, type TestDatabase } from './helpers/postgres.ts';

/** Another connection's view. `?` placeholders, as on SQLite. */
type Reader = { get: <T>(query: string, ...params: unknown[]) => Promise<T | undefined>; close: () => Promise<void> };

let dir: string;
let pgDatabase: TestDatabase | undefined;
let db: TiplineDb;
let reader: Reader;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-group-commit-'));
  if (ON_POSTGRES) {
    pgDatabase = await createTestDatabase();
    db = await openDatabase(pgDatabase.url);
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: pgDatabase.url });
    await client.connect();
    reader = {
      get: async <T>(query: string, ...params: unknown[]) => {
        let n = 0;
        return (await client.query(query.replace(/\?/g, () => `$${++n}`), params)).rows[0] as T | undefined;
      },
      close: () => client.end(),
    };
  } else {
    db = await openDatabase(join(dir, 'tipline.db'));
    const file = new Database(join(dir, 'tipline.db'), { readonly: true });
    // Synchronous: the row is read before anything else can run.
    reader = { get: <T>(query: string, ...params: unknown[]) => Promise.resolve(file.prepare(query).get(...params) as T | undefined), close: async () => void file.close() };
  }
});
afterEach(async () => {
  await reader.close();
  await db.destroy();
  await pgDatabase?.drop();
  pgDatabase = undefined;
  await rm(dir, { recursive: true, force: true });
});

/** What another process would see right now. */
const committedTip = (id: string) => reader.get<{ thread_id: string }>('SELECT thread_id FROM tips WHERE id = ?', id);
const committedThread = async (id: string) => (await reader.get('SELECT id FROM threads WHERE id = ?', id)) !== undefined;
const uploadClaimedBy = async (id: string) => (await reader.get<{ tip_id: string | null }>('SELECT tip_id FROM uploads WHERE id = ?', id))!.tip_id;

const newThread = () => threadIdOf(randomBytes(32));
const tip = (threadId: string, extra: Partial<Parameters<TipStore['add']>[0]> = {}) => ({
  ciphertext: randomBytes(100),
  via: 'browser' as const,
  manifestVersion: 1,
  threadId,
  kind: 'tip' as const,
  ...extra,
});

async function completeUpload(): Promise<string> {
  const id = randomId();
  await db.insertInto('uploads').values({ id, desk: null, declared_bytes: 10, received_bytes: 10, complete: 1, tip_id: null }).execute();
  return id;
}

type Settled = { ok: true; id: string; committedWhenAcknowledged: boolean } | { ok: false; error: unknown };

/** add() and, the moment it resolves, whether its row was already visible to another connection. */
function settle(store: TipStore, t: Parameters<TipStore['add']>[0]): Promise<Settled> {
  return store.add(t).then(
    async (id) => ({ ok: true, id, committedWhenAcknowledged: (await committedTip(id))?.thread_id === t.threadId }),
    (error: unknown) => ({ ok: false, error }),
  );
}

describe('TipStore.add with group commit', () => {
  it('stores every good tip of a concurrent burst, each committed before it is acknowledged, and fails only the bad ones', async () => {
    const store = new TipStore(db);
    const pow = await PowGuard.open(db, { baseDifficulty: 2 });
    const { challenge } = await pow.issue('tip');
    const answer = { challenge, nonce: await solveChallenge(challenge) };
    const taken = await completeUpload();
    const free = await completeUpload();
    const existing = newThread();
    await store.add(tip(existing));

    type Case = { expect: 'stored' | (new (...a: never[]) => Error); input: Parameters<TipStore['add']>[0]; label: string };
    const cases: Case[] = [];
    for (let i = 0; i < 40; i++) cases.push({ expect: 'stored', input: tip(newThread()), label: `plain ${i}` });
    // Bad ones spread through the burst, so they land in the middle of batches.
    const dupThread = newThread();
    cases.splice(3, 0, { expect: 'stored', input: tip(dupThread), label: 'first of a pair' });
    cases.splice(4, 0, { expect: ThreadExistsError, input: tip(dupThread), label: 'second of a pair, same batch' });
    cases.splice(7, 0, { expect: ThreadExistsError, input: tip(existing), label: 'thread stored earlier' });
    cases.splice(11, 0, { expect: NoSuchThreadError, input: tip(newThread(), { kind: 'followup' }), label: 'follow-up to nothing' });
    const refusedThread = newThread();
    cases.splice(15, 0, { expect: AttachmentClaimError, input: tip(refusedThread, { attachments: [randomId()] }), label: 'unknown attachment' });
    cases.splice(18, 0, { expect: 'stored', input: tip(newThread(), { attachments: [taken] }), label: 'claims an upload' });
    cases.splice(19, 0, { expect: AttachmentClaimError, input: tip(newThread(), { attachments: [taken] }), label: 'claims the same upload' });
    cases.splice(23, 0, { expect: 'stored', input: tip(newThread(), { alongside: pow.check(answer, 'tip') }), label: 'spends a proof of work' });
    const replayThread = newThread();
    cases.splice(24, 0, { expect: ApiError, input: tip(replayThread, { alongside: pow.check(answer, 'tip') }), label: 'replays it' });
    const boomThread = newThread();
    cases.splice(30, 0, {
      expect: Error,
      input: tip(boomThread, {
        attachments: [free],
        alongside: async () => {
          throw new Error('boom');
        },
      }),
      label: 'alongside throws',
    });

    const results = await Promise.all(cases.map((c) => settle(store, c.input)));

    results.forEach((r, i) => {
      const c = cases[i]!;
      if (c.expect === 'stored') {
        expect(r.ok, c.label).toBe(true);
        if (r.ok) expect(r.committedWhenAcknowledged, c.label).toBe(true);
      } else {
        expect(r.ok, c.label).toBe(false);
        if (!r.ok) expect(r.error, c.label).toBeInstanceOf(c.expect);
      }
    });
    const replay = results[cases.findIndex((c) => c.label === 'replays it')]!;
    expect(!replay.ok && replay.error instanceof ApiError && replay.error.code).toBe('pow-replayed');
    // The burst really was batched: fewer commits than tips (the first add above was alone).
    expect(store.commits.stats.writes).toBe(1 + cases.filter((c) => c.expect === 'stored').length);
    expect(store.commits.stats.commits).toBeLessThan(cases.length / 4);
    expect(store.commits.stats.batchFallbacks).toBe(0);

    // A failed tip left nothing: no thread opened, no upload claimed.
    expect(await committedThread(refusedThread)).toBe(false);
    expect(await committedThread(replayThread)).toBe(false);
    expect(await committedThread(boomThread)).toBe(false);
    expect(await uploadClaimedBy(free)).toBeNull();
    const claimer = results[cases.findIndex((c) => c.label === 'claims an upload')]!;
    expect(claimer.ok && (await uploadClaimedBy(taken))).toBe(claimer.ok && claimer.id);
    // And exactly the stored ones are there.
    const count = Number((await reader.get<{ n: number | string }>('SELECT count(*) AS n FROM tips'))!.n);
    expect(count).toBe(1 + results.filter((r) => r.ok).length);
  });

  it('gives follow-ups in one batch distinct, consecutive numbers', async () => {
    const store = new TipStore(db);
    const thread = newThread();
    await store.add(tip(thread));
    const ids = await Promise.all(Array.from({ length: 20 }, () => store.add(tip(thread, { kind: 'followup' }))));
    const seqs = (await Promise.all(ids.map(async (id) => Number((await reader.get<{ seq: number }>('SELECT seq FROM tips WHERE id = ?', id))!.seq)))).sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
  });

  it('with maxBatch 1, commits each tip on its own', async () => {
    const store = new TipStore(db, undefined, { maxBatch: 1 });
    await Promise.all(Array.from({ length: 10 }, () => store.add(tip(newThread()))));
    expect(store.commits.stats).toMatchObject({ commits: 10, writes: 10 });
  });
});

describe('CommitQueue when the shared transaction breaks', () => {
  it('runs each write of the batch again on its own, so only the one that broke it fails', async () => {
    const queue = new CommitQueue(db);
    const ids = Array.from({ length: 8 }, () => randomId());
    const write = (id: string) => async (trx: TiplineDb) => {
      await trx.insertInto('spent_challenges').values({ id, day: '2026-01-01' }).execute();
      return id;
    };
    // Ends the shared transaction under everyone's feet: its savepoint can no longer be rolled back to.
    // (And it fails alone too: PostgreSQL would only warn about the COMMIT after it.)
    const breaker = async (trx: TiplineDb) => {
      await sql`rollback`.execute(trx);
      throw new Error('broke the transaction');
    };
    const settled = await Promise.allSettled([...ids.slice(0, 4).map((id) => queue.run(write(id))), queue.run(breaker), ...ids.slice(4).map((id) => queue.run(write(id)))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(queue.stats.batchFallbacks).toBe(1);
    for (const id of ids) expect(await reader.get('SELECT id FROM spent_challenges WHERE id = ?', id), id).toBeDefined();
  });
});

/** What PostgreSQL throws when it aborts a statement that lost a lock conflict (a pg DatabaseError carries the SQLSTATE as `code`). */
const conflict = (code: '40P01' | '40001') => Object.assign(new Error(code === '40P01' ? 'deadlock detected' : 'could not serialize access due to concurrent update'), { code });
const spend = (trx: TiplineDb, id: string) => trx.insertInto('spent_challenges').values({ id, day: '2026-01-01' }).execute();
const spent = async (id: string) => Number((await reader.get<{ n: number | string }>('SELECT count(*) AS n FROM spent_challenges WHERE id = ?', id))!.n);

describe('CommitQueue when a write loses a lock conflict (PostgreSQL: deadlock, serialization failure)', () => {
  it('runs that write again alone after its batch commits, so it succeeds, and the rest of the batch is untouched', async () => {
    const queue = new CommitQueue(db);
    const ids = Array.from({ length: 6 }, () => randomId());
    const loser = randomId();
    let attempts = 0;
    const settled = await Promise.allSettled([
      ...ids.slice(0, 3).map((id) => queue.run(async (trx) => (await spend(trx, id), id))),
      queue.run(async (trx) => {
        attempts++;
        // Its first attempt's row must be rolled back with its savepoint, or the second would hit the primary key.
        await spend(trx, loser);
        if (attempts === 1) throw conflict('40P01');
        return 'won';
      }),
      ...ids.slice(3).map((id) => queue.run(async (trx) => (await spend(trx, id), id))),
    ]);
    expect(settled).toEqual([...ids.slice(0, 3), 'won', ...ids.slice(3)].map((value) => ({ status: 'fulfilled', value })));
    expect(attempts).toBe(2);
    expect(queue.stats).toMatchObject({ conflictRetries: 1, batchFallbacks: 0, writes: 7 });
    for (const id of [...ids, loser]) expect(await spent(id), id).toBe(1);
  });

  it(`gives up after ${MAX_RETRIES} retries with the conflict's own error, leaving nothing behind`, async () => {
    const queue = new CommitQueue(db);
    const other = randomId();
    const loser = randomId();
    let attempts = 0;
    const error = conflict('40001');
    const [always, fine] = await Promise.allSettled([
      queue.run(async (trx) => {
        attempts++;
        await spend(trx, loser);
        throw error;
      }),
      queue.run(async (trx) => spend(trx, other)),
    ]);
    expect(always).toEqual({ status: 'rejected', reason: error });
    expect(fine.status).toBe('fulfilled');
    expect(attempts).toBe(1 + MAX_RETRIES);
    expect(await spent(loser)).toBe(0);
    expect(await spent(other)).toBe(1);
  });

  it.skipIf(!ON_POSTGRES)('on PostgreSQL, gets two instances\' batches past a real deadlock (rows locked in opposite orders)', async () => {
    const second = await openDatabase(pgDatabase!.url, { migrate: false });
    try {
      const [x, y] = [randomId(), randomId()];
      await db.insertInto('spent_challenges').values([{ id: x, day: '2026-01-01' }, { id: y, day: '2026-01-01' }]).execute();
      const bump = (trx: TiplineDb, id: string) => trx.updateTable('spent_challenges').set({ day: sql<string>`day || '+'` }).where('id', '=', id).execute();
      // Each batch's first write locks its row, then waits until the other batch's first write holds the other row.
      let arrived = 0;
      let bothHold!: () => void;
      const barrier = new Promise<void>((resolve) => (bothHold = resolve));
      const first = (id: string) => async (trx: TiplineDb) => {
        await bump(trx, id);
        if (++arrived === 2) bothHold();
        await barrier;
        return `first ${id}`;
      };
      const then = (id: string) => async (trx: TiplineDb) => (await bump(trx, id), `then ${id}`);
      const a = new CommitQueue(db);
      const b = new CommitQueue(second);
      const settled = await Promise.allSettled([a.run(first(x)), a.run(then(y)), b.run(first(y)), b.run(then(x))]);
      expect(settled).toEqual([`first ${x}`, `then ${y}`, `first ${y}`, `then ${x}`].map((value) => ({ status: 'fulfilled', value })));
      // PostgreSQL aborted one of the two crossing writes; it ran again alone.
      expect(a.stats.conflictRetries + b.stats.conflictRetries).toBe(1);
      // Both bumps of each row ran (each appends one '+'; the column is only a place to write here).
      for (const id of [x, y]) expect((await reader.get<{ day: string }>('SELECT day FROM spent_challenges WHERE id = ?', id))!.day).toBe('2026-01-01++');
    } finally {
      await second.destroy();
    }
  });

  it('retries a write alone too (no batch), and fails any other error at once', async () => {
    const queue = new CommitQueue(db, { maxBatch: 1 });
    let attempts = 0;
    const id = randomId();
    await expect(
      queue.run(async (trx) => {
        if (++attempts === 1) throw conflict('40001');
        await spend(trx, id);
        return attempts;
      }),
    ).resolves.toBe(2);
    let plain = 0;
    const boom = Object.assign(new Error('unique violation'), { code: '23505' });
    await expect(
      queue.run(async () => {
        plain++;
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(plain).toBe(1);
    expect(await spent(id)).toBe(1);
  });
});
