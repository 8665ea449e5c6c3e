/**
 * Attachment padding (crypto/file-padding.ts), from the side of someone who
 * holds a copy of a leaked file and sees ciphertext lengths: files of nearby
 * sizes must become ciphertexts of one length, and the journalist must get
 * back exactly the file, with any tampering with the padding refused.
 */
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { decryptFileStream, encryptFileStream } from '../crypto/file-envelope.ts';
import { FILE_DOUBLING_LIMIT, FilePaddingError, MIN_FILE_BUCKET, cutFilePadding, largestFileWithin, padFileStream, paddedFileSize } from '../crypto/file-padding.ts';

const MiB = 1024 * 1024;

/** A stream of `bytes` in pieces of `piece` (the browser hands out 64 KiB). */
function streamOf(bytes: Uint8Array, piece = 65536): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(c) {
      if (at >= bytes.length) return c.close();
      c.enqueue(bytes.slice(at, at + piece));
      at += piece;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<{ bytes: Uint8Array; pieces: number[] }> {
  const parts: Uint8Array[] = [];
  for await (const p of stream as unknown as AsyncIterable<Uint8Array>) parts.push(p);
  const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (bytes.set(p, at), (at += p.length));
  return { bytes, pieces: parts.map((p) => p.length) };
}

const randomBytes = (n: number) => {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i += 65536) crypto.getRandomValues(b.subarray(i, Math.min(n, i + 65536)));
  return b;
};

describe('paddedFileSize', () => {
  it('doubles from 4 KiB up to 1 MiB', () => {
    expect([0, 1, 4096].map(paddedFileSize)).toEqual([MIN_FILE_BUCKET, MIN_FILE_BUCKET, MIN_FILE_BUCKET]);
    expect(paddedFileSize(4097)).toBe(8192);
    expect(paddedFileSize(524_289)).toBe(MiB);
    expect(paddedFileSize(MiB)).toBe(MiB);
  });

  it('above 1 MiB, steps of an eighth of a power of two: never more than 12.5 % over', () => {
    expect(paddedFileSize(MiB + 1)).toBe(MiB + MiB / 8);
    expect(paddedFileSize(2 * MiB)).toBe(2 * MiB);
    expect(paddedFileSize(2 * MiB + 1)).toBe(2 * MiB + MiB / 4);
    expect(paddedFileSize(1000 * MiB)).toBe(1024 * MiB);
    let worst = 0;
    for (let size = FILE_DOUBLING_LIMIT + 1; size < 4096 * MiB; size = Math.ceil(size * 1.0037) + 7) {
      const bucket = paddedFileSize(size);
      expect(bucket).toBeGreaterThanOrEqual(size);
      expect(paddedFileSize(bucket)).toBe(bucket); // a bucket is its own bucket
      worst = Math.max(worst, bucket / size - 1);
    }
    expect(worst).toBeLessThanOrEqual(0.125);
    expect(worst).toBeGreaterThan(0.12);
  });

  it('costs on average about 4 % above 1 MiB, for sizes spread evenly on a log scale (the figure in the notes)', () => {
    /** Mean of bucket/size − 1 over sizes e^x, x evenly spaced from `from` to `to` bytes. */
    const meanOverhead = (from: number, to: number) => {
      const steps = 200_000;
      let sum = 0;
      for (let i = 0; i < steps; i++) {
        const size = Math.round(from * (to / from) ** (i / steps));
        sum += paddedFileSize(size) / size - 1;
      }
      return sum / steps;
    };
    const small = meanOverhead(MIN_FILE_BUCKET, MiB);
    const large = meanOverhead(MiB, 2048 * MiB);
    console.log(`[file-padding] mean padding overhead: ${(100 * small).toFixed(1)} % for 4 KiB–1 MiB, ${(100 * large).toFixed(2)} % for 1 MiB–2 GiB (worst 12.5 %)`);
    // Doubling costs 1/ln 2 − 1 ≈ 44 % on average; steps of an eighth of a power of two, under a twentieth.
    expect(small).toBeGreaterThan(0.4);
    expect(small).toBeLessThan(0.45);
    expect(large).toBeGreaterThan(0.035);
    expect(large).toBeLessThan(0.05);
  });

  it('the largest file within a limit pads to at most the limit', () => {
    for (const limit of [4095, 4096, 5000, MiB, MiB + 5, 100 * MiB, 2047 * MiB]) {
      const largest = largestFileWithin(limit);
      if (largest > 0) expect(paddedFileSize(largest)).toBeLessThanOrEqual(limit);
      expect(paddedFileSize(largest + 1)).toBeGreaterThan(limit);
    }
    expect(largestFileWithin(100 * MiB)).toBe(96 * MiB);
  });

  it('refuses what is not a size', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 60, '1' as unknown as number]) expect(() => paddedFileSize(bad)).toThrow(RangeError);
  });
});

