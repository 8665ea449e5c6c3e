/**
 * What happens to a file the moment the source picks it, before anything is
 * encrypted or sent: images (JPEG, PNG, WebP, recognised by their first bytes,
 * whatever their name says) are read and cleaned of hidden information with
 * `stripMetadata`, so the page can say what was removed; any other file is
 * left as it is, and the page warns that it can't be cleaned.
 *
 * Loaded lazily, when the source first picks a file.
 *
 * @example
 * const prepared = await prepareAttachment(file); // { blob, cleaned, removed, … }
 * // or throws AttachmentProblem('damaged' | 'unreadable')
 */
import { MalformedImageError, imageKind, stripMetadata } from '../../crypto/metadata-strip.ts';

export type PreparedAttachment = {
  /** The file as chosen. */
  file: File;
  /** What will be encrypted: the cleaned copy of an image, otherwise the file itself. */
  blob: Blob;
  name: string;
  type: string;
  /** Bytes that will be encrypted (a cleaned image is smaller than the original). */
  size: number;
  /** True for images whose hidden information was removed (or that had none). */
  cleaned: boolean;
  /** What was removed, in the cleaner's words (e.g. "APP1 (EXIF)", "APP11 (JUMBF/C2PA)"). */
  removed: string[];
};

/** Why a file can't be attached; `code` picks the sentence shown to the source. */
export class AttachmentProblem extends Error {
  override name = 'AttachmentProblem';
  constructor(readonly code: 'damaged' | 'unreadable') {
    super(code);
  }
}

/** Enough of a file to tell JPEG, PNG and WebP apart (see imageKind). */
const SNIFF_BYTES = 12;

export async function prepareAttachment(file: File): Promise<PreparedAttachment> {
  const base = { file, name: file.name, type: file.type };
  const head = await read(file.slice(0, SNIFF_BYTES));
  if (imageKind(head) === 'other') return { ...base, blob: file, size: file.size, cleaned: false, removed: [] };
  let result;
  try {
    result = stripMetadata(await read(file));
  } catch (e) {
    if (e instanceof MalformedImageError) throw new AttachmentProblem('damaged');
    throw e;
  }
  const blob = new Blob([result.bytes as Uint8Array<ArrayBuffer>], { type: file.type });
  return { ...base, blob, size: blob.size, cleaned: true, removed: result.removed };
}

async function read(blob: Blob): Promise<Uint8Array> {
  try {
    return new Uint8Array(await blob.arrayBuffer());
  } catch {
    // The file was moved, deleted or changed since it was picked.
    throw new AttachmentProblem('unreadable');
  }
}
