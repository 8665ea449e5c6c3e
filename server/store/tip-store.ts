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
import type { TipKind, Via } from '../db/schema.ts';
import { CommitQueue } from './commit-queue.ts';

export type TipSummary = {
  id: string;
  receivedDay: string;
  via: Via;
  size: number;
  manifestVersion: number;
  threadId: string | null;
  kind: TipKind;
  seq: number;
  desk?: string | null;
};

/** A first tip names a thread that already exists (a codename can only start one conversation). */
export class ThreadExistsError extends Error {
  override name = 'ThreadExistsError';
}
/** A follow-up names a thread that doesn't exist (any more). */
export class NoSuchThreadError extends Error {
  override name = 'NoSuchThreadError';
}
export type TipPage = { tips: TipSummary[]; nextCursor: string | null };

export class TipStore {
  /** Tips that arrive together are committed together (one fsync for many); see commit-queue.ts. */
  readonly commits: CommitQueue;

  constructor(
    private readonly db: TiplineDb,
    private readonly clock: () => Date = () => new Date(),
    options: { maxBatch?: number } = {},
  ) {
    this.commits = new CommitQueue(db, options);
  }

  /**
   * Stores a tip and returns its random id. Resolves only after the row is committed.
   * A first tip (`kind: 'tip'`) opens its thread; a follow-up takes the thread's next number.
   * Tips arriving at once share a transaction, each in its own savepoint: one that
   * fails (its thread exists, its attachments or proof of work are refused) fails alone.
   */
  async add(tip: {
    ciphertext: Uint8Array;
    via: Via;
    manifestVersion: number;
    threadId: string;
    kind: TipKind;
    desk?: string | null;
    /** Upload ids the tip names: they become its attachments in the same transaction. */
    attachments?: string[];
    maxAttachmentBytes?: number;
    /** Work that must commit with the tip or not at all (spending its proof of work); runs first. */
    alongside?: (trx: TiplineDb) => Promise<void>;
  }): Promise<string> {
    const id = randomId();
    const day = utcDay(this.clock());
    await this.commits.run(async (trx) => {
      await tip.alongside?.(trx);
      let seq = 1;
      if (tip.kind === 'tip') {
        // One statement, not a look then an insert: on PostgreSQL two instances may
        // open the same thread at once, and the second then waits and inserts nothing.
        const opened = await trx
          .insertInto('threads')
          .values({ id: tip.threadId, created_day: day, next_seq: 2, desk: tip.desk ?? null })
          .onConflict((oc) => oc.column('id').doNothing())
          .executeTakeFirst();
        if (Number(opened.numInsertedOrUpdatedRows ?? 0n) === 0) throw new ThreadExistsError('this codename already has a conversation');
      } else {
        seq = await takeNextSeq(trx, tip.threadId);
      }
      await trx
        .insertInto('tips')
        .values({
          id,
          received_day: day,
          size_bucket: bucketFor(tip.ciphertext.length),
          manifest_version: tip.manifestVersion,
          via: tip.via,
          ciphertext: tip.ciphertext,
          ciphertext_bytes: tip.ciphertext.length,
          thread_id: tip.threadId,
          kind: tip.kind,
          seq,
          desk: tip.desk ?? null,
        })
        .execute();
      if (tip.attachments?.length) await claimUploads(trx, id, tip.attachments, tip.desk ?? null, tip.maxAttachmentBytes ?? Infinity);
    });
    return id;
  }

  /**
   * Lists tips oldest day first; within a day the order is by random id, which
   * says nothing about arrival. `cursor` is the `nextCursor` of the previous page.
   */
  async list(options: { limit: number; cursor?: string | null; desks?: { mine: string[]; all: string[] } }): Promise<TipPage> {
    let query = this.db
      .selectFrom('tips')
      // Only columns of the covering index tips_list (migration 0007): a page never reads the tips table.
      .select(['id', 'received_day', 'via', 'size_bucket', 'manifest_version', 'thread_id', 'kind', 'seq', 'desk', 'ciphertext_bytes as size'])
      .orderBy('received_day')
      .orderBy('id')
      .limit(options.limit + 1);
    const desks = options.desks;
    if (desks) {
      // A journalist sees their desks' tips, plus any whose desk no longer exists (nobody else would).
      query = query.where((eb) =>
        eb.or([
          eb('desk', 'is', null),
          ...(desks.mine.length ? [eb('desk', 'in', desks.mine)] : []),
          ...(desks.all.length ? [eb('desk', 'not in', desks.all)] : []),
        ]),
      );
    }
    const after = decodeCursor(options.cursor);
    if (after) {
      // A row-value comparison, which SQLite answers by seeking in tips_list; the
      // same condition spelled with OR made it scan the index from the start (a page
      // deep in 100k tips took seconds).
      query = query.where((eb) => eb(eb.refTuple('received_day', 'id'), '>', eb.tuple(after.day, after.id)));
    }
    const rows = await query.execute();
    const more = rows.length > options.limit;
    const tips = rows.slice(0, options.limit).map((r) => ({
      id: r.id,
      receivedDay: r.received_day,
      via: r.via,
      size: Number(r.size),
      manifestVersion: r.manifest_version,
      threadId: r.thread_id,
      kind: r.kind,
      seq: r.seq,
      desk: r.desk,
    }));
    const last = tips.at(-1);
    return { tips, nextCursor: more && last ? `${last.receivedDay}.${last.id}` : null };
  }

