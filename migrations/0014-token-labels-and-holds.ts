/**
 * Two admin facts, both for issue 18:
 *
 * - `journalist_tokens.label`: which laptop or device a token was issued for
 *   ("Ana's newsroom laptop"), so an admin who must revoke the token of a
 *   stolen laptop can tell it from the others. Set by `admin token issue
 *   --label` (and `journalist add --label`), shown by `admin token list`.
 *   Tokens issued before this migration have none (NULL).
 * - `threads.held_day`: a conversation an admin put on hold (`admin hold`),
 *   as the UTC day it was held (a day only, like every admin row since
 *   migration 0009). Retention (server/retention.ts) skips a held
 *   conversation's tips, follow-ups and replies; NULL = not held.
 *
 * @module
 * @example
 * await up(db); // journalist_tokens gains `label`, threads gains `held_day`
 */
import type { Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('journalist_tokens').addColumn('label', 'text').execute();
  await db.schema.alterTable('threads').addColumn('held_day', 'text').execute();
}

/** Going down forgets the labels and the holds (the next retention run then deletes what was held past the limit). */
export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('threads').dropColumn('held_day').execute();
  await db.schema.alterTable('journalist_tokens').dropColumn('label').execute();
}
