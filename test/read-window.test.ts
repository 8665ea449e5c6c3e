/**
 * The `/complete` check's read-ahead window (server/uploads/read-window.ts):
 * far-apart headers must not pull a whole row into JavaScript each (that was
 * 1 GiB of 1 MiB Buffers for the garbage collector in a 1 GiB upload's check),
 * and dense headers must still cost about one read per row.
 */
import { describe, expect, it } from 'vitest';
import { FIRST_WINDOW_BYTES, readThroughWindow } from '../server/uploads/read-window.ts';

const MiB = 1024 * 1024;

function countingBlob(size: number) {
  const reads: { offset: number; length: number }[] = [];
  const readAt = async (offset: number, length: number) => {
    reads.push({ offset, length });
    const n = Math.max(0, Math.min(length, size - offset));
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = (offset + i) & 0xff;
    return out;
  };
  return { reads, readAt };
}

describe('readThroughWindow', () => {
  it('answers every ask with the blob bytes at that offset', async () => {
    const blob = countingBlob(3 * MiB);
    const readAt = readThroughWindow(blob.readAt, MiB);
    for (const [offset, length] of [[0, 6], [6, 12], [5000, 5], [MiB - 3, 6], [2 * MiB + 17, 100], [3 * MiB - 2, 5]] as const) {
      const got = await readAt(offset, length);
      const want = Math.max(0, Math.min(length, 3 * MiB - offset));
      expect(got.length).toBe(want);
      for (let i = 0; i < got.length; i++) expect(got[i]).toBe((offset + i) & 0xff);
    }
  });

  it('reads a few KiB, not a row, for headers 4 MiB apart (a segment each), and 1 MiB + 1 apart (1 MiB partial chunks)', async () => {
    for (const spacing of [4 * MiB, MiB + 1]) {
      const blob = countingBlob(256 * MiB);
      const readAt = readThroughWindow(blob.readAt, MiB);
      for (let at = 0; at < 256 * MiB; at += spacing) {
        // A segment's key packets and data packet header: five asks within its first 2 KiB.
        for (const [d, n] of [[0, 6], [3, 12], [527, 6], [530, 12], [1100, 6]] as const) await readAt(at + d, n);
      }
      const heads = Math.ceil((256 * MiB) / spacing);
      expect(blob.reads.length).toBe(heads);
      expect(Math.max(...blob.reads.map((r) => r.length))).toBeLessThanOrEqual(FIRST_WINDOW_BYTES);
    }
  });

  it('reads dense headers (512-byte partial chunks) in about one read per row, none reaching into the next row', async () => {
    const size = 4 * MiB;
    const blob = countingBlob(size);
    const readAt = readThroughWindow(blob.readAt, MiB);
    for (let at = 0; at + 5 <= size; at += 513) await readAt(at, 5);
    expect(blob.reads.length).toBeLessThan(size / MiB + 12);
    // A read ends at the row boundary after its ask (an ask of 5 bytes may itself straddle one).
    for (const r of blob.reads) expect(r.offset + r.length).toBeLessThanOrEqual(Math.ceil((r.offset + 5) / MiB) * MiB);
  });
});
