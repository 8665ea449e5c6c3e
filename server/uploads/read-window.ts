/**
 * A read-ahead window over a blob's random-access reads, for the `/complete`
 * packet check: the check asks for a few bytes at each chunk header, and each
 * ask on its own is a database query that loads a whole row (SQLite reads a
 * blob value whole for `substr`). Through the window, headers that lie close
 * together (partial chunks of 512 bytes) come from one read, so a check reads
 * each byte of the blob at most about once, however the file is framed:
 * linear in its size, not in its number of chunks.
 *
 * Each window ends at a multiple of `windowBytes`, which the caller sets to
 * the store's row size: rows start at multiples of it whenever chunks are
 * whole MiB (the page sends 8 MiB), so a window reads the rows the ask
 * touches and no more. A window of `windowBytes` from the ask on would reach
 * into the next row nearly every time: with 1 MiB partial chunks (a header
 * a little more than 1 MiB after the last), that read every row twice.
 * Far-apart headers (4 MiB segments) still cost one read each, as before.
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
    const end = Math.ceil((offset + length) / windowBytes) * windowBytes;
    window = await readAt(offset, end - offset);
    start = offset;
    return window.subarray(0, Math.min(length, window.length));
  };
}
