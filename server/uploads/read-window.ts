/**
 * A read-ahead window over a blob's random-access reads, for the `/complete`
 * packet check: the check asks for a few bytes at each chunk header, and each
 * ask on its own is a database query that loads a whole row (SQLite reads a
 * blob value whole for `substr`). Through the window, headers that lie close
 * together (partial chunks of 512 bytes) come from one read of `windowBytes`,
 * so a check reads each byte of the blob at most about once, however the
 * file is framed: linear in its size, not in its number of chunks. Far-apart
 * headers (4 MiB segments) still cost one read each, as before.
 *
 * @module
 * @example
 * const readAt = readThroughWindow((at, n) => blobs.readAt(id, at, n), 1 << 20);
 * await inspectSegmentedFile(readAt, size, maxSegments);
 */
import type { ReadAt } from '../../crypto/packets.ts';

export function readThroughWindow(readAt: ReadAt, windowBytes: number): ReadAt {
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 1) throw new RangeError('windowBytes must be a positive integer');
  let start = 0;
  let window: Uint8Array = new Uint8Array(0);
  return async (offset, length) => {
    if (length > windowBytes) return readAt(offset, length);
    if (offset >= start && offset + length <= start + window.length) return window.subarray(offset - start, offset - start + length);
    window = await readAt(offset, windowBytes);
    start = offset;
    return window.subarray(0, Math.min(length, window.length));
  };
}
