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

export class CommitQueue {
  private waiting: Job[] = [];
  private draining = false;
  /** Transactions committed and the writes they carried (how well batches form). */
  readonly stats = { commits: 0, writes: 0, batchFallbacks: 0 };

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

  private async runAlone(job: Job): Promise<void> {
    try {
      const value = await this.db.transaction().execute((trx) => job.work(trx));
      this.count(1);
      job.resolve(value);
    } catch (e) {
      job.reject(e);
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
    batch.forEach((job, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  private count(writes: number): void {
    this.stats.commits++;
    this.stats.writes += writes;
  }
}
