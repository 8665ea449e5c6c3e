/**
 * Cleans images of hidden information by keeping only what draws the pixels
 * (a whitelist), by editing bytes: no re-encoding, so the pixels are
 * byte-for-byte the original. A photo can hold the GPS position of the
 * source's home, the camera's serial number, the owner's name in content
 * credentials (C2PA) and, after the image's end, whole second images (depth
 * maps, HDR gain maps, Motion Photo videos) with their own metadata. Removing
 * known-bad parts misses whatever a new phone adds; keeping known-good parts
 * does not.
 *
 * - JPEG: keeps SOI, the quantization, Huffman, arithmetic-coding, frame,
 *   restart-interval, line-count and scan segments with their image data,
 *   the ICC colour profile (APP2 `ICC_PROFILE`) and Adobe's colour-transform
 *   flag (APP14 `Adobe`, 12 bytes, which decides how CMYK and RGB JPEGs look),
 *   and EOI. Every other APPn (EXIF, XMP, MPF, JUMBF/C2PA, IPTC, JFIF…), every
 *   COM, and everything after EOI goes. Orientation lives in EXIF, so it goes
 *   too: the journalist sees the photo as the sensor took it, possibly on its
 *   side.
 * - PNG: keeps IHDR, PLTE, tRNS, IDAT, IEND, the colour chunks gAMA, cHRM,
 *   sRGB, iCCP, cICP, sBIT, and APNG's acTL, fcTL, fdAT; drops every other
 *   chunk and anything after IEND. Each chunk's CRC is checked.
 * - WebP: keeps VP8, VP8L, VP8X (EXIF and XMP flags cleared), ALPH, ANIM,
 *   ANMF and ICCP; drops every other chunk and anything after the RIFF end.
 *
 * An ICC profile is kept in all three: without it colours are wrong, and the
 * profiles phones, browsers and editors write are shared by millions of
 * devices. A profile made by calibrating one screen could be rarer; that is
 * the one piece of non-pixel data this cleaner lets through.
 *
 * A file that can't be parsed to its end is refused with a
 * {@link MalformedImageError}, never sent half-cleaned. Other types are
 * returned unchanged with `cleaned: false`, so the page can warn that it
 * can't clean them (PDF, Office, video…).
 *
 * The journalist's metadata report (client/journalist/metadata-report.ts)
 * runs the same code on decrypted files, and names what it would remove.
 *
 * @module
 * @example
 * import { stripMetadata } from './metadata-strip.ts';
 * const { bytes, removed, cleaned } = stripMetadata(photoBytes); // removed: ['APP1 (EXIF)', 'data after the end of the image']
 */
import { abytes, concatBytes } from './bytes.ts';

export type ImageKind = 'jpeg' | 'png' | 'webp' | 'other';

export type StripResult = {
  bytes: Uint8Array;
  kind: ImageKind;
  cleaned: boolean;
  /** What was removed, each kind once, in file order (e.g. "APP11 (JUMBF/C2PA)", "caBX (C2PA)"). */
  removed: string[];
  /** The bytes after the image's end, if any (phones put whole second images there). */
  trailing?: Uint8Array;
};

/** The image can't be parsed to its end; nothing of it may be sent. */
export class MalformedImageError extends Error {
  override name = 'MalformedImageError';
}

/** Label for whatever follows the image's last byte. */
export const TRAILING_DATA = 'data after the end of the image';
/** Label when that data is itself a JPEG (MPF images: depth maps, gain maps, Motion Photos). */
export const TRAILING_IMAGE = 'another image after the end (MPF, depth map or Motion Photo)';

export function imageKind(bytes: Uint8Array): ImageKind {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && PNG_SIGNATURE.every((b, i) => bytes[i] === b)) return 'png';
  if (bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 4) === 'WEBP') return 'webp';
  return 'other';
}

