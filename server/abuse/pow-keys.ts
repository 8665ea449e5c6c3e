/**
 * The proof-of-work HMAC secrets, rotated: a secret signs challenges for one
 * period (10 minutes, the challenges' lifetime) and is accepted for one more,
 * so two are live at a time, and a secret read out of a running server (or a
 * seized database) is worthless within twenty minutes.
 *
 * The secrets are rows of `server_secrets` (never in a backup, see
 * server/backup/create-backup.ts), so every instance on one database shares
 * them: `pow-key-current` signs, `pow-key-previous` is still accepted, and
 * `pow-key-next` is accepted too, one period early, so an instance that has
 * not yet seen another's rotation accepts the challenges that one now issues.
 * A challenge names its secret by an opaque id, a hash of the secret: no
 * counter and no time is stored or sent.
 *
 * The no-JavaScript form tokens (form-tokens.ts) have rotating secrets of
 * their own, the same way, under `form-key-…` and with a period as long as a
 * token lives, so a token stays checkable for its whole life.
 *
 * When to rotate is kept in memory only: each instance notes when it first
 * saw the current secret, and once a period has passed it rotates by
 * compare-and-set (the current row changes only if it still holds the secret
 * it saw), so of several instances exactly one rotates, and none rotates
 * sooner than a period after the last rotation it saw.
 *
 * @module
 * @example
 * const keys = await PowKeys.open(db, { rotateSeconds: 600, clock: () => new Date() });
 * const { id, secret } = await keys.signing();   // to issue a challenge
 * keys.find(readChallenge(challenge).key);        // → the secret, or undefined
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { base64url, concatBytes, randomBytes, utf8 } from '../../crypto/bytes.ts';
import type { TiplineDb } from '../db/open-database.ts';

export type PowKey = { id: string; secret: Uint8Array };

/** How often an instance re-reads the rows, to see another instance's rotation. Far below a period. */
const REFRESH_SECONDS = 30;

/** The id a challenge names a secret by: 16 characters of its hash, so it says nothing but which secret. */
export function powKeyId(secret: Uint8Array): string {
  return base64url.encode(sha256(concatBytes(utf8.encode('tipline pow key id\0'), secret))).slice(0, 16);
}

export class PowKeys {
  private previous: PowKey | undefined;
  private current!: PowKey;
  private next!: PowKey;
  /** Unix ms when this instance first saw `current` (memory only). */
  private currentSince = 0;
  private nextRefresh = 0;
  private refreshing: Promise<void> | undefined;

  /** The rows' names. */
  private readonly names: { previous: string; current: string; next: string };

  private constructor(
    private readonly db: TiplineDb,
    private readonly rotateMs: number,
    private readonly clock: () => Date,
    prefix: string,
  ) {
    this.names = { previous: `${prefix}-previous`, current: `${prefix}-current`, next: `${prefix}-next` };
  }

  /** `prefix` names the rows (`pow-key` by default: `pow-key-current`, …). */
  static async open(db: TiplineDb, o: { rotateSeconds: number; clock: () => Date; prefix?: 'pow-key' | 'form-key' }): Promise<PowKeys> {
    if (!Number.isFinite(o.rotateSeconds) || o.rotateSeconds <= 0) throw new RangeError('rotateSeconds must be a positive number');
    const keys = new PowKeys(db, o.rotateSeconds * 1000, o.clock, o.prefix ?? 'pow-key');
    await keys.refresh();
    return keys;
  }

  /** The secret to sign new challenges with, after reading the rows again if that is due. */
  async signing(): Promise<PowKey> {
    if (this.clock().getTime() >= this.nextRefresh) await this.refresh();
    return this.current;
  }

  /**
   * The live secret named `id` (previous, current or next), or undefined.
   * Synchronous, so an answer is checked before anything else is read; a
   * re-read that is due starts in the background.
   */
  find(id: string): Uint8Array | undefined {
    if (this.clock().getTime() >= this.nextRefresh) void this.refresh().catch(() => {});
    for (const k of [this.current, this.previous, this.next]) if (k && k.id === id) return k.secret;
    return undefined;
  }

  /** Every live secret (current, previous, next), for what doesn't name its secret; synchronous like {@link find}. */
  live(): Uint8Array[] {
    if (this.clock().getTime() >= this.nextRefresh) void this.refresh().catch(() => {});
    return [this.current, this.previous, this.next].filter((k): k is PowKey => !!k).map((k) => k.secret);
  }

  /** Reads the rows (creating them the first time), and rotates once this instance has seen the current secret for a period. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load()
      .then(async () => {
        if (this.clock().getTime() - this.currentSince >= this.rotateMs) {
          await this.rotate();
          await this.load();
        }
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    return this.refreshing;
  }

  private async load(): Promise<void> {
    let rows = await this.rows();
    if (!rows.get(this.names.current) || !rows.get(this.names.next)) {
      await this.db
        .insertInto('server_secrets')
        .values([
          { name: this.names.current, value: randomBytes(32) },
          { name: this.names.next, value: randomBytes(32) },
        ])
        .onConflict((oc) => oc.column('name').doNothing())
        .execute();
      rows = await this.rows();
    }
    const key = (name: string): PowKey | undefined => {
      const value = rows.get(name);
      return value && { id: powKeyId(value), secret: value };
    };
    const current = key(this.names.current)!;
    if (!this.current || this.current.id !== current.id) this.currentSince = this.clock().getTime();
    this.current = current;
    this.next = key(this.names.next)!;
    this.previous = key(this.names.previous);
    this.nextRefresh = this.clock().getTime() + REFRESH_SECONDS * 1000;
  }

  private async rows(): Promise<Map<string, Uint8Array>> {
    const rows = await this.db.selectFrom('server_secrets').select(['name', 'value']).where('name', 'in', [this.names.previous, this.names.current, this.names.next]).execute();
    return new Map(rows.map((r) => [r.name, new Uint8Array(r.value)]));
  }

  /** previous ← current ← next ← fresh, only if `current` still holds what this instance saw. */
  private async rotate(): Promise<void> {
    const seen = this.current.secret;
    const promoted = this.next.secret;
    await this.db.transaction().execute(async (trx) => {
      const moved = await trx.updateTable('server_secrets').set({ value: promoted }).where('name', '=', this.names.current).where('value', '=', seen).executeTakeFirst();
      if (Number(moved.numUpdatedRows) !== 1) return; // another instance rotated first
      await trx
        .insertInto('server_secrets')
        .values({ name: this.names.previous, value: seen })
        .onConflict((oc) => oc.column('name').doUpdateSet({ value: seen }))
        .execute();
      await trx.updateTable('server_secrets').set({ value: randomBytes(32) }).where('name', '=', this.names.next).execute();
    });
  }
}
