/**
 * The row store under its first name: PostgreSQL had it before SQLite did
 * (see row-blob-store.ts, which serves both now).
 *
 * @example
 * const blobs = new PostgresBlobStore(db);
 */
export { CHUNK_BYTES, NoSuchBlobError, RowBlobStore as PostgresBlobStore } from './row-blob-store.ts';
