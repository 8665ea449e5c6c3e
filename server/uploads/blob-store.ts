/**
 * The file {@link BlobStore} (blobs.ts), for one instance: one file per upload in `<data>/blobs/`,
 * named by the upload's random id. Every path is built from a checked id and
 * then checked again to resolve inside the root (as SecureDrop's
 * `store_contains` does), so no name can reach outside it. Bytes stream to and
 * from disk; a file is never held whole in memory.
 *
 * @example
 * const blobs = await FileBlobStore.open('/srv/tipline/blobs');
 * await blobs.write(id, offset, request.body, { maxBytes });
 * const stream = blobs.read(id, 0);
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import type { BlobStore, BlobWriteOptions } from './blobs.ts';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
/** Bytes gathered before each write to the blob file. */
const WRITE_BYTES = 1024 * 1024;

export class BlobPathError extends Error {
  override name = 'BlobPathError';
}
export class ChunkTooLargeError extends Error {
  override name = 'ChunkTooLargeError';
}

export class FileBlobStore implements BlobStore {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<FileBlobStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    return new FileBlobStore(resolve(root));
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
   */
  async write(id: string, offset: number, body: ReadableStream<Uint8Array> | null, o: BlobWriteOptions): Promise<number> {
    const file = await open(this.path(id), offset === 0 ? 'w' : 'r+', 0o600);
    let written = 0;
    // The body arrives in pieces of 64 KiB or less; gathering them into bigger writes
    // makes one trip to the file system per WRITE_BYTES instead of one per piece.
    const pending = new Uint8Array(WRITE_BYTES);
    let filled = 0;
    const flush = async () => {
      for (let at = 0; at < filled; ) at += (await file.write(pending, at, filled - at, offset + written - filled + at)).bytesWritten;
      filled = 0;
    };
    try {
      if (body) {
        const reader = body.getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          if (written + value.length > o.maxBytes) {
            await reader.cancel().catch(() => {});
            throw new ChunkTooLargeError(`more than ${o.maxBytes} bytes`);
          }
          for (let at = 0; at < value.length; ) {
            const n = Math.min(value.length - at, WRITE_BYTES - filled);
            pending.set(value.subarray(at, at + n), filled);
            filled += n;
            written += n;
            at += n;
            if (filled === WRITE_BYTES) await flush();
          }
        }
        await flush();
      }
      await file.truncate(offset + written);
      await file.sync();
      await o.commit?.(written, undefined);
      return written;
    } catch (e) {
      await file.truncate(offset).catch(() => {});
      throw e;
    } finally {
      await file.close();
    }
  }

  /** Writes the new content to a file beside the old one, then renames it over the old one. */
  async replace(id: string, body: ReadableStream<Uint8Array>, o: { maxBytes: number }): Promise<number> {
    const target = this.path(id);
    await stat(target);
    const aside = `${target}.replacing`;
    try {
      await this.writeFile(aside, body, o.maxBytes);
      await rename(aside, target);
    } catch (e) {
      await rm(aside, { force: true });
      throw e;
    }
    return (await stat(target)).size;
  }

  private async writeFile(path: string, body: ReadableStream<Uint8Array>, maxBytes: number): Promise<void> {
    const file = await open(path, 'w', 0o600);
    try {
      let written = 0;
      const reader = body.getReader();
      for (let next = await reader.read(); !next.done; next = await reader.read()) {
        const value = next.value;
        written += value.length;
        if (written > maxBytes) {
          await reader.cancel().catch(() => {});
          throw new ChunkTooLargeError(`more than ${maxBytes} bytes`);
        }
        for (let at = 0; at < value.length; ) at += (await file.write(value, at)).bytesWritten;
      }
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** Nothing to do: a `.replacing` file an interrupted replace left is overwritten by the next one, and no id names it. */
  async sweepAbandoned(): Promise<void> {}

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
