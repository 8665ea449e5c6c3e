/**
 * Hidden information still in a decrypted attachment, reported to the
 * journalist by `decrypt` (in meta.json and on the terminal). The source's
 * browser strips JPEG, PNG and WebP before encryption, but not every file goes
 * through that (other image types, an old page, a source without the cleaning
 * step), and a journalist who publishes a file must know what it still says:
 * a GPS position can lead to a source's home.
 *
 * - JPEG, PNG and WebP: parsed with the page's own whitelist cleaner
 *   (crypto/metadata-strip.ts), which names everything in the file that is
 *   not image data: MPF and other images after the end, APP11 (JUMBF/C2PA
 *   content credentials), caBX, unknown chunks, trailing bytes. A file cleaned
 *   elsewhere is judged by the same rule as one the page cleaned. A file it
 *   can't parse to the end is reported as such, never as clean. A second
 *   JPEG after the end is read for EXIF too (phones give depth maps and gain
 *   maps their own GPS tags);
 * - JPEG, PNG, TIFF, HEIC/AVIF: read with exifr, a maintained, dependency-free
 *   EXIF/XMP/IPTC reader that reads only the parts of the file it needs;
 * - WebP (which exifr doesn't read): its EXIF chunk is handed to exifr as TIFF,
 *   and an XMP chunk is reported as present;
 * - PDF: a plain scan for `/Author` in the document info. Values in compressed
 *   object streams are missed: "nothing found" is not a promise.
 *
 * @example
 * await findMetadata('attachments/photo.jpg'); // ['GPS position: 48.858400, 2.294500', 'Camera: Canon EOS 5D']
 */
import exifr from 'exifr';
import { createReadStream } from 'node:fs';
import { open, readFile, stat } from 'node:fs/promises';
import { MalformedImageError, imageKind, stripMetadata } from '../../crypto/metadata-strip.ts';

/** exifr tag name → how the journalist reads it. Only what can point at a person, place, device or time. */
const TAGS: [string, string][] = [
  ['Artist', 'Author'],
  ['XPAuthor', 'Author'],
  ['creator', 'Author (XMP)'],
  ['Creator', 'Author (XMP)'],
  ['By-line', 'Author (IPTC)'],
  ['Byline', 'Author (IPTC)'],
  ['OwnerName', 'Camera owner'],
  ['CameraOwnerName', 'Camera owner'],
  ['Copyright', 'Copyright'],
  ['Make', 'Camera maker'],
  ['Model', 'Camera model'],
  ['BodySerialNumber', 'Camera serial number'],
  ['SerialNumber', 'Camera serial number'],
  ['LensSerialNumber', 'Lens serial number'],
  ['DateTimeOriginal', 'Taken'],
  ['Software', 'Software'],
];

const EXIFR_OPTIONS = { tiff: true, exif: true, gps: true, xmp: true, iptc: true, icc: false, jfif: false, ihdr: false, interop: false, ifd1: false, makerNote: false, userComment: false, mergeOutput: true };

const UNCHECKED = 'Could not be checked for hidden information: open it with care';

/** Images larger than this are not read whole for the structure check (the report says so). */
const MAX_STRUCTURE_CHECK_BYTES = 512 * 1024 * 1024;

export async function findMetadata(path: string): Promise<string[]> {
  const head = await readAt(path, 0, 16);
  const kind = sniff(head);
  // Checked first and apart: what the whitelist finds stands even when exifr chokes on the same file.
  const structure = imageKind(head) === 'other' ? [] : await imageStructure(path).catch(() => [UNCHECKED]);
  try {
    if (kind === 'pdf') return await scanPdf(path);
    if (kind === 'webp') return [...structure, ...(await webpMetadata(path))];
    if (kind === 'image') return [...new Set([...describe(await exifr.parse(path, EXIFR_OPTIONS)), ...structure])];
  } catch {
    // A file exifr can't parse is reported as such rather than as clean.
    return [...new Set([...structure, UNCHECKED])];
  }
  return [];
}

/**
 * What the page's whitelist cleaner would remove from this JPEG, PNG or WebP,
 * plus the EXIF of a second JPEG after the end. Empty for a file the page cleaned.
 */
async function imageStructure(path: string): Promise<string[]> {
  if ((await stat(path)).size > MAX_STRUCTURE_CHECK_BYTES) return ['Too large to check for data hidden beside the image: open it with care'];
  let result;
  try {
    result = stripMetadata(new Uint8Array(await readFile(path)));
  } catch (e) {
    if (e instanceof MalformedImageError) return [`Not a complete, well-formed image (${e.message}): it may hide data; open it with care`];
    throw e;
  }
  if (result.removed.length === 0) return [];
  const found = [`Not image data (the source's page would have removed it): ${result.removed.join(', ')}`];
  if (result.trailing && imageKind(result.trailing) === 'jpeg') {
    const inner = await exifr.parse(result.trailing, EXIFR_OPTIONS).catch(() => undefined);
    found.push(...describe(inner).map((line) => `In the image after the end: ${line}`));
  }
  return found;
}

