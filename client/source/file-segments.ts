/**
 * One segment of an attachment, read from the file once and used twice: its
 * piece of the file is hashed for the tip document (crypto/piece-hash.ts) and
 * encrypted as one OpenPGP message (crypto/segmented-envelope.ts).
 *
 * Segment `index` is bytes [index × 4 MiB, (index + 1) × 4 MiB) of the padded
 * file (crypto/file-padding.ts): the file's bytes there, then zeros. The hash's
 * pieces are the same 4 MiB of the file without its padding, so one read gives
 * both. The read goes straight into the buffer the message is built in: a Blob
 * of [message head, the file's slice, zeros] read with `arrayBuffer()`, so the
 * browser does the only copy natively and JavaScript copies nothing. Used in
 * the segment workers (segment-worker.ts) and, where none starts, on the page.
 *
 * @module
 * @example
 * const count = segmentCount(file.size);
 * const { message, pieceDigest } = await encryptFileSegment(segmentKey, file, 0);
 */
import { paddedFileSize } from '../../crypto/file-padding.ts';
import { PIECE_BYTES } from '../../crypto/piece-hash.ts';
import { SEGMENT_BYTES, sealSegment, segmentLayout, type SegmentKey } from '../../crypto/segmented-envelope.ts';

// One read serves both only while a hash piece is a segment.
if (PIECE_BYTES !== SEGMENT_BYTES) throw new Error('file-segments: PIECE_BYTES and SEGMENT_BYTES must be equal');

/** The file could not be read as it was when picked (moved, deleted, or changed in size). */
export class FileChangedError extends Error {
  override name = 'FileChangedError';
}

/** Segments of a file of `size` bytes once padded. */
export function segmentCount(size: number): number {
  return Math.ceil(paddedFileSize(size) / SEGMENT_BYTES);
}

/** Pieces of the file's hash: one per 4 MiB of the file, and one (empty) for an empty file. */
export function pieceCount(size: number): number {
  return Math.max(1, Math.ceil(size / PIECE_BYTES));
}

/**
 * Reads segment `index` of `file`, and gives its message and, for the
 * segments that hold part of the file, the SHA-256 of that part (`undefined`
 * for segments of padding only).
 */
export async function encryptFileSegment(key: SegmentKey, file: Blob, index: number): Promise<{ message: Uint8Array; pieceDigest: Uint8Array | undefined }> {
  const count = segmentCount(file.size);
  if (!Number.isSafeInteger(index) || index < 0 || index >= count) throw new RangeError(`segment ${index} is not one of this file's ${count}`);
  const start = index * SEGMENT_BYTES;
  const plaintextBytes = Math.min(SEGMENT_BYTES, paddedFileSize(file.size) - start);
  const fileBytes = Math.max(0, Math.min(plaintextBytes, file.size - start));
  const layout = segmentLayout(key, plaintextBytes);
  let buffer: ArrayBuffer;
  try {
    // Head and tail are zeros here; sealSegment writes them. Fresh typed arrays are zeroed, so the padding is zeros.
    buffer = await new Blob([new Uint8Array(layout.plaintextAt), file.slice(start, start + fileBytes), new Uint8Array(layout.bufferBytes - layout.plaintextAt - fileBytes)]).arrayBuffer();
  } catch {
    // Chromium and Firefox refuse to read a picked file that was changed or removed since.
    throw new FileChangedError('the file changed or went away while it was being read');
  }
  if (buffer.byteLength !== layout.bufferBytes) throw new FileChangedError('the file changed in size while it was being read');
  // WebCrypto takes its copy of the piece when called, before sealSegment encrypts the buffer in place.
  const digest = index < pieceCount(file.size) ? crypto.subtle.digest('SHA-256', new Uint8Array(buffer, layout.plaintextAt, fileBytes)) : undefined;
  const message = await sealSegment(key, buffer, layout);
  return { message, pieceDigest: digest && new Uint8Array(await digest) };
}
