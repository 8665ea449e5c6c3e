/**
 * Small filesystem helpers for the journalist tool. Files it writes are 0600 and
 * go through a temporary name and a rename, so an interrupted run never leaves
 * a half-written file where a whole one is expected.
 */
import { rename, rm, stat, writeFile } from 'node:fs/promises';

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes `file` whole or not at all: first `<file>.partial`, then a rename over it. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.partial`;
  try {
    await writeFile(tmp, data, { mode: 0o600 });
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}