function sniff(b: Uint8Array): 'image' | 'webp' | 'pdf' | 'other' {
  const ascii = (from: number, to: number) => String.fromCharCode(...b.subarray(from, to));
  if (b[0] === 0xff && b[1] === 0xd8) return 'image'; // JPEG
  if (b[0] === 0x89 && ascii(1, 4) === 'PNG') return 'image';
  if (ascii(0, 4) === 'II*\0' || ascii(0, 4) === 'MM\0*') return 'image'; // TIFF (and many camera raw files)
  if (ascii(4, 8) === 'ftyp') return 'image'; // HEIC, AVIF (exifr skips other ISO media files itself)
  if (ascii(0, 4) === 'RIFF' && ascii(8, 12) === 'WEBP') return 'webp';
  if (ascii(0, 5) === '%PDF-') return 'pdf';
  return 'other';
}

function describe(tags: Record<string, unknown> | undefined): string[] {
  if (!tags) return [];
  const found: string[] = [];
  const lat = tags.latitude;
  const lon = tags.longitude;
  if (typeof lat === 'number' && typeof lon === 'number' && Number.isFinite(lat) && Number.isFinite(lon)) {
    found.push(`GPS position: ${lat.toFixed(6)}, ${lon.toFixed(6)}`);
  } else if (Object.keys(tags).some((k) => /^GPS/.test(k))) {
    found.push('GPS tags');
  }
  for (const [tag, label] of TAGS) {
    const text = show(tags[tag]);
    if (text) found.push(`${label}: ${text}`);
  }
  return [...new Set(found)];
}

/** A tag value as one short line; control characters (a hostile file could hold any) become spaces. */
function show(value: unknown): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  let text: string;
  if (value instanceof Date) text = Number.isNaN(value.getTime()) ? '' : value.toISOString();
  else if (Array.isArray(value)) text = value.map((v) => show(v) ?? '').filter(Boolean).join(', ');
  else if (typeof value === 'object') text = show((value as { value?: unknown }).value) ?? '';
  else text = String(value);
  text = text.replace(/[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, ' ').trim();
  return text === '' ? undefined : text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

/** WebP: walk the RIFF chunks; EXIF goes to exifr (as TIFF), XMP is reported as present. */
async function webpMetadata(path: string): Promise<string[]> {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const found: string[] = [];
    let pos = 12;
    while (pos + 8 <= size) {
      const header = new Uint8Array(8);
      await file.read(header, 0, 8, pos);
      const fourcc = String.fromCharCode(...header.subarray(0, 4));
      const length = header[4]! + header[5]! * 0x100 + header[6]! * 0x10000 + header[7]! * 0x1000000;
      if (pos + 8 + length > size) break;
      if (fourcc === 'EXIF' && length > 0 && length <= 16 * 1024 * 1024) {
        const body = new Uint8Array(length);
        await file.read(body, 0, length, pos + 8);
        // Some writers keep JPEG's "Exif\0\0" prefix in front of the TIFF header.
        const tiff = String.fromCharCode(...body.subarray(0, 4)) === 'Exif' ? body.subarray(6) : body;
        const tags = describe(await exifr.parse(tiff, EXIFR_OPTIONS));
        found.push(...(tags.length > 0 ? tags : ['EXIF block']));
      }
      if (fourcc === 'XMP ') found.push('XMP block (may name the author or the editing software)');
      pos += 8 + length + (length & 1);
    }
    return found;
  } finally {
    await file.close();
  }
}

const PDF_AUTHOR = /\/Author\s*(\((?:[^()\\]|\\[\s\S])*\)|<[0-9A-Fa-f\s]*>)/g;

/** PDF: streams through the file once, looking for `/Author (…)` or `/Author <hex>`. */
async function scanPdf(path: string): Promise<string[]> {
  const found = new Set<string>();
  let carry = '';
  for await (const chunk of createReadStream(path, { encoding: 'latin1', highWaterMark: 1024 * 1024 })) {
    const text = carry + (chunk as string);
    for (const m of text.matchAll(PDF_AUTHOR)) {
      const value = show(pdfString(m[1]!));
      if (value) found.add(`Author (PDF): ${value}`);
    }
    // Keep the tail, in case an entry straddles two chunks.
    carry = text.slice(-512);
    if (found.size >= 5) break;
  }
  return [...found];
}

/** A PDF literal `(…)` or hex `<…>` string as text (UTF-16BE when it starts with a byte-order mark). */
function pdfString(token: string): string {
  let bytes: number[];
  if (token.startsWith('<')) {
    const digits = token.slice(1, -1).replace(/\s/g, '');
    bytes = (digits.match(/../g) ?? []).map((h) => parseInt(h, 16));
  } else {
    const body = token.slice(1, -1).replace(/\\([nrtbf()\\]|[0-7]{1,3})/g, (_, e: string) =>
      /^[0-7]/.test(e) ? String.fromCharCode(parseInt(e, 8) & 255) : ({ n: '\n', r: '\r', t: '\t', b: '\b', f: '\f' } as Record<string, string>)[e] ?? e,
    );
    bytes = [...body].map((c) => c.charCodeAt(0) & 255);
  }
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(new Uint8Array(bytes.slice(2)));
  return String.fromCharCode(...bytes);
}

async function readAt(path: string, offset: number, length: number): Promise<Uint8Array> {
  const file = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    const { bytesRead } = await file.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}
