/**
 * Recognises "the disk is full" in whatever form the storage layer reports
 * it: Node's `ENOSPC`/`EDQUOT` from a file write, SQLite's `SQLITE_FULL`
 * (better-sqlite3), PostgreSQL's SQLSTATE 53100 `disk_full` (node-postgres).
 * A full disk is the operator's problem, not a server bug, and the source
 * must read that nothing was stored and to come back later: app.ts answers
 * 503 `storage-full` in the source's language instead of a bare 500.
 *
 * @module
 * @example
 * if (isStorageFull(err)) return c.json(errorBody('storage-full', t('storage.full')), 503);
 */

const FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL', '53100']);

/** True when `err`, or an error it wraps (`cause`, a few levels deep), says the storage is full. */
export function isStorageFull(err: unknown): boolean {
  let e: unknown = err;
  for (let depth = 0; depth < 5 && e && typeof e === 'object'; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && FULL_CODES.has(code)) return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
