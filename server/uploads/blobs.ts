/**
 * Where attachment ciphertext lives, behind one interface:
 *
 * - {@link RowBlobStore} (row-blob-store.ts): rows of about 1 MiB in the
 *   database, on SQLite and on PostgreSQL. This is what {@link openBlobStore}
 *   opens. On SQLite it first moves the files an older version kept in
 *   `<data>/blobs/` into rows (import-blob-files.ts);
 * - {@link FileBlobStore} (file-blob-store.ts): one file per upload in a folder.
 *   No longer used for tips (a file's birth time is its upload's time, to the
 *   second), kept for its tests and as the reader of old folders.
 *
 * Both stream: no blob is ever held whole in memory.
 *
 * @example
 * const blobs = await openBlobStore(db, '/srv/tipline/blobs');
 * await blobs.write(id, 0, request.body, { maxBytes });
 * const stream = blobs.read(id, 4096); // resume a download at byte 4096
 */
import type { TiplineDb } from '../db/open-database.ts';
import { isPostgres } from '../db/dialect.ts';
import { importBlobFiles } from './import-blob-files.ts';
import { RowBlobStore } from './row-blob-store.ts';
import type { BlobStore } from './blob-store.ts';

export type { BlobBody, BlobReplaceOptions, BlobStore, BlobWriteOptions } from './blob-store.ts';

/** The row store on `db`; on SQLite, after moving any blob files left in `blobDir` by an older version into it. */
export async function openBlobStore(db: TiplineDb, blobDir: string): Promise<BlobStore> {
  const rows = new RowBlobStore(db);
  if (!isPostgres(db)) await importBlobFiles(blobDir, rows);
  return rows;
}
