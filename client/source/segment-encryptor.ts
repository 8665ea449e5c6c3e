/**
 * Encrypts and hashes an attachment segment by segment in a pool of Web
 * Workers (segment-worker.ts), several segments at once, and hands the
 * segments (each a complete OpenPGP message, crypto/segmented-envelope.ts)
 * on in order; the file's hash (crypto/piece-hash.ts, "sha256-pieces") is
 * ready once the last one is. Each worker reads its segment's piece of the
 * file itself, once, for both (file-segments.ts): the page never holds the
 * file's bytes, and no piece is copied on its way to a worker. Where no
 * worker starts (or one fails to load), the segments are made on the page
 * instead, the same way.
 *
 * Pull-based: a segment is read from the file only when the upload asks for
 * more and fewer than {@link SEGMENTS_PER_WORKER} per worker are in flight.
 * Two per worker, so that a worker reads its next segment while it encrypts
 * this one (docs/performance.md has what one, two and three gave). So when
 * the upload waits (the source pressed Pause, a chunk is being resent),
 * reading, hashing and encrypting stop too, after at most the segments already in flight; memory
 * is bounded by those few 4 MiB segments, whatever the file's size.
 *
 * @example
 * const fileKey = await createFileKey(keys);
 * const { segments, hash } = encryptFile(file, fileKey);
 * // … read `segments` to the end …
 * const { sha256, size, hashFormat } = await hash;
 */
import { PIECE_HASH_FORMAT, pieceHashRoot } from '../../crypto/piece-hash.ts';
import { importSegmentKey, type FileKey } from '../../crypto/segmented-envelope.ts';
import { encryptFileSegment, FileChangedError, pieceCount, segmentCount } from './file-segments.ts';

/** The worker's script, built from segment-worker.ts next to page.js (build.mjs). */
const WORKER_URL = '/static/segment-worker.js';

export type FileHash = { sha256: string; size: number; hashFormat: typeof PIECE_HASH_FORMAT };

type Segment = { message: Uint8Array; pieceDigest: Uint8Array | undefined };
type Encrypt = (index: number) => Promise<Segment>;

/** Segments each worker is given at a time (see above). */
const SEGMENTS_PER_WORKER = 2;

/** Workers to start: one per core the browser admits to, 2 to 4. */
function defaultParallel(): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency || 2 : 2;
  return Math.max(2, Math.min(4, cores));
}

/**
 * `segments` gives the file's segments in order and ends after the last;
 * `hash` settles once it has (and rejects if the stream failed or was cancelled).
 */
export function encryptFile(file: Blob, fileKey: FileKey, o: { now?: Date; parallel?: number } = {}): { segments: ReadableStream<Uint8Array>; hash: Promise<FileHash> } {
  const now = o.now ?? new Date();
  const size = file.size;
  const count = segmentCount(size);
  const pieces = pieceCount(size);
  const pool = startPool(file, fileKey, now, o.parallel ?? defaultParallel());
  const inFlight: Promise<Segment>[] = [];
  const digests: Uint8Array[] = [];
  let next = 0;
  let settle: { resolve: (h: FileHash) => void; reject: (e: unknown) => void };
  const hash = new Promise<FileHash>((resolve, reject) => (settle = { resolve, reject }));
  hash.catch(() => {}); // a caller that stops reading may never ask for it
  const fail = (e: unknown) => {
    pool.stop();
    settle.reject(e);
  };
  const segments = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          while (next < count && inFlight.length < pool.size * SEGMENTS_PER_WORKER) {
            const job = pool.encrypt(next++);
            job.catch(() => {}); // awaited in order below
            inFlight.push(job);
          }
          const job = inFlight.shift();
          if (!job) {
            pool.stop();
            if (digests.length !== pieces) throw new Error(`hashed ${digests.length} pieces of ${pieces}`);
            settle.resolve({ sha256: pieceHashRoot(digests), size, hashFormat: PIECE_HASH_FORMAT });
            controller.close();
            return;
          }
          const { message, pieceDigest } = await job;
          if (pieceDigest) digests.push(pieceDigest);
          controller.enqueue(message);
        } catch (e) {
          fail(e);
          throw e;
        }
      },
      cancel(reason) {
        fail(reason ?? new Error('cancelled'));
      },
    },
    { highWaterMark: 0 },
  );
  return { segments, hash };
}

/** Workers taking turns, or the page itself when none starts. */
function startPool(file: Blob, fileKey: FileKey, now: Date, parallel: number): { size: number; encrypt: Encrypt; stop: () => void } {
  let local: Promise<Encrypt> | undefined;
  const onPage: Encrypt = async (index) => {
    local ??= importSegmentKey(fileKey, now).then((key) => (i: number) => encryptFileSegment(key, file, i));
    return (await local)(index);
  };
  const workers: SegmentWorker[] = [];
  try {
    for (let i = 0; i < parallel; i++) workers.push(new SegmentWorker(file, fileKey, now, onPage));
  } catch {
    for (const w of workers) w.stop();
    return { size: parallel, encrypt: onPage, stop: () => {} };
  }
  let turn = 0;
  return {
    size: workers.length,
    encrypt: (index) => workers[turn++ % workers.length]!.encrypt(index),
    stop: () => workers.forEach((w) => w.stop()),
  };
}

type Reply = { seq: number; message?: ArrayBuffer; offset?: number; length?: number; pieceDigest?: ArrayBuffer; error?: string; fileChanged?: boolean };

/** One worker and the segments it was given, answered in the order they were sent. */
class SegmentWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { index: number; resolve: (s: Segment) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private broken = false;

  constructor(
    file: Blob,
    fileKey: FileKey,
    now: Date,
    private readonly fallback: Encrypt,
  ) {
    this.worker = new Worker(WORKER_URL, { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<Reply>) => {
      const job = this.waiting.get(e.data.seq);
      if (!job) return;
      this.waiting.delete(e.data.seq);
      const { message, offset, length, pieceDigest } = e.data;
      if (message) job.resolve({ message: new Uint8Array(message, offset ?? 0, length ?? message.byteLength), pieceDigest: pieceDigest && new Uint8Array(pieceDigest) });
      else job.reject(e.data.fileChanged ? new FileChangedError(e.data.error ?? 'the file changed') : new Error(e.data.error ?? 'segment worker failed'));
    };
    // The worker could not load (a dropped connection): its segments are made on the page.
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.broken = true;
      for (const [seq, job] of this.waiting) {
        this.waiting.delete(seq);
        this.fallback(job.index).then(job.resolve, job.reject);
      }
    };
    // The key is copied to the worker (structured clone), never transferred away from the page.
    // The File goes as a reference to the same file on disk, not as its bytes.
    this.worker.postMessage({ init: { sessionKey: fileKey.sessionKey, keyPackets: fileKey.keyPackets, now: now.getTime(), file } });
  }

  encrypt(index: number): Promise<Segment> {
    if (this.broken) return this.fallback(index);
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { index, resolve, reject });
      this.worker.postMessage({ seq, index });
    });
  }

  stop(): void {
    this.worker.terminate();
  }
}
