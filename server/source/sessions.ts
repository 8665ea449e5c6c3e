/**
 * Source sessions after a codename login. Kept in memory only: nothing about a
 * source's visits is written to disk, and a restart logs everyone out. The
 * cookie holds a random id, no secret derived from the codename. Sessions end
 * after 30 idle minutes or on logout.
 *
 * One session per conversation: a new login with a codename ends the session
 * an earlier login with it started. So logging in again and again with one's
 * own codename keeps one session, not thousands, and can never push another
 * source's session out. When the table is full (one session for each of
 * `maxSessions` conversations, each opened by a tip), a new login is refused
 * ({@link SessionsFullError}) rather than ending someone else's.
 *
 * @example
 * const sessions = new SourceSessions();
 * const id = sessions.create(threadId); // → set as an HttpOnly; SameSite=Strict cookie
 * sessions.threadOf(id); // threadId, or undefined once expired
 * sessions.create(threadId); // a second login: the first id no longer works
 */
import { base64url, randomBytes } from '../../crypto/bytes.ts';

export const SESSION_COOKIE = 'tl_session';
export const SESSION_IDLE_MS = 30 * 60 * 1000;
/** At most this many conversations logged in at once (about 300 bytes each, so 30 MB). */
export const MAX_SESSIONS = 100_000;

/** Every conversation that may have a session has one: a login must wait (no one else's is ended). */
export class SessionsFullError extends Error {
  override name = 'SessionsFullError';
}

type Session = { threadId: string; lastSeen: number };

export class SourceSessions {
  /** Least recently used first (threadOf re-inserts). */
  private readonly sessions = new Map<string, Session>();
  private readonly byThread = new Map<string, string>();
  private readonly maxSessions: number;

  constructor(
    private readonly now: () => number = () => Date.now(),
    o: { maxSessions?: number } = {},
  ) {
    this.maxSessions = o.maxSessions ?? MAX_SESSIONS;
    if (!Number.isSafeInteger(this.maxSessions) || this.maxSessions < 1) throw new RangeError('maxSessions must be a positive integer');
  }

  /** A new session on `threadId`, ending the one it had. Throws {@link SessionsFullError} when full. */
  create(threadId: string): string {
    this.sweep();
    const earlier = this.byThread.get(threadId);
    if (earlier !== undefined) this.destroy(earlier);
    if (this.sessions.size >= this.maxSessions) throw new SessionsFullError('every session slot is taken');
    const id = base64url.encode(randomBytes(32));
    this.sessions.set(id, { threadId, lastSeen: this.now() });
    this.byThread.set(threadId, id);
    return id;
  }

  /** The thread a session may act on, or undefined. Refreshes the idle timer. */
  threadOf(id: string | undefined): string | undefined {
    if (!id) return undefined;
    const s = this.sessions.get(id);
    if (!s) return undefined;
    if (this.now() - s.lastSeen > SESSION_IDLE_MS) {
      this.destroy(id);
      return undefined;
    }
    s.lastSeen = this.now();
    // Re-insert so Map order stays least-recently-used first.
    this.sessions.delete(id);
    this.sessions.set(id, s);
    return s.threadId;
  }

  destroy(id: string | undefined): void {
    if (!id) return;
    const s = this.sessions.get(id);
    if (!s) return;
    this.sessions.delete(id);
    if (this.byThread.get(s.threadId) === id) this.byThread.delete(s.threadId);
  }

  /** Ends the session on a thread (used when its conversation is deleted). */
  destroyThread(threadId: string): void {
    this.destroy(this.byThread.get(threadId));
  }

  /** Sessions alive now (for tests and `admin doctor`-style checks). */
  get size(): number {
    return this.sessions.size;
  }

  private sweep(): void {
    const cutoff = this.now() - SESSION_IDLE_MS;
    for (const [id, s] of this.sessions) {
      if (s.lastSeen >= cutoff) break; // LRU order: the rest are newer
      this.destroy(id);
    }
  }
}
