/**
 * Real images with hidden information put where phones and editors put it,
 * for the tests of the whitelist cleaner and the journalist's report. The
 * images themselves are Chromium's (test/vectors/photo.*, 64×48, made with a
 * canvas), so they decode; around their image data these builders add:
 *
 * - JPEG: EXIF with a GPS position and an author, XMP, an MPF index pointing
 *   at a second JPEG after the end of the first (as phones write depth maps,
 *   HDR gain maps and Motion Photos), that second JPEG with its own GPS, an
 *   APP11 JUMBF box labelled `c2pa` (content credentials naming the owner and
 *   device), IPTC and a comment;
 * - PNG: `caBX` (C2PA), `eXIf` with GPS, XMP in `iTXt`, `tEXt`, `tIME`, a
 *   private chunk, and bytes after IEND;
 * - WebP: EXIF with GPS, XMP, a private chunk, and bytes after the RIFF end.
 *
 * Every secret contains one of {@link SECRETS}, so a byte search finds any
 * that survive.
 *
 * @example
 * const { hostile, clean } = hostileJpeg(); // clean: what the cleaner must give back, byte for byte
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { concatBytes, utf8 } from '../../crypto/bytes.ts';
import { exifSegment } from './exif-fixture.ts';

const VECTORS = join(import.meta.dirname, '..', 'vectors');
export const photo = (name: 'photo.jpg' | 'photo.png' | 'photo.webp' | 'photo-lossless.webp') => new Uint8Array(readFileSync(join(VECTORS, name)));

/** Strings that must not survive cleaning, in any of the files below. */
export const SECRETS = ['Jane Source', 'GPS', 'Pixel 8 serial 4471', 'xmpmeta', 'c2pa', 'jumb', 'MPF', 'Exif', 'caBX', 'prVt', 'after the end'];

const text = (s: string) => utf8.encode(s);
const u32be = (n: number) => new Uint8Array([n >>> 24, (n >> 16) & 255, (n >> 8) & 255, n & 255]);
const u32le = (n: number) => new Uint8Array([n & 255, (n >> 8) & 255, (n >> 16) & 255, n >>> 24]);
const jpegSegment = (marker: number, body: Uint8Array) => concatBytes(new Uint8Array([0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255]), body);

/** The EXIF block of exif-fixture.ts as bare TIFF (PNG eXIf and WebP EXIF hold no "Exif\0\0" header). */
const exifTiff = (ifd0?: number) => exifSegment(ifd0).subarray(4 + 6);

/** A JUMBF superbox labelled `c2pa` holding a JSON box that names the owner and the device, as content credentials do. */
export function c2paJumbf(): Uint8Array {
  const box = (type: string, payload: Uint8Array) => concatBytes(u32be(8 + payload.length), text(type), payload);
  const c2paUuid = new Uint8Array([0x63, 0x32, 0x70, 0x61, 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71]);
  const description = box('jumd', concatBytes(c2paUuid, new Uint8Array([0x03]), text('c2pa\0')));
  const json = box('json', text('{"author":"Jane Source","device":"Pixel 8 serial 4471"}'));
  return box('jumb', concatBytes(description, json));
}

/** The segments of a JPEG after SOI, minus APP0 (JFIF), which the cleaner drops: what a clean copy must hold. */
function withoutJfif(jpeg: Uint8Array): Uint8Array {
  const app0Length = (jpeg[4]! << 8) | jpeg[5]!;
  if (jpeg[3] !== 0xe0) throw new Error('expected APP0 after SOI');
  return concatBytes(jpeg.subarray(0, 2), jpeg.subarray(4 + app0Length));
}

