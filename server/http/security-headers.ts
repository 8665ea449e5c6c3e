/**
 * The page rules from DESIGN.md as response headers, on every response:
 * pages, static files, API answers, 404s and errors.
 *
 * @example
 * app.use('*', securityHeaders({ onion: 'abc…xyz.onion' }));
 */
import type { MiddlewareHandler } from 'hono';

export type SecurityHeadersOptions = {
  /** The onion address (without scheme). When set, `Onion-Location` points Tor Browser to it. */
  onion?: string | undefined;
};

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const FIXED_HEADERS: Record<string, string> = {
  'Content-Security-Policy': CONTENT_SECURITY_POLICY,
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Permissions-Policy': 'camera=(), microphone=(), geolocation=(), interest-cohort=()',
};

export function securityHeaders(options: SecurityHeadersOptions = {}): MiddlewareHandler {
  const onion = options.onion ? normaliseOnion(options.onion) : undefined;
  return async function securityHeadersMiddleware(c, next) {
    await next();
    const headers = c.res.headers;
    for (const [name, value] of Object.entries(FIXED_HEADERS)) headers.set(name, value);
    for (const name of ['Server', 'X-Powered-By', 'ETag', 'Last-Modified']) headers.delete(name);
    if (onion) headers.set('Onion-Location', `http://${onion}${onionPath(c.req.url)}`);
  };
}

/**
 * The path for `Onion-Location`: the request's path as it came, still
 * percent-encoded (never decoded: a decoded `%00`, `%0d%0a` or `€` is not a
 * legal header value, and a decoded `%2F%2F` could change what the URL
 * means), and only when it is plain visible ASCII; anything else is `/`.
 * The host is always the configured onion, so the header never leads off site.
 */
export function onionPath(url: string): string {
  let path: string;
  try {
    path = new URL(url).pathname;
  } catch {
    return '/';
  }
  return /^\/(?!\/)[!-~]*$/.test(path) && !path.includes('\\') ? path : '/';
}

function normaliseOnion(onion: string): string {
  const host = onion.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
  if (!/^[a-z2-7]{56}\.onion$/.test(host)) throw new RangeError(`not a v3 onion address: ${onion}`);
  return host;
}
