/**
 * Sends one attachment the way a Tor circuit can bear it. The file is read
 * from `Blob.stream()`, padded, and encrypted on the way as segments, one
 * complete OpenPGP message per 4 MiB, with WebCrypto in a pool of workers
 * (crypto/segmented-envelope.ts, segment-encryptor.ts: native speed even at
 * Tor Browser's "Safer", which has no JIT), and hashed (for the tip document)
 * from the same read of each piece, with WebCrypto (file-segments.ts); the
 * ciphertext goes up in chunks of 1 to 8 MiB (sized to the link) with the resumable protocol in
 * server/uploads/upload-api.ts:
 *
 * 1. POST /api/v1/uploads with a proof of work: an upload id;
 * 2. PUT each chunk at `?offset=`; only the chunk in flight is held in memory,
 *    and while it is, the encryption waits (the stream is read no further);
 * 3. when a chunk fails (the connection dropped, the source pressed Pause, the
 *    server was busy), wait, ask the server how much it has (GET), and go on
 *    from there: the chunk is sent again only if it didn't arrive;
 * 4. POST …/complete: the server checks it is a message to the desk's keys.
 *
 * After a few failures in a row the upload pauses itself and waits for the
 * source to press Resume, rather than giving up on what was already sent.
 *
 * @example
 * const { blobId, sha256, size } = await uploadAttachment({ blob, keys, desk, maxUploadBytes, pow, strings, hooks });
 */
import type { PublicKey } from '../../crypto/envelope.ts';
import { paddedFileSize } from '../../crypto/file-padding.ts';
import { createFileKey } from '../../crypto/file-session-key.ts';
import { SEGMENTED_ENCRYPTION } from '../../crypto/tip-document.ts';
import { FileChangedError } from './file-segments.ts';
import { errorCode, errorMessage, request, STALE_WORK_CODES, WORK_ATTEMPTS } from './http.ts';
import type { PauseGate } from './pause-gate.ts';
import { encryptFile } from './segment-encryptor.ts';

/**
 * The largest chunk the page sends: half the server's limit. Each chunk waits
 * for its answer (the server has fsynced it by then), so each costs a round
 * trip (over Tor about a second) and on the server a file sync and a commit;
 * 8 MiB halves those against 4 MiB on a fast link (the upload benchmark went
 * from about 0.54× to 0.9× of its baseline).
 */
export const CHUNK_BYTES = 8 * 1024 * 1024;
/**
 * Chunks start at 1 MiB and grow (at most doubling) towards about
 * CHUNK_SECONDS each, between 1 MiB and CHUNK_BYTES. On a slow circuit
 * (200 kB/s is not rare over Tor) an 8 MiB chunk would leave the progress bar
 * still for 40 s and cost that much again after a drop; on a fast link the
 * chunks reach 8 MiB after three. A chunk that needed retries took longer, so
 * the next one is smaller.
 */
export const FIRST_CHUNK_BYTES = 1024 * 1024;
const CHUNK_SECONDS = 4;

/**
 * The next chunk's size after one of `bytes` was acknowledged `ms` after it
 * was first sent: aimed at CHUNK_SECONDS, at most double the last, whole MiB,
 * from FIRST_CHUNK_BYTES to `max`.
 *
 * @example
 * nextChunkBytes(1 << 20, 10, 8 << 20); // 2 MiB: fast, so it doubles
 * nextChunkBytes(8 << 20, 40_000, 8 << 20); // 1 MiB: 200 kB/s
 */
export function nextChunkBytes(bytes: number, ms: number, max: number): number {
  const aimed = (bytes * CHUNK_SECONDS * 1000) / Math.max(ms, 1);
  const whole = Math.floor(Math.min(aimed, 2 * bytes) / FIRST_CHUNK_BYTES) * FIRST_CHUNK_BYTES;
  return Math.max(Math.min(FIRST_CHUNK_BYTES, max), Math.min(whole, max));
}
/**
 * The ciphertext's size isn't known until the end; the upload declares the
 * padded file's size plus this much and 1 % (each 4 MiB segment adds about 40 bytes and one key
 * packet per journalist, some 600 bytes for RSA-4096), capped at the server's limit.
 */
const DECLARED_OVERHEAD_BYTES = 1024 * 1024;
/** Failures in a row before the upload pauses itself and waits for the source. */
const FAILURES_BEFORE_STALL = 6;

