/**
 * The no-JavaScript budget. The plain forms can't do a proof of work, so
 * their posts draw on global token buckets instead (no per-client state, no
 * IPs): one for first tips (`POST /submit`) and one for follow-ups
 * (`POST /inbox/reply`), so that a flood of first tips can't silence the
 * sources already in a conversation, and the other way round. Follow-ups are
 * further limited per conversation per day (api.ts, checkFollowupQuota).
 *
 * Every refusal is counted on the daily line (daily-counts.ts), and, when
 * given a {@link NoJsRefusals}, per day in the database, where `admin doctor`
 * reads it: the operator sees when the budget ran dry and real sources were
 * told "busy".
 *
 * @module
 * @example
 * const budget = new NoJsBudget({ tips: { capacity: 30, refillPerMinute: 2 }, followups: { capacity: 30, refillPerMinute: 2 } }, counts);
 * if (!budget.take('tip')) showBusyPage();
 */
import type { DailyCounts } from '../http/daily-counts.ts';
import type { NoJsKind, NoJsRefusals } from './no-js-refusals.ts';
import { TokenBucket } from './token-bucket.ts';

export type { NoJsKind } from './no-js-refusals.ts';
type Bucket = { capacity: number; refillPerMinute: number };

export class NoJsBudget {
  private readonly buckets: Record<NoJsKind, TokenBucket>;
  private readonly refusals: NoJsRefusals | undefined;

  constructor(
    o: { tips: Bucket; followups: Bucket; refusals?: NoJsRefusals | undefined },
    private readonly counts: DailyCounts,
    now: () => number = () => Date.now(),
  ) {
    this.refusals = o.refusals;
    for (const b of [o.tips, o.followups]) {
      if (!(b.capacity >= 0 && b.refillPerMinute >= 0)) throw new RangeError('no-JavaScript budgets must be zero or more');
    }
    this.buckets = { tip: new TokenBucket(o.tips, now), followup: new TokenBucket(o.followups, now) };
  }

  /** Spends one post of `kind`; false (and counted for the day) when that budget is dry. */
  take(kind: NoJsKind): boolean {
    if (this.buckets[kind].take()) return true;
    this.counts.add(kind === 'tip' ? 'no-js-tips-refused' : 'no-js-follow-ups-refused');
    this.refusals?.add(kind);
    return false;
  }
}
