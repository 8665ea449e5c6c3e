/**
 * Replies from journalists to sources, and conversations as a whole.
 *
 * Each reply is stored twice, both encrypted: a reply box that only the
 * source's codename opens, and an OpenPGP copy for the newsroom. A source who
 * deletes a reply after reading it removes the box; the newsroom's copy stays
 * until a journalist deletes the conversation.
 *
 * @example
 * const replies = new ReplyStore(db);
 * await replies.add(threadId, { box, copy });
 * await replies.forSource(threadId); // [{ id, day, seq, box }]
 */
import { randomId } from '../../crypto/bytes.ts';
import { utcDay } from '../../crypto/day.ts';
import { checkpoint, type TiplineDb } from '../db/open-database.ts';
import { takeNextSeq } from './tip-store.ts';

export type SourceReply = { id: string; day: string; seq: number; box: Uint8Array };
export type ReplySummary = { id: string; threadId: string; seq: number; day: string; size: number };

export class ReplyStore {
  constructor(
    private readonly db: TiplineDb,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async threadExists(threadId: string): Promise<boolean> {
    return !!(await this.db.selectFrom('threads').select('id').where('id', '=', threadId).executeTakeFirst());
  }

  async add(threadId: string, reply: { box: Uint8Array; copy: Uint8Array }): Promise<string> {
    const id = randomId();
    await this.db.transaction().execute(async (trx) => {
      const seq = await takeNextSeq(trx, threadId);
      await trx.insertInto('replies').values({ id, thread_id: threadId, seq, created_day: utcDay(this.clock()), box: reply.box, copy: reply.copy }).execute();
    });
    return id;
  }

  /** The replies a source can still read, oldest first. */
  async forSource(threadId: string): Promise<SourceReply[]> {
    const rows = await this.db
      .selectFrom('replies')
      .select(['id', 'created_day', 'seq', 'box'])
      .where('thread_id', '=', threadId)
      .where((eb) => eb.fn('length', ['box']), '>', 0)
      .orderBy('seq')
      .execute();
    return rows.map((r) => ({ id: r.id, day: r.created_day, seq: r.seq, box: r.box }));
  }

  /** The source removes a reply it has read: the box is overwritten; the newsroom's copy stays. */
  async deleteForSource(threadId: string, replyId: string): Promise<boolean> {
    const r = await this.db
      .updateTable('replies')
      .set({ box: new Uint8Array(0) })
      .where('id', '=', replyId)
      .where('thread_id', '=', threadId)
      .where((eb) => eb.fn('length', ['box']), '>', 0)
      .executeTakeFirst();
    await checkpoint(this.db);
    return Number(r.numUpdatedRows) > 0;
  }

  /** Newsroom copies, for journalists: listed by thread and number. */
  async list(options: { limit: number; after?: string | null; desks?: { mine: string[]; all: string[] } }): Promise<{ replies: ReplySummary[]; nextCursor: string | null }> {
    let q = this.db
      .selectFrom('replies')
      .innerJoin('threads', 'threads.id', 'replies.thread_id')
      .select(['replies.id as id', 'replies.thread_id as thread_id', 'replies.seq as seq', 'replies.created_day as created_day'])
      .select((eb) => eb.fn<number>('length', ['replies.copy']).as('size'))
      .orderBy('replies.id')
      .limit(options.limit + 1);
    const desks = options.desks;
    if (desks) {
      // The rule of TipStore.list: the journalist's desks, plus conversations with no desk or one that no longer exists.
      q = q.where((eb) =>
        eb.or([
          eb('threads.desk', 'is', null),
          ...(desks.mine.length ? [eb('threads.desk', 'in', desks.mine)] : []),
          ...(desks.all.length ? [eb('threads.desk', 'not in', desks.all)] : []),
        ]),
      );
    }
    if (options.after) q = q.where('replies.id', '>', options.after);
    const rows = await q.execute();
    const replies = rows.slice(0, options.limit).map((r) => ({ id: r.id, threadId: r.thread_id, seq: r.seq, day: r.created_day, size: Number(r.size) }));
    return { replies, nextCursor: rows.length > options.limit ? replies.at(-1)!.id : null };
  }

  async copy(id: string): Promise<Uint8Array | undefined> {
    return (await this.db.selectFrom('replies').select('copy').where('id', '=', id).executeTakeFirst())?.copy;
  }

  /** A reply's newsroom copy and its conversation, for re-keying. */
  async stored(id: string): Promise<{ threadId: string; copy: Uint8Array } | undefined> {
    const r = await this.db.selectFrom('replies').select(['thread_id', 'copy']).where('id', '=', id).executeTakeFirst();
    return r && { threadId: r.thread_id, copy: r.copy };
  }

  /**
   * Re-keying: swaps the newsroom copy for `copy`, only if it is still
   * `expected` (a colleague's concurrent re-key is not overwritten). Returns
   * false when it changed or the reply is gone. The caller checks `copy`.
   */
  async replaceCopy(id: string, o: { expected: Uint8Array; copy: Uint8Array }): Promise<boolean> {
    const result = await this.db.updateTable('replies').set({ copy: o.copy }).where('id', '=', id).where('copy', '=', o.expected).executeTakeFirst();
    // The old key packets still open the copy with the old keys: they must not linger in the -wal file.
    await checkpoint(this.db);
    return Number(result.numUpdatedRows) > 0;
  }

  /** A journalist deletes a whole conversation: its tips, follow-ups and replies, then a WAL checkpoint. */
  async deleteThread(threadId: string): Promise<boolean> {
    const deleted = await this.db.transaction().execute(async (trx) => {
      await trx.deleteFrom('tips').where('thread_id', '=', threadId).execute();
      await trx.deleteFrom('replies').where('thread_id', '=', threadId).execute();
      const r = await trx.deleteFrom('threads').where('id', '=', threadId).executeTakeFirst();
      return Number(r.numDeletedRows) > 0;
    });
    await checkpoint(this.db);
    return deleted;
  }
}
