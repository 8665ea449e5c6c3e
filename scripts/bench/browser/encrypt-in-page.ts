/**
 * Runs inside the browser for the browser-encrypt (Chromium) and
 * firefox-safer-upload (Firefox ESR as Tor Browser) sections: the source
 * page's own attachment pipeline, as client/source/upload-attachment.ts runs
 * it, without the network: the file padded to its bucket, read once per
 * 4 MiB segment, hashed and encrypted in the page's pool of workers
 * (client/source/segment-encryptor.ts, the worker served at
 * /static/segment-worker.js as on the real server). Timed from the first
 * byte read until both the last segment and the hash are done.
 * Downloading the file (or picking it) and reading the keys happen before the clock starts.
 */
import { readPublicKey } from '../../../crypto/envelope.ts';
import { createFileKey } from '../../../crypto/file-session-key.ts';
import { encryptFile } from '../../../client/source/segment-encryptor.ts';

export type PageEncryptResult = { ms: number; plainBytes: number; cipherBytes: number; segments: number; hardwareConcurrency: number };

/** `source`: a URL to download the file from, or `#file` for the file given to the page's file input (read from disk, as a source's is). */
async function benchEncrypt(armoredKeys: string[], source: string, mibPerSecond?: number): Promise<PageEncryptResult> {
  const file = source === '#file' ? (document.getElementById('file') as HTMLInputElement).files![0]! : await (await fetch(source)).blob();
  const keys = await Promise.all(armoredKeys.map((k) => readPublicKey(k)));
  const started = performance.now();
  const fileKey = await createFileKey(keys);
  const { segments: stream, hash } = encryptFile(file, fileKey);
  const reader = stream.getReader();
  let cipherBytes = 0;
  let segments = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    cipherBytes += value.length;
    segments++;
    // A stand-in for the network (scripts/bench/firefox-big-file.ts): take segments no faster than this.
    if (mibPerSecond) {
      const due = started + (cipherBytes / (mibPerSecond * 1024 * 1024)) * 1000;
      if (due > performance.now()) await new Promise((r) => setTimeout(r, due - performance.now()));
    }
  }
  await hash;
  return { ms: performance.now() - started, plainBytes: file.size, cipherBytes, segments, hardwareConcurrency: navigator.hardwareConcurrency };
}

(globalThis as unknown as { benchEncrypt: typeof benchEncrypt }).benchEncrypt = benchEncrypt;
