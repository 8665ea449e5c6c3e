/**
 * The SHA-256 of an attachment, for the tip document, computed while the page
 * encrypts the same file. In a Web Worker (hash-worker.ts) where the browser
 * allows one, the hash runs on another core beside openpgp.js's own SHA-1,
 * instead of one after the other on the page's thread, which is where most of
 * the page's time went (README, "Performance"). Elsewhere it runs here.
 *
 * The worker gets the File or Blob itself, never its bytes, and reads it from
 * disk as the encryption does; a file changed on disk after it was picked
 * fails both reads (the browser refuses to read it), so the hash is of what
 * was encrypted.
 *
 * @example
 * const hashing = startHashing(file);
 * // … encrypt and upload file …
 * const { sha256, size } = await hashing.result;
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hex } from '../../crypto/bytes.ts';

export type FileHash = { sha256: string; size: number };

/** The worker's script, built from hash-worker.ts next to page.js (build.mjs). */
const WORKER_URL = '/static/hash-worker.js';

/** Hashes `blob` in a worker if one starts, else here. `stop()` gives up (the upload failed). */
export function startHashing(blob: Blob): { result: Promise<FileHash>; stop: () => void } {
  let worker: Worker;
  try {
    worker = new Worker(WORKER_URL, { type: 'module' });
  } catch {
    let stopped = false;
    return { result: hashBlob(blob, () => stopped), stop: () => (stopped = true) };
  }
  const result = new Promise<FileHash>((resolve, reject) => {
    worker.onmessage = (e: MessageEvent<FileHash | { error: string }>) => ('error' in e.data ? reject(new Error(e.data.error)) : resolve(e.data));
    // The worker could not load (a dropped connection): hash here instead.
    worker.onerror = (e) => {
      e.preventDefault();
      hashBlob(blob).then(resolve, reject);
    };
  }).finally(() => worker.terminate());
  worker.postMessage(blob);
  return { result, stop: () => worker.terminate() };
}

/** Reads `blob` as a stream and hashes it; gives up quietly once `stopped()` says so. */
export async function hashBlob(blob: Blob, stopped: () => boolean = () => false): Promise<FileHash> {
  const hash = sha256.create();
  let size = 0;
  const reader = blob.stream().getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done || stopped()) break;
    hash.update(value);
    size += value.length;
  }
  return { sha256: hex.encode(hash.digest()), size };
}
