/**
 * The interface every attachment store implements, and what they share: the
 * errors they throw and the run writer. Stores (row-blob-store.ts, and
 * file-blob-store.ts for old folders) import this file; the choice of store is
 * blobs.ts's. Nothing here imports a store, so there is no circle.
 *
 * @module
 * @example
 * import type { BlobStore } from './blob-store.ts';
 * async function size(blobs: BlobStore, id: string) { return blobs.size(id); }
 */
import type { Readable } from 'node:stream';
import type { TiplineDb } from '../db/open-database.ts';
import { bodyPieces } from '../http/read-body.ts';

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

export class BlobPathError extends Error {
  override name = 'BlobPathError';
}
export class ChunkTooLargeError extends Error {
  override name = 'ChunkTooLargeError';
}
/** The blob is not the content the operation was for any more: replaced or deleted meanwhile. */
export class BlobChangedError extends Error {
  override name = 'BlobChangedError';
}

/**
 * Reads `body` and hands it on in runs of `runBytes` (the last one may be
 * shorter), so a store makes one write, or one row, per run instead of one
 * per network piece (64 KiB or less). Throws ChunkTooLargeError once more
 * than `maxBytes` arrive; any throw stops the body. Each run is a view of one
 * reused buffer, so `store` must be done with it when its promise settles.
 * `at` is where the run starts, counted from the body's first byte. Returns
 * the bytes read.
 *
 * @example
 * const n = await writeInRuns(body, { runBytes: 1 << 20, maxBytes }, (run, at) => file.write(run, 0, run.length, at));
 */
export async function writeInRuns(body: NonNullable<BlobBody>, o: { runBytes: number; maxBytes: number }, store: (run: Uint8Array, at: number) => Promise<unknown>): Promise<number> {
  const pending = new Uint8Array(o.runBytes);
  let filled = 0;
  let written = 0;
  for await (const piece of bodyPieces(body)) {
    if (written + piece.length > o.maxBytes) throw new ChunkTooLargeError(`more than ${o.maxBytes} bytes`);
    for (let at = 0; at < piece.length; ) {
      const n = Math.min(piece.length - at, o.runBytes - filled);
      pending.set(piece.subarray(at, at + n), filled);
      filled += n;
      written += n;
      at += n;
      if (filled === o.runBytes) {
        await store(pending, written - filled);
        filled = 0;
      }
    }
  }
  if (filled > 0) await store(pending.subarray(0, filled), written - filled);
  return written;
}
