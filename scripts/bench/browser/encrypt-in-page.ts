/**
 * Runs inside headless Chromium for the browser-encrypt section: the source's
 * own attachment encryption (crypto/file-envelope.ts, bundled with openpgp.js's
 * lightweight build as for the real page), timed from the first byte read to
 * the last byte of ciphertext. Downloading the file and reading the keys happen
 * before the clock starts.
 */
import { readPublicKey } from '../../../crypto/envelope.ts';
import { encryptFileStream } from '../../../crypto/file-envelope.ts';

export type PageEncryptResult = { ms: number; plainBytes: number; cipherBytes: number };

async function benchEncrypt(armoredKeys: string[], dataUrl: string): Promise<PageEncryptResult> {
  const file = await (await fetch(dataUrl)).blob();
  const keys = await Promise.all(armoredKeys.map((k) => readPublicKey(k)));
  const started = performance.now();
  const reader = (await encryptFileStream(file.stream(), keys)).getReader();
  let cipherBytes = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    cipherBytes += value.length;
  }
  return { ms: performance.now() - started, plainBytes: file.size, cipherBytes };
}

(globalThis as unknown as { benchEncrypt: typeof benchEncrypt }).benchEncrypt = benchEncrypt;
