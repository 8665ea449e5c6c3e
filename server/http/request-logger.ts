/**
 * The request "logger": for source-facing routes (pages, tips, uploads, login,
 * replies) it prints nothing per request and only counts tips, follow-ups,
 * uploads and errors into {@link DailyCounts} (one line a day, see
 * daily-counts.ts). A timestamped line per request would time each source's
 * action to the second, under journald or Docker.
 *
 * Journalist routes (`/api/v1/journalist/…`) still print a line each: what a
 * journalist did, and when, times no source. It holds the method, the *route
 * pattern* (never the real path or query string), the status and, for errors,
 * the error's class name. No address, no headers, no body, no duration.
 *
 * @example
 * app.use('*', requestLogger({ log: console.log, counts }));
 * // a tip → nothing now, "2026-12-06: 1 tips, …" after midnight
 * // a journalist's list → "GET /api/v1/journalist/tips 200"
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';
import type { CountedEvent, DailyCounts } from './daily-counts.ts';

/** Successful source requests that count, by method and route pattern. */
const COUNTED: Record<string, CountedEvent> = {
  'POST /api/v1/tips': 'tips',
  'POST /submit': 'tips',
  'POST /api/v1/source/followups': 'follow-ups',
  'POST /inbox/reply': 'follow-ups',
  'POST /api/v1/uploads': 'uploads',
};

export function requestLogger(o: { log: (line: string) => void; counts: DailyCounts }): MiddlewareHandler {
  return async function requestLoggerMiddleware(c, next) {
    await next();
    const pattern = routePath(c, -1).replace(/(.)\/$/, '$1');
    const route = pattern === '*' || pattern === '/*' || pattern === '' ? '(unmatched)' : pattern;
    const status = c.res.status;
    // The class name only: an error message can quote request data.
    const failed = status >= 500 ? ` error ${c.error?.name ?? 'unknown'}` : '';
    if (route.startsWith('/api/v1/journalist/')) {
      o.log(`${c.req.method} ${route} ${status}${failed}`);
      return;
    }
    if (status >= 500) o.counts.add('errors', c.error?.name ?? 'unknown');
    else if (status < 300) {
      const event = COUNTED[`${c.req.method} ${route}`];
      if (event) o.counts.add(event);
    }
  };
}
