/**
 * A read-ahead window over a blob's random-access reads, for the `/complete`
 * packet check: the check asks for a few bytes at each chunk header, and each
 * ask on its own is a database query that loads a whole row (SQLite reads a
 * blob value whole for `substr`). Through the window, headers that lie close
 * together (partial chunks of 512 bytes) come from one read, so a check reads
 * each row of the blob about once, however the file is framed: linear in its
 * size, not in its number of chunks.
 *
 * The window starts small ({@link FIRST_WINDOW_BYTES}) wherever an ask lands
 * far from the last window, and doubles, up to `windowBytes`, while asks keep
 * landing just past it. Far-apart headers (a segment's key packets every
 * 4 MiB, or 1 MiB partial chunks) then cost one small read each: the row is
 * still loaded inside SQLite, but only a few KiB reach JavaScript, instead of
 * a 1 MiB Buffer per header left for the garbage collector (about 35 MiB of
 * the server's memory at the end of a 1 GiB upload's check, before). Dense
 * headers reach full windows after a few doublings.
 *
 * Each window ends at or before a multiple of `windowBytes`, which the caller
 * sets to the store's row size: rows start at multiples of it whenever chunks
 * are whole MiB (the page sends 8 MiB), so a window reads only the row the ask
 * touches. A window reaching past a row's end would read the next row too,
 * nearly every time with 1 MiB partial chunks.
 *
 * @module
 * @example
 * const readAt = readThroughWindow((at, n) => blobs.readAt(id, at, n), 1 << 20);
 * await inspectSegmentedFile(readAt, size, maxSegments);
 */
import type { ReadAt } from '../../crypto/packets.ts';

/** Enough for a segment's key packets and data packet header (a RSA-4096 key packet is 524 bytes). */
export const FIRST_WINDOW_BYTES = 4096;

export function readThroughWindow(readAt: ReadAt, windowBytes: number): ReadAt {
  if (!Number.isSafeInteger(windowBytes) || windowBytes < 1) throw new RangeError('windowBytes must be a positive integer');
  let start = 0;
  let window: Uint8Array = new Uint8Array(0);
  let size = Math.min(FIRST_WINDOW_BYTES, windowBytes);
  return async (offset, length) => {
    if (length > windowBytes) return readAt(offset, length);
    if (offset >= start && offset + length <= start + window.length) return window.subarray(offset - start, offset - start + length);
    // Within a window's length past the last one, the asks are dense: read further ahead. A window cut short at
    // a row's end counts at its full size, so dense headers keep their window from one row into the next.
    const dense = window.length > 0 && offset >= start && offset < start + 2 * Math.max(window.length, size);
    size = dense ? Math.min(size * 2, windowBytes) : Math.min(FIRST_WINDOW_BYTES, windowBytes);
    const rowEnd = Math.ceil((offset + length) / windowBytes) * windowBytes;
    const end = Math.max(offset + length, Math.min(offset + size, rowEnd));
    window = await readAt(offset, end - offset);
    start = offset;
    return window.subarray(0, Math.min(length, window.length));
  };
}
