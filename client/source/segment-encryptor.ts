/**
 * Encrypts an attachment's padded stream segment by segment in a pool of Web
 * Workers (segment-worker.ts), several segments at once, and hands the
 * segments (each a complete OpenPGP message, crypto/segmented-envelope.ts)
 * on in order. Where no worker starts (or one fails to load), the segments
 * are encrypted on the page instead, the same way.
 *
 * Pull-based: a segment is read from the file only when the upload asks for
 * more and fewer than `parallel` are in flight. So when the upload waits (the
 * source pressed Pause, a chunk is being resent), reading and encrypting stop
 * too, after at most the segments already in flight; memory is bounded by
 * those few 4 MiB segments, whatever the file's size.
 *
 * @example
 * const fileKey = await createFileKey(keys);
 * const ciphertext = encryptSegments(padFileStream(file.stream(), SEGMENT_BYTES), fileKey);
 */
import { encryptSegment, importSegmentKey, SEGMENT_BYTES, type FileKey } from '../../crypto/segmented-envelope.ts';

/** The worker's script, built from segment-worker.ts next to page.js (build.mjs). */
const WORKER_URL = '/static/segment-worker.js';

type Encrypt = (piece: Uint8Array) => Promise<Uint8Array>;

/** Workers to start: one per core the browser admits to, 2 to 4 (Tor Browser reports 2 whatever the machine has). */
function defaultParallel(): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency || 2 : 2;
  return Math.max(2, Math.min(4, cores));
}

/**
 * `padded` must come in pieces of at most SEGMENT_BYTES (padFileStream(…, SEGMENT_BYTES) does);
 * each piece becomes one segment. The returned stream ends after the last one.
 */
export function encryptSegments(padded: ReadableStream<Uint8Array>, fileKey: FileKey, o: { now?: Date; parallel?: number } = {}): ReadableStream<Uint8Array> {
  const now = o.now ?? new Date();
  const pool = startPool(fileKey, now, o.parallel ?? defaultParallel());
  const reader = padded.getReader();
  const inFlight: Promise<Uint8Array>[] = [];
  let ended = false;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        try {
          while (!ended && inFlight.length < pool.size) {
            const { done, value } = await reader.read();
            if (done) {
              ended = true;
              break;
            }
            if (value.length > SEGMENT_BYTES) throw new RangeError('a padded piece is larger than a segment');
            const job = pool.encrypt(value);
            job.catch(() => {}); // awaited in order below
            inFlight.push(job);
          }
          const next = inFlight.shift();
          if (!next) {
            pool.stop();
            controller.close();
            return;
          }
          controller.enqueue(await next);
        } catch (e) {
          pool.stop();
          throw e;
        }
      },
      cancel(reason) {
        pool.stop();
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** Workers taking turns, or the page itself when none starts. */
function startPool(fileKey: FileKey, now: Date, parallel: number): { size: number; encrypt: Encrypt; stop: () => void } {
  let local: Promise<Encrypt> | undefined;
  const onPage: Encrypt = async (piece) => {
    local ??= importSegmentKey(fileKey, now).then((key) => (p: Uint8Array) => encryptSegment(key, p));
    return (await local)(piece);
  };
  const workers: SegmentWorker[] = [];
  try {
    for (let i = 0; i < parallel; i++) workers.push(new SegmentWorker(fileKey, now, onPage));
  } catch {
    for (const w of workers) w.stop();
    return { size: parallel, encrypt: onPage, stop: () => {} };
  }
  let turn = 0;
  return {
    size: workers.length,
    encrypt: (piece) => workers[turn++ % workers.length]!.encrypt(piece),
    stop: () => workers.forEach((w) => w.stop()),
  };
}

/** One worker and the segments it was given, answered in the order they were sent. */
class SegmentWorker {
  private readonly worker: Worker;
  private readonly waiting = new Map<number, { piece: Uint8Array; resolve: (m: Uint8Array) => void; reject: (e: Error) => void }>();
  private seq = 0;
  private broken = false;

  constructor(
    fileKey: FileKey,
    now: Date,
    private readonly fallback: Encrypt,
  ) {
    this.worker = new Worker(WORKER_URL, { type: 'module' });
    this.worker.onmessage = (e: MessageEvent<{ seq: number; message?: ArrayBuffer; offset?: number; length?: number; error?: string }>) => {
      const job = this.waiting.get(e.data.seq);
      if (!job) return;
      this.waiting.delete(e.data.seq);
      if (e.data.message) job.resolve(new Uint8Array(e.data.message, e.data.offset ?? 0, e.data.length ?? e.data.message.byteLength));
      else job.reject(new Error(e.data.error ?? 'segment worker failed'));
    };
    // The worker could not load (a dropped connection): its segments are encrypted on the page.
    this.worker.onerror = (e) => {
      e.preventDefault();
      this.broken = true;
      for (const [seq, job] of this.waiting) {
        this.waiting.delete(seq);
        this.fallback(job.piece).then(job.resolve, job.reject);
      }
    };
    // Copies of the key for the worker (structured clone), never transferred away from the page.
    this.worker.postMessage({ init: { sessionKey: fileKey.sessionKey, keyPackets: fileKey.keyPackets, now: now.getTime() } });
  }

  encrypt(piece: Uint8Array): Promise<Uint8Array> {
    if (this.broken) return this.fallback(piece);
    const seq = this.seq++;
    return new Promise((resolve, reject) => {
      this.waiting.set(seq, { piece, resolve, reject });
      // A copy goes to the worker, moved rather than cloned (one copy, not two); the page keeps `piece` in case the worker fails to load.
      const copy = piece.slice();
      this.worker.postMessage({ seq, buffer: copy.buffer, length: copy.length }, [copy.buffer]);
    });
  }

  stop(): void {
    this.worker.terminate();
  }
}