export function stripMetadata(input: Uint8Array): StripResult {
  abytes(input, undefined, 'image');
  const kind = imageKind(input);
  let result: { keep: Uint8Array[]; removed: string[]; end: number };
  if (kind === 'jpeg') result = stripJpeg(input);
  else if (kind === 'png') result = stripPng(input);
  else if (kind === 'webp') result = stripWebp(input);
  else return { bytes: input, kind, cleaned: false, removed: [] };
  const { keep, removed, end } = result;
  let trailing: Uint8Array | undefined;
  if (end < input.length) {
    trailing = input.subarray(end);
    removed.push(imageKind(trailing) === 'jpeg' ? TRAILING_IMAGE : TRAILING_DATA);
  }
  return { bytes: concatBytes(...keep), kind, cleaned: true, removed: [...new Set(removed)], ...(trailing ? { trailing } : {}) };
}

// JPEG ---------------------------------------------------------------------

/** Marker segments that describe or hold the image: SOFn, DHT, DAC, DQT, DNL, DRI, DHP, EXP. */
const JPEG_IMAGE_SEGMENTS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcc, 0xcd, 0xce, 0xcf, 0xdb, 0xdc, 0xdd, 0xde, 0xdf]);
const SOS = 0xda;
const EOI = 0xd9;

function stripJpeg(b: Uint8Array): { keep: Uint8Array[]; removed: string[]; end: number } {
  const keep: Uint8Array[] = [b.subarray(0, 2)];
  const removed: string[] = [];
  let sawFrame = false;
  let sawScan = false;
  let pos = 2;
  for (;;) {
    if (pos + 2 > b.length) throw new MalformedImageError('JPEG: the file ends before the end-of-image marker');
    if (b[pos] !== 0xff) throw new MalformedImageError(`JPEG: expected a marker at byte ${pos}`);
    // Fill bytes (0xFF) may come before a marker.
    while (b[pos + 1] === 0xff && pos + 2 < b.length) pos++;
    const marker = b[pos + 1]!;
    if (marker === EOI) {
      if (!sawFrame || !sawScan) throw new MalformedImageError('JPEG: no frame or no scan before the end of the image');
      keep.push(b.subarray(pos, pos + 2));
      return { keep, removed, end: pos + 2 };
    }
    if ((marker >= 0xd0 && marker <= 0xd7) || marker === 0x01) {
      // RSTn and TEM stand alone.
      keep.push(b.subarray(pos, pos + 2));
      pos += 2;
      continue;
    }
    if (marker === 0xd8 || marker === 0x00) throw new MalformedImageError(`JPEG: unexpected marker 0x${marker.toString(16)} at byte ${pos}`);
    if (pos + 4 > b.length) throw new MalformedImageError('JPEG: truncated segment');
    const length = (b[pos + 2]! << 8) | b[pos + 3]!;
    const end = pos + 2 + length;
    if (length < 2 || end > b.length) throw new MalformedImageError('JPEG: bad segment length');
    const body = b.subarray(pos + 4, end);
    if (marker === SOS) {
      if (!sawFrame) throw new MalformedImageError('JPEG: a scan before the frame header');
      sawScan = true;
      const dataEnd = endOfEntropyData(b, end);
      keep.push(b.subarray(pos, dataEnd));
      pos = dataEnd;
      continue;
    }
    if (JPEG_IMAGE_SEGMENTS.has(marker)) {
      if (marker !== 0xc4 && marker !== 0xcc && marker !== 0xdb && marker !== 0xdc && marker !== 0xdd) sawFrame = true;
      keep.push(b.subarray(pos, end));
    } else if (marker === 0xe2 && startsWith(body, 'ICC_PROFILE\0')) {
      keep.push(b.subarray(pos, end));
    } else if (marker === 0xee && length === 14 && startsWith(body, 'Adobe')) {
      keep.push(b.subarray(pos, end));
    } else if ((marker >= 0xe0 && marker <= 0xef) || marker === 0xfe) {
      removed.push(jpegLabel(marker, body));
    } else {
      // JPGn extensions (JPEG-LS, JPEG XT…) and reserved markers: we can't tell image from hiding place.
      throw new MalformedImageError(`JPEG: unsupported marker 0x${marker.toString(16)}`);
    }
    pos = end;
  }
}

/**
 * Where the entropy-coded data after a scan header ends: at the first 0xFF
 * that starts a marker other than RSTn (0xFF00 is a stuffed data byte).
 */
