/**
 * What the server tells its operator instead of a line per request: counts per
 * UTC day, printed once, just after the day ends. A line per source-facing
 * request (`POST /api/v1/tips 201 12ms`) would be timestamped by journald or
 * Docker and time every tip, upload and login to the second; a line at
 * midnight about the day before times nothing a source did.
 *
 * Errors on source-facing routes are counted here too (by class name, never
 * request data), for the same reason: an error line printed at once would time
 * the request that caused it.
 *
 * @module
 * @example
 * const counts = new DailyCounts();
 * counts.add('tips');
 * const stop = startDailyCountsLog(counts, console.log);
 * // just after midnight UTC → "2026-12-06: 41 tips, 7 follow-ups, 3 uploads, 0 errors"
 * // on a day the no-JavaScript budget ran dry, it ends "…, 0 errors; no-JavaScript budget ran dry, refused: 12 first tips"
 */
import { utcDay } from '../../crypto/day.ts';

export type CountedEvent = 'tips' | 'follow-ups' | 'uploads' | 'errors' | 'no-js-tips-refused' | 'no-js-follow-ups-refused';

const EVENTS: readonly CountedEvent[] = ['tips', 'follow-ups', 'uploads', 'errors'];
/** Shown only on a day they happened: the no-JavaScript budget ran dry (no-js-budget.ts) and sources were told "busy". */
const DRY_BUDGET: readonly [CountedEvent, string][] = [
  ['no-js-tips-refused', 'first tips'],
  ['no-js-follow-ups-refused', 'follow-ups'],
];

export class DailyCounts {
  private counts = new Map<CountedEvent, number>();
  private errorNames = new Map<string, number>();
  private day: string;

  constructor(private readonly clock: () => Date = () => new Date()) {
    this.day = utcDay(clock());
  }

  /** Counts one event on today's line. `errorName` (an error class) is shown beside the error count. */
  add(event: CountedEvent, errorName?: string): void {
    this.rollOver();
    this.counts.set(event, (this.counts.get(event) ?? 0) + 1);
    if (event === 'errors' && errorName) this.errorNames.set(errorName, (this.errorNames.get(errorName) ?? 0) + 1);
  }

  /**
   * The line for a day that has ended, once: returns it and starts counting
   * the new day. Undefined while the day lasts.
   */
  takeEndedDay(): string | undefined {
    return this.rollOver();
  }

  /** Today's counts so far, in the same form (for `serve`'s last line on shutdown, and tests). */
  today(): string {
    return this.line();
  }

  private rollOver(): string | undefined {
    const today = utcDay(this.clock());
    if (today === this.day) return undefined;
    const line = this.line();
    this.day = today;
    this.counts.clear();
    this.errorNames.clear();
    return line;
  }

  private line(): string {
    const parts = EVENTS.map((e) => `${this.counts.get(e) ?? 0} ${e}`);
    const names = [...this.errorNames].map(([name, n]) => `${name} ${n}`).join(', ');
    const dry = DRY_BUDGET.filter(([e]) => this.counts.get(e)).map(([e, what]) => `${this.counts.get(e)} ${what}`);
    const budget = dry.length ? `; no-JavaScript budget ran dry, refused: ${dry.join(', ')}` : '';
    return `${this.day}: ${parts.join(', ')}${names ? ` (${names})` : ''}${budget}`;
  }
}

/**
 * Looks every minute whether the UTC day has ended, and prints the ended
 * day's counts when it has (so the line appears within a minute after
 * midnight, whatever happened when). Returns a function that stops it.
 */
export function startDailyCountsLog(counts: DailyCounts, log: (line: string) => void, everyMs = 60_000): () => void {
  const timer = setInterval(() => {
    const line = counts.takeEndedDay();
    if (line) log(line);
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