export type UploadState = 'sending' | 'retrying' | 'stalled' | 'sent';

/** How the page follows one upload: its Pause/Resume gate, progress and state. */
export type UploadHooks = {
  gate: PauseGate;
  /** Ciphertext bytes the server has acknowledged so far. */
  onProgress: (acknowledgedBytes: number) => void;
  onState: (state: UploadState) => void;
};

export type UploadOptions = {
  blob: Blob;
  keys: PublicKey[];
  desk: string | undefined;
  /** The server's limit for one upload (ciphertext). */
  maxUploadBytes: number;
  /** Solves a proof of work for purpose "upload" and an upload of `bytes` (its price grows with the size). */
  pow: (bytes: number) => Promise<{ challenge: string; nonce: string }>;
  strings: Record<string, string | undefined>;
  hooks: UploadHooks;
  /** Wait before retry number `n` (1, 2, …); the default doubles from 1 s up to 30 s. */
  retryDelayMs?: (n: number) => number;
};

export type UploadedAttachment = { blobId: string; sha256: string; size: number; hashFormat: 'sha256-pieces'; encryption: typeof SEGMENTED_ENCRYPTION };

export async function uploadAttachment(o: UploadOptions): Promise<UploadedAttachment> {
  const t = o.strings;
  // From the padded size, so the declared size, like the ciphertext, says only the bucket.
  const padded = paddedFileSize(o.blob.size);
  const declared = Math.min(padded + DECLARED_OVERHEAD_BYTES + Math.ceil(padded / 100), o.maxUploadBytes);
  let created: Response;
  for (let attempt = 1; ; attempt++) {
    const pow = await o.pow(declared);
    created = await request('/api/v1/uploads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ bytes: declared, desk: o.desk, pow }) }, t.tErrorNetwork);
    if (created.ok) break;
    // The work asked rose while this one was solved (or it expired): solve a new one, a few times at most.
    const code = await errorCode(created);
    // No room (server/uploads/upload-quota.ts): said in the source's language, from the page.
    if ((code === 'storage-full' || code === 'upload-quota') && t.tErrorNoRoom) throw new Error(t.tErrorNoRoom);
    if (attempt >= WORK_ATTEMPTS || !STALE_WORK_CODES.has(code ?? '')) throw new Error(fill(t.tErrorServer, await errorMessage(created)));
  }
  const { id, chunkBytes } = (await created.json()) as { id: string; chunkBytes: number };
  const maxChunk = Math.max(1, Math.min(CHUNK_BYTES, chunkBytes));

  // One session key for the file, wrapped for the desk's keys once (the only openpgp.js work left).
  const fileKey = await createFileKey(o.keys);
  // The file, padded with zeros up to its size bucket inside the encryption (crypto/file-padding.ts), as
  // 4 MiB segments: every file of a bucket has the same segments, so the same ciphertext length. Each
  // segment's piece of the file is read once, for the encryption and for the file's hash alike.
  const { segments, hash } = encryptFile(o.blob, fileKey);
  const reader = segments.getReader();
  try {
    const sender = new ChunkSender(id, o);
    o.hooks.onState('sending');

    const buffer = new Uint8Array(maxChunk);
    let chunkSize = Math.min(FIRST_CHUNK_BYTES, maxChunk);
    let filled = 0;
    let offset = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      for (let at = 0; at < value.length; ) {
        const n = Math.min(value.length - at, chunkSize - filled);
        buffer.set(value.subarray(at, at + n), filled);
        filled += n;
        at += n;
        if (filled === chunkSize) {
          const sentAt = performance.now();
          offset = await sender.put(offset, buffer.subarray(0, chunkSize));
          chunkSize = nextChunkBytes(chunkSize, performance.now() - sentAt, maxChunk);
          filled = 0;
        }
      }
    }
    if (filled > 0) offset = await sender.put(offset, buffer.subarray(0, filled));
    const hashed = await hash;
    await sender.complete();
    o.hooks.onState('sent');
    return { blobId: id, sha256: hashed.sha256, size: hashed.size, hashFormat: hashed.hashFormat, encryption: SEGMENTED_ENCRYPTION };
  } catch (e) {
    // The file changed on disk while it was read: what was sent is not what was picked.
    if (e instanceof FileChangedError) throw new Error(fill(t.tErrorServer, 'the file changed while it was being sent; choose it again'));
    throw e;
  } finally {
    // Stops the workers and the file's reading when the upload failed part-way (a no-op after the end).
    reader.cancel().catch(() => {});
  }
}