  async get(id: string): Promise<{ ciphertext: Uint8Array; summary: TipSummary } | undefined> {
    const row = await this.db.selectFrom('tips').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return {
      ciphertext: row.ciphertext,
      summary: {
        id: row.id,
        receivedDay: row.received_day,
        via: row.via,
        size: row.ciphertext.length,
        manifestVersion: row.manifest_version,
        threadId: row.thread_id,
        kind: row.kind,
        seq: row.seq,
        desk: row.desk,
      },
    };
  }

  /**
   * Swaps a tip's ciphertext for a re-keyed copy: new key packets in front of
   * the same data packet (the journalist API checks that before calling this).
   * Its day, conversation, place in it, desk and `via` stay as they were;
   * `manifestVersion` becomes the version whose keys it is now encrypted to,
   * and the size bucket follows the new length.
   *
   * Compare-and-swap: the row changes only while it still holds exactly
   * `expected`, so two journalists re-keying at once can't overwrite each
   * other. Returns false when the tip changed meanwhile or is gone.
   */
  async replaceCiphertext(id: string, o: { expected: Uint8Array; ciphertext: Uint8Array; manifestVersion: number }): Promise<boolean> {
    const result = await this.db
      .updateTable('tips')
      .set({ ciphertext: o.ciphertext, ciphertext_bytes: o.ciphertext.length, size_bucket: bucketFor(o.ciphertext.length), manifest_version: o.manifestVersion })
      .where('id', '=', id)
      .where('ciphertext', '=', o.expected)
      .executeTakeFirst();
    // The old key packets still open the tip with the old keys: they must not linger in the -wal file.
    await checkpoint(this.db);
    return Number(result.numUpdatedRows) > 0;
  }

  /** Deletes a tip for good: secure delete, then a WAL checkpoint. Returns false if there was no such tip. */
  async delete(id: string): Promise<boolean> {
    const result = await this.db.deleteFrom('tips').where('id', '=', id).executeTakeFirst();
    await checkpoint(this.db);
    return Number(result.numDeletedRows) > 0;
  }

  /** Which of these conversations an admin put on hold (`admin hold`): retention keeps them. */
  async heldThreads(threadIds: readonly string[]): Promise<Set<string>> {
    if (threadIds.length === 0) return new Set();
    const rows = await this.db.selectFrom('threads').select('id').where('id', 'in', [...new Set(threadIds)]).where('held_day', 'is not', null).execute();
    return new Set(rows.map((r) => r.id));
  }

  /** The desk a conversation was opened for. */
  async threadDesk(threadId: string): Promise<string | null> {
    return (await this.db.selectFrom('threads').select('desk').where('id', '=', threadId).executeTakeFirst())?.desk ?? null;
  }

  /** Follow-ups a conversation has sent today (for the per-day limit). */
  async followupsToday(threadId: string): Promise<number> {
    const row = await this.db
      .selectFrom('tips')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('thread_id', '=', threadId)
      .where('kind', '=', 'followup')
      .where('received_day', '=', utcDay(this.clock()))
      .executeTakeFirstOrThrow();
    return Number(row.n);
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

/**
 * Reserves the next message number in a thread (inside the caller's transaction).
 * One UPDATE … RETURNING: the row lock it takes makes a concurrent reservation
 * (another PostgreSQL connection or instance) wait and get the number after.
 */
export async function takeNextSeq(trx: TiplineDb, threadId: string): Promise<number> {
  const thread = await trx
    .updateTable('threads')
    .set((eb) => ({ next_seq: eb('next_seq', '+', 1) }))
    .where('id', '=', threadId)
    .returning('next_seq')
    .executeTakeFirst();
  if (!thread) throw new NoSuchThreadError('no such conversation');
  return thread.next_seq - 1;
}

/** The uploads named by a tip were not all complete, unclaimed and for its desk. */
export class AttachmentClaimError extends Error {
  override name = 'AttachmentClaimError';
}

async function claimUploads(trx: TiplineDb, tipId: string, ids: string[], desk: string | null, maxBytes: number): Promise<void> {
  const unique = [...new Set(ids)];
  if (unique.length !== ids.length) throw new AttachmentClaimError('an attachment is named twice');
  const rows = await trx.selectFrom('uploads').select(['id', 'received_bytes', 'desk']).where('id', 'in', unique).where('complete', '=', 1).where('tip_id', 'is', null).execute();
  if (rows.length !== unique.length || rows.some((r) => desk !== null && r.desk !== desk)) {
    throw new AttachmentClaimError('an attachment is unknown, unfinished, already used, or for another desk');
  }
  if (rows.reduce((n, r) => n + r.received_bytes, 0) > maxBytes) throw new AttachmentClaimError('the attachments together are larger than the limit');
  // Another tip (another connection or instance) may have claimed one since the look above: count.
  const claimed = await trx.updateTable('uploads').set({ tip_id: tipId, sweeps: 0 }).where('id', 'in', unique).where('tip_id', 'is', null).where('complete', '=', 1).executeTakeFirst();
  if (Number(claimed.numUpdatedRows) !== unique.length) throw new AttachmentClaimError('an attachment is unknown, unfinished, already used, or for another desk');
}
