/**
 * Group commit (server/store/commit-queue.ts, used by TipStore.add): tips that
 * arrive together share one transaction, yet each is acknowledged only once its
 * own row is committed, and one that fails (its conversation exists, its
 * attachment is refused, its proof of work was already spent) fails alone,
 * leaving nothing behind, while the rest of its batch is stored.
 *
 * "Committed" is checked from a second SQLite connection: under WAL it sees only
 * committed rows, so a tip acknowledged before its COMMIT would be missing there.
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
import { CommitQueue } from '../server/store/commit-queue.ts';
import { AttachmentClaimError, NoSuchThreadError, ThreadExistsError, TipStore } from '../server/store/tip-store.ts';

let dir: string;
let db: TiplineDb;
let reader: Database.Database;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-group-commit-'));
  db = await openDatabase(join(dir, 'tipline.db'));
  reader = new Database(join(dir, 'tipline.db'), { readonly: true });
});
afterEach(async () => {
  reader.close();
  await db.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** What another process would see right now. */
const committedTip = (id: string) => reader.prepare('SELECT thread_id FROM tips WHERE id = ?').get(id) as { thread_id: string } | undefined;
const committedThread = (id: string) => reader.prepare('SELECT id FROM threads WHERE id = ?').get(id) !== undefined;
const uploadClaimedBy = (id: string) => (reader.prepare('SELECT tip_id FROM uploads WHERE id = ?').get(id) as { tip_id: string | null }).tip_id;

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
    (id) => ({ ok: true, id, committedWhenAcknowledged: committedTip(id)?.thread_id === t.threadId }),
    (error: unknown) => ({ ok: false, error }),
  );
}

describe('TipStore.add with group commit', () => {
  it('stores every good tip of a concurrent burst, each committed before it is acknowledged, and fails only the bad ones', async () => {
    const store = new TipStore(db);
    const pow = await PowGuard.open(db, { baseDifficulty: 2 });
    const { challenge } = pow.issue('tip');
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
    expect(committedThread(refusedThread)).toBe(false);
    expect(committedThread(replayThread)).toBe(false);
    expect(committedThread(boomThread)).toBe(false);
    expect(uploadClaimedBy(free)).toBeNull();
    const claimer = results[cases.findIndex((c) => c.label === 'claims an upload')]!;
    expect(claimer.ok && uploadClaimedBy(taken)).toBe(claimer.ok && claimer.id);
    // And exactly the stored ones are there.
    const count = (reader.prepare('SELECT count(*) AS n FROM tips').get() as { n: number }).n;
    expect(count).toBe(1 + results.filter((r) => r.ok).length);
  });

  it('gives follow-ups in one batch distinct, consecutive numbers', async () => {
    const store = new TipStore(db);
    const thread = newThread();
    await store.add(tip(thread));
    const ids = await Promise.all(Array.from({ length: 20 }, () => store.add(tip(thread, { kind: 'followup' }))));
    const seqs = ids.map((id) => (reader.prepare('SELECT seq FROM tips WHERE id = ?').get(id) as { seq: number }).seq).sort((a, b) => a - b);
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
      await trx.insertInto('spent_challenges').values({ id, expires: 1 }).execute();
      return id;
    };
    // Ends the shared transaction under everyone's feet: its savepoint can no longer be released.
    const breaker = async (trx: TiplineDb) => {
      await sql`rollback`.execute(trx);
    };
    const settled = await Promise.allSettled([...ids.slice(0, 4).map((id) => queue.run(write(id))), queue.run(breaker), ...ids.slice(4).map((id) => queue.run(write(id)))]);
    expect(settled.map((s) => s.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled']);
    expect(queue.stats.batchFallbacks).toBe(1);
    for (const id of ids) expect(reader.prepare('SELECT id FROM spent_challenges WHERE id = ?').get(id), id).toBeDefined();
  });
});
