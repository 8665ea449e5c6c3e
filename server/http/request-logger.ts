/**
 * A request logger that can't leak a source: it prints the method, the *route
 * pattern* (`/api/v1/journalist/tips/:id`, never the real path or query string),
 * the status and the duration. No address, no headers, no body.
 *
 * @example
 * app.use('*', requestLogger((line) => console.log(line)));
 * // → "POST /api/v1/tips 201 12ms"
 */
import type { MiddlewareHandler } from 'hono';
import { routePath } from 'hono/route';

export function requestLogger(log: (line: string) => void): MiddlewareHandler {
  return async function requestLoggerMiddleware(c, next) {
    const started = performance.now();
    await next();
    const pattern = routePath(c, -1);
    const route = pattern === '*' || pattern === '/*' || pattern === '' ? '(unmatched)' : pattern;
    log(`${c.req.method} ${route} ${c.res.status} ${Math.round(performance.now() - started)}ms`);
  };
}
