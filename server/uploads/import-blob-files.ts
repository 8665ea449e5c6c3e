/**
 * Upgrading a SQLite data directory: moves the attachment files an older
 * version kept in `<data>/blobs/` (one file per upload, named by its id) into
 * the row store (row-blob-store.ts), then overwrites each file with zeros
 * before unlinking it, so its key packets don't stay on the disk. Each file is
 * streamed, so memory stays flat whatever its size.
 *
 * Crash-safe and repeatable: a file is deleted only after its rows have
 * committed, and a file found again (a crash between the two) is written
 * afresh from offset 0, which replaces what the first try stored. Staging
 * files of an interrupted re-key (`<id>.replacing-…`) are wiped and removed:
 * the blob they were for is intact.
 *
 * @example
 * const moved = await importBlobFiles('/srv/tipline/data/blobs', new RowBlobStore(db));
 */
import { createReadStream } from 'node:fs';
import { open, readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { BlobStore } from './blob-store.ts';

const ID_RE = /^[A-Za-z0-9_-]{22}$/;
const STAGING_RE = /^[A-Za-z0-9_-]{22}\.replacing-[0-9a-f]{16}$/;
const WIPE_RUN = 1024 * 1024;

/** Returns how many blobs moved. Does nothing when the folder doesn't exist. */
export async function importBlobFiles(blobDir: string, rows: BlobStore): Promise<number> {
  const names = await readdir(blobDir).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return [] as string[];
    throw e;
  });
  let moved = 0;
  for (const name of names) {
    const path = join(blobDir, name);
    if (ID_RE.test(name)) {
      await rows.write(name, 0, createReadStream(path, { highWaterMark: WIPE_RUN }), { maxBytes: Number.MAX_SAFE_INTEGER });
      await wipeAndRemove(path);
      moved++;
    } else if (STAGING_RE.test(name)) {
      await wipeAndRemove(path);
    }
  }
  return moved;
}

/** Overwrites the whole file with zeros, fsyncs, and unlinks it (a copy-on-write file system or an SSD may still keep old blocks). */
export async function wipeAndRemove(path: string): Promise<void> {
  const { size } = await stat(path);
  const file = await open(path, 'r+');
  try {
    const zeros = new Uint8Array(Math.min(size, WIPE_RUN));
    for (let at = 0; at < size; at += zeros.length) await file.write(zeros, 0, Math.min(zeros.length, size - at), at);
    await file.sync();
  } finally {
    await file.close();
  }
  await rm(path, { force: true });
}
