/**
 * What `journalist fetch` says about retention: the server deletes every tip,
 * follow-up and reply some days after it arrived (`retentionDays`, from
 * `/journalist/me`; 0 = never). A message within {@link WARN_DAYS} days of that
 * is counted; a conversation holding one is listed by pseudonym and thread id,
 * so the journalist can ask an admin to hold it (`tipline admin hold --thread
 * ID`) before the source's earlier messages and the replies the source reads
 * disappear from it. A conversation the server marks `onHold` (an admin ran
 * `admin hold`) is kept by the server, so neither it nor its tips are warned about.
 *
 * @module
 * @example
 * const w = new RetentionWarning(90, '2026-12-07');
 * w.see({ day: tip.receivedDay, threadId: tip.threadId, kind: 'tip' });
 * for (const line of w.lines()) log(line);
 */
import { daysBetween } from '../../crypto/day.ts';
import { pseudonymFor } from './pseudonym.ts';

/** How long before deletion a message is warned about. */
export const WARN_DAYS = 7;
/** Conversations listed by name; the rest are counted. */
const LISTED = 20;

export class RetentionWarning {
  /** Tips and follow-ups near deletion (replies are not tips). */
  tips = 0;
  /** Thread id → the day of its oldest message near deletion. */
  private readonly conversations = new Map<string, string>();
  /** Conversations the server said are on hold (from their tips; replies are listed after tips). */
  private readonly held = new Set<string>();

  constructor(
    private readonly retentionDays: number,
    private readonly today: string,
  ) {}

  /** One message the server listed: its day, its conversation (null for a tip without one). */
  see(m: { day: string; threadId: string | null; kind: 'tip' | 'followup' | 'reply'; onHold?: boolean }): void {
    if (m.onHold && m.threadId !== null) this.held.add(m.threadId);
    if (m.threadId !== null && this.held.has(m.threadId)) return;
    if (this.retentionDays <= 0 || daysBetween(m.day, this.today) < this.retentionDays - WARN_DAYS) return;
    if (m.kind !== 'reply') this.tips++;
    if (m.threadId === null) return;
    const oldest = this.conversations.get(m.threadId);
    if (oldest === undefined || m.day < oldest) this.conversations.set(m.threadId, m.day);
  }

  /** The conversations with a message near deletion, oldest first. */
  expiringConversations(): { threadId: string; pseudonym: string; oldestDay: string }[] {
    return [...this.conversations]
      .filter(([threadId]) => !this.held.has(threadId))
      .sort(([a, dayA], [b, dayB]) => (dayA === dayB ? (a < b ? -1 : 1) : dayA < dayB ? -1 : 1))
      .map(([threadId, oldestDay]) => ({ threadId, pseudonym: pseudonymFor(threadId), oldestDay }));
  }

  /** The warning lines, none when nothing is near deletion. */
  lines(): string[] {
    const out: string[] = [];
    const keeps = `it keeps messages ${this.retentionDays} days`;
    if (this.tips > 0) out.push(`warning: ${this.tips} tip(s) will be deleted from the server within ${WARN_DAYS} days (${keeps}). Fetch and decrypt what you need now.`);
    const conversations = this.expiringConversations();
    if (conversations.length === 0) return out;
    out.push(
      `warning: ${conversations.length} conversation(s) have messages the server deletes within ${WARN_DAYS} days (${keeps}): the source will no longer see your older replies there. ` +
        'To keep one, give its thread id to your admin, who can run: tipline admin hold --thread ID (conversations already on hold are not listed).',
    );
    for (const c of conversations.slice(0, LISTED)) out.push(`  ${c.pseudonym}  thread ${c.threadId}  (oldest message ${c.oldestDay})`);
    if (conversations.length > LISTED) out.push(`  … and ${conversations.length - LISTED} more`);
    return out;
  }
}