describe('padFileStream and cutFilePadding', () => {
  it('appends zeros to the bucket in pieces of one size, whatever pieces came in', async () => {
    const file = randomBytes(1_300_001);
    const a = await collect(padFileStream(streamOf(file, 65536)));
    const b = await collect(padFileStream(streamOf(file, 1000)));
    expect(a.bytes.length).toBe(paddedFileSize(file.length));
    expect(a.pieces).toEqual(b.pieces);
    expect(a.pieces.slice(0, -1).every((n) => n === MiB)).toBe(true);
    expect(Buffer.from(a.bytes.subarray(0, file.length)).equals(Buffer.from(file))).toBe(true);
    expect(a.bytes.subarray(file.length).every((x) => x === 0)).toBe(true);
  });

  it('gives files a few percent apart ciphertexts of one length, and the exact file back', async () => {
    const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'j@example.org' }], format: 'object' });
    const sizes = [1_000_000, 1_000_001, 1_000_002, 1_030_000, 1_048_576];
    const lengths = new Set<number>();
    for (const size of sizes) {
      const file = randomBytes(size);
      const ciphertext = (await collect(await encryptFileStream(padFileStream(streamOf(file)), [publicKey]))).bytes;
      lengths.add(ciphertext.length);
      const back = await collect((await decryptFileStream(streamOf(ciphertext), privateKey)).pipeThrough(cutFilePadding(size)));
      expect(Buffer.from(back.bytes).equals(Buffer.from(file))).toBe(true);
    }
    expect([...lengths]).toHaveLength(1);
    // A file in the next bucket is visibly bigger: the padding is not a fixed length.
    const bigger = (await collect(await encryptFileStream(padFileStream(streamOf(randomBytes(MiB + 1))), [publicKey]))).bytes.length;
    expect(bigger).toBeGreaterThan([...lengths][0]! + MiB / 16);
  });

  it('cuts the padding, and refuses padding that holds data or does not end at the bucket', async () => {
    const file = randomBytes(5000);
    const padded = (await collect(padFileStream(streamOf(file)))).bytes;
    expect((await collect(streamOf(padded).pipeThrough(cutFilePadding(5000)))).bytes).toEqual(file);
    // An unpadded file (from a page before padding) passes as it is.
    expect((await collect(streamOf(file).pipeThrough(cutFilePadding(5000)))).bytes).toEqual(file);
    const smuggled = padded.slice();
    smuggled[7000] = 0x41;
    await expect(collect(streamOf(smuggled).pipeThrough(cutFilePadding(5000)))).rejects.toThrow(FilePaddingError);
    await expect(collect(streamOf(padded.subarray(0, 6000)).pipeThrough(cutFilePadding(5000)))).rejects.toThrow(FilePaddingError);
    const longer = new Uint8Array(padded.length + 1);
    longer.set(padded);
    await expect(collect(streamOf(longer).pipeThrough(cutFilePadding(5000)))).rejects.toThrow(/longer than its size bucket/);
  });
});
