/**
 * Where attachment ciphertext lives: one file per upload in `<data>/blobs/`,
 * named by the upload's random id. Every path is built from a checked id and
 * then checked again to resolve inside the root (as SecureDrop's
 * `store_contains` does), so no name can reach outside it. Bytes stream to and
 * from disk; a file is never held whole in memory.
 *
 * @example
 * const blobs = await BlobStore.open('/srv/tipline/blobs');
 * await blobs.write(id, offset, request.body, { maxBytes });
 * const stream = blobs.read(id, 0);
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat, truncate } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
/** The file write stream's buffer: how much may wait for the disk before the request body is paused. */
const WRITE_BYTES = 1024 * 1024;

export class BlobPathError extends Error {
  override name = 'BlobPathError';
}
export class ChunkTooLargeError extends Error {
  override name = 'ChunkTooLargeError';
}

export class BlobStore {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<BlobStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    return new BlobStore(resolve(root));
  }

  path(id: string): string {
    if (!ID_RE.test(id)) throw new BlobPathError('not a blob id');
    const full = resolve(join(this.root, id));
    if (!full.startsWith(this.root + sep)) throw new BlobPathError('blob path outside the store');
    return full;
  }

  /**
   * Writes a chunk at `offset`, streaming, and fsyncs it. Stops with
   * ChunkTooLargeError once more than `maxBytes` arrive. On any error the file
   * is cut back to `offset`, so a failed chunk leaves nothing behind.
   *
   * `body` is the request's Web stream, or (faster, when the server hands it
   * over) the Node stream it comes from: a file write stream then takes the
   * pieces as they arrive, and while one write is on its way to disk the
   * pieces that came meanwhile are gathered into the next (writev), so the
   * network and the disk work at the same time.
   */
  async write(id: string, offset: number, body: ReadableStream<Uint8Array> | Readable | null, o: { maxBytes: number }): Promise<number> {
    const path = this.path(id);
    const file = await open(path, offset === 0 ? 'w' : 'r+', 0o600);
    let written = 0;
    try {
      // Bytes past the last acknowledged one (a chunk cut short, a crash) go first.
      await file.truncate(offset);
      if (!body) {
        await file.sync();
        await file.close();
        return 0;
      }
      const source = body instanceof Readable ? body : Readable.fromWeb(body as NodeReadableStream<Uint8Array>);
      const limit = new Transform({
        transform(piece: Buffer, _encoding, done) {
          if (written + piece.length > o.maxBytes) return done(new ChunkTooLargeError(`more than ${o.maxBytes} bytes`));
          written += piece.length;
          done(null, piece);
        },
      });
      // The write stream fsyncs (flush) and then closes the file when the body has ended.
      await pipeline(source, limit, file.createWriteStream({ start: offset, highWaterMark: WRITE_BYTES, flush: true }));
      return written;
    } catch (e) {
      await file.close().catch(() => {});
      await truncate(path, offset).catch(() => {});
      throw e;
    }
  }

  /** A Web stream of the blob from `start` (for resumable downloads). */
  read(id: string, start = 0): ReadableStream<Uint8Array> {
    return Readable.toWeb(createReadStream(this.path(id), { start })) as ReadableStream<Uint8Array>;
  }

  /** Random access for the packet check: reads at most `length` bytes at `offset`. */
  async readAt(id: string, offset: number, length: number): Promise<Uint8Array> {
    const file = await open(this.path(id), 'r');
    try {
      const buffer = new Uint8Array(length);
      const { bytesRead } = await file.read(buffer, 0, length, offset);
      return buffer.subarray(0, bytesRead);
    } finally {
      await file.close();
    }
  }

  async size(id: string): Promise<number> {
    try {
      return (await stat(this.path(id))).size;
    } catch {
      return 0;
    }
  }

  async delete(id: string): Promise<void> {
    await rm(this.path(id), { force: true });
  }

  /** Blob ids whose files were last written more than `ageMs` ago. */
  async olderThan(ageMs: number, now = Date.now()): Promise<string[]> {
    const out: string[] = [];
    for (const name of await readdir(this.root)) {
      if (!ID_RE.test(name)) continue;
      const s = await stat(join(this.root, name)).catch(() => undefined);
      if (s && now - s.mtimeMs > ageMs) out.push(name);
    }
    return out;
  }

  /** Every blob id on disk. */
  async ids(): Promise<string[]> {
    return (await readdir(this.root)).filter((n) => ID_RE.test(n));
  }
}
