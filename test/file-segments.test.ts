/**
 * client/source/file-segments.ts: one read of each 4 MiB piece gives both the
 * segment and the piece's hash. Checked against what the journalist's side
 * computes on its own: the segments, each opened on its own, join to the padded
 * file; the piece digests make the file's "sha256-pieces" hash, computed here
 * with Node's SHA-256; segments of padding only carry no digest; every segment
 * has the length encryptSegment gives (so one bucket, one ciphertext length),
 * and its buffer holds nothing besides the message. A file changed on disk
 * after it was picked fails with FileChangedError instead of being sent.
 */
import { createHash } from 'node:crypto';
import { openAsBlob } from 'node:fs';
import { appendFile, mkdtemp, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey, readPublicKey } from '../crypto/envelope.ts';
import { decryptFileStream } from '../crypto/file-envelope.ts';
import { paddedFileSize } from '../crypto/file-padding.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import { pieceHashRoot } from '../crypto/piece-hash.ts';
import { encryptSegment, importSegmentKey, SEGMENT_BYTES, type SegmentKey } from '../crypto/segmented-envelope.ts';
import { encryptFileSegment, FileChangedError, pieceCount, segmentCount } from '../client/source/file-segments.ts';

const MiB = 1024 * 1024;
let dir: string;
let secret: openpgp.PrivateKey;
let segmentKey: SegmentKey;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tipline-file-segments-'));
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'desk' }], format: 'armored' });
  secret = await readPrivateKey(privateKey);
  segmentKey = await importSegmentKey(await createFileKey([await readPublicKey(publicKey)]));
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function randomFile(length: number): Buffer<ArrayBuffer> {
  const bytes = Buffer.alloc(length) as Buffer<ArrayBuffer>;
  for (let at = 0; at < length; at += 65536) crypto.getRandomValues(bytes.subarray(at, Math.min(length, at + 65536)));
  return bytes;
}

async function open(message: Uint8Array): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  const reader = (await decryptFileStream(new Blob([message as Uint8Array<ArrayBuffer>]).stream(), secret)).getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Buffer.concat(parts);
    parts.push(value);
  }
}

/** The file's hash as the journalist's side computes it, independently of the page's code. */
function nodePieceHash(file: Buffer): string {
  const digests: Buffer[] = [];
  let at = 0;
  do {
    digests.push(createHash('sha256').update(file.subarray(at, at + 4 * MiB)).digest());
    at += 4 * MiB;
  } while (at < file.length);
  return createHash('sha256').update(Buffer.concat(digests)).digest('hex');
}

describe('encryptFileSegment', () => {
  // Empty; under, at and over one piece; a padded tail segment; and 64 MiB + 1, whose bucket (72 MiB) ends in a segment of padding only.
  it.each([0, 1, 4 * MiB - 1, 4 * MiB, 4 * MiB + 1, 9 * MiB + 321, 64 * MiB + 1])('a file of %i bytes: segments open to the padded file, digests give its piece hash', async (size) => {
    const file = randomFile(size);
    const blob = new Blob([file]);
    const count = segmentCount(size);
    expect(count).toBe(Math.ceil(paddedFileSize(size) / SEGMENT_BYTES));
    const digests: Uint8Array[] = [];
    const opened: Buffer[] = [];
    for (let i = 0; i < count; i++) {
      const { message, pieceDigest } = await encryptFileSegment(segmentKey, blob, i);
      // Padding-only segments carry no digest; every other one does.
      expect(pieceDigest === undefined, `segment ${i}`).toBe(i >= pieceCount(size));
      if (pieceDigest) digests.push(pieceDigest);
      const plainBytes = Math.min(SEGMENT_BYTES, paddedFileSize(size) - i * SEGMENT_BYTES);
      expect(message.length, `segment ${i}`).toBe((await encryptSegment(segmentKey, new Uint8Array(plainBytes))).length);
      const whole = new Uint8Array(message.buffer);
      expect(whole.subarray(0, message.byteOffset).every((b) => b === 0) && whole.subarray(message.byteOffset + message.length).every((b) => b === 0), `segment ${i}: bytes outside the message`).toBe(true);
      opened.push(await open(message));
    }
    const padded = Buffer.concat(opened);
    expect(padded.length).toBe(paddedFileSize(size));
    expect(padded.subarray(0, size).equals(file)).toBe(true);
    expect(padded.subarray(size).every((b) => b === 0)).toBe(true);
    expect(pieceHashRoot(digests)).toBe(nodePieceHash(file));
  }, 120_000);

  it('refuses a segment the file does not have', async () => {
    const blob = new Blob([randomFile(5 * MiB)]);
    await expect(encryptFileSegment(segmentKey, blob, 2)).rejects.toThrow(RangeError);
    await expect(encryptFileSegment(segmentKey, blob, -1)).rejects.toThrow(RangeError);
  });

  it('a file that changes on disk after it was picked fails with FileChangedError, not a segment of other bytes', async () => {
    for (const change of ['grown', 'cut', 'rewritten'] as const) {
      const path = join(dir, `${change}.bin`);
      await writeFile(path, randomFile(6 * MiB));
      const blob = await openAsBlob(path);
      await encryptFileSegment(segmentKey, blob, 0); // readable as picked
      if (change === 'grown') await appendFile(path, randomFile(1000));
      else if (change === 'cut') await truncate(path, 5 * MiB);
      else {
        await new Promise((r) => setTimeout(r, 20)); // a later modification time
        await writeFile(path, randomFile(6 * MiB));
      }
      await expect(encryptFileSegment(segmentKey, blob, 1), change).rejects.toThrow(FileChangedError);
    }
  });
});
