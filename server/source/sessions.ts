/**
 * Source sessions after a codename login. Kept in memory only: nothing about a
 * source's visits is written to disk, and a restart logs everyone out. The
 * cookie holds a random id, no secret derived from the codename. Sessions end
 * after 30 idle minutes or on logout.
 *
 * @example
 * const sessions = new SourceSessions();
 * const id = sessions.create(threadId); // → set as an HttpOnly; SameSite=Strict cookie
 * sessions.threadOf(id); // threadId, or undefined once expired
 */
import { base64url, randomBytes } from '../../crypto/bytes.ts';

export const SESSION_COOKIE = 'tl_session';
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** A cap so a flood of logins can't grow memory without bound; the oldest go first. */
const MAX_SESSIONS = 20_000;

export class SourceSessions {
  private readonly sessions = new Map<string, { threadId: string; lastSeen: number }>();

  constructor(private readonly now: () => number = () => Date.now()) {}

  create(threadId: string): string {
    this.sweep();
    while (this.sessions.size >= MAX_SESSIONS) this.sessions.delete(this.sessions.keys().next().value!);
    const id = base64url.encode(randomBytes(32));
    this.sessions.set(id, { threadId, lastSeen: this.now() });
    return id;
  }

  /** The thread a session may act on, or undefined. Refreshes the idle timer. */
  threadOf(id: string | undefined): string | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.now() - s.lastSeen > SESSION_IDLE_MS) {
      this.sessions.delete(id);
      return undefined;
    }
    s.lastSeen = this.now();
    // Re-insert so Map order stays least-recently-used first.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s.threadId;
  }

  destroy(id: string | undefined): void {
    if (id) this.sessions.delete(id);
  }

  /** Ends every session on a thread (used when its conversation is deleted). */
  destroyThread(threadId: string): void {
    for (const [id, s] of this.sessions) if (s.threadId === threadId) this.sessions.delete(id);
  }

  private sweep(): void {
    const cutoff = this.now() - SESSION_IDLE_MS;
    for (const [id, s] of this.sessions) {
      if (s.lastSeen >= cutoff) break; // LRU order: the rest are newer
      this.sessions.delete(id);
    }
  }
}
