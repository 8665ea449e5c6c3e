/**
 * Where attachment ciphertext lives, behind one interface:
 *
 * - {@link RowBlobStore} (row-blob-store.ts): rows of about 1 MiB in the
 *   database, on SQLite and on PostgreSQL. This is what {@link openBlobStore}
 *   opens. On SQLite it first moves the files an older version kept in
 *   `<data>/blobs/` into rows (import-blob-files.ts);
 * - {@link FileBlobStore} (blob-store.ts): one file per upload in a folder.
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
import type { Readable } from 'node:stream';
import type { TiplineDb } from '../db/open-database.ts';
import { isPostgres } from '../db/dialect.ts';
import { importBlobFiles } from './import-blob-files.ts';
import { RowBlobStore } from './row-blob-store.ts';

/**
 * A chunk's bytes: the request's Web stream, or under `tipline serve` the Node
 * request stream itself (faster: see requestBody in server/http/read-body.ts).
 */
export type BlobBody = ReadableStream<Uint8Array> | Readable | null;

export type BlobWriteOptions = {
  maxBytes: number;
  /**
   * Runs once the bytes are stored, before they count: on PostgreSQL inside
   * the transaction that makes them visible (`trx`), so when it throws they
   * never appear; on files just after the fsync (`trx` undefined), and a
   * throw cuts the file back to `offset`. The upload store uses it to move
   * its byte count in the same step.
   */
  commit?: (written: number, trx: TiplineDb | undefined) => Promise<void>;
};

export type BlobReplaceOptions = {
  maxBytes: number;
  /**
   * Swap only if the stored blob still begins with these bytes when the new
   * content goes in; else throw BlobChangedError (blob-store.ts), the old
   * content as it was. On PostgreSQL this is checked in the transaction that
   * swaps, under the blob's row lock, so it holds across instances: it is
   * what makes a re-key's compare-and-swap safe on several at once.
   */
  ifStartsWith?: Uint8Array;
};

export interface BlobStore {
  /**
   * Writes `body` at `offset` (at most the blob's current size; 0 starts the
   * blob afresh), replacing whatever was stored from there on. Throws
   * ChunkTooLargeError once more than `maxBytes` arrive. On any error the
   * bytes before `offset` are as they were; what followed `offset` is cut off
   * (files) or kept (rows). Returns the bytes written.
   */
  write(id: string, offset: number, body: BlobBody, o: BlobWriteOptions): Promise<number>;
  /**
   * Writes a whole new content aside, then swaps it in for the old one at
   * once; on any error the old content stays as it was. Returns bytes written.
   */
  replace(id: string, body: ReadableStream<Uint8Array>, o: BlobReplaceOptions): Promise<number>;
  /** A Web stream of the blob from byte `start` (for resumable downloads). */
  read(id: string, start?: number): ReadableStream<Uint8Array>;
  /** Random access for the packet check: at most `length` bytes at `offset`. */
  readAt(id: string, offset: number, length: number): Promise<Uint8Array>;
  /** The blob's size in bytes, 0 when there is none. */
  size(id: string): Promise<number>;
  delete(id: string): Promise<void>;
  /** Blob ids last written more than `ageMs` before `now`. */
  olderThan(ageMs: number, now?: number): Promise<string[]>;
  /** Every blob id in the store. */
  ids(): Promise<string[]>;
  /** Removes what interrupted writes left behind, once it is older than `ageMs`. */
  sweepAbandoned(ageMs: number, now?: number): Promise<void>;
}

/** The row store on `db`; on SQLite, after moving any blob files left in `blobDir` by an older version into it. */
export async function openBlobStore(db: TiplineDb, blobDir: string): Promise<BlobStore> {
  const rows = new RowBlobStore(db);
  if (!isPostgres(db)) await importBlobFiles(blobDir, rows);
  return rows;
}