/** A phone-like JPEG: EXIF, XMP, MPF, APP11 C2PA, IPTC and a comment before the image, and a second JPEG with GPS after it. */
export function hostileJpeg(): { hostile: Uint8Array; clean: Uint8Array; second: Uint8Array } {
  const real = photo('photo.jpg');
  const afterSoi = real.subarray(2);
  // The second image: a "depth map" carrying its own EXIF with the GPS position.
  const second = concatBytes(real.subarray(0, 2), exifSegment(), afterSoi);
  const xmp = jpegSegment(0xe1, text('http://ns.adobe.com/xap/1.0/\0<x:xmpmeta><dc:creator>Jane Source</dc:creator></x:xmpmeta>'));
  const app11 = jpegSegment(0xeb, concatBytes(text('JP'), new Uint8Array([0, 1]), u32be(1), c2paJumbf()));
  const iptc = jpegSegment(0xed, text('Photoshop 3.0\x008BIM\x04\x04 By-line: Jane Source'));
  const comment = jpegSegment(0xfe, text('Pixel 8 serial 4471'));
  // MPF (CIPA DC-007): a TIFF-shaped index whose offsets count from the byte after "MPF\0".
  const mpf = (primarySize: number, secondOffset: number) => {
    const tiff = new DataView(new ArrayBuffer(50 + 32));
    const bytes = new Uint8Array(tiff.buffer);
    bytes.set([0x4d, 0x4d, 0x00, 0x2a]);
    tiff.setUint32(4, 8);
    tiff.setUint16(8, 3);
    const entry = (at: number, tag: number, type: number, count: number, value: number) => (tiff.setUint16(at, tag), tiff.setUint16(at + 2, type), tiff.setUint32(at + 4, count), tiff.setUint32(at + 8, value));
    entry(10, 0xb000, 7, 4, 0x30313030); // MPFVersion "0100"
    entry(22, 0xb001, 4, 1, 2); // NumberOfImages
    entry(34, 0xb002, 7, 32, 50); // MPEntry, at offset 50
    tiff.setUint32(46, 0);
    tiff.setUint32(50, 0x20030000); // primary image, baseline JPEG
    tiff.setUint32(54, primarySize);
    tiff.setUint32(58, 0);
    tiff.setUint32(66, 0x00020002); // disparity image (a depth map)
    tiff.setUint32(70, second.length);
    tiff.setUint32(74, secondOffset);
    return jpegSegment(0xe2, concatBytes(text('MPF\0'), bytes));
  };
  const before = concatBytes(real.subarray(0, 2), exifSegment());
  const rest = concatBytes(xmp, app11, iptc, comment, afterSoi);
  const mpfLength = mpf(0, 0).length;
  const primarySize = before.length + mpfLength + rest.length;
  const tiffStart = before.length + 4 + 4;
  const primary = concatBytes(before, mpf(primarySize, primarySize - tiffStart), rest);
  return { hostile: concatBytes(primary, second), clean: withoutJfif(real), second };
}

const pngChunk = (type: string, data: Uint8Array) => {
  const typed = concatBytes(text(type), data);
  return concatBytes(u32be(data.length), typed, u32be(crc32(typed)));
};

/** Chromium's PNG with caBX, eXIf, XMP, text, time and a private chunk after IHDR, and bytes after IEND. */
export function hostilePng(): { hostile: Uint8Array; clean: Uint8Array } {
  const real = photo('photo.png');
  const afterIhdr = 8 + 8 + 13 + 4;
  const xmp = concatBytes(text('XML:com.adobe.xmp\0\0\0\0\0'), text('<x:xmpmeta><dc:creator>Jane Source</dc:creator></x:xmpmeta>'));
  const extra = concatBytes(
    pngChunk('caBX', c2paJumbf()),
    // IFD0 at 12, not 8: exiftool takes an IFD at the offset of a JUMBF box it has read (0, 8, 38) for that box.
    pngChunk('eXIf', exifTiff(12)),
    pngChunk('iTXt', xmp),
    pngChunk('tEXt', text('Author\0Jane Source')),
    pngChunk('tIME', new Uint8Array([0x07, 0xea, 12, 7, 6, 30, 0])),
    pngChunk('prVt', text('Pixel 8 serial 4471')),
  );
  const hostile = concatBytes(real.subarray(0, afterIhdr), extra, real.subarray(afterIhdr), text('written after the end: Jane Source'));
  return { hostile, clean: real };
}

const riffChunk = (fourcc: string, data: Uint8Array) => concatBytes(text(fourcc), u32le(data.length), data, data.length & 1 ? new Uint8Array(1) : new Uint8Array(0));

/** Chromium's WebP (VP8X, ICCP, VP8 or VP8L) with EXIF, XMP and a private chunk, their VP8X flags set, and bytes after the RIFF end. */
export function hostileWebp(name: 'photo.webp' | 'photo-lossless.webp' = 'photo.webp'): { hostile: Uint8Array; clean: Uint8Array } {
  const real = photo(name);
  const extra = concatBytes(riffChunk('EXIF', exifTiff()), riffChunk('XMP ', text('<x:xmpmeta><dc:creator>Jane Source</dc:creator></x:xmpmeta>')), riffChunk('prVt', text('Pixel 8 serial 4471')));
  const body = concatBytes(real.subarray(12), extra);
  const hostile = concatBytes(text('RIFF'), u32le(body.length + 4), text('WEBP'), body, text('written after the end: Jane Source'));
  if (hostile[15] !== 0x58) throw new Error('expected VP8X first');
  hostile[20] = hostile[20]! | 0x0c; // VP8X: "has EXIF", "has XMP"
  return { hostile, clean: real };
}