function endOfEntropyData(b: Uint8Array, from: number): number {
  let at = from;
  for (;;) {
    const ff = b.indexOf(0xff, at);
    if (ff < 0 || ff + 1 >= b.length) throw new MalformedImageError('JPEG: the image data runs to the end of the file');
    const next = b[ff + 1]!;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7)) at = ff + 2;
    else if (next === 0xff) at = ff + 1;
    else return ff;
  }
}

function jpegLabel(marker: number, body: Uint8Array): string {
  if (marker === 0xfe) return 'COM (comment)';
  const n = marker - 0xe0;
  const known: [string, string][] = [
    ['JFIF\0', 'APP0 (JFIF)'],
    ['JFXX\0', 'APP0 (JFIF thumbnail)'],
    ['Exif\0', 'APP1 (EXIF)'],
    ['http://ns.adobe.com/xap/1.0/', 'APP1 (XMP)'],
    ['http://ns.adobe.com/xmp/extension/', 'APP1 (XMP)'],
    ['MPF\0', 'APP2 (MPF: more images in the file)'],
    ['Photoshop 3.0', 'APP13 (IPTC/Photoshop)'],
  ];
  for (const [prefix, label] of known) if (startsWith(body, prefix)) return label;
  if (n === 11) return 'APP11 (JUMBF/C2PA)';
  return `APP${n}`;
}

// PNG ----------------------------------------------------------------------

const PNG_SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const PNG_KEEP = new Set(['IHDR', 'PLTE', 'tRNS', 'IDAT', 'IEND', 'gAMA', 'cHRM', 'sRGB', 'iCCP', 'cICP', 'sBIT', 'acTL', 'fcTL', 'fdAT']);
const PNG_LABELS: Record<string, string> = { caBX: 'caBX (C2PA)', eXIf: 'eXIf (EXIF)', tEXt: 'tEXt (text)', zTXt: 'zTXt (text)', iTXt: 'iTXt (text, XMP)', tIME: 'tIME (time)' };

function stripPng(b: Uint8Array): { keep: Uint8Array[]; removed: string[]; end: number } {
  const keep: Uint8Array[] = [b.subarray(0, 8)];
  const removed: string[] = [];
  let pos = 8;
  let first = true;
  for (;;) {
    if (pos + 12 > b.length) throw new MalformedImageError('PNG: the file ends before IEND');
    const length = readUint32BE(b, pos);
    const type = ascii(b, pos + 4, 4);
    const end = pos + 12 + length;
    if (length > 0x7fffffff || end > b.length) throw new MalformedImageError('PNG: bad chunk length');
    if (!/^[A-Za-z]{4}$/.test(type)) throw new MalformedImageError('PNG: bad chunk type');
    if (crc32(b.subarray(pos + 4, end - 4)) !== readUint32BE(b, end - 4)) throw new MalformedImageError(`PNG: bad CRC in ${type}`);
    if (first && type !== 'IHDR') throw new MalformedImageError('PNG: IHDR is not first');
    first = false;
    if (PNG_KEEP.has(type)) keep.push(b.subarray(pos, end));
    // An unknown critical chunk (capital first letter) is needed to draw the image: we can't drop it.
    else if (type.charCodeAt(0) < 0x61) throw new MalformedImageError(`PNG: unknown critical chunk ${type}`);
    else removed.push(PNG_LABELS[type] ?? type);
    pos = end;
    if (type === 'IEND') return { keep, removed, end };
  }
}

let crcTable: Uint32Array | undefined;

function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

// WebP ---------------------------------------------------------------------

const WEBP_KEEP = new Set(['VP8 ', 'VP8L', 'VP8X', 'ALPH', 'ANIM', 'ANMF', 'ICCP']);
const WEBP_FRAME_CHUNKS = new Set(['VP8 ', 'VP8L', 'ALPH']);
/** VP8X flags we keep: ICC profile (0x20), alpha (0x10), animation (0x02). EXIF (0x08) and XMP (0x04) go. */
const VP8X_KEPT_FLAGS = 0x32;

