/**
 * The asset lock (`dist/assets.lock.json`): what a source's browser may load
 * from this release, so that anyone can check a running tip line against it.
 *
 * A server we don't control can serve JavaScript that leaks a tip before it is
 * encrypted. We can't prevent that, but we can make it visible: the build is
 * reproducible, `npm run build` writes this lock, the newsroom publishes the
 * lock's SHA-256 with each release, and `tipline verify` fetches what the server
 * really serves and compares.
 *
 * The lock names, for each release:
 * - every file under `/static/` (path, size, SHA-256, and the Subresource
 *   Integrity value pages must carry for it);
 * - for each source page and language, the scripts, stylesheets and icon the
 *   page references, with their SRI, and the page's dynamic parts by name. The
 *   pages' HTML itself is not hashed: it holds per-server values (the newsroom
 *   key, the onion address, desks) that a watcher could not reproduce;
 * - the Content-Security-Policy every page is served with (it is what stops
 *   inline script).
 *
 * Only hashing and the format live here; no I/O.
 *
 * @module
 * @example
 * import { parseAssetLock, subresourceIntegrity, sha256Hex } from './asset-lock.ts';
 * subresourceIntegrity(bytes); // 'sha384-…' (what goes in `integrity="…"`)
 * sha256Hex(bytes);            // 64 hex digits
 * const lock = parseAssetLock(await readFile('dist/assets.lock.json')); // throws AssetLockError
 */
import { sha256, sha384 } from '@noble/hashes/sha2.js';
import * as z from 'zod';
import { abytes, base64, hex, utf8 } from './bytes.ts';

export const ASSET_LOCK_FORMAT = 'tipline-assets-lock/1';
/** Where the server serves `dist/public/`: `dist/public/page.js` is `/static/page.js`. */
export const STATIC_PREFIX = '/static/';

/** The Subresource Integrity value of some bytes: `sha384-` and the base64 digest. */
export function subresourceIntegrity(bytes: Uint8Array): string {
  return `sha384-${base64.encode(sha384(abytes(bytes, undefined, 'bytes')))}`;
}

export function sha256Hex(bytes: Uint8Array): string {
  return hex.encode(sha256(abytes(bytes, undefined, 'bytes')));
}

const Sha256 = z.string().regex(/^[0-9a-f]{64}$/);
const Integrity = z.string().regex(/^sha384-[A-Za-z0-9+/]{64}$/);
const StaticPath = z.string().regex(/^\/static\/[A-Za-z0-9._/-]+$/).refine((p) => !p.split('/').includes('..'));

const LockedAsset = z.strictObject({
  /** The URL path, e.g. `/static/chunks/send-tip-ZR56UGNW.js`. */
  path: StaticPath,
  size: z.number().int().nonnegative(),
  sha256: Sha256,
  integrity: Integrity,
});

const PageReference = z.strictObject({
  element: z.enum(['script', 'link']),
  /** For `<link>`: its `rel` (stylesheet, icon…). */
  rel: z.string().optional(),
  url: StaticPath,
  integrity: Integrity,
});

const LockedPage = z.strictObject({
  /** What the page is: landing, submit, login, success, inbox, message (errors and notices). */
  page: z.string().min(1),
  /** How a source reaches it, e.g. `GET /submit`. */
  route: z.string().min(1),
  lang: z.string().min(1),
  /** The parts of the HTML that differ between servers or requests, by name. */
  dynamic: z.array(z.string()),
  /** Every `<script src>` and `<link href>` on the page, in document order. */
  references: z.array(PageReference),
});

const AssetLockSchema = z.strictObject({
  format: z.literal(ASSET_LOCK_FORMAT),
  /** The release version (package.json). */
  release: z.string().min(1),
  contentSecurityPolicy: z.string().min(1),
  /** Sorted by path. */
  assets: z.array(LockedAsset),
  pages: z.array(LockedPage),
});

export type LockedAsset = z.infer<typeof LockedAsset>;
export type PageReference = z.infer<typeof PageReference>;
export type LockedPage = z.infer<typeof LockedPage>;
export type AssetLock = z.infer<typeof AssetLockSchema>;

export class AssetLockError extends Error {
  override name = 'AssetLockError';
}

/** Reads a lock file's bytes; throws {@link AssetLockError} saying what is wrong. */
export function parseAssetLock(bytes: Uint8Array): AssetLock {
  let json: unknown;
  try {
    json = JSON.parse(utf8.decode(bytes));
  } catch {
    throw new AssetLockError('the asset lock is not JSON');
  }
  const parsed = AssetLockSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AssetLockError(`the asset lock is malformed at ${issue.path.join('.') || 'the top'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * The lock's bytes: pretty-printed so a release diff reads well, with a final
 * newline. Deterministic for a given lock (the writer sorts what it puts in).
 */
export function serializeAssetLock(lock: AssetLock): Uint8Array {
  return utf8.encode(`${JSON.stringify(AssetLockSchema.parse(lock), null, 2)}\n`);
}
