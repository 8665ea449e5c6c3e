/**
 * The hash of an attachment for the tip document (crypto/piece-hash.ts,
 * format "sha256-pieces"), computed while the page encrypts the same file.
 *
 * Every heavy step is native, so it runs at full speed in Tor Browser at
 * "Safer" too (no JIT there: a SHA-256 in JavaScript managed 1.5 MiB/s):
 * each 4 MiB piece is read with `Blob.slice().arrayBuffer()` and hashed with
 * WebCrypto's `digest`, which runs off the page's thread. Only one piece is
 * held at a time, so memory stays flat whatever the file's size.
 *
 * The hashing waits at the upload's Pause gate between pieces, so Pause stops
 * it as well as the reading and the sending. A file changed on disk after it
 * was picked fails the read (the browser refuses it), so the hash is of what
 * was encrypted.
 *
 * @example
 * const hashing = startHashing(file, gate);
 * // … encrypt and upload file …
 * const { sha256, size, hashFormat } = await hashing.result;
 */
import { PIECE_BYTES, PIECE_HASH_FORMAT, pieceHashRoot } from '../../crypto/piece-hash.ts';

export type FileHash = { sha256: string; size: number; hashFormat: typeof PIECE_HASH_FORMAT };

/** Waits while the source has paused the upload (client/source/pause-gate.ts). */
export type Gate = { whenRunning(): Promise<void> };

const OPEN: Gate = { whenRunning: () => Promise.resolve() };

/** Starts hashing `blob`; `stop()` gives up (the upload failed). */
export function startHashing(blob: Blob, gate: Gate = OPEN): { result: Promise<FileHash>; stop: () => void } {
  let stopped = false;
  return { result: hashBlob(blob, gate, () => stopped), stop: () => (stopped = true) };
}

/** Hashes `blob` piece by piece; rejects once `stopped()` says so. */
export async function hashBlob(blob: Blob, gate: Gate = OPEN, stopped: () => boolean = () => false): Promise<FileHash> {
  const digests: Uint8Array[] = [];
  let size = 0;
  let at = 0;
  do {
    await gate.whenRunning();
    if (stopped()) throw new Error('hashing stopped');
    const piece = await blob.slice(at, at + PIECE_BYTES).arrayBuffer();
    digests.push(new Uint8Array(await crypto.subtle.digest('SHA-256', piece)));
    size += piece.byteLength;
    at += PIECE_BYTES;
  } while (at < blob.size);
  return { sha256: pieceHashRoot(digests), size, hashFormat: PIECE_HASH_FORMAT };
}
