/**
 * The server's side of the no-JavaScript form token (crypto/form-token.ts):
 * issue one for each form page, and on the post refuse a token that is
 * missing, forged, younger than `minSeconds`, older than `maxSeconds`, or
 * spent. All but the last are decided without reading anything; a spent one
 * by one primary-key read. The token is spent in the transaction that stores
 * the tip, so it is spent exactly when the tip is stored, in the same commit.
 *
 * Checked before the no-JavaScript budget is charged (server/source/pages.ts):
 * a forged, early, late or replayed token uses none of it. A valid token that
 * meets a dry budget is not spent, so the source can send the same form again
 * later.
 *
 * The secrets rotate like the proof of work's (pow-keys.ts, rows
 * `form-key-…`), with a period of `maxSeconds`, so each is checkable for a
 * token's whole life. Spent tokens are rows of `spent_form_tokens`: the
 * token's random id and the UTC day it was spent (migration 0016), never a
 * time. A token lives at most a day, so a row is kept through the next day
 * and swept after, at most once a minute when a token is spent, and by
 * `admin maintain`.
 *
 * @module
 * @example
 * const tokens = await FormTokens.open(db, { minSeconds: 3, maxSeconds: 7200 });
 * const token = await tokens.issue('tip');                 // into the form page
 * const spend = await tokens.check(form.get('form_token'), 'tip'); // throws FormTokenRefused
 * await db.transaction().execute(async (trx) => { await spend(trx); … });
 */
import { addDays, isDay, utcDay } from '../../crypto/day.ts';
import { FormTokenError, checkFormToken, issueFormToken, type FormPurpose } from '../../crypto/form-token.ts';
import type { TiplineDb } from '../db/open-database.ts';
import { PowKeys } from './pow-keys.ts';

/** The hidden field's name. */
export const FORM_TOKEN_FIELD = 'form_token';
/** A token may not live longer than this: a spent one is remembered through the day after it was spent. */
export const MAX_FORM_TOKEN_SECONDS = 86_400;
const SWEEP_EVERY_MS = 60_000;

export type FormTokenOptions = { minSeconds: number; maxSeconds: number; clock?: () => Date };

export class FormTokenRefused extends Error {
  override name = 'FormTokenRefused';
  constructor(
    readonly code: FormTokenError['code'] | 'replayed',
    message: string,
    /** For `too-young`: seconds until the same token is accepted. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

/** Spends a checked token with `db` (the tip's transaction). Throws FormTokenRefused `replayed` if another post spent it first. */
export type FormTokenSpend = (db: TiplineDb) => Promise<void>;

export class FormTokens {
  private nextSweep = 0;

  private constructor(
    private readonly db: TiplineDb,
    private readonly keys: PowKeys,
    private readonly o: Required<FormTokenOptions>,
  ) {}

  static async open(db: TiplineDb, options: FormTokenOptions): Promise<FormTokens> {
    const o = { clock: () => new Date(), ...options };
    if (!(Number.isFinite(o.minSeconds) && o.minSeconds >= 0 && o.maxSeconds > o.minSeconds && o.maxSeconds <= MAX_FORM_TOKEN_SECONDS)) {
      throw new RangeError(`form tokens: need 0 ≤ minSeconds < maxSeconds ≤ ${MAX_FORM_TOKEN_SECONDS}`);
    }
    const keys = await PowKeys.open(db, { rotateSeconds: o.maxSeconds, clock: o.clock, prefix: 'form-key' });
    return new FormTokens(db, keys, o);
  }

  async issue(purpose: FormPurpose): Promise<string> {
    const key = await this.keys.signing();
    return issueFormToken(key.secret, { purpose, now: this.o.clock() });
  }

  /** Refuses (FormTokenRefused) a token that isn't a live, unspent one for `purpose`; returns its spend. */
  async check(token: string | null | undefined, purpose: FormPurpose): Promise<FormTokenSpend> {
    let id: string;
    try {
      ({ id } = checkFormToken(this.keys.live(), token ?? undefined, { purpose, now: this.o.clock(), minSeconds: this.o.minSeconds, maxSeconds: this.o.maxSeconds }));
    } catch (e) {
      if (e instanceof FormTokenError) throw new FormTokenRefused(e.code, e.message, e.retryAfterSeconds);
      throw e;
    }
    if (await this.db.selectFrom('spent_form_tokens').select('id').where('id', '=', id).executeTakeFirst()) throw replayed();
    return async (db) => {
      const today = utcDay(this.o.clock());
      await this.sweepNowAndThen(db, today);
      const inserted = await db.insertInto('spent_form_tokens').values({ id, day: today }).onConflict((oc) => oc.column('id').doNothing()).executeTakeFirst();
      if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 0) throw replayed();
    };
  }

  /** The sweep, at most once a minute: a scan of a table that is biggest under a flood. */
  private async sweepNowAndThen(db: TiplineDb, today: string): Promise<void> {
    const now = this.o.clock().getTime();
    if (now < this.nextSweep) return;
    this.nextSweep = now + SWEEP_EVERY_MS;
    await sweepSpentFormTokens(db, today);
  }
}

function replayed(): FormTokenRefused {
  return new FormTokenRefused('replayed', 'this form was already sent');
}

/**
 * Deletes spent tokens of days before yesterday (`today` is YYYY-MM-DD, UTC):
 * a token expires at most a day after it was issued, which was before it was
 * spent, so one spent before yesterday has expired and is refused as such.
 * Returns how many were deleted.
 */
export async function sweepSpentFormTokens(db: TiplineDb, today: string): Promise<number> {
  if (!isDay(today)) throw new RangeError(`not a YYYY-MM-DD day: ${String(today)}`);
  const r = await db.deleteFrom('spent_form_tokens').where('day', '<', addDays(today, -1)).executeTakeFirst();
  return Number(r.numDeletedRows);
}
