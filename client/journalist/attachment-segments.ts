/**
 * Opens a fetched attachment file whatever its envelope: one OpenPGP message
 * (attachments sent before segmenting), or several complete messages back to
 * back (crypto/segmented-envelope.ts: one per 4 MiB of padded file). The
 * segments are found by walking the packet headers (crypto/packets.ts, as
 * strict as the server's check), decrypted one after the other, and their
 * plaintexts joined into one stream: the padded file.
 *
 * Each segment's integrity check (its MDC) runs at that segment's end, so the
 * joined stream errors at the first altered segment; segments swapped,
 * dropped or repeated are caught by the caller's size and hash check over the
 * whole file (decrypt-attachments.ts). Both must pass before anything is kept.
 *
 * @example
 * const padded = await decryptAttachmentFile('inbox/abc.gpg', key, { segmented: true });
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { PrivateKey } from '../../crypto/envelope.ts';
import { decryptFileStream } from '../../crypto/file-envelope.ts';
import { inspectSegmentedFile, type InspectedSegment } from '../../crypto/packets.ts';

/** The attachment's envelope is not what its tip says it is; nothing was decrypted. */
export class SegmentError extends Error {
  override name = 'SegmentError';
}

/**
 * The plaintext of `file`, segments joined. `segmented: false` (a tip whose
 * attachment entry names no segmented encryption) accepts exactly one
 * message, so a server can't append segments to an old attachment.
 */
export async function decryptAttachmentFile(file: string, key: PrivateKey, o: { segmented: boolean }): Promise<ReadableStream<Uint8Array>> {
  const segments = await findSegments(file);
  if (!o.segmented && segments.length !== 1) throw new SegmentError(`it holds ${segments.length} messages where its tip describes one`);
  let next = 0;
  let current: ReadableStreamDefaultReader<Uint8Array> | undefined;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        for (;;) {
          if (!current) {
            const segment = segments[next++];
            if (!segment) {
              controller.close();
              return;
            }
            const ciphertext = Readable.toWeb(createReadStream(file, { start: segment.start, end: segment.dataPacket.end - 1 })) as unknown as ReadableStream<Uint8Array>;
            current = (await decryptFileStream(ciphertext, key)).getReader();
          }
          const { done, value } = await current.read();
          if (done) {
            current = undefined;
            continue;
          }
          controller.enqueue(value);
          return;
        }
      },
      async cancel(reason) {
        await current?.cancel(reason);
      },
    },
    { highWaterMark: 0 },
  );
}

/** The segments of `file`, by their packet headers alone (a few small reads per segment). */
export async function findSegments(file: string): Promise<InspectedSegment[]> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    return await inspectSegmentedFile(async (offset, length) => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - offset)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, offset);
      return buffer.subarray(0, bytesRead);
    }, size);
  } finally {
    await handle.close();
  }
}
