/**
 * Re-keying swaps only the key packets at the head of a blob. A segmented
 * attachment (crypto/segmented-envelope.ts) has key packets in front of every
 * segment, so a head swap would leave all later segments open to the old keys
 * (a removed journalist keeps them). The server must refuse it and change
 * nothing, while one-message attachments still get their head.
 */
import * as openpgp from 'openpgp';
import { describe, expect, it } from 'vitest';
import { encryptFileStream } from '../crypto/file-envelope.ts';
import { createFileKey } from '../crypto/file-session-key.ts';
import { encryptSegment, importSegmentKey } from '../crypto/segmented-envelope.ts';
import { BlobRekeyError, BlobRekeying } from '../server/uploads/blob-rekey.ts';
import type { BlobStore } from '../server/uploads/blob-store.ts';

/** Just the reads the head needs, over bytes in memory; `replace` must never be reached. */
function storeOf(bytes: Uint8Array): { store: BlobStore; replaced: () => boolean } {
  let replaced = false;
  const store = {
    size: async () => bytes.length,
    readAt: async (_id: string, offset: number, length: number) => bytes.slice(offset, offset + length),
    read: () => new Blob([bytes as Uint8Array<ArrayBuffer>]).stream(),
    replace: async () => {
      replaced = true;
      return bytes.length;
    },
  } as unknown as BlobStore;
  return { store, replaced: () => replaced };
}

describe('re-keying a segmented attachment', () => {
  it('is refused (blob-segmented) before anything is read out or swapped; a one-message attachment still gives its head', async () => {
    const { publicKey } = await openpgp.generateKey({ type: 'ecc', curve: 'curve25519Legacy', userIDs: [{ email: 'j@example.org' }], format: 'object' });
    const fileKey = await createFileKey([publicKey]);
    const key = await importSegmentKey(fileKey);
    const segmented = new Uint8Array(Buffer.concat([await encryptSegment(key, new Uint8Array(70_000)), await encryptSegment(key, new Uint8Array(500))]));
    const { store, replaced } = storeOf(segmented);
    const rekeying = new BlobRekeying(store);
    await expect(rekeying.head('x')).rejects.toMatchObject({ code: 'blob-segmented' });
    const attempt = rekeying.replaceKeyPackets('x', { keyPackets: fileKey.keyPackets, previousKeyPacketsSha256: '0'.repeat(64) });
    await expect(attempt).rejects.toBeInstanceOf(BlobRekeyError);
    await expect(attempt).rejects.toMatchObject({ code: 'blob-segmented' });
    expect(replaced()).toBe(false);

    // A single segment is one message, like every attachment before segmenting: re-keyed as before.
    const single = await encryptSegment(key, new Uint8Array(500));
    expect((await new BlobRekeying(storeOf(single).store).head('y')).head.subarray(0, fileKey.keyPackets.length)).toEqual(fileKey.keyPackets);
    const old = new Uint8Array(await new Response(await encryptFileStream(new Blob([new Uint8Array(5000)]).stream(), [publicKey])).arrayBuffer());
    expect((await new BlobRekeying(storeOf(old).store).head('z')).size).toBe(old.length);
  });
});
