/**
 * Where tips are stored: ciphertext plus the few facts DESIGN.md allows
 * (day received, size bucket, manifest version, how it was encrypted).
 *
 * @example
 * const tips = new TipStore(db);
 * const id = await tips.add({ ciphertext, via: 'browser', manifestVersion: 3 });
 * const page = await tips.list({ limit: 100 });
 */
import { randomId } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { bucketFor } from '../../crypto/padding.ts';
import { checkpoint, type TiplineDb } from '../db/open-database.ts';
import type { Via } from '../db/schema.ts';

export type TipSummary = { id: string; receivedDay: string; via: Via; size: number; manifestVersion: number };
export type TipPage = { tips: TipSummary[]; nextCursor: string | null };

export class TipStore {
  constructor(
    private readonly db: TiplineDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Stores a tip and returns its random id. Resolves only after the row is committed. */
  async add(tip: { ciphertext: Uint8Array; via: Via; manifestVersion: number }): Promise<string> {
    const id = randomId();
    await this.db
      .insertInto('tips')
      .values({
        id,
        received_day: utcDay(this.clock()),
        size_bucket: bucketFor(tip.ciphertext.length),
        manifest_version: tip.manifestVersion,
        via: tip.via,
        ciphertext: tip.ciphertext,
      })
      .execute();
    return id;
  }

  /**
   * Lists tips oldest day first; within a day the order is by random id, which
   * says nothing about arrival. `cursor` is the `nextCursor` of the previous page.
   */
  async list(options: { limit: number; cursor?: string | null }): Promise<TipPage> {
    let query = this.db
      .selectFrom('tips')
      .select(['id', 'received_day', 'via', 'size_bucket', 'manifest_version'])
      .select((eb) => eb.fn<number>('length', ['ciphertext']).as('size'))
      .orderBy('received_day')
      .orderBy('id')
      .limit(options.limit + 1);
    const after = decodeCursor(options.cursor);
    if (after) {
      query = query.where((eb) =>
        eb.or([
          eb('received_day', '>', after.day),
          eb.and([eb('received_day', '=', after.day), eb('id', '>', after.id)]),
        ]),
      );
    }
    const rows = await query.execute();
    const more = rows.length > options.limit;
    const tips = rows.slice(0, options.limit).map((r) => ({
      id: r.id,
      receivedDay: r.received_day,
      via: r.via,
      size: Number(r.size),
      manifestVersion: r.manifest_version,
    }));
    const last = tips.at(-1);
    return { tips, nextCursor: more && last ? `${last.receivedDay}.${last.id}` : null };
  }

  async get(id: string): Promise<{ ciphertext: Uint8Array; summary: TipSummary } | undefined> {
    const row = await this.db.selectFrom('tips').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return {
      ciphertext: row.ciphertext,
      summary: { id: row.id, receivedDay: row.received_day, via: row.via, size: row.ciphertext.length, manifestVersion: row.manifest_version },
    };
  }

  /** Deletes a tip for good: secure delete, then a WAL checkpoint. Returns false if there was no such tip. */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('tips').where('id', '=', id).executeTakeFirst();
    await checkpoint(this.db);
    return Number(result.numDeletedRows) > 0;
  }

  async count(): Promise<number> {
    const row = await this.db.selectFrom('tips').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
    return Number(row.n);
  }
}

export class BadCursorError extends Error {
  override name = 'BadCursorError';
}

function decodeCursor(cursor: string | null | undefined): { day: string; id: string } | null {
  if (cursor === undefined || cursor === null || cursor === '') return null;
  const m = /^(\d{4}-\d{2}-\d{2})\.([A-Za-z0-9_-]{22})$/.exec(cursor);
  if (!m) throw new BadCursorError('bad cursor');
  return { day: m[1]!, id: m[2]! };
}
