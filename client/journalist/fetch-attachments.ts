/**
 * Attachments for `tipline journalist fetch`. Each one is a separate OpenPGP
 * message, up to 2 GiB, so it streams to disk rather than through memory:
 * first into `<blobId>.gpg.partial`, renamed to `<blobId>.gpg` only when its
 * size is exactly what the server listed. A download that breaks off leaves
 * the partial file, and the next try (in this run or the next) asks only for
 * the rest, with a `Range` request.
 *
 * The file stays encrypted: `decrypt` opens it, or `gpg --decrypt <blobId>.gpg`.
 *
 * @example
 * const outcome = await fetchAttachment(api, 'inbox', { id, size }, console.log); // 'fetched' | 'alreadyHad'
 */
import { createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { JournalistClientError, type JournalistApi } from './journalist-api.ts';

/** Tries per attachment in one run; each try goes on from where the last one stopped. */
const TRIES = 3;

export type RemoteBlob = { id: string; size: number };

export async function fetchAttachment(api: JournalistApi, outDir: string, blob: RemoteBlob, log: (line: string) => void): Promise<'fetched' | 'alreadyHad'> {
  // The listing is untrusted: the id becomes a file name.
  if (!MESSAGE_ID_RE.test(String(blob?.id)) || !Number.isSafeInteger(blob.size) || blob.size < 0) {
    throw new JournalistClientError('the server listed an attachment in a shape this tool does not accept; nothing more was fetched. Update tipline, or tell your admin.');
  }
  const file = join(outDir, `${blob.id}.gpg`);
  const done = await sizeOf(file);
  if (done === blob.size) return 'alreadyHad';
  if (done !== undefined) {
    throw new JournalistClientError(`${file} has ${done} bytes but the server lists ${blob.size}. Move it aside and run fetch again.`);
  }
  const partial = `${file}.partial`;
  for (let attempt = 1; ; attempt++) {
    let have = (await sizeOf(partial)) ?? 0;
    if (have > blob.size) {
      // Not a prefix of this blob: start again.
      await rm(partial, { force: true });
      have = 0;
    }
    if (have < blob.size) {
      if (have > 0) log(`resuming attachment ${blob.id} at byte ${have} of ${blob.size}`);
      try {
        await download(api, blob.id, partial, have, blob.size);
      } catch (e) {
        if (e instanceof JournalistClientError && e.status !== undefined) throw e;
        if (attempt >= TRIES) throw stopped(blob, (await sizeOf(partial)) ?? 0, e);
        continue;
      }
    }
    const now = (await sizeOf(partial)) ?? 0;
    if (now === blob.size) {
      await rename(partial, file);
      return 'fetched';
    }
    if (now > blob.size) {
      await rm(partial, { force: true });
      throw new JournalistClientError(`the server sent more bytes for attachment ${blob.id} than it listed; the download was deleted. Run fetch again, and tell your admin if this repeats.`);
    }
    if (attempt >= TRIES) throw stopped(blob, now);
  }
}

/** Appends the blob from `start` to `partial` (or writes it whole if the server ignores the range). */
async function download(api: JournalistApi, id: string, partial: string, start: number, listedSize: number): Promise<void> {
  // The stream ends at the listed size, whatever the server sends after it.
  const res = await api.getBlob(id, start, listedSize);
  let flags = 'w';
  if (start > 0 && res.status === 206) {
    if (!(res.headers.get('content-range') ?? '').startsWith(`bytes ${start}-`)) {
      await res.body.cancel();
      throw new Error('the server resumed at the wrong place');
    }
    flags = 'a';
  }
  await pipeline(Readable.fromWeb(res.body as NodeReadableStream<Uint8Array>), createWriteStream(partial, { flags, mode: 0o600 }));
}

function stopped(blob: RemoteBlob, at: number, cause?: unknown): JournalistClientError {
  const why = cause instanceof Error ? ` (${cause.message})` : '';
  return new JournalistClientError(`the download of attachment ${blob.id} stopped at byte ${at} of ${blob.size}${why}. Run fetch again: it goes on from there.`);
}

async function sizeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
