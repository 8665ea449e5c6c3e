/**
 * The Web Worker that reads, hashes and encrypts attachment segments
 * (file-segments.ts) for segment-encryptor.ts. Several run at once, one per
 * core, each holding only the segment it is working on. Built next to
 * page.js (build.mjs).
 *
 * Messages in: `{ init: { sessionKey, keyPackets, now, file } }` once (the
 * File is a reference, not its bytes), then `{ seq, index }` per segment.
 * Messages out: `{ seq, message, offset, length, pieceDigest }` (the buffers
 * transferred) or `{ seq, error, fileChanged }`.
 *
 * @example
 * const worker = new Worker('/static/segment-worker.js', { type: 'module' });
 */
import { importSegmentKey, type SegmentKey } from '../../crypto/segmented-envelope.ts';
import { encryptFileSegment, FileChangedError } from './file-segments.ts';

type Init = { init: { sessionKey: Uint8Array; keyPackets: Uint8Array; now: number; file: Blob } };
type Job = { seq: number; index: number };

let key: Promise<SegmentKey> | undefined;
let file: Blob | undefined;
const scope = self as unknown as { onmessage: ((e: MessageEvent<Init | Job>) => void) | null; postMessage: (message: unknown, transfer?: Transferable[]) => void };

scope.onmessage = (e) => {
  const data = e.data;
  if ('init' in data) {
    key = importSegmentKey({ sessionKey: data.init.sessionKey, keyPackets: data.init.keyPackets }, new Date(data.init.now));
    file = data.init.file;
    return;
  }
  const { seq, index } = data;
  (async () => {
    if (!key || !file) throw new Error('segment worker: no key');
    const { message, pieceDigest } = await encryptFileSegment(await key, file, index);
    // The message is a view into its buffer (crypto/segmented-envelope.ts builds it in place): say where.
    const transfer = [message.buffer as ArrayBuffer, ...(pieceDigest ? [pieceDigest.buffer as ArrayBuffer] : [])];
    scope.postMessage({ seq, message: message.buffer, offset: message.byteOffset, length: message.length, pieceDigest: pieceDigest?.buffer }, transfer);
  })().catch((error: unknown) => scope.postMessage({ seq, error: error instanceof Error ? error.message : String(error), fileChanged: error instanceof FileChangedError }));
};
