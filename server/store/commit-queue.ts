/**
 * Group commit: writes that arrive together share one transaction, so one
 * commit (one fsync under `synchronous=FULL`) makes many of them durable.
 *
 * Each write runs in its own savepoint inside the shared transaction. One that
 * throws is rolled back to its savepoint and gets its own error; the others go
 * on. Every write settles only after the transaction's COMMIT has returned, so
 * a caller that was told "done" has a durably committed row, and a caller told
 * "failed" was not failed by another write's uncommitted rows. If the shared
 * transaction itself fails (the commit, or a savepoint that can't be rolled
 * back), every write of the batch runs again alone, in a transaction of its
 * own, so its outcome is its own. A write must therefore only touch the
 * database through the `trx` it is given (and be safe to run again after a
 * rollback).
 *
 * On PostgreSQL two instances' batches can take row locks in opposite orders
 * (follow-ups to the same two threads, the same proof-of-work answer), and
 * PostgreSQL then aborts one statement with a deadlock (SQLSTATE 40P01) or a
 * serialization failure (40001). That says nothing about the write itself: it
 * is rolled back to its savepoint like any failure, and once the batch has
 * committed it runs again alone (up to {@link MAX_RETRIES} times in all), so
 * its outcome is its own, not the bad luck of sharing a batch.
 *
 * Batches form by themselves: the first write waits one turn of the event loop
 * (`setImmediate`) for the requests that are already readable, and writes that
 * arrive while a batch is being committed make up the next one. Savepoints and
 * `BEGIN … COMMIT` are plain SQL, so this works on PostgreSQL too; `maxBatch: 1`
 * turns batching off (each write its own transaction, as before).
 *
 * @example
 * const queue = new CommitQueue(db);
 * const id = await queue.run(async (trx) => {
 *   await trx.insertInto('tips').values(row).execute();
 *   return row.id;
 * }); // resolves once the row is committed
 */
import { sql } from 'kysely';
import type { TiplineDb } from '../db/open-database.ts';

type Job = { work: (trx: TiplineDb) => Promise<unknown>; resolve: (value: unknown) => void; reject: (error: unknown) => void };
type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Large enough for every tip of a 50-connection flood to share a commit, small enough to keep a transaction short. */
export const DEFAULT_MAX_BATCH = 64;

/** How many times a write that lost a deadlock or a serialization conflict runs again (alone). */
export const MAX_RETRIES = 2;

/** PostgreSQL's deadlock_detected and serialization_failure: the other transaction won, this one may simply run again. */
const CONFLICT_CODES = new Set(['40P01', '40001']);

export function isLockConflict(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && CONFLICT_CODES.has(code);
}

export class CommitQueue {
  private waiting: Job[] = [];
  private draining = false;
  /** Transactions committed and the writes they carried (how well batches form). */
  readonly stats = { commits: 0, writes: 0, batchFallbacks: 0, conflictRetries: 0 };

  constructor(
    private readonly db: TiplineDb,
    private readonly options: { maxBatch?: number } = {},
  ) {}

  /** Runs `work` in the next shared transaction; resolves with its result once that has committed. */
  run<T>(work: (trx: TiplineDb) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.push({ work, resolve: resolve as (value: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    const maxBatch = Math.max(1, this.options.maxBatch ?? DEFAULT_MAX_BATCH);
    try {
      while (this.waiting.length > 0) {
        const batch = this.waiting.splice(0, maxBatch);
        if (batch.length === 1) await this.runAlone(batch[0]!);
        else await this.runTogether(batch);
      }
    } finally {
      this.draining = false;
    }
  }

  /** `retries`: how often the job already lost a lock conflict (in its batch). */
  private async runAlone(job: Job, retries = 0): Promise<void> {
    for (; ; retries++) {
      // The write's own error, kept: when SQLite has already rolled back by itself (SQLITE_FULL does),
      // Kysely's ROLLBACK fails too ("no transaction is active") and would hide why (app.ts needs "disk full").
      let workError: unknown;
      try {
        const value = await this.db.transaction().execute(async (trx) => {
          try {
            return await job.work(trx);
          } catch (e) {
            workError = e;
            throw e;
          }
        });
        this.count(1);
        job.resolve(value);
        return;
      } catch (caught) {
        const e = workError ?? caught;
        if (!isLockConflict(e) || retries >= MAX_RETRIES) {
          job.reject(e);
          return;
        }
        this.stats.conflictRetries++;
      }
    }
  }

  private async runTogether(batch: Job[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      await this.db.transaction().execute(async (trx) => {
        for (const job of batch) {
          await sql`savepoint group_commit_write`.execute(trx);
          try {
            outcomes.push({ ok: true, value: await job.work(trx) });
          } catch (error) {
            // If this throws too, the transaction is gone: the catch below runs everyone alone.
            await sql`rollback to savepoint group_commit_write`.execute(trx);
            outcomes.push({ ok: false, error });
          }
          await sql`release savepoint group_commit_write`.execute(trx);
        }
      });
    } catch {
      this.stats.batchFallbacks++;
      for (const job of batch) await this.runAlone(job);
      return;
    }
    this.count(outcomes.filter((o) => o.ok).length);
    const again: Job[] = [];
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else if (isLockConflict(outcome.error)) again.push(job);
      else job.reject(outcome.error);
    });
    this.stats.conflictRetries += again.length;
    for (const job of again) await this.runAlone(job, 1);
  }

  private count(writes: number): void {
    this.stats.commits++;
    this.stats.writes += writes;
  }
}
