/**
 * A periodic job that several instances share and that must run once per
 * period between them (the hourly aging of unclaimed uploads), without a
 * stored time. A row of `sweep_ticks` holds a random token; the job runs in
 * the transaction that swaps the token for a new one, only if the token is
 * still the one this instance saw (compare-and-set), and only once this
 * instance has seen that token for a whole period. So however many
 * instances call it, and however often, the job runs at most once per
 * period: each run starts a new period for everyone. When it was last run is
 * known only to the memory of the instances.
 *
 * @module
 * @example
 * const tick = new SweepTick(db, 'uploads', 3_600_000);
 * await tick.runIfDue((trx) => trx.updateTable('uploads').set(…).execute()); // → true if it ran
 */
import { randomId } from '../../crypto/bytes.ts';
import type { TiplineDb } from '../db/open-database.ts';

export class SweepTick {
  /** The token last read, and when (Unix ms) this instance first saw it: memory only. */
  private seen: { token: string; since: number } | undefined;

  constructor(
    private readonly db: TiplineDb,
    private readonly name: string,
    private readonly periodMs: number,
    private readonly clock: () => Date = () => new Date(),
  ) {
    if (!(periodMs > 0)) throw new RangeError('periodMs must be positive');
  }

  /** Runs `job` in the token-swapping transaction if a period has passed since this instance saw the last run. Returns whether it ran. */
  async runIfDue(job: (trx: TiplineDb) => Promise<unknown>): Promise<boolean> {
    const now = this.clock().getTime();
    const token = await this.token();
    if (this.seen?.token !== token) {
      this.seen = { token, since: now };
      return false;
    }
    if (now - this.seen.since < this.periodMs) return false;
    const next = randomId();
    const ran = await this.db.transaction().execute(async (trx) => {
      const swapped = await trx.updateTable('sweep_ticks').set({ token: next }).where('name', '=', this.name).where('token', '=', token).executeTakeFirst();
      if (Number(swapped.numUpdatedRows) !== 1) return false; // another instance ran it first
      await job(trx);
      return true;
    });
    this.seen = { token: ran ? next : token, since: ran ? now : this.seen.since };
    return ran;
  }

  private async token(): Promise<string> {
    const row = await this.db.selectFrom('sweep_ticks').select('token').where('name', '=', this.name).executeTakeFirst();
    if (row) return row.token;
    await this.db.insertInto('sweep_ticks').values({ name: this.name, token: randomId() }).onConflict((oc) => oc.column('name').doNothing()).execute();
    return (await this.db.selectFrom('sweep_ticks').select('token').where('name', '=', this.name).executeTakeFirstOrThrow()).token;
  }
}
