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
 * const padded = await decryptAttachmentFile('inbox/abc.gpg', keys, { segmented: true }); // keys: a SessionKeySource
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { decryptFileStream } from '../../crypto/file-envelope.ts';
import { HEAD_DATA_BYTES, inspectMessageHead, inspectSegmentedFile, type InspectedSegment } from '../../crypto/packets.ts';
import { unlockSessionKey, type SessionKey, type SessionKeySource } from '../../crypto/session-key.ts';

/** The attachment's envelope is not what its tip says it is; nothing was decrypted. */
export class SegmentError extends Error {
  override name = 'SegmentError';
}

/**
 * The plaintext of `file`, segments joined. `segmented: false` (a tip whose
 * attachment entry names no segmented encryption) accepts exactly one
 * message, so a server can't append segments to an old attachment.
 */
export async function decryptAttachmentFile(file: string, keys: SessionKeySource, o: { segmented: boolean }): Promise<ReadableStream<Uint8Array>> {
  const segments = await findSegments(file);
  if (!o.segmented && segments.length !== 1) throw new SegmentError(`it holds ${segments.length} messages where its tip describes one`);
  // Every segment of one file carries the same key packets (one session key per file), so the key
  // source (gpg-agent, perhaps a smartcard) is asked once; a segment with other key packets is unlocked
  // on its own. A wrong key is caught by the quick check, or at the latest by the segment's MDC.
  let unlocked: { keyPackets: Uint8Array; key: SessionKey } | undefined;
  const sessionKeyOf = async (segment: InspectedSegment): Promise<SessionKey> => {
    const head = inspectMessageHead(await readRange(file, segment.start, segment.dataPacket.start - segment.start + HEAD_DATA_BYTES));
    if (unlocked && Buffer.compare(unlocked.keyPackets, head.keyPackets) === 0) return unlocked.key;
    unlocked = { keyPackets: head.keyPackets, key: await unlockSessionKey(keys, head) };
    return unlocked.key;
  };
  // The first segment's key is checked before the stream is handed out, so a wrong key is an error here.
  if (segments[0]) await sessionKeyOf(segments[0]);
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
            current = (await decryptFileStream(ciphertext, await sessionKeyOf(segment))).getReader();
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

/** Up to `length` bytes of `file` from `offset`. */
async function readRange(file: string, offset: number, length: number): Promise<Uint8Array> {
  const handle = await open(file, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await handle.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
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
