/**
 * Refuses cross-site posts to the source side (login CSRF: another site
 * logging a source into a conversation of its choosing, or out of theirs;
 * follow-ups and reply deletions made in a source's name). Decided from what
 * the browser itself says, with no token and no state:
 *
 * - `Sec-Fetch-Site` (Tor Browser and every current browser send it, and a
 *   page cannot forge it): `same-origin` and `none` (typed, bookmarked) pass;
 *   `cross-site` and `same-site` (another onion or subdomain) are refused.
 * - Without it (older browsers), `Origin`: refused when it names another
 *   host than this one (the request's Host, or the configured onion).
 *   `Origin: null` passes: our pages send `Referrer-Policy: no-referrer`,
 *   under which browsers send `null` for the tip line's own form posts.
 * - Neither header (curl, the journalist CLI, scripts): passes. A cross-site
 *   request from a browser always carries one of them.
 *
 * Journalist routes (`/api/v1/journalist/…`) are not checked: they take a
 * bearer token, which a browser never adds by itself.
 *
 * @module
 * @example
 * app.use('*', refuseCrossSite({ onion: 'abc…xyz.onion' }));
 */
import type { MiddlewareHandler } from 'hono';
import { ApiError } from './api-error.ts';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Thrown for a refused post; app.ts shows it in the source's language. */
export class CrossSiteError extends ApiError {
  override name = 'CrossSiteError';
  constructor() {
    super(403, 'cross-site', 'This request came from another website and was refused. Open the tip line yourself and try again.');
  }
}

export function refuseCrossSite(o: { onion?: string | undefined } = {}): MiddlewareHandler {
  const onionHost = o.onion?.replace(/^https?:\/\//, '').replace(/\/.*$/, '').toLowerCase();
  return async function refuseCrossSiteMiddleware(c, next) {
    if (!SAFE_METHODS.has(c.req.method) && !c.req.path.startsWith('/api/v1/journalist/')) {
      if (isCrossSite(c.req.header('sec-fetch-site'), c.req.header('origin'), new URL(c.req.url).host.toLowerCase(), onionHost)) throw new CrossSiteError();
    }
    await next();
  };
}

/** The decision alone, for tests: true means refuse. */
export function isCrossSite(secFetchSite: string | undefined, origin: string | undefined, ownHost: string, onionHost?: string): boolean {
  if (secFetchSite !== undefined) return !['same-origin', 'none'].includes(secFetchSite.trim().toLowerCase());
  if (origin === undefined || origin.trim() === 'null') return false;
  let host: string;
  try {
    const url = new URL(origin.trim());
    if (url.protocol !== 'http:' && url.protocol !== 'https:') return true;
    host = url.host.toLowerCase();
  } catch {
    return true;
  }
  return host !== ownHost && host !== onionHost;
}
