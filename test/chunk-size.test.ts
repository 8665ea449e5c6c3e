/**
 * The page's chunk size follows the link (client/source/upload-attachment.ts):
 * 1 MiB to start, doubling on a fast link up to the largest chunk, and
 * shrinking towards about four seconds a chunk on a slow one.
 */
import { describe, expect, it } from 'vitest';
import { CHUNK_BYTES, FIRST_CHUNK_BYTES, nextChunkBytes } from '../client/source/upload-attachment.ts';

const MiB = 1024 * 1024;

describe('nextChunkBytes', () => {
  it('doubles on a fast link, up to the largest chunk, and no further than the server allows', () => {
    const sizes = [FIRST_CHUNK_BYTES];
    for (let i = 0; i < 5; i++) sizes.push(nextChunkBytes(sizes.at(-1)!, 20, CHUNK_BYTES));
    expect(sizes.map((s) => s / MiB)).toEqual([1, 2, 4, 8, 8, 8]);
    expect(nextChunkBytes(8 * MiB, 20, 3 * MiB)).toBe(3 * MiB);
  });

  it('shrinks towards four seconds a chunk on a slow circuit, never below 1 MiB', () => {
    // 8 MiB in 40 s is about 200 kB/s: four seconds of that is under 1 MiB.
    expect(nextChunkBytes(8 * MiB, 40_000, CHUNK_BYTES)).toBe(MiB);
    // 1 MB/s: 4 MiB in 4 s holds its size.
    expect(nextChunkBytes(4 * MiB, 4_000, CHUNK_BYTES)).toBe(4 * MiB);
    // 2 MiB in 2.5 s: aimed at 3.2 MiB, whole MiB only.
    expect(nextChunkBytes(2 * MiB, 2_500, CHUNK_BYTES)).toBe(3 * MiB);
    // A chunk that took a minute of retries.
    expect(nextChunkBytes(MiB, 60_000, CHUNK_BYTES)).toBe(MiB);
  });

  it('keeps within a server limit below 1 MiB', () => {
    expect(nextChunkBytes(512 * 1024, 10, 512 * 1024)).toBe(512 * 1024);
  });
});
