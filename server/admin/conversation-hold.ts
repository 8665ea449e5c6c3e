/**
 * Holds: an admin keeps one conversation past the retention period (a story
 * in progress, a legal hold), with `tipline admin hold --thread ID`. Retention
 * (server/retention.ts) then skips the conversation's tips, follow-ups and
 * replies until the hold is released (`--release`); the next run after that
 * deletes whatever is past the limit. Each hold and release is recorded in the
 * audit log; `admin hold --list` shows the conversations on hold.
 *
 * The thread id is the 64 hex digits a journalist finds as `threadId` in the
 * conversation's `thread.json` (or that `journalist fetch` prints when it warns
 * about a conversation near the limit).
 *
 * @module
 * @example
 * await holdConversation({ dataDir: '/srv/tipline', threadId });
 * await listHeldConversations({ dataDir: '/srv/tipline' }); // [{ threadId, heldDay: '2026-12-07', messages: 3 }]
 * await releaseConversation({ dataDir: '/srv/tipline', threadId });
 */
import { utcDay } from '../../crypto/day.ts';
import { AuditLog } from '../store/audit-log.ts';
import { AdminError, withNewsroom, type NewsroomAccess } from './newsroom-access.ts';

const THREAD_ID_RE = /^[0-9a-f]{64}$/;

export type HeldConversation = { threadId: string; heldDay: string; tips: number; replies: number };

function checkThreadId(threadId: string): string {
  const id = threadId.trim().toLowerCase();
  if (!THREAD_ID_RE.test(id)) throw new AdminError('--thread must be a conversation id: the 64 hex digits of "threadId" in the conversation\'s thread.json');
  return id;
}

/** Puts a conversation on hold; holding one already on hold changes nothing (and records nothing). */
export async function holdConversation(o: NewsroomAccess & { threadId: string }): Promise<{ heldDay: string; already: boolean }> {
  const threadId = checkThreadId(o.threadId);
  return withNewsroom(o, (db) =>
    db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('threads').select('held_day').where('id', '=', threadId).executeTakeFirst();
      if (!row) throw new AdminError(`no conversation ${threadId} on this server (deleted, or past retention already)`);
      if (row.held_day !== null) return { heldDay: row.held_day, already: true };
      const heldDay = utcDay();
      await trx.updateTable('threads').set({ held_day: heldDay }).where('id', '=', threadId).execute();
      await new AuditLog(trx).record('admin', 'thread.hold', `thread=${threadId}`);
      return { heldDay, already: false };
    }),
  );
}

/** Releases a hold: retention applies to the conversation again from its next run. */
export async function releaseConversation(o: NewsroomAccess & { threadId: string }): Promise<void> {
  const threadId = checkThreadId(o.threadId);
  return withNewsroom(o, (db) =>
    db.transaction().execute(async (trx) => {
      const row = await trx.selectFrom('threads').select('held_day').where('id', '=', threadId).executeTakeFirst();
      if (!row || row.held_day === null) throw new AdminError(`conversation ${threadId} is not on hold; see: tipline admin hold --data DIR --list`);
      await trx.updateTable('threads').set({ held_day: null }).where('id', '=', threadId).execute();
      await new AuditLog(trx).record('admin', 'thread.release', `thread=${threadId}`);
    }),
  );
}

/** The conversations on hold, with how many tips and replies each keeps. */
export async function listHeldConversations(o: NewsroomAccess): Promise<HeldConversation[]> {
  return withNewsroom(o, async (db) => {
    const rows = await db
      .selectFrom('threads')
      .select((eb) => [
        'threads.id',
        'threads.held_day',
        eb.selectFrom('tips').select((t) => t.fn.countAll<number>().as('n')).whereRef('tips.thread_id', '=', 'threads.id').as('tips'),
        eb.selectFrom('replies').select((r) => r.fn.countAll<number>().as('n')).whereRef('replies.thread_id', '=', 'threads.id').as('replies'),
      ])
      .where('threads.held_day', 'is not', null)
      .orderBy('threads.held_day')
      .orderBy('threads.id')
      .execute();
    return rows.map((r) => ({ threadId: r.id, heldDay: r.held_day!, tips: Number(r.tips ?? 0), replies: Number(r.replies ?? 0) }));
  });
}
