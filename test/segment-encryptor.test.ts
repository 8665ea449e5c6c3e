/**
 * client/source/segment-encryptor.ts, through its on-page path (Node has no
 * Web Workers, so the pool falls back to the page, as a browser does when the
 * worker script fails to load): a reader that stops asking (the source
 * pressed Pause, a chunk is being resent) stops the file's reading, hashing
 * and encrypting after the few segments in flight; the hash comes out only
 * at the end and matches the one Node computes on its own; a cancelled
 * stream rejects the hash rather than handing on one of part of the file.
 */
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { beforeAll, describe, expect, it } from 'vitest';
import { readPrivateKey, readPublicKey } from '../crypto/envelope.ts';
import { decryptFileStream } from '../crypto/file-envelope.ts';
import { paddedFileSize } from '../crypto/file-padding.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import type { FileKey } from '../crypto/segmented-envelope.ts';
import { encryptFile } from '../client/source/segment-encryptor.ts';

const MiB = 1024 * 1024;
let secret: openpgp.PrivateKey;
let fileKey: FileKey;

beforeAll(async () => {
  const { privateKey, publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ name: 'desk' }], format: 'armored' });
  secret = await readPrivateKey(privateKey);
  fileKey = await createFileKey([await readPublicKey(publicKey)]);
});

/** A file that counts the pieces read from it. */
class CountingBlob extends Blob {
  reads = 0;
  override slice(start?: number, end?: number, type?: string): Blob {
    this.reads++;
    return super.slice(start, end, type);
  }
}

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

const settled = () => new Promise((r) => setTimeout(r, 200));

describe('encryptFile', () => {
  it('reads no further while nobody asks for segments, and hashes only what it read', async () => {
    const file = randomFile(10 * 4 * MiB + 5); // 11 segments of file, bucket 44 MiB
    const blob = new CountingBlob([file]);
    const { segments, hash } = encryptFile(blob, fileKey, { parallel: 2 });
    let hashed = false;
    void hash.then(() => (hashed = true));
    const reader = segments.getReader();
    const first = await reader.read();
    expect(first.done).toBe(false);
    await settled();
    // Paused: the segment handed on and the four in flight (two workers, two each), no more.
    expect(blob.reads).toBeLessThanOrEqual(5);
    expect(hashed).toBe(false);
    const opened = [await open(first.value!)];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      opened.push(await open(value));
    }
    expect(blob.reads).toBe(Math.ceil(paddedFileSize(file.length) / (4 * MiB)));
    const padded = Buffer.concat(opened);
    expect(padded.subarray(0, file.length).equals(file)).toBe(true);
    expect(padded.length).toBe(paddedFileSize(file.length));
    const digests: Buffer[] = [];
    for (let at = 0; at < file.length; at += 4 * MiB) digests.push(createHash('sha256').update(file.subarray(at, at + 4 * MiB)).digest());
    expect(await hash).toEqual({ sha256: createHash('sha256').update(Buffer.concat(digests)).digest('hex'), size: file.length, hashFormat: 'sha256-pieces' });
  }, 60_000);

  it('a stream cancelled part-way rejects the hash and reads nothing more', async () => {
    const blob = new CountingBlob([randomFile(6 * 4 * MiB)]);
    const { segments, hash } = encryptFile(blob, fileKey, { parallel: 2 });
    const reader = segments.getReader();
    await reader.read();
    await reader.cancel();
    await expect(hash).rejects.toBeDefined();
    const readsAtCancel = blob.reads;
    await settled();
    expect(blob.reads).toBe(readsAtCancel);
    expect(readsAtCancel).toBeLessThan(6);
  });
});
