/**
 * Padding for attachments, inside the encryption: the file's bytes are
 * followed by zero bytes up to a size bucket, so the ciphertext's length, the
 * size the page declares, the size the server stores and the pattern of
 * upload chunks reveal only the bucket. Without it, a leaked document's exact
 * length confirms that it was sent, and an interrupted upload is linked to
 * its retry.
 *
 * Buckets ({@link paddedFileSize}): powers of two from 4 KiB to 1 MiB; above
 * 1 MiB, eight steps between one power of two and the next (1 MiB, 1.125 MiB,
 * 1.25 MiB, … 2 MiB, 2.25 MiB, …), so a bucket is at most 12.5 % above the
 * file. Zero bytes, not spaces (as a tip's padding is): a file is binary, and
 * `head -c SIZE` cuts them off after plain `gpg --decrypt`. The true size and
 * SHA-256 travel in the encrypted tip document, so unpadding never guesses.
 *
 * The padded stream comes out in pieces of one fixed size (the last one
 * shorter), whatever pieces went in: openpgp.js frames its packets from the
 * pieces it is handed, so two files in one bucket must be handed the same
 * pieces to become ciphertexts of the same length.
 *
 * @module
 * @example
 * import { paddedFileSize, padFileStream, cutFilePadding } from './file-padding.ts';
 * paddedFileSize(1_000_000); // 1048576
 * const padded = padFileStream(file.stream()); // file bytes, then zeros, in 1 MiB pieces
 * const file = decryptedStream.pipeThrough(cutFilePadding(ref.size)); // errors if the padding is wrong
 */

/** Smallest bucket: 4 KiB. */
export const MIN_FILE_BUCKET = 4096;
/** Up to here buckets double; above it they grow in eighths of a power of two. */
export const FILE_DOUBLING_LIMIT = 1024 * 1024;
/** The byte the padding is made of. */
export const FILE_PAD_BYTE = 0x00;
/** The size of the pieces {@link padFileStream} hands on. */
export const PADDED_PIECE_BYTES = 1024 * 1024;

/** The bucket a file of `size` bytes is padded to: at most double up to 1 MiB, at most 12.5 % more above. */
export function paddedFileSize(size: number): number {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('size must be a non-negative integer');
  if (size <= FILE_DOUBLING_LIMIT) {
    let bucket = MIN_FILE_BUCKET;
    while (bucket < size) bucket *= 2;
    return bucket;
  }
  // 2^e ≤ size < 2^(e+1); round up to a multiple of 2^(e-3). Exact: all powers of two.
  let power = FILE_DOUBLING_LIMIT;
  while (power * 2 <= size) power *= 2;
  const step = power / 8;
  return Math.ceil(size / step) * step;
}

/**
 * The bytes of `source`, then zeros up to `paddedFileSize` of however many
 * bytes came, in pieces of `pieceBytes`. Pull-based, so the padding (up to
 * 12.5 % of a large file) is made only as fast as the encryption reads it.
 */
export function padFileStream(source: ReadableStream<Uint8Array>, pieceBytes = PADDED_PIECE_BYTES): ReadableStream<Uint8Array> {
  if (!Number.isSafeInteger(pieceBytes) || pieceBytes < 1) throw new RangeError('pieceBytes must be a positive integer');
  const reader = source.getReader();
  let seen = 0;
  let target = -1; // known once the source has ended
  let sent = 0;
  let piece = new Uint8Array(pieceBytes);
  let filled = 0;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        let enqueued = false;
        while (target < 0 && !enqueued) {
          const { done, value } = await reader.read();
          if (done) {
            target = paddedFileSize(seen);
            break;
          }
          if (!(value instanceof Uint8Array)) throw new TypeError('the file stream must give Uint8Array pieces');
          seen += value.length;
          for (let at = 0; at < value.length; ) {
            const n = Math.min(value.length - at, pieceBytes - filled);
            piece.set(value.subarray(at, at + n), filled);
            filled += n;
            at += n;
            if (filled === pieceBytes) {
              controller.enqueue(piece);
              sent += pieceBytes;
              piece = new Uint8Array(pieceBytes);
              filled = 0;
              enqueued = true;
            }
          }
        }
        // One pull hands on at least one piece and then waits to be asked again.
        if (target < 0) return;
        // The file has ended: fill the current piece (fresh pieces are zeros already) up to the bucket.
        const remaining = target - sent;
        if (remaining <= 0) {
          controller.close();
          return;
        }
        const length = Math.min(pieceBytes, remaining);
        controller.enqueue(piece.subarray(0, length));
        sent += length;
        piece = new Uint8Array(pieceBytes);
        filled = 0;
        if (sent === target) controller.close();
      },
      cancel(reason) {
        return reader.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The padding of a decrypted attachment is not what {@link padFileStream} writes. */
export class FilePaddingError extends Error {
  override name = 'FilePaddingError';
}

/**
 * Passes on the first `size` bytes and checks the rest: it must be zeros,
 * ending exactly at `paddedFileSize(size)`. A file with no padding at all
 * (sent by a page from before padding) also passes. Fewer than `size` bytes
 * pass through as they are: the caller's size check reports that.
 */
export function cutFilePadding(size: number): TransformStream<Uint8Array, Uint8Array> {
  const bucket = paddedFileSize(size);
  let total = 0;
  return new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const keep = Math.max(0, Math.min(chunk.length, size - total));
      if (keep > 0) controller.enqueue(chunk.subarray(0, keep));
      for (let i = keep; i < chunk.length; i++) {
        if (chunk[i] !== FILE_PAD_BYTE) throw new FilePaddingError('its padding holds data (only zero bytes may follow the file)');
      }
      total += chunk.length;
      if (total > bucket) throw new FilePaddingError(`it is longer than its size bucket (${bucket} bytes)`);
    },
    flush() {
      if (total > size && total !== bucket) throw new FilePaddingError(`its padding ends at ${total} bytes, not at its size bucket (${bucket} bytes)`);
    },
  });
}

/**
 * The largest file size that still fits in `limit` bytes once padded: the
 * largest bucket not above it (0 when even the smallest bucket doesn't fit).
 * The page shows this as "the limit for one file", so a file under it is
 * never refused for its padding.
 *
 * @example
 * largestFileWithin(100 * 1024 * 1024); // 96 MiB (the 96 MiB bucket; the next is 104 MiB)
 */
export function largestFileWithin(limit: number): number {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError('limit must be a non-negative integer');
  if (limit < MIN_FILE_BUCKET) return 0;
  const bucket = paddedFileSize(limit);
  if (bucket === limit) return limit;
  // The bucket below: one step down from `bucket` (a step is an eighth of the power of two below it, or half a bucket up to 1 MiB).
  if (bucket <= FILE_DOUBLING_LIMIT) return bucket / 2;
  let power = FILE_DOUBLING_LIMIT;
  while (power * 2 < bucket) power *= 2;
  return bucket - power / 8;
}
