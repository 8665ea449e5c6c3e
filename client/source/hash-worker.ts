/**
 * The Web Worker behind file-hash.ts: given a File or Blob, it answers with
 * its SHA-256 and size (or `{ error }`), reading the file itself.
 *
 * @example
 * const worker = new Worker('/static/hash-worker.js', { type: 'module' });
 * worker.onmessage = (e) => console.log(e.data); // { sha256: 'ab12…', size: 1048576 }
 * worker.postMessage(file);
 */
import { hashBlob } from './file-hash.ts';

self.onmessage = async (e: MessageEvent<Blob>) => {
  try {
    self.postMessage(await hashBlob(e.data));
  } catch (err) {
    self.postMessage({ error: err instanceof Error ? err.message : String(err) });
  }
};
