/**
 * Attachments for `tipline journalist decrypt`: each `<blobId>.gpg` that a tip
 * document lists is decrypted into the message folder's `attachments/`.
 *
 * - Streamed, in flat memory: openpgp.js hands out plaintext before its
 *   integrity check (`allowUnauthenticatedStream`), so it goes into a hidden
 *   temporary file that gets its real name only once the stream has ended
 *   without error, which is when the check has passed. On any error the
 *   temporary file is deleted: nothing half-checked is left to open.
 * - The padding after the file (zeros up to its size bucket) is cut off and
 *   checked; the size and hash must be what the source's browser put in the
 *   tip document (the 4 MiB-piece hash of crypto/piece-hash.ts, or the plain
 *   SHA-256 for tips sent before it); otherwise the file is deleted and the
 *   message fails. meta.json gives the file's plain SHA-256.
 * - Names come from the source, so they are made safe (crypto/file-names.ts)
 *   and unique within the folder.
 * - Executables, scripts and macro-enabled files are flagged, and hidden
 *   information still in the file (GPS position, author…) is reported
 *   (metadata-report.ts).
 *
 * @example
 * const records = await decryptAttachments({ keys: privateKeySource(key), inDir: 'inbox', messageFolder, refs: doc.attachments });
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as NodeReadableStream } from 'node:stream/web';
import { SessionKeyError, type SessionKeySource } from '../../crypto/session-key.ts';
import { cutFilePadding } from '../../crypto/file-padding.ts';
import { PIECE_HASH_FORMAT, PieceHasher } from '../../crypto/piece-hash.ts';
import { isRiskyFile, sanitizeFileName, uniqueFileName } from '../../crypto/file-names.ts';
import { SEGMENTED_ENCRYPTION, type AttachmentRef } from '../../crypto/tip-document.ts';
import { decryptAttachmentFile } from './attachment-segments.ts';
import { MESSAGE_ID_RE } from './conversation-folders.ts';
import { exists } from './files.ts';
import { findMetadata } from './metadata-report.ts';

export const ATTACHMENTS_FOLDER = 'attachments';

/** What meta.json says about each attachment. */
export type AttachmentRecord = {
  /** The name the source's file had (untrusted: shown, never used as a path). */
  name: string;
  /** Where it is, relative to the message folder. */
  savedAs: string;
  size: number;
  sha256: string;
  /** An executable, script, disk image or macro-enabled document: open it only somewhere safe. */
  risky: boolean;
  /** Hidden information still in the file; empty when none was found. */
  metadataFound: string[];
};

/** An attachment that could not be opened, or did not match the tip; the message is not filed. */
export class AttachmentError extends Error {
  override name = 'AttachmentError';
}

export async function decryptAttachments(o: {
  keys: SessionKeySource;
  inDir: string;
  /** The message folder being built (still under its temporary name). */
  messageFolder: string;
  refs: AttachmentRef[];
}): Promise<AttachmentRecord[]> {
  if (o.refs.length === 0) return [];
  const folder = join(o.messageFolder, ATTACHMENTS_FOLDER);
  await mkdir(folder, { recursive: true, mode: 0o700 });
  const taken = new Set<string>();
  const records: AttachmentRecord[] = [];
  for (const [i, ref] of o.refs.entries()) {
    const shown = JSON.stringify(sanitizeFileName(ref.name));
    if (!MESSAGE_ID_RE.test(ref.blobId) || !/^[0-9a-f]{64}$/.test(ref.sha256) || ref.size < 0) {
      throw new AttachmentError(`the tip describes attachment ${shown} in a shape this tool does not accept`);
    }
    const source = join(o.inDir, `${ref.blobId}.gpg`);
    if (!(await exists(source))) throw new AttachmentError(`attachment ${shown} (${ref.blobId}.gpg) has not been fetched yet: run fetch, then decrypt again`);
    const name = uniqueFileName(sanitizeFileName(ref.name), taken);
    taken.add(name);
    // Sanitized names never start with a dot, so this can't collide with one.
    const temp = join(folder, `.partial-${i}`);
    let got: { size: number; sha256: string; pieceHash: string };
    try {
      got = await decryptToFile(source, temp, o.keys, ref);
      const expected = ref.hashFormat === PIECE_HASH_FORMAT ? got.pieceHash : got.sha256;
      if (got.size !== ref.size || expected !== ref.sha256) {
        throw new AttachmentError(`attachment ${shown} is not the file the source sent (its ${got.size !== ref.size ? 'size' : 'SHA-256'} differs from the tip's); it was deleted`);
      }
      await rename(temp, join(folder, name));
    } catch (e) {
      await rm(temp, { force: true });
      if (e instanceof AttachmentError) throw e;
      throw new AttachmentError(`attachment ${shown} could not be decrypted: ${describe(e)}; nothing of it was kept`);
    }
    records.push({
      name: ref.name,
      savedAs: `${ATTACHMENTS_FOLDER}/${name}`,
      size: ref.size,
      // The file's plain SHA-256 (what sha256sum prints), whichever hash the tip carried.
      sha256: got.sha256,
      risky: isRiskyFile(name, ref.type),
      metadataFound: await findMetadata(join(folder, name)),
    });
  }
  return records;
}

/**
 * Decrypts `source` into `target` (created new), hashing on the way and
 * cutting the padding after the tip's `ref.size` bytes (crypto/file-padding.ts).
 * Rejects if the integrity check fails or the padding is not zeros to the bucket.
 */
async function decryptToFile(source: string, target: string, keys: SessionKeySource, ref: AttachmentRef): Promise<{ size: number; sha256: string; pieceHash: string }> {
  // One message, or (ref.encryption) segments joined in order: the padded file either way.
  const padded = await decryptAttachmentFile(source, keys, { segmented: ref.encryption === SEGMENTED_ENCRYPTION });
  const plaintext = padded.pipeThrough(cutFilePadding(ref.size));
  const hash = createHash('sha256');
  const pieces = new PieceHasher((piece) => createHash('sha256').update(piece).digest());
  let size = 0;
  await pipeline(
    Readable.fromWeb(plaintext as NodeReadableStream<Uint8Array>),
    new Transform({
      transform(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        pieces.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    }),
    createWriteStream(target, { flags: 'wx', mode: 0o600 }),
  );
  return { size, sha256: hash.digest('hex'), pieceHash: pieces.digestHex() };
}

function describe(e: unknown): string {
  if (e instanceof SessionKeyError && e.code === 'not-for-this-key') return 'it is not encrypted to your key';
  const message = e instanceof Error ? e.message : String(e);
  if (/Modification detected|MDC|integrity/i.test(message)) return 'the ciphertext was altered (integrity check failed)';
  if (/Session key decryption failed|No decryption key packets found|Error decrypting message/i.test(message)) return 'it is not encrypted to your key';
  return message;
}
