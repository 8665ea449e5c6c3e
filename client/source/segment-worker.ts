/**
 * The Web Worker that encrypts attachment segments (crypto/segmented-envelope.ts)
 * for segment-encryptor.ts. Several run at once, one per core, each holding
 * only the segment it is working on. Built next to page.js (build.mjs).
 *
 * Messages in: `{ init: { sessionKey, keyPackets, now } }` once, then
 * `{ seq, buffer, length }` per segment (the buffer is transferred).
 * Messages out: `{ seq, message }` (transferred) or `{ seq, error }`.
 *
 * @example
 * const worker = new Worker('/static/segment-worker.js', { type: 'module' });
 */
import { encryptSegment, importSegmentKey, type SegmentKey } from '../../crypto/segmented-envelope.ts';

type Init = { init: { sessionKey: Uint8Array; keyPackets: Uint8Array; now: number } };
type Job = { seq: number; buffer: ArrayBuffer; length: number };

let key: Promise<SegmentKey> | undefined;
const scope = self as unknown as { onmessage: ((e: MessageEvent<Init | Job>) => void) | null; postMessage: (message: unknown, transfer?: Transferable[]) => void };

scope.onmessage = (e) => {
  const data = e.data;
  if ('init' in data) {
    key = importSegmentKey({ sessionKey: data.init.sessionKey, keyPackets: data.init.keyPackets }, new Date(data.init.now));
    return;
  }
  const { seq, buffer, length } = data;
  (async () => {
    if (!key) throw new Error('segment worker: no key');
    const message = await encryptSegment(await key, new Uint8Array(buffer, 0, length));
    // The message is a view into its buffer (crypto/segmented-envelope.ts builds it in place): say where.
    scope.postMessage({ seq, message: message.buffer, offset: message.byteOffset, length: message.length }, [message.buffer as ArrayBuffer]);
  })().catch((error: unknown) => scope.postMessage({ seq, error: error instanceof Error ? error.message : String(error) }));
};