function stripWebp(b: Uint8Array): { keep: Uint8Array[]; removed: string[]; end: number } {
  const riffEnd = 8 + readUint32LE(b, 4);
  if (riffEnd > b.length || riffEnd < 12) throw new MalformedImageError('WebP: the RIFF size is larger than the file');
  const chunks = riffChunks(b, 12, riffEnd);
  const kept: Uint8Array[] = [];
  const removed: string[] = [];
  let image = false;
  for (const { fourcc, start, end } of chunks) {
    if (!WEBP_KEEP.has(fourcc)) {
      removed.push(webpLabel(fourcc));
      continue;
    }
    const chunk = b.slice(start, end);
    if (fourcc === 'VP8X') {
      if (chunk.length < 18) throw new MalformedImageError('WebP: VP8X too short');
      chunk[8] = chunk[8]! & VP8X_KEPT_FLAGS;
    }
    if (fourcc === 'ANMF') {
      // A frame: 16 bytes of position and timing, then its own ALPH/VP8/VP8L chunks.
      if (chunk.length < 24) throw new MalformedImageError('WebP: ANMF too short');
      for (const inner of riffChunks(chunk, 24, chunk.length)) {
        if (!WEBP_FRAME_CHUNKS.has(inner.fourcc)) throw new MalformedImageError(`WebP: unexpected ${webpLabel(inner.fourcc)} inside a frame`);
      }
    }
    if (fourcc !== 'VP8X' && fourcc !== 'ICCP' && fourcc !== 'ANIM') image = true;
    kept.push(chunk);
  }
  if (!image) throw new MalformedImageError('WebP: no image data');
  const body = concatBytes(...kept);
  const header = new Uint8Array(12);
  header.set(b.subarray(0, 4));
  new DataView(header.buffer).setUint32(4, body.length + 4, true);
  header.set(b.subarray(8, 12), 8);
  return { keep: [header, body], removed, end: riffEnd };
}

/**
 * How a dropped WebP chunk is named to the source and the journalist. A
 * hostile file chooses its chunk names: anything but printable ASCII is shown
 * in hex, so no control character reaches a terminal or a page.
 */
function webpLabel(fourcc: string): string {
  if (fourcc === 'EXIF') return 'EXIF';
  if (fourcc === 'XMP ') return 'XMP';
  if (/^[\x20-\x7e]{4}$/.test(fourcc)) return `chunk ${fourcc.trim()}`;
  return `chunk 0x${[...fourcc].map((c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join('')}`;
}

/** The RIFF chunks between `from` and `to`, each with its padding byte; throws unless they fill the range exactly. */
function riffChunks(b: Uint8Array, from: number, to: number): { fourcc: string; start: number; end: number }[] {
  const out: { fourcc: string; start: number; end: number }[] = [];
  let pos = from;
  while (pos < to) {
    if (pos + 8 > to) throw new MalformedImageError('WebP: truncated chunk header');
    const fourcc = ascii(b, pos, 4);
    const size = readUint32LE(b, pos + 4);
    const end = pos + 8 + size + (size & 1);
    if (end > to) throw new MalformedImageError(`WebP: ${webpLabel(fourcc)} runs past its end`);
    out.push({ fourcc, start: pos, end });
    pos = end;
  }
  return out;
}

// Shared -------------------------------------------------------------------

function ascii(b: Uint8Array, start: number, length: number): string {
  return String.fromCharCode(...b.subarray(start, start + length));
}

function startsWith(b: Uint8Array, prefix: string): boolean {
  return b.length >= prefix.length && ascii(b, 0, prefix.length) === prefix;
}

function readUint32BE(b: Uint8Array, at: number): number {
  return ((b[at]! << 24) >>> 0) + (b[at + 1]! << 16) + (b[at + 2]! << 8) + b[at + 3]!;
}

function readUint32LE(b: Uint8Array, at: number): number {
  return b[at]! + (b[at + 1]! << 8) + (b[at + 2]! << 16) + ((b[at + 3]! << 24) >>> 0);
}

/** File types we can't clean of hidden information, by MIME type or extension, so the page can warn. */
export function cannotClean(name: string, type: string): boolean {
  if (/^image\/(jpeg|png|webp)$/.test(type)) return false;
  if (/\.(jpe?g|png|webp)$/i.test(name)) return false;
  return true;
}
