/**
 * Removes metadata from images in the source's browser, before encryption, by
 * editing bytes: no re-encoding, so the pixels are byte-for-byte the original.
 * A photo's EXIF can hold the GPS position of the source's home, the camera's
 * serial number and the time it was taken.
 *
 * - JPEG: drops APP1 (EXIF, XMP), APP13 (IPTC/Photoshop) and COM segments.
 *   Orientation lives in EXIF, so it goes too: the journalist sees the raw
 *   orientation, which is safe.
 * - PNG: drops tEXt, zTXt, iTXt, eXIf and tIME chunks.
 * - WebP: drops EXIF and XMP chunks and clears their flags in VP8X.
 *
 * Other types are returned unchanged with `cleaned: false`, so the page can warn
 * that it can't clean them (PDF, Office, video…).
 *
 * @module
 * @example
 * import { stripMetadata } from './metadata-strip.ts';
 * const { bytes, removed, cleaned } = stripMetadata(photoBytes);
 */
import { abytes, concatBytes } from './bytes.ts';

export type StripResult = { bytes: Uint8Array; kind: 'jpeg' | 'png' | 'webp' | 'other'; cleaned: boolean; removed: string[] };

export class MalformedImageError extends Error {
  override name = 'MalformedImageError';
}

export function imageKind(bytes: Uint8Array): StripResult['kind'] {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  return 'other';
}

export function stripMetadata(input: Uint8Array): StripResult {
  abytes(input, undefined, 'image');
  const kind = imageKind(input);
  if (kind === 'jpeg') return { kind, cleaned: true, ...stripJpeg(input) };
  if (kind === 'png') return { kind, cleaned: true, ...stripPng(input) };
  if (kind === 'webp') return { kind, cleaned: true, ...stripWebp(input) };
  return { bytes: input, kind, cleaned: false, removed: [] };
}

const JPEG_DROP: Record<number, string> = { 0xe1: 'APP1 (EXIF/XMP)', 0xed: 'APP13 (IPTC)', 0xfe: 'COM (comment)' };

function stripJpeg(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  const keep: Uint8Array[] = [b.subarray(0, 2)];
  const removed: string[] = [];
  let pos = 2;
  while (pos < b.length) {
    if (b[pos] !== 0xff) throw new MalformedImageError('JPEG: expected a marker');
    let marker = b[pos + 1]!;
    // Fill bytes (0xFF padding) before a marker are allowed.
    let start = pos;
    while (marker === 0xff && pos + 2 < b.length) {
      pos++;
      marker = b[pos + 1]!;
    }
    start = pos;
    if (marker === 0xd9) {
      keep.push(b.subarray(start));
      break;
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      keep.push(b.subarray(start, start + 2));
      pos = start + 2;
      continue;
    }
    if (start + 4 > b.length) throw new MalformedImageError('JPEG: truncated segment');
    const length = (b[start + 2]! << 8) | b[start + 3]!;
    const end = start + 2 + length;
    if (length < 2 || end > b.length) throw new MalformedImageError('JPEG: bad segment length');
    if (marker === 0xda) {
      // Start of scan: the entropy-coded image data and everything after it stay byte for byte.
      keep.push(b.subarray(start));
      break;
    }
    if (JPEG_DROP[marker]) removed.push(JPEG_DROP[marker]!);
    else keep.push(b.subarray(start, end));
    pos = end;
  }
  return { bytes: concatBytes(...keep), removed };
}

const PNG_DROP = new Set(['tEXt', 'zTXt', 'iTXt', 'eXIf', 'tIME']);

function stripPng(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  const keep: Uint8Array[] = [b.subarray(0, 8)];
  const removed: string[] = [];
  let pos = 8;
  while (pos < b.length) {
    if (pos + 12 > b.length) throw new MalformedImageError('PNG: truncated chunk');
    const length = ((b[pos]! << 24) >>> 0) + (b[pos + 1]! << 16) + (b[pos + 2]! << 8) + b[pos + 3]!;
    const type = ascii(b, pos + 4, 4);
    const end = pos + 12 + length;
    if (end > b.length) throw new MalformedImageError('PNG: bad chunk length');
    if (PNG_DROP.has(type)) removed.push(type);
    else keep.push(b.subarray(pos, end));
    pos = end;
    if (type === 'IEND') break;
  }
  return { bytes: concatBytes(...keep), removed };
}

function stripWebp(b: Uint8Array): { bytes: Uint8Array; removed: string[] } {
  const chunks: Uint8Array[] = [];
  const removed: string[] = [];
  let pos = 12;
  let vp8x: Uint8Array | undefined;
  while (pos + 8 <= b.length) {
    const fourcc = ascii(b, pos, 4);
    const size = b[pos + 4]! + (b[pos + 5]! << 8) + (b[pos + 6]! << 16) + ((b[pos + 7]! << 24) >>> 0);
    const end = pos + 8 + size + (size & 1);
    if (pos + 8 + size > b.length) throw new MalformedImageError('WebP: bad chunk size');
    if (fourcc === 'EXIF' || fourcc === 'XMP ') removed.push(fourcc.trim());
    else {
      const chunk = b.slice(pos, Math.min(end, b.length));
      if (fourcc === 'VP8X') vp8x = chunk;
      chunks.push(chunk);
    }
    pos = end;
  }
  // VP8X flags: bit 3 = EXIF present, bit 2 = XMP present.
  if (vp8x && vp8x.length > 8) vp8x[8] = vp8x[8]! & ~0x0c;
  const body = concatBytes(...chunks);
  const header = new Uint8Array(12);
  header.set(b.subarray(0, 4));
  const riffSize = body.length + 4;
  header.set([riffSize & 255, (riffSize >> 8) & 255, (riffSize >> 16) & 255, (riffSize >>> 24) & 255], 4);
  header.set(b.subarray(8, 12), 8);
  return { bytes: concatBytes(header, body), removed };
}

function ascii(b: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...b.subarray(start, start + length));
}

/** File types we can't clean of hidden information, by MIME type or extension, so the page can warn. */
export function cannotClean(name: string, type: string): boolean {
  if (/^image\/(jpeg|png|webp)$/.test(type)) return false;
  if (/\.(jpe?g|png|webp)$/i.test(name)) return false;
  return true;
}
