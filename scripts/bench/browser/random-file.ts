/**
 * A file of random bytes on disk, for the browser sections: Chromium reads it
 * itself (a download, or a file input given its path), so Node never holds it.
 * Random, because compression, were any on, would gain nothing.
 *
 * @example
 * await writeRandomFile('/tmp/x.bin', 64 * 1024 * 1024);
 */
import { randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';

const MiB = 1024 * 1024;

/** Writes `bytes` random bytes to `file`, 1 MiB at a time (the same block repeated: nothing here compresses anyway). */
export async function writeRandomFile(file: string, bytes: number): Promise<void> {
  const block = randomFillSync(new Uint8Array(Math.min(MiB, Math.max(1, bytes))));
  const out = await open(file, 'w', 0o600);
  try {
    for (let written = 0; written < bytes; ) {
      const n = Math.min(block.length, bytes - written);
      await out.write(block, 0, n);
      written += n;
    }
  } finally {
    await out.close();
  }
}