/** PUTs chunks and finishes the upload, resuming after every interruption. */
class ChunkSender {
  private failures = 0;

  constructor(
    private readonly id: string,
    private readonly o: UploadOptions,
  ) {}

  private get url(): string {
    return `/api/v1/uploads/${encodeURIComponent(this.id)}`;
  }

  /** Sends `bytes` at `offset` until the server has them; returns the new total. */
  async put(offset: number, bytes: Uint8Array): Promise<number> {
    const end = offset + bytes.length;
    let inStep = true;
    for (;;) {
      await this.whenRunning();
      if (!inStep) {
        // Where is the server? The chunk may have arrived even though its answer didn't.
        const received = await this.received();
        if (received === undefined) {
          await this.failed();
          continue;
        }
        if (received === end) return this.acknowledged(end);
        if (received !== offset) throw new Error(fill(this.o.strings.tErrorServer, `the server has ${received} bytes of this file where ${offset} were expected; choose the file again`));
        inStep = true;
      }
      const res = await this.send(`${this.url}?offset=${offset}`, { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: bytes as Uint8Array<ArrayBuffer> });
      if (res?.ok) {
        const { received } = (await res.json()) as { received: number };
        if (received === end) return this.acknowledged(end);
        inStep = false;
        continue;
      }
      if (res && !isTransient(res.status)) throw new Error(fill(this.o.strings.tErrorServer, await errorMessage(res)));
      inStep = false;
      // 409: the offset was wrong (an earlier answer got lost); re-sync at once.
      if (res?.status !== 409) await this.failed();
    }
  }

  /** Asks the server to check the whole upload. Safe to repeat. */
  async complete(): Promise<void> {
    for (;;) {
      await this.whenRunning();
      const res = await this.send(`${this.url}/complete`, { method: 'POST' });
      if (res?.ok) return;
      if (res && !isTransient(res.status)) throw new Error(fill(this.o.strings.tErrorServer, await errorMessage(res)));
      await this.failed();
    }
  }

  private acknowledged(total: number): number {
    this.failures = 0;
    this.o.hooks.onProgress(total);
    return total;
  }

  /** `received` from GET, or undefined when the connection failed. */
  private async received(): Promise<number | undefined> {
    const res = await this.send(this.url, { cache: 'no-store' });
    if (!res) return undefined;
    if (isTransient(res.status)) return undefined;
    if (!res.ok) throw new Error(fill(this.o.strings.tErrorServer, await errorMessage(res)));
    return ((await res.json()) as { received: number }).received;
  }

  /** One request, dropped at once when the source presses Pause. Undefined when it didn't get an answer. */
  private async send(url: string, init: RequestInit): Promise<Response | undefined> {
    const abort = new AbortController();
    const stop = this.o.hooks.gate.subscribe((paused) => paused && abort.abort());
    try {
      return await fetch(url, { ...init, signal: abort.signal, credentials: 'same-origin', redirect: 'error' });
    } catch {
      return undefined;
    } finally {
      stop();
    }
  }

  private async whenRunning(): Promise<void> {
    const gate = this.o.hooks.gate;
    if (!gate.paused) return;
    await gate.whenRunning();
    this.failures = 0;
    this.o.hooks.onState('sending');
  }

  /** Counts a failure: waits before the next try, or after too many, pauses for the source. A Pause by the source is no failure. */
  private async failed(): Promise<void> {
    if (this.o.hooks.gate.paused) return;
    this.failures++;
    if (this.failures >= FAILURES_BEFORE_STALL) {
      this.o.hooks.gate.pause();
      this.o.hooks.onState('stalled');
      return;
    }
    this.o.hooks.onState('retrying');
    const delay = this.o.retryDelayMs?.(this.failures) ?? Math.min(30_000, 1000 * 2 ** (this.failures - 1));
    await new Promise((wake) => setTimeout(wake, delay));
    if (!this.o.hooks.gate.paused) this.o.hooks.onState('sending');
  }
}

/** Worth trying again: the server was busy or couldn't write (nothing was kept), or the offset was stale. */
function isTransient(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

function fill(template: string | undefined, reason: string): string {
  return (template ?? '{reason}').replace('{reason}', () => reason);
}
