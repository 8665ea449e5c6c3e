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
 * await blobs.replace(id, rekeyedStream, { maxBytes }); // whole new content, swapped in atomically
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join, resolve, sep } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { BlobChangedError, BlobPathError, ChunkTooLargeError, writeInRuns, type BlobBody, type BlobReplaceOptions, type BlobStore, type BlobWriteOptions } from './blob-store.ts';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
/** The file write stream's buffer: how much may wait for the disk before the request body is paused. */
const WRITE_BYTES = 1024 * 1024;
/** Where {@link BlobStore.replace} writes the new content first: `<id>.replacing-<random>`, a name no id matches. */
const STAGING_RE = /^[A-Za-z0-9_-]{22}\.replacing-[0-9a-f]{16}$/;
/** A staging file this old is left over from a crash (a replace in progress writes to it all the time). */
const STALE_STAGING_MS = 24 * 60 * 60 * 1000;
/** How much of a replaced blob {@link BlobStore.replace} overwrites: more than the key packets of any attachment. */
const WIPE_BYTES = 64 * 1024;

export class FileBlobStore implements BlobStore {
  private constructor(readonly root: string) {}

  static async open(root: string): Promise<FileBlobStore> {
    await mkdir(root, { recursive: true, mode: 0o700 });
    const store = new FileBlobStore(resolve(root));
    await store.sweepAbandoned(STALE_STAGING_MS);
    return store;
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
  async write(id: string, offset: number, body: BlobBody, o: BlobWriteOptions): Promise<number> {
    const path = this.path(id);
    const file = await open(path, offset === 0 ? 'w' : 'r+', 0o600);
    let written = 0;
    try {
      // Bytes past the last acknowledged one (a chunk cut short, a crash) go first.
      await file.truncate(offset);
      if (!body) {
        await file.sync();
        await file.close();
        await o.commit?.(0, undefined);
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
      // Only now do the bytes count (the upload's byte count moves here); if that fails, they are cut off below.
      await o.commit?.(written, undefined);
      return written;
    } catch (e) {
      await file.close().catch(() => {});
      await truncate(path, offset).catch(() => {});
      throw e;
    }
  }

  /**
   * Replaces the whole content of an existing blob with `body`, streaming:
   * the new bytes go to a staging file in the blob folder, are fsynced, and
   * only then is it renamed over the blob (and the folder fsynced), so a
   * reader sees the old content or the new, never a mix. On any error (the
   * body stream errors, more than `maxBytes` arrive: ChunkTooLargeError, the
   * disk is full) the old blob is left as it was and the staging file is
   * removed. Returns the new size. Used to re-key attachments.
   *
   * Once the new content is in place, the first {@link WIPE_BYTES} of the old
   * file are overwritten with zeros before its blocks are freed: after a
   * re-key they are the old key packets, which still open the attachment with
   * a removed journalist's key, and must not linger on the disk (like
   * `secure_delete` for the database; a copy-on-write file system or an SSD
   * may still keep old blocks). A download that opened the old file just
   * before the swap and has not read its start yet gets zeros there, fails
   * its check when decrypted, and is fetched again.
   */
  async replace(id: string, body: ReadableStream<Uint8Array>, o: BlobReplaceOptions): Promise<number> {
    const target = this.path(id);
    // Replacing is for blobs that exist; this throws (ENOENT) before anything is written otherwise.
    await stat(target);
    const staging = join(this.root, `${id}.replacing-${randomBytes(8).toString('hex')}`);
    const file = await open(staging, 'wx', 0o600);
    let closed = false;
    let replaced: FileHandle | undefined;
    let written = 0;
    try {
      written = await writeInRuns(body, { runBytes: WRITE_BYTES, maxBytes: o.maxBytes }, async (run, at) => {
        for (let done = 0; done < run.length; ) done += (await file.write(run, done, run.length - done, at + done)).bytesWritten;
      });
      await file.sync();
      await file.close();
      closed = true;
      // Held open across the rename, to wipe it afterwards; fails (and nothing changes) if the blob was deleted meanwhile.
      replaced = await open(target, 'r+');
      // One instance, and BlobRekeying runs one re-key per blob at a time, so nothing can swap the file between this check and the rename.
      if (o.ifStartsWith && !(await startsWith(replaced, o.ifStartsWith))) throw new BlobChangedError('the blob changed before it could be replaced');
      await rename(staging, target);
    } catch (e) {
      // Leave no trace (writeInRuns has stopped the source already).
      if (!closed) await file.close().catch(() => {});
      await replaced?.close().catch(() => {});
      await rm(staging, { force: true }).catch(() => {});
      throw e;
    }
    try {
      // The rename is what makes the new content the blob's: make it survive a power cut too.
      const dir = await open(this.root, 'r');
      try {
        await dir.sync();
      } finally {
        await dir.close();
      }
      const { size } = await replaced.stat();
      const zeros = new Uint8Array(Math.min(size, WIPE_BYTES));
      await replaced.write(zeros, 0, zeros.length, 0);
      await replaced.sync();
    } catch {
      // The new content is the blob's already; a failed fsync or wipe must not report the swap as failed.
    } finally {
      await replaced.close().catch(() => {});
    }
    return written;
  }

  /** Staging files a crash left behind in the middle of a {@link replace} (the blob they were for is intact), once older than `ageMs`. */
  async sweepAbandoned(ageMs: number, now = Date.now()): Promise<void> {
    for (const name of await readdir(this.root)) {
      if (!STAGING_RE.test(name)) continue;
      const s = await stat(join(this.root, name)).catch(() => undefined);
      if (s && now - s.mtimeMs > ageMs) await rm(join(this.root, name), { force: true });
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

async function startsWith(file: FileHandle, prefix: Uint8Array): Promise<boolean> {
  const bytes = new Uint8Array(prefix.length);
  let filled = 0;
  while (filled < bytes.length) {
    const { bytesRead } = await file.read(bytes, filled, bytes.length - filled, filled);
    if (bytesRead === 0) return false;
    filled += bytesRead;
  }
  return Buffer.from(bytes).equals(prefix);
}
